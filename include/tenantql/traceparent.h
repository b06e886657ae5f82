/*
 * traceparent.h - W3C Trace Context (https://www.w3.org/TR/trace-context/): the
 * `traceparent` header read strictly and written, and random trace and span ids.
 */
#ifndef TENANTQL_TRACEPARENT_H
#define TENANTQL_TRACEPARENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TQ_TRACE_ID_LEN 16 /* bytes; 32 hex digits */
#define TQ_SPAN_ID_LEN 8   /* bytes; 16 hex digits */
#define TQ_TRACEPARENT_LEN 55 /* "00-" 32 "-" 16 "-" 2 */
#define TQ_TRACE_FLAG_SAMPLED 0x01

typedef struct tq_traceparent {
    uint8_t trace_id[TQ_TRACE_ID_LEN];
    uint8_t parent_id[TQ_SPAN_ID_LEN];
    uint8_t flags; /* bit 0: the caller recorded its span (sampled) */
} tq_traceparent;

/* Reads a traceparent value: exactly version 00, lowercase hex, a trace id and a parent
 * id that are not all zeros, dashes where they belong, nothing before or after. False
 * (out untouched) for anything else: the caller then starts a trace of its own, as the
 * specification asks of a receiver that cannot read the header. */
bool tq_traceparent_parse(const char *s, size_t len, tq_traceparent *out);

/* Writes "00-<trace id>-<span id>-<flags>" and a NUL into out. */
void tq_traceparent_format(const uint8_t trace_id[TQ_TRACE_ID_LEN], const uint8_t span_id[TQ_SPAN_ID_LEN],
                           uint8_t flags, char out[TQ_TRACEPARENT_LEN + 1]);

/* Writes n bytes as 2n lowercase hex digits and a NUL into out. */
void tq_trace_hex(const uint8_t *id, size_t n, char *out);

/* Fills out with n random bytes, never all zeros (an invalid id). A fast generator of
 * the calling thread's own, seeded from the kernel on its first use: ids need to be
 * unique, not secret. Any thread. */
void tq_trace_random_id(uint8_t *out, size_t n);

#endif
