/*
 * access_log.c - one line per /graphql request, as a JSON object (for log aggregation) or
 * as text (for a terminal), handed to a line sink whose thread writes it (linesink.h).
 *
 * The line holds what the server decided and measured: never the document (its SHA-256
 * stands in for it, so that equal documents group together without their text and
 * values), a variable, a token or a password.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "tenantql/json_writer.h"
#include "tenantql/linesink.h"
#include "tenantql/log.h"

/* Room for lines under a stalled reader: about 10,000 lines of ~400 bytes; beyond it
 * lines are dropped (and counted), requests never wait. */
#define ACCESS_LOG_BUFFER (4u << 20)

int tq_access_log_open(tq_server *s, char *err, size_t errlen)
{
    if (s->cfg.access_log == TQ_ACCESS_LOG_OFF)
        return 0;
    char detail[256];
    s->access_log = tq_linesink_open(s->cfg.access_log_file, ACCESS_LOG_BUFFER, detail, sizeof(detail));
    if (s->access_log == NULL) {
        snprintf(err, errlen, "--access-log-file: %s", detail);
        return -1;
    }
    return 0;
}

void tq_access_log_close(tq_server *s)
{
    tq_linesink_close(s->access_log);
    s->access_log = NULL;
}

/* The UTC second "YYYY-MM-DDTHH:MM:SS" of a time, remembered per thread: one gmtime_r a
 * second rather than one a line. */
static void write_time(tq_strbuf *b, int64_t unix_us)
{
    static _Thread_local int64_t cached_sec = -1;
    static _Thread_local char cached[24];
    int64_t sec = unix_us / 1000000;
    if (sec != cached_sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_sec = sec;
    }
    int ms = (int)(unix_us % 1000000 / 1000);
    char tail[6] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z'};
    tq_strbuf_append(b, cached, 19);
    tq_strbuf_append(b, tail, 5);
}

/* Microseconds as milliseconds with three decimals ("12.345"), without floating point. */
static void write_ms(tq_strbuf *b, uint64_t us)
{
    tq_json_write_int(b, (int64_t)(us / 1000));
    unsigned frac = (unsigned)(us % 1000);
    char tail[4] = {'.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10), (char)('0' + frac % 10)};
    tq_strbuf_append(b, tail, 4);
}

/* The document's SHA-256 in hex (the hash persisted-query clients send), or "". */
static void document_hash(const tq_access_entry *e, char out[crypto_hash_sha256_BYTES * 2 + 1])
{
    out[0] = '\0';
    if (e->document == NULL)
        return;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)e->document, e->document_len);
    sodium_bin2hex(out, crypto_hash_sha256_BYTES * 2 + 1, h, sizeof(h));
}

#define KEY(b, lit) tq_strbuf_append((b), lit, sizeof(lit) - 1)

static void json_opt_string(tq_strbuf *b, const char *v, size_t len)
{
    if (v == NULL || len == 0)
        KEY(b, "null");
    else
        tq_json_write_string(b, v, len);
}

/* Formatted by appends, not printf: a line is ~15 fields on the request's path. */
static void format_json(tq_strbuf *b, const tq_access_entry *e, const char *hash)
{
    KEY(b, "{\"time\":\"");
    write_time(b, e->arrived_unix_us);
    KEY(b, "\",\"request_id\":");
    tq_json_write_cstr(b, e->request_id);
    KEY(b, ",\"remote\":");
    tq_json_write_cstr(b, e->remote);
    KEY(b, ",\"method\":");
    tq_json_write_cstr(b, e->method);
    KEY(b, ",\"tenant\":");
    json_opt_string(b, e->tenant, e->tenant ? strlen(e->tenant) : 0);
    KEY(b, ",\"operation_type\":");
    json_opt_string(b, e->op_type, e->op_type ? strlen(e->op_type) : 0);
    KEY(b, ",\"operation_name\":");
    json_opt_string(b, e->op_name, e->op_name_len);
    KEY(b, ",\"document_hash\":");
    json_opt_string(b, hash, strlen(hash));
    KEY(b, ",\"status\":");
    tq_json_write_int(b, e->status);
    KEY(b, ",\"duration_ms\":");
    write_ms(b, e->duration_us);
    KEY(b, ",\"db_wait_ms\":");
    write_ms(b, e->db.wait_us);
    KEY(b, ",\"db_ms\":");
    write_ms(b, e->db.pg_us);
    KEY(b, ",\"db_statements\":");
    tq_json_write_int(b, e->db.statements);
    KEY(b, ",\"bytes\":");
    tq_json_write_int(b, (int64_t)e->bytes);
    KEY(b, ",\"errors\":[");
    for (int i = 0; i < e->ncodes; i++) {
        if (i > 0)
            tq_strbuf_putc(b, ',');
        tq_json_write_cstr(b, e->codes[i]);
    }
    KEY(b, "],\"trace_id\":");
    json_opt_string(b, e->trace_id, e->trace_id ? strlen(e->trace_id) : 0);
    KEY(b, "}\n");
}

/* time id remote method tenant op-type op-name status duration db/statements wait bytes [codes] */
static void format_text(tq_strbuf *b, const tq_access_entry *e, const char *hash)
{
    write_time(b, e->arrived_unix_us);
    tq_strbuf_printf(b, " %s %s %s %s %s %.*s %d %.1fms db=%.1fms/%u wait=%.1fms %zuB", e->request_id,
                     e->remote[0] ? e->remote : "-", e->method, e->tenant ? e->tenant : "-",
                     e->op_type ? e->op_type : "-", e->op_name_len ? (int)e->op_name_len : 1,
                     e->op_name_len ? e->op_name : "-", e->status, e->duration_us / 1e3, e->db.pg_us / 1e3,
                     e->db.statements, e->db.wait_us / 1e3, e->bytes);
    for (int i = 0; i < e->ncodes; i++)
        tq_strbuf_printf(b, "%s%s", i ? "," : " errors=", e->codes[i]);
    if (hash[0])
        tq_strbuf_printf(b, " doc=%.12s", hash);
    if (e->trace_id != NULL && e->trace_id[0])
        tq_strbuf_printf(b, " trace=%s", e->trace_id);
    tq_strbuf_lit(b, "\n");
}

void tq_access_log_write(tq_server *s, const tq_access_entry *e)
{
    if (s->access_log == NULL)
        return;
    char hash[crypto_hash_sha256_BYTES * 2 + 1];
    document_hash(e, hash);
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_strbuf_reserve(&b, 512); /* a line is ~400 bytes: one allocation */
    if (s->cfg.access_log == TQ_ACCESS_LOG_TEXT)
        format_text(&b, e, hash);
    else
        format_json(&b, e, hash);
    tq_linesink_write(s->access_log, b.data, b.len);
    tq_strbuf_free(&b);
}

void tq_access_log_write_metrics(tq_server *s, tq_strbuf *b)
{
    if (s->access_log == NULL)
        return;
    tq_strbuf_lit(b, "# HELP tenantql_access_log_lines_total Access log lines queued for writing.\n"
                     "# TYPE tenantql_access_log_lines_total counter\n");
    tq_strbuf_printf(b, "tenantql_access_log_lines_total %llu\n",
                     (unsigned long long)tq_linesink_written(s->access_log));
    tq_strbuf_lit(b, "# HELP tenantql_access_log_dropped_total Access log lines dropped: the writer was behind "
                     "by a full buffer.\n# TYPE tenantql_access_log_dropped_total counter\n");
    tq_strbuf_printf(b, "tenantql_access_log_dropped_total %llu\n",
                     (unsigned long long)tq_linesink_dropped(s->access_log));
}
