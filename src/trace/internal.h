/*
 * internal.h - what the trace module's files share: a finished request's spans on their
 * way from its worker (trace.c) to the exporter thread (export.c).
 */
#ifndef TENANTQL_TRACE_INTERNAL_H
#define TENANTQL_TRACE_INTERNAL_H

#include "tenantql/trace.h"

/* Why spans were dropped (tenantql_trace_spans_dropped_total{reason}). */
typedef enum trace_drop_reason {
    TRACE_DROP_QUEUE_FULL,    /* the exporter's queue was full (collector slow or down) */
    TRACE_DROP_EXPORT_FAILED, /* the collector could not be reached or refused the batch */
    TRACE_DROP_SPAN_LIMIT,    /* a request's spans past TQ_TRACE_MAX_SPANS */
    TRACE_DROP_SHUTDOWN,      /* still queued when shutdown's bound ran out */
    TRACE_DROP_REASONS_,
} trace_drop_reason;

/* One finished request's trace: one malloc, its strings after the spans. */
typedef struct trace_entry {
    struct trace_entry *next;
    uint8_t trace_id[TQ_TRACE_ID_LEN];
    uint8_t span_id[TQ_SPAN_ID_LEN];
    uint8_t parent_id[TQ_SPAN_ID_LEN];
    bool has_parent;
    int status;
    uint64_t start_us, end_us;
    int64_t unix_offset_ns;
    const char *method, *tenant, *op_type, *op_name, *request_id; /* NULL: absent */
    uint32_t nspans;            /* children below */
    tq_span spans[];
} trace_entry;

/* Spans an entry counts for (its root and its children). */
static inline uint32_t trace_entry_spans(const trace_entry *e)
{
    return e->nspans + 1;
}

/* Takes e for the exporter (frees it when the queue is full, counting its spans). Any
 * thread; never waits for the network. */
void trace_enqueue(tq_tracer *tr, trace_entry *e);
void trace_count_dropped(tq_tracer *tr, trace_drop_reason why, uint64_t spans);
/* The sampling threshold: a new trace is sampled when the 56 low bits of its id are
 * below it. */
uint64_t trace_threshold(const tq_tracer *tr);

/* Appends the OTLP/JSON ExportTraceServiceRequest of the entries in list to b. */
void trace_encode(const trace_entry *list, tq_strbuf *b);

#endif
