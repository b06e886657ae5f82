/*
 * test_ratelimit.c - the login attempt counter: the limit per window, the seconds to
 * wait, independent keys, a full table that refuses new keys instead of forgetting live
 * ones (one shard and sixteen), attempts given back, and a limit split among processes.
 */
#include <sodium.h>
#include <stdio.h>

#include "tenantql/ratelimit.h"
#include "tq_test.h"

static int hit(tq_ratelimit *rl, const char *key, uint64_t now)
{
    return tq_ratelimit_hit(rl, key, strlen(key), now, NULL);
}

static void test_window(void)
{
    tq_ratelimit *rl = tq_ratelimit_new(3, 10, 1024);
    const char *k = "acme\0admin@acme.example";
    size_t kl = 23;
    CHECK(tq_ratelimit_hit(rl, k, kl, 1000, NULL) == 0);
    CHECK(tq_ratelimit_hit(rl, k, kl, 1001, NULL) == 0);
    CHECK(tq_ratelimit_hit(rl, k, kl, 1002, NULL) == 0);
    CHECK(tq_ratelimit_hit(rl, k, kl, 1003, NULL) == 10); /* 9.997 s left, rounded up */
    CHECK(tq_ratelimit_hit(rl, k, kl, 10999, NULL) == 1);
    CHECK(tq_ratelimit_hit(rl, k, kl, 10999, NULL) == 1); /* refusals are not counted */
    CHECK(tq_ratelimit_hit(rl, k, kl, 11000, NULL) == 0); /* a new window */
    CHECK(tq_ratelimit_hit(rl, k, kl, 11001, NULL) == 0);
    CHECK(tq_ratelimit_hit(rl, k, kl, 11002, NULL) == 0);
    CHECK(tq_ratelimit_hit(rl, k, kl, 11003, NULL) == 10);
    /* a clock read a little behind another thread's does not reset the window */
    CHECK(tq_ratelimit_hit(rl, k, kl, 10990, NULL) == 11);
    tq_ratelimit_free(rl);
}

static void test_keys(void)
{
    tq_ratelimit *rl = tq_ratelimit_new(1, 60, 1024);
    CHECK(tq_ratelimit_hit(rl, "a\0b", 3, 0, NULL) == 0);
    CHECK(tq_ratelimit_hit(rl, "a\0c", 3, 0, NULL) == 0);
    CHECK(tq_ratelimit_hit(rl, "a\0b", 3, 0, NULL) == 60);
    CHECK(tq_ratelimit_hit(rl, "a", 1, 0, NULL) == 0);
    CHECK(tq_ratelimit_hit(rl, "a\0c", 3, 0, NULL) == 60);
    tq_ratelimit_free(rl);
}

/* The smallest table (16 keys, one shard): full, it refuses new keys until the first
 * live window ends, and the keys it holds keep their counts whatever others send. */
static void test_full_table(void)
{
    tq_ratelimit *rl = tq_ratelimit_new(2, 60, 16);
    char key[32];
    for (int i = 0; i < 16; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        CHECK(hit(rl, key, (uint64_t)i * 1000) == 0); /* k0's window ends at 60 s, k15's at 75 s */
    }
    /* a flood of new keys: every one refused, as over the limit, until k0's window ends */
    int refused = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "new%d", i);
        refused += hit(rl, key, 20000) == 40;
    }
    CHECK(refused == 10000);
    CHECK(hit(rl, "new1", 59001) == 1);
    /* nothing was forgotten: each key has one attempt left, then is over its limit */
    for (int i = 0; i < 16; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        CHECK(hit(rl, key, 30000) == 0);
        CHECK(hit(rl, key, 30000) == 30 + i);
    }
    /* k0's window is over: its slot takes a new key; the others still hold theirs */
    CHECK(hit(rl, "new1", 60000) == 0);
    CHECK(hit(rl, "new2", 60000) == 1);
    CHECK(hit(rl, "k1", 60000) == 1);
    CHECK(hit(rl, "k0", 60000) == 1); /* k0 is a new key now, and there is no room */
    tq_ratelimit_free(rl);
}

/* The default size, sixteen shards: a flood of distinct keys fills it without evicting
 * anything; every key it admitted is still counted afterwards. */
static void test_full_sharded(void)
{
    enum { KEYS = 16384, FLOOD = 20000 };
    tq_ratelimit *rl = tq_ratelimit_new(1, 60, KEYS);
    static unsigned char admitted[FLOOD];
    char key[32];
    int n = 0, odd = 0;
    for (int i = 0; i < FLOOD; i++) {
        snprintf(key, sizeof(key), "flood%d", i);
        int r = hit(rl, key, 1000);
        admitted[i] = r == 0;
        n += r == 0;
        odd += r != 0 && r != 60; /* refused: until the first window of its shard ends */
    }
    CHECK(odd == 0);
    CHECK(n <= KEYS && n > KEYS * 3 / 4);
    int still = 0;
    for (int i = 0; i < FLOOD; i++) {
        snprintf(key, sizeof(key), "flood%d", i);
        still += admitted[i] && hit(rl, key, 2000) == 59; /* limit 1: over it */
    }
    CHECK(still == n);
    tq_ratelimit_free(rl);
}

/* An attempt given back (never hashed) no longer counts, but only in its own window;
 * a key given back to zero frees its entry. */
static void test_give_back(void)
{
    tq_ratelimit *rl = tq_ratelimit_new(2, 10, 16);
    tq_ratelimit_ticket t1, t2, t3;
    CHECK(tq_ratelimit_hit(rl, "a", 1, 0, &t1) == 0);
    CHECK(tq_ratelimit_hit(rl, "a", 1, 1, &t2) == 0);
    CHECK(tq_ratelimit_hit(rl, "a", 1, 2, NULL) == 10);
    tq_ratelimit_give_back(rl, &t2);
    CHECK(tq_ratelimit_hit(rl, "a", 1, 3, &t3) == 0);
    CHECK(tq_ratelimit_hit(rl, "a", 1, 4, NULL) == 10);
    /* a ticket of an earlier window changes nothing in the next one */
    CHECK(tq_ratelimit_hit(rl, "a", 1, 10000, NULL) == 0);
    CHECK(tq_ratelimit_hit(rl, "a", 1, 10001, NULL) == 0);
    tq_ratelimit_give_back(rl, &t1);
    CHECK(tq_ratelimit_hit(rl, "a", 1, 10002, NULL) == 10);
    /* a full table: one key given back to zero makes room for a new one */
    char key[32];
    tq_ratelimit_ticket last;
    for (int i = 1; i < 16; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        CHECK(tq_ratelimit_hit(rl, key, strlen(key), 10003, &last) == 0);
    }
    CHECK(hit(rl, "late", 10004) == 10);
    tq_ratelimit_give_back(rl, &last);
    CHECK(hit(rl, "late", 10005) == 0);
    tq_ratelimit_free(rl);
}

/* several processes share the limit: ceil(limit / parts) each, never 0 */
static void test_parts(void)
{
    tq_ratelimit *rl = tq_ratelimit_new(5, 10, 1024);
    tq_ratelimit_set_parts(rl, 2);
    for (int i = 0; i < 3; i++)
        CHECK(hit(rl, "k", 1000 + (uint64_t)i) == 0);
    CHECK(hit(rl, "k", 1003) == 10);
    tq_ratelimit_set_parts(rl, 100);
    CHECK(hit(rl, "other", 1004) == 0);
    CHECK(hit(rl, "other", 1005) == 10);
    tq_ratelimit_set_parts(rl, 1); /* alone again: the whole limit */
    CHECK(hit(rl, "k", 1006) == 0);
    CHECK(hit(rl, "k", 1007) == 0);
    CHECK(hit(rl, "k", 1008) == 10);
    tq_ratelimit_free(rl);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_parts();
    test_window();
    test_keys();
    test_full_table();
    test_full_sharded();
    test_give_back();
    return TQ_TEST_REPORT();
}
