/*
 * trace.c - a request's trace on its worker: the trace context taken from traceparent
 * or started, the sampling decision, spans recorded into the request's arena, and the
 * hand-over of a finished request's spans to the tracer (one copy, one malloc).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "tenantql/clock.h"

/* The 56 low bits of the trace id (the random part, whoever made it). */
static uint64_t id_bits(const uint8_t id[TQ_TRACE_ID_LEN])
{
    uint64_t v = 0;
    for (int i = 9; i < TQ_TRACE_ID_LEN; i++)
        v = v << 8 | id[i];
    return v;
}

static void make_comment(tq_trace *t)
{
    char tp[TQ_TRACEPARENT_LEN + 1];
    tq_traceparent_format(t->trace_id, t->span_id, TQ_TRACE_FLAG_SAMPLED, tp);
    /* the comment's text is hex and dashes only: nothing in it can end the comment */
    memcpy(t->comment, "/*traceparent='", 15);
    memcpy(t->comment + 15, tp, TQ_TRACEPARENT_LEN);
    memcpy(t->comment + 15 + TQ_TRACEPARENT_LEN, "'*/", 4);
}

void tq_trace_begin(tq_trace *t, tq_tracer *tr, const char *method, const char *traceparent, size_t len,
                    uint64_t start_us, tq_arena *arena)
{
    if (tr == NULL)
        return;
    tq_traceparent tp;
    t->tracer = tr;
    t->method = method;
    t->arena = arena;
    t->start_us = start_us;
    if (traceparent != NULL && tq_traceparent_parse(traceparent, len, &tp)) {
        /* parent-based: the caller decided whether this trace is recorded */
        memcpy(t->trace_id, tp.trace_id, TQ_TRACE_ID_LEN);
        memcpy(t->parent_id, tp.parent_id, TQ_SPAN_ID_LEN);
        t->has_parent = true;
        t->sampled = (tp.flags & TQ_TRACE_FLAG_SAMPLED) != 0;
    } else {
        tq_trace_random_id(t->trace_id, TQ_TRACE_ID_LEN);
        t->sampled = id_bits(t->trace_id) < trace_threshold(tr);
    }
    tq_trace_random_id(t->span_id, TQ_SPAN_ID_LEN);
    if (!t->sampled)
        return;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t now_us = tq_clock_us();
    t->unix_offset_ns = ((int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec) - (int64_t)now_us * 1000;
    make_comment(t);
}

bool tq_trace_id_hex(const tq_trace *t, char out[TQ_TRACE_ID_HEX_SIZE])
{
    if (t->tracer == NULL) {
        out[0] = '\0';
        return false;
    }
    tq_trace_hex(t->trace_id, TQ_TRACE_ID_LEN, out);
    return true;
}

bool tq_trace_response_header(const tq_trace *t, char out[TQ_TRACEPARENT_LEN + 1])
{
    if (t->tracer == NULL)
        return false;
    tq_traceparent_format(t->trace_id, t->span_id, t->sampled ? TQ_TRACE_FLAG_SAMPLED : 0, out);
    return true;
}

/* A new child span's slot, or NULL (unsampled, or full: counted). */
static tq_span *new_span(tq_trace *t)
{
    if (!t->sampled)
        return NULL;
    if (t->nspans >= TQ_TRACE_MAX_SPANS) {
        t->dropped++;
        return NULL;
    }
    if (t->spans == NULL)
        t->spans = tq_arena_alloc(t->arena, TQ_TRACE_MAX_SPANS * sizeof(tq_span));
    tq_span *s = &t->spans[t->nspans++];
    memset(s, 0, sizeof(*s));
    s->cached = -1;
    tq_trace_random_id(s->id, TQ_SPAN_ID_LEN);
    return s;
}

int tq_trace_add_span(tq_trace *t, const char *name, tq_span_kind kind, uint64_t start_us, uint64_t end_us,
                      bool error)
{
    tq_span *s = new_span(t);
    if (s == NULL)
        return -1;
    s->name = name;
    s->kind = (uint8_t)kind;
    s->start_us = start_us;
    s->end_us = end_us;
    s->error = error;
    return (int)(s - t->spans);
}

int tq_trace_begin_span(tq_trace *t, const char *name)
{
    if (!t->sampled)
        return -1;
    uint64_t now = tq_clock_us();
    return tq_trace_add_span(t, name, TQ_SPAN_INTERNAL, now, now, false);
}

void tq_trace_end_span(tq_trace *t, int i, bool error)
{
    if (i < 0)
        return;
    t->spans[i].end_us = tq_clock_us();
    t->spans[i].error = error;
}

void tq_trace_statement(tq_trace *t, const char *statement, uint64_t asked_us, uint64_t sent_us, uint64_t done_us,
                        bool error)
{
    if (!t->sampled)
        return;
    uint64_t waited = sent_us != 0 ? sent_us : done_us;
    /* a statement never sent (no connection in time, cancelled) is all wait, and its error */
    tq_trace_add_span(t, "db.connection_wait", TQ_SPAN_INTERNAL, asked_us, waited < asked_us ? asked_us : waited,
                      sent_us == 0 && error);
    if (sent_us == 0)
        return;
    int i = tq_trace_add_span(t, statement, TQ_SPAN_CLIENT, sent_us, done_us < sent_us ? sent_us : done_us, error);
    if (i >= 0)
        t->spans[i].statement = statement;
}

void tq_trace_operation(tq_trace *t, const char *type, const char *name, size_t len)
{
    if (!t->sampled)
        return;
    t->op_type = type;
    t->op_name = len > 0 ? tq_arena_strndup(t->arena, name, len) : NULL;
}

void tq_trace_answered(tq_trace *t, int status)
{
    if (t->tracer == NULL || t->answered)
        return;
    t->answered = true;
    t->status = status;
    t->end_us = tq_clock_us();
}

/* Bytes a string takes after the spans (NUL included), bounded: a name longer than
 * this is cut (an operation name is the client's). */
#define MAX_STRING 256

static size_t string_size(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = strlen(s);
    return (n > MAX_STRING ? MAX_STRING : n) + 1;
}

static const char *put_string(char **at, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = string_size(s) - 1;
    char *out = *at;
    memcpy(out, s, n);
    out[n] = '\0';
    *at += n + 1;
    return out;
}

/* Handed over (or dropped): nothing more is recorded; the ids stay for the log. */
static void forget_spans(tq_trace *t)
{
    t->sampled = false;
    t->spans = NULL;
    t->nspans = t->dropped = 0;
    t->comment[0] = '\0';
}

void tq_trace_finish(tq_trace *t, const tq_trace_request *req)
{
    if (!t->sampled)
        return;
    if (t->dropped > 0)
        trace_count_dropped(t->tracer, TRACE_DROP_SPAN_LIMIT, t->dropped);
    size_t strings = string_size(t->method) + string_size(req->tenant) + string_size(t->op_name) +
                     string_size(req->request_id);
    size_t spans = t->nspans * sizeof(tq_span);
    trace_entry *e = malloc(sizeof(*e) + spans + strings);
    if (e == NULL) {
        trace_count_dropped(t->tracer, TRACE_DROP_QUEUE_FULL, t->nspans + 1);
        forget_spans(t);
        return;
    }
    memcpy(e->trace_id, t->trace_id, TQ_TRACE_ID_LEN);
    memcpy(e->span_id, t->span_id, TQ_SPAN_ID_LEN);
    memcpy(e->parent_id, t->parent_id, TQ_SPAN_ID_LEN);
    e->next = NULL;
    e->has_parent = t->has_parent;
    e->status = t->status;
    e->start_us = t->start_us;
    e->end_us = t->answered ? t->end_us : tq_clock_us();
    e->unix_offset_ns = t->unix_offset_ns;
    e->nspans = t->nspans;
    if (spans > 0)
        memcpy(e->spans, t->spans, spans);
    char *at = (char *)e->spans + spans;
    e->method = put_string(&at, t->method);
    e->tenant = put_string(&at, req->tenant);
    e->op_type = t->op_type; /* static */
    e->op_name = put_string(&at, t->op_name);
    e->request_id = put_string(&at, req->request_id);
    forget_spans(t);
    trace_enqueue(t->tracer, e);
}
