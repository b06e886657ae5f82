/*
 * ratelimit.h - a fixed-window attempt counter per key, shared by all worker threads
 * (login attempts per tenant and email).
 *
 * Keys are reduced to a keyed BLAKE2b digest (the table never holds an email), spread
 * over a few mutex-protected shards, and the table is bounded: when a shard is full, an
 * expired entry is reused, else the entry whose window began first is evicted.
 */
#ifndef TENANTQL_RATELIMIT_H
#define TENANTQL_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct tq_ratelimit tq_ratelimit;

/* limit attempts per window_s seconds per key; at most max_keys keys remembered.
 * Needs sodium_init() first. NULL when out of memory. */
tq_ratelimit *tq_ratelimit_new(int limit, int window_s, size_t max_keys);
void tq_ratelimit_free(tq_ratelimit *rl);

/* Counts one attempt for key at now_ms (any monotonic millisecond clock). Returns 0
 * when it is allowed, else the whole seconds (>= 1) until the key's window ends; a
 * refused attempt is not counted. Thread-safe. */
int tq_ratelimit_hit(tq_ratelimit *rl, const void *key, size_t len, uint64_t now_ms);

#endif
