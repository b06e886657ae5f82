/*
 * ratelimit.h - a fixed-window attempt counter per key, shared by all worker threads
 * (login attempts per tenant and email).
 *
 * Keys are reduced to a keyed BLAKE2b digest (the table never holds an email), spread
 * over up to 16 mutex-protected shards. The table is bounded and never forgets a live
 * entry to make room: a key that finds its shard full of live windows is refused (as
 * over its limit) until the first of them ends; expired entries are reused. Forgetting
 * instead would let anyone reset a key's count by sending enough other keys.
 */
#ifndef TENANTQL_RATELIMIT_H
#define TENANTQL_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define TQ_RATELIMIT_MIN_KEYS 16

typedef struct tq_ratelimit tq_ratelimit;

/* limit attempts per window_s seconds per key; at most max_keys keys remembered (at
 * least TQ_RATELIMIT_MIN_KEYS). Needs sodium_init() first. NULL when out of memory; the
 * caller owns it (tq_ratelimit_free). */
tq_ratelimit *tq_ratelimit_new(int limit, int window_s, size_t max_keys);
void tq_ratelimit_free(tq_ratelimit *rl);

/* Which window an allowed attempt was counted in, to give it back. */
typedef struct tq_ratelimit_ticket {
    uint8_t digest[16];
    uint64_t window_start;
} tq_ratelimit_ticket;

/* Makes the limit this process's part when `parts` processes share it (README, "Several
 * processes"): ceil(limit / parts) attempts per window, so the parts add up to at most
 * limit + parts - 1. 1 (the default): the whole limit. Thread-safe. */
void tq_ratelimit_set_parts(tq_ratelimit *rl, int parts);

/* Counts one attempt for key at now_ms (any monotonic millisecond clock). Returns 0
 * when it is allowed (and fills *ticket unless it is NULL), else the whole seconds (>= 1)
 * until the key's window ends - or, for a new key that finds the table full, until the
 * first live window ends; a refused attempt is not counted. Thread-safe. */
int tq_ratelimit_hit(tq_ratelimit *rl, const void *key, size_t len, uint64_t now_ms, tq_ratelimit_ticket *ticket);

/* Un-counts an allowed attempt that was not carried out (its password was never hashed),
 * if its window is still the key's current one; a key left at zero frees its entry.
 * Thread-safe. */
void tq_ratelimit_give_back(tq_ratelimit *rl, const tq_ratelimit_ticket *ticket);

#endif
