/*
 * ratelimit.c - fixed-window attempt counters in a bounded, sharded table (see
 * ratelimit.h). A shard is a small array scanned linearly: it holds a few hundred
 * entries at most, and a scan costs far less than the password hash it protects.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/ratelimit.h"

#define SHARDS 16
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
    uint64_t window_ms;
    uint8_t key[crypto_generichash_KEYBYTES]; /* random: digests cannot be precomputed */
    rl_shard shards[SHARDS];
};

tq_ratelimit *tq_ratelimit_new(int limit, int window_s, size_t max_keys)
{
    tq_ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    rl->limit = (uint32_t)limit;
    rl->window_ms = (uint64_t)window_s * 1000;
    randombytes_buf(rl->key, sizeof(rl->key));
    size_t per = max_keys / SHARDS > 0 ? max_keys / SHARDS : 1;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&rl->shards[i].lock, NULL);
        rl->shards[i].n = per;
        rl->shards[i].entries = calloc(per, sizeof(rl_entry));
        if (rl->shards[i].entries == NULL) {
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
    for (int i = 0; i < SHARDS; i++) {
        free(rl->shards[i].entries);
        pthread_mutex_destroy(&rl->shards[i].lock);
    }
    free(rl);
}

/* ms since e's window began (0 when another thread's clock read was a little later) */
static uint64_t age(const rl_entry *e, uint64_t now)
{
    return now > e->window_start ? now - e->window_start : 0;
}

/* 0 free, 1 expired, 2 live: the lower, the better to reuse */
static int rank(const tq_ratelimit *rl, const rl_entry *e, uint64_t now)
{
    return e->count == 0 ? 0 : age(e, now) >= rl->window_ms ? 1 : 2;
}

/* The key's entry, or a slot for it: a free or expired one, else the oldest window. */
static rl_entry *find_slot(const tq_ratelimit *rl, rl_shard *s, const uint8_t *digest, uint64_t now, bool *found)
{
    rl_entry *spare = NULL;
    *found = false;
    for (size_t i = 0; i < s->n; i++) {
        rl_entry *e = &s->entries[i];
        if (e->count > 0 && memcmp(e->digest, digest, DIGEST) == 0) {
            *found = true;
            return e;
        }
        int r = spare ? rank(rl, spare, now) : 3;
        if (rank(rl, e, now) < r || (rank(rl, e, now) == r && e->window_start < spare->window_start))
            spare = e;
    }
    return spare;
}

int tq_ratelimit_hit(tq_ratelimit *rl, const void *key, size_t len, uint64_t now_ms)
{
    uint8_t digest[DIGEST];
    crypto_generichash(digest, sizeof(digest), key, len, rl->key, sizeof(rl->key));
    rl_shard *s = &rl->shards[digest[0] % SHARDS];
    int retry = 0;
    pthread_mutex_lock(&s->lock);
    bool found;
    rl_entry *e = find_slot(rl, s, digest, now_ms, &found);
    if (found && age(e, now_ms) < rl->window_ms) {
        if (e->count >= rl->limit)
            retry = (int)((e->window_start + rl->window_ms - now_ms + 999) / 1000);
        else
            e->count++;
    } else {
        memcpy(e->digest, digest, DIGEST);
        e->window_start = now_ms;
        e->count = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return retry;
}
