/*
 * ratelimit.c - fixed-window attempt counters in a bounded, sharded table (see
 * ratelimit.h). A shard is a small array scanned linearly: it holds at most 1,024
 * entries, and a scan costs far less than the password hash it protects.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/ratelimit.h"

#define MAX_SHARDS 16
#define KEYS_PER_SHARD 256 /* below this many keys per shard, fewer shards (a small table stays one) */
#define DIGEST 16

typedef struct rl_entry {
    uint8_t digest[DIGEST];
    uint64_t window_start; /* ms */
    uint32_t count;        /* 0: the slot is free */
} rl_entry;

typedef struct rl_shard {
    pthread_mutex_t lock;
    rl_entry *entries;
    size_t n;
} rl_shard;

struct tq_ratelimit {
    uint32_t limit;
    _Atomic uint32_t part;        /* this process's part of limit (tq_ratelimit_set_parts) */
    uint64_t window_ms;
    uint8_t key[crypto_generichash_KEYBYTES]; /* random: digests cannot be precomputed */
    int nshards;
    rl_shard shards[MAX_SHARDS];
};

tq_ratelimit *tq_ratelimit_new(int limit, int window_s, size_t max_keys)
{
    tq_ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    rl->limit = (uint32_t)limit;
    atomic_init(&rl->part, (uint32_t)limit);
    rl->window_ms = (uint64_t)window_s * 1000;
    randombytes_buf(rl->key, sizeof(rl->key));
    if (max_keys < TQ_RATELIMIT_MIN_KEYS)
        max_keys = TQ_RATELIMIT_MIN_KEYS;
    size_t shards = max_keys / KEYS_PER_SHARD;
    rl->nshards = shards < 1 ? 1 : shards > MAX_SHARDS ? MAX_SHARDS : (int)shards;
    size_t per = max_keys / (size_t)rl->nshards;
    for (int i = 0; i < rl->nshards; i++) {
        pthread_mutex_init(&rl->shards[i].lock, NULL);
        rl->shards[i].n = per;
        rl->shards[i].entries = calloc(per, sizeof(rl_entry));
        if (rl->shards[i].entries == NULL) {
            rl->nshards = i + 1;
            tq_ratelimit_free(rl);
            return NULL;
        }
    }
    return rl;
}

void tq_ratelimit_free(tq_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < rl->nshards; i++) {
        free(rl->shards[i].entries);
        pthread_mutex_destroy(&rl->shards[i].lock);
    }
    free(rl);
}

void tq_ratelimit_set_parts(tq_ratelimit *rl, int parts)
{
    uint32_t n = parts > 1 ? (uint32_t)parts : 1;
    atomic_store_explicit(&rl->part, (rl->limit + n - 1) / n, memory_order_relaxed);
}

/* ms since e's window began (0 when another thread's clock read was a little later) */
static uint64_t age(const rl_entry *e, uint64_t now)
{
    return now > e->window_start ? now - e->window_start : 0;
}

static bool live(const tq_ratelimit *rl, const rl_entry *e, uint64_t now)
{
    return e->count > 0 && age(e, now) < rl->window_ms;
}

/* Whole seconds (>= 1) until e's live window ends. */
static int seconds_left(const tq_ratelimit *rl, const rl_entry *e, uint64_t now)
{
    uint64_t left = e->window_start + rl->window_ms - now;
    return (int)((left + 999) / 1000);
}

/* The key's live entry (*found), or a free or expired slot for it, or NULL when every
 * slot holds a live window (*soonest then points at the one ending first). */
static rl_entry *find_slot(const tq_ratelimit *rl, rl_shard *s, const uint8_t *digest, uint64_t now, bool *found,
                           const rl_entry **soonest)
{
    rl_entry *spare = NULL;
    *found = false;
    *soonest = NULL;
    for (size_t i = 0; i < s->n; i++) {
        rl_entry *e = &s->entries[i];
        if (e->count > 0 && memcmp(e->digest, digest, DIGEST) == 0) {
            *found = true;
            return e;
        }
        if (!live(rl, e, now)) {
            if (spare == NULL)
                spare = e;
        } else if (*soonest == NULL || e->window_start < (*soonest)->window_start) {
            *soonest = e;
        }
    }
    return spare;
}

static rl_shard *shard_of(tq_ratelimit *rl, const uint8_t *digest)
{
    return &rl->shards[digest[0] % rl->nshards];
}

int tq_ratelimit_hit(tq_ratelimit *rl, const void *key, size_t len, uint64_t now_ms, tq_ratelimit_ticket *ticket)
{
    uint8_t digest[DIGEST];
    crypto_generichash(digest, sizeof(digest), key, len, rl->key, sizeof(rl->key));
    rl_shard *s = shard_of(rl, digest);
    int retry = 0;
    pthread_mutex_lock(&s->lock);
    bool found;
    const rl_entry *soonest;
    rl_entry *e = find_slot(rl, s, digest, now_ms, &found, &soonest);
    if (found && live(rl, e, now_ms)) {
        if (e->count >= atomic_load_explicit(&rl->part, memory_order_relaxed))
            retry = seconds_left(rl, e, now_ms);
        else
            e->count++;
    } else if (e != NULL) {
        memcpy(e->digest, digest, DIGEST);
        e->window_start = now_ms;
        e->count = 1;
    } else {
        retry = seconds_left(rl, soonest, now_ms); /* full: no live entry is forgotten */
    }
    if (retry == 0 && ticket != NULL) {
        memcpy(ticket->digest, digest, DIGEST);
        ticket->window_start = e->window_start;
    }
    pthread_mutex_unlock(&s->lock);
    return retry;
}

void tq_ratelimit_give_back(tq_ratelimit *rl, const tq_ratelimit_ticket *ticket)
{
    rl_shard *s = shard_of(rl, ticket->digest);
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        rl_entry *e = &s->entries[i];
        if (e->count > 0 && memcmp(e->digest, ticket->digest, DIGEST) == 0) {
            if (e->window_start == ticket->window_start)
                e->count--;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}
