/*
 * encode.c - finished requests' spans as an OTLP ExportTraceServiceRequest in the
 * protobuf JSON mapping (what a collector's OTLP/HTTP receiver takes with
 * Content-Type: application/json): ids in lowercase hex, times in nanoseconds since the
 * epoch as strings, one resource (service.name=tenantql) and one scope.
 *
 * Attributes: the root span (kind SERVER) carries the HTTP method, route and status, the
 * request id, the tenant and the GraphQL operation's type and name; every child the
 * tenant and the operation; a statement span (kind CLIENT) db.system=postgresql and the
 * statement's name. Never a parameter value, variable or token.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tenantql/json_writer.h"

/* The encoder runs for every recorded span on the exporter thread: plain appends, no
 * printf (which made it several times slower). */

static void put(tq_strbuf *b, const char *s)
{
    tq_strbuf_append(b, s, strlen(s));
}

static void put_int(tq_strbuf *b, int64_t v)
{
    char digits[24], *p = digits + sizeof(digits);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--p = '-';
    tq_strbuf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

/* ,"key":"<hex>" */
static void write_hex(tq_strbuf *b, const char *key, const uint8_t *id, size_t n)
{
    char hex[2 * TQ_TRACE_ID_LEN + 1];
    tq_trace_hex(id, n, hex);
    tq_strbuf_lit(b, ",\"");
    put(b, key);
    tq_strbuf_lit(b, "\":\"");
    tq_strbuf_append(b, hex, 2 * n);
    tq_strbuf_lit(b, "\"");
}

/* ,"key":"<ns since the epoch>" (a string: the JSON mapping of a 64-bit integer) */
static void write_time(tq_strbuf *b, const char *key, const trace_entry *e, uint64_t us)
{
    tq_strbuf_lit(b, ",\"");
    put(b, key);
    tq_strbuf_lit(b, "\":\"");
    put_int(b, (int64_t)us * 1000 + e->unix_offset_ns);
    tq_strbuf_lit(b, "\"");
}

/* {"key":k,"value":{ (after a comma unless first) */
static void attr_head(tq_strbuf *b, bool *first, const char *key)
{
    if (!*first)
        tq_strbuf_lit(b, ",");
    *first = false;
    tq_strbuf_lit(b, "{\"key\":\"");
    put(b, key);
    tq_strbuf_lit(b, "\",\"value\":{");
}

/* a string attribute; nothing for NULL */
static void attr_str(tq_strbuf *b, bool *first, const char *key, const char *value)
{
    if (value == NULL)
        return;
    attr_head(b, first, key);
    tq_strbuf_lit(b, "\"stringValue\":");
    tq_json_write_cstr(b, value);
    tq_strbuf_lit(b, "}}");
}

static void attr_int(tq_strbuf *b, bool *first, const char *key, int64_t value)
{
    attr_head(b, first, key);
    tq_strbuf_lit(b, "\"intValue\":\"");
    put_int(b, value);
    tq_strbuf_lit(b, "\"}}");
}

static void attr_bool(tq_strbuf *b, bool *first, const char *key, bool value)
{
    attr_head(b, first, key);
    if (value)
        tq_strbuf_lit(b, "\"boolValue\":true}}");
    else
        tq_strbuf_lit(b, "\"boolValue\":false}}");
}

/* What every span of the request says: its tenant and operation. */
static void request_attrs(tq_strbuf *b, bool *first, const trace_entry *e)
{
    attr_str(b, first, "tenantql.tenant", e->tenant);
    attr_str(b, first, "graphql.operation.type", e->op_type);
    attr_str(b, first, "graphql.operation.name", e->op_name);
}

/* {"traceId":...,"spanId":...[,"parentSpanId":...],"name":..., "kind":k, the times */
static void span_head(tq_strbuf *b, const trace_entry *e, const uint8_t *id, const uint8_t *parent, const char *name,
                      int kind, uint64_t start_us, uint64_t end_us)
{
    tq_strbuf_lit(b, "{\"traceId\":\"");
    char hex[2 * TQ_TRACE_ID_LEN + 1];
    tq_trace_hex(e->trace_id, TQ_TRACE_ID_LEN, hex);
    tq_strbuf_append(b, hex, 2 * TQ_TRACE_ID_LEN);
    tq_strbuf_lit(b, "\"");
    write_hex(b, "spanId", id, TQ_SPAN_ID_LEN);
    if (parent != NULL)
        write_hex(b, "parentSpanId", parent, TQ_SPAN_ID_LEN);
    tq_strbuf_lit(b, ",\"name\":");
    tq_json_write_cstr(b, name);
    tq_strbuf_lit(b, ",\"kind\":");
    put_int(b, kind);
    write_time(b, "startTimeUnixNano", e, start_us);
    write_time(b, "endTimeUnixNano", e, end_us < start_us ? start_us : end_us);
}

static void span_tail(tq_strbuf *b, bool error)
{
    tq_strbuf_lit(b, "]");
    if (error)
        tq_strbuf_lit(b, ",\"status\":{\"code\":2}"); /* STATUS_CODE_ERROR; unset otherwise */
    tq_strbuf_lit(b, "}");
}

static void encode_root(const trace_entry *e, tq_strbuf *b)
{
    char name[300];
    /* GraphQL's convention: "<type> <name>"; before an operation is known, HTTP's */
    if (e->op_type != NULL)
        snprintf(name, sizeof(name), "%s%s%s", e->op_type, e->op_name ? " " : "", e->op_name ? e->op_name : "");
    else
        snprintf(name, sizeof(name), "%s /graphql", e->method ? e->method : "HTTP");
    span_head(b, e, e->span_id, e->has_parent ? e->parent_id : NULL, name, TQ_SPAN_SERVER, e->start_us, e->end_us);
    tq_strbuf_lit(b, ",\"attributes\":[");
    bool first = true;
    attr_str(b, &first, "http.request.method", e->method);
    attr_str(b, &first, "http.route", "/graphql");
    if (e->status != 0)
        attr_int(b, &first, "http.response.status_code", e->status);
    attr_str(b, &first, "tenantql.request_id", e->request_id);
    request_attrs(b, &first, e);
    span_tail(b, e->status >= 500);
}

static void encode_child(const trace_entry *e, const tq_span *s, tq_strbuf *b)
{
    span_head(b, e, s->id, e->span_id, s->name, s->kind, s->start_us, s->end_us);
    tq_strbuf_lit(b, ",\"attributes\":[");
    bool first = true;
    request_attrs(b, &first, e);
    if (s->statement != NULL) {
        attr_str(b, &first, "db.system", "postgresql");
        attr_str(b, &first, "tenantql.statement", s->statement);
    }
    if (s->cached >= 0)
        attr_bool(b, &first, "tenantql.document_cached", s->cached != 0);
    span_tail(b, s->error);
}

void trace_encode(const trace_entry *list, tq_strbuf *b)
{
    tq_strbuf_lit(b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"
                     "\"stringValue\":\"tenantql\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"tenantql\"},\"spans\":[");
    bool first = true;
    for (const trace_entry *e = list; e != NULL; e = e->next) {
        if (!first)
            tq_strbuf_lit(b, ",");
        first = false;
        encode_root(e, b);
        for (uint32_t i = 0; i < e->nspans; i++) {
            tq_strbuf_lit(b, ",");
            encode_child(e, &e->spans[i], b);
        }
    }
    tq_strbuf_lit(b, "]}]}]}");
}
