/*
 * trace.h - traces of requests, exported to an OpenTelemetry collector (OTLP over HTTP,
 * JSON encoding).
 *
 * A request's trace follows W3C trace context: an incoming `traceparent` is continued
 * (its sampled flag decides, parent-based), otherwise a trace is started and sampled at
 * the configured ratio (decided from the trace id, as OpenTelemetry's TraceIdRatioBased
 * does). A sampled request records its spans into its arena - a root span, then at most
 * TQ_TRACE_MAX_SPANS children, more are counted as dropped - and hands them to the
 * tracer when it is freed; an unsampled one records nothing. The tracer's own thread
 * batches what requests hand over and POSTs it to the collector: workers only append to
 * a bounded queue under a mutex held for a pointer swap, never wait for the network, and
 * what does not fit (queue full, collector down) is dropped and counted.
 *
 * Recording (tq_trace_*) runs on the request's worker; the tracer's functions on any
 * thread.
 */
#ifndef TENANTQL_TRACE_H
#define TENANTQL_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tenantql/arena.h"
#include "tenantql/strbuf.h"
#include "tenantql/traceparent.h"

#define TQ_TRACE_MAX_SPANS 64        /* children of one request's root span */
#define TQ_TRACE_BATCH_SPANS 512     /* spans per POST */
#define TQ_TRACE_FLUSH_MS 1000       /* a batch not full is sent after this */
#define TQ_TRACE_QUEUE_SPANS 16384   /* spans waiting for the exporter; beyond: dropped */
#define TQ_TRACE_TIMEOUT_MS 2000     /* to connect to the collector, and for its answer */
#define TQ_TRACE_STOP_MS 2000        /* shutdown sends what it can within this */

/* the statements' SQL comment, traceparent='00-<32 hex>-<16 hex>-01' between comment
 * marks (73 bytes), and a NUL */
#define TQ_TRACE_COMMENT_SIZE 80
#define TQ_TRACE_ID_HEX_SIZE (2 * TQ_TRACE_ID_LEN + 1)

typedef struct tq_tracer tq_tracer;

typedef struct tq_tracer_config {
    const char *endpoint; /* http://host:port/path (OTLP/HTTP's is /v1/traces) */
    double sample;        /* ratio of new traces recorded, 0 to 1 */
} tq_tracer_config;

/* --trace-sample's text: a decimal from 0 to 1 ("0.01", "1", "0"). 0, or -1 with err. */
int tq_trace_parse_sample(const char *text, double *out, char *err, size_t errlen);
/* Whether url is an endpoint the exporter can POST to: http://HOST[:PORT][/PATH] (no
 * TLS: put a collector beside the server). 0, or -1 with err. */
int tq_trace_check_endpoint(const char *url, char *err, size_t errlen);

/* Starts the exporter thread. NULL with err when the configuration is bad or a thread
 * cannot start. The tracer lives until tq_tracer_stop. */
tq_tracer *tq_tracer_start(const tq_tracer_config *cfg, char *err, size_t errlen);
/* After the last request was handed over: sends what is queued (within TQ_TRACE_STOP_MS;
 * the rest is dropped and counted), stops the thread and frees the tracer. NULL is fine. */
void tq_tracer_stop(tq_tracer *tr);
/* tenantql_trace_spans_exported_total and tenantql_trace_spans_dropped_total{reason}
 * in Prometheus text (zeros when tr is NULL: tracing off). Any thread. */
void tq_tracer_write_metrics(tq_tracer *tr, tq_strbuf *b);

typedef enum tq_span_kind {
    TQ_SPAN_INTERNAL = 1,
    TQ_SPAN_SERVER = 2,
    TQ_SPAN_CLIENT = 3,
} tq_span_kind;

/* One recorded child span. Strings are static (names, statement names). */
typedef struct tq_span {
    const char *name;
    const char *statement;     /* a statement span's statement name, else NULL */
    uint64_t start_us, end_us; /* tq_clock_us */
    uint8_t id[TQ_SPAN_ID_LEN];
    uint8_t kind;              /* tq_span_kind */
    int8_t cached;             /* parse: 1 the document came from the cache, 0 parsed, -1 n/a */
    bool error;
} tq_span;

/* A request's trace, embedded in the request (zeroed: no trace). */
typedef struct tq_trace {
    tq_tracer *tracer;         /* NULL: tracing is off, or the request has no trace yet */
    const char *method;        /* the request's HTTP method (static) */
    bool sampled;              /* recording: spans are kept and exported */
    bool has_parent;           /* continued from the request's traceparent */
    bool answered;
    uint8_t trace_id[TQ_TRACE_ID_LEN];
    uint8_t span_id[TQ_SPAN_ID_LEN];   /* the root span's: the request's work in this server */
    uint8_t parent_id[TQ_SPAN_ID_LEN]; /* the caller's span, when has_parent */
    uint64_t start_us, end_us;         /* the root span: arrival to answer (tq_clock_us) */
    int64_t unix_offset_ns;            /* add to tq_clock_us * 1000 for nanoseconds since the epoch */
    int status;                        /* the HTTP status answered */
    tq_span *spans;                    /* in the arena, TQ_TRACE_MAX_SPANS of them once one is recorded */
    uint32_t nspans, dropped;
    tq_arena *arena;
    const char *op_type;               /* "query", "mutation", "subscription", or NULL */
    const char *op_name;               /* NUL-terminated in the arena, or NULL */
    char comment[TQ_TRACE_COMMENT_SIZE]; /* sampled: the statements' SQL comment, else "" */
} tq_trace;

/* A request (method: a static name) arrived at start_us (tq_clock_us): continues
 * traceparent (header value, len bytes; NULL when absent, or when the request had it more
 * than once) or starts a trace, and decides whether it is sampled. tr NULL: tracing off,
 * t stays empty. */
void tq_trace_begin(tq_trace *t, tq_tracer *tr, const char *method, const char *traceparent, size_t len,
                    uint64_t start_us, tq_arena *arena);

/* Whether t records spans. */
static inline bool tq_trace_sampled(const tq_trace *t)
{
    return t->sampled;
}

/* The trace id in 32 lowercase hex digits into out; "" (returns false) when the request
 * has no trace (tracing off). Unsampled requests have one too: the caller's, or the one
 * started for them. */
bool tq_trace_id_hex(const tq_trace *t, char out[TQ_TRACE_ID_HEX_SIZE]);
/* The traceparent naming the request's root span, for the answer's header; false (out
 * untouched) without a trace. */
bool tq_trace_response_header(const tq_trace *t, char out[TQ_TRACEPARENT_LEN + 1]);
/* The SQL comment of the request's statements (sqlcommenter style), or NULL when the
 * request is not sampled. Valid as long as t. */
static inline const char *tq_trace_sql_comment(const tq_trace *t)
{
    return t->comment[0] != '\0' ? t->comment : NULL;
}

/* A child span of the root begins now: its index for tq_trace_end, or -1 when nothing is
 * recorded (unsampled, or over TQ_TRACE_MAX_SPANS: then counted as dropped). name is
 * static. */
int tq_trace_begin_span(tq_trace *t, const char *name);
/* Span i (from tq_trace_begin_span; -1 is ignored) ends now. */
void tq_trace_end_span(tq_trace *t, int i, bool error);
/* A child span that already happened, with its times; its index or -1 as above. */
int tq_trace_add_span(tq_trace *t, const char *name, tq_span_kind kind, uint64_t start_us, uint64_t end_us,
                      bool error);
/* The span i (not -1) records whether the document came from the cache. */
static inline void tq_trace_set_cached(tq_trace *t, int i, bool cached)
{
    if (i >= 0)
        t->spans[i].cached = cached;
}
/* A statement of the request came back: a span for its wait for a connection (asked_us
 * to sent_us) and one for the statement (sent_us to done_us; sent_us 0: never sent, only
 * the wait, to done_us). statement is the statement's static name. */
void tq_trace_statement(tq_trace *t, const char *statement, uint64_t asked_us, uint64_t sent_us, uint64_t done_us,
                        bool error);
/* The operation is known: type a static name, name (len bytes, 0: anonymous) copied. */
void tq_trace_operation(tq_trace *t, const char *type, const char *name, size_t len);
/* The request was answered with status: the root span ends now. */
void tq_trace_answered(tq_trace *t, int status);

/* What the root span says about the request (strings copied by tq_trace_finish). */
typedef struct tq_trace_request {
    const char *tenant;     /* its name, or NULL when no tenant was resolved */
    const char *request_id; /* X-Request-ID */
} tq_trace_request;

/* The request is freed: its spans go to the tracer (or are dropped when its queue is
 * full), and t records nothing more (its trace id stays readable). Unsampled: nothing
 * happens. */
void tq_trace_finish(tq_trace *t, const tq_trace_request *req);

#endif
