/*
 * client_budget.c - token buckets per client address in a set-associative table of fixed
 * size (see client_budget.h). An address's set is picked by keyed SipHash (random per
 * process), so a client cannot aim its addresses at one set; each set is scanned
 * linearly (a handful of entries) under the lock of its stripe.
 */
#include "tenantql/client_budget.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/bucket.h"

#define WAYS 8     /* entries per set */
#define STRIPES 64 /* locks, each guarding every 64th set */

typedef struct budget_entry {
    tq_client_key key;
    bool used;
    uint64_t seen_ms; /* last request */
    tq_bucket bucket;
} budget_entry;

struct tq_client_budget {
    double rate, burst;
    size_t nsets; /* a power of two */
    budget_entry *entries;
    uint8_t seed[crypto_shorthash_siphash24_KEYBYTES];
    pthread_mutex_t locks[STRIPES];
};

bool tq_client_key_of(const struct sockaddr *sa, tq_client_key *out)
{
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        out->bytes[0] = 4;
        memcpy(out->bytes + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family != AF_INET6)
        return false;
    const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
        out->bytes[0] = 4;
        memcpy(out->bytes + 1, a + 12, 4);
    } else {
        out->bytes[0] = 6;
        memcpy(out->bytes + 1, a, 8); /* the /64 */
    }
    return true;
}

tq_client_budget *tq_client_budget_new(double rate, double burst, size_t entries)
{
    tq_client_budget *cb = calloc(1, sizeof(*cb));
    if (cb == NULL)
        return NULL;
    cb->rate = rate;
    cb->burst = burst;
    cb->nsets = 1;
    while (cb->nsets * WAYS < entries)
        cb->nsets *= 2;
    cb->entries = calloc(cb->nsets * WAYS, sizeof(budget_entry));
    if (cb->entries == NULL) {
        free(cb);
        return NULL;
    }
    randombytes_buf(cb->seed, sizeof(cb->seed));
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&cb->locks[i], NULL);
    return cb;
}

void tq_client_budget_free(tq_client_budget *cb)
{
    if (cb == NULL)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&cb->locks[i]);
    free(cb->entries);
    free(cb);
}

/* Among a set's entries: key's own, else the one to give it (see client_budget.h). */
static budget_entry *entry_for(tq_client_budget *cb, budget_entry *set, const tq_client_key *key, uint64_t now_ms)
{
    budget_entry *spare = NULL;
    bool spare_idle = false; /* forgetting spare loses nothing */
    for (int i = 0; i < WAYS; i++) {
        budget_entry *e = &set[i];
        if (e->used && memcmp(&e->key, key, sizeof(*key)) == 0)
            return e;
        bool idle = !e->used || tq_bucket_level(&e->bucket, cb->rate, cb->burst, now_ms) >= cb->burst;
        if (idle && !spare_idle) {
            spare = e;
            spare_idle = true;
        } else if (!spare_idle && (spare == NULL || e->seen_ms < spare->seen_ms)) {
            spare = e;
        }
    }
    spare->used = true;
    spare->key = *key;
    spare->bucket = (tq_bucket){0};
    return spare;
}

int tq_client_budget_take(tq_client_budget *cb, const tq_client_key *key, double cost, uint64_t now_ms)
{
    uint8_t h[crypto_shorthash_siphash24_BYTES];
    crypto_shorthash_siphash24(h, key->bytes, sizeof(key->bytes), cb->seed);
    uint64_t hash;
    memcpy(&hash, h, sizeof(hash));
    size_t set = (size_t)(hash & (cb->nsets - 1));
    pthread_mutex_t *lock = &cb->locks[set % STRIPES];
    pthread_mutex_lock(lock);
    budget_entry *e = entry_for(cb, &cb->entries[set * WAYS], key, now_ms);
    e->seen_ms = now_ms;
    int retry = 0;
    if (!tq_bucket_take(&e->bucket, cb->rate, cb->burst, cost, now_ms))
        retry = tq_bucket_retry_after_s(tq_bucket_wait_ms(&e->bucket, cb->rate, cost));
    pthread_mutex_unlock(lock);
    return retry;
}
