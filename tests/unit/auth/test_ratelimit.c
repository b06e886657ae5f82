/*
 * test_ratelimit.c - the login attempt counter: the limit per window, the seconds to
 * wait, independent keys, and a bounded table that keeps working when full.
 */
#include <sodium.h>

#include "tenantql/ratelimit.h"
#include "tq_test.h"

static void test_window(void)
{
    tq_ratelimit *rl = tq_ratelimit_new(3, 10, 1024);
    const char *k = "acme\0admin@acme.example";
    size_t kl = 23;
    CHECK(tq_ratelimit_hit(rl, k, kl, 1000) == 0);
    CHECK(tq_ratelimit_hit(rl, k, kl, 1001) == 0);
    CHECK(tq_ratelimit_hit(rl, k, kl, 1002) == 0);
    CHECK(tq_ratelimit_hit(rl, k, kl, 1003) == 10); /* 9.997 s left, rounded up */
    CHECK(tq_ratelimit_hit(rl, k, kl, 10999) == 1);
    CHECK(tq_ratelimit_hit(rl, k, kl, 10999) == 1); /* refusals are not counted */
    CHECK(tq_ratelimit_hit(rl, k, kl, 11000) == 0); /* a new window */
    CHECK(tq_ratelimit_hit(rl, k, kl, 11001) == 0);
    CHECK(tq_ratelimit_hit(rl, k, kl, 11002) == 0);
    CHECK(tq_ratelimit_hit(rl, k, kl, 11003) == 10);
    /* a clock read a little behind another thread's does not reset the window */
    CHECK(tq_ratelimit_hit(rl, k, kl, 10990) == 11);
    tq_ratelimit_free(rl);
}

static void test_keys(void)
{
    tq_ratelimit *rl = tq_ratelimit_new(1, 60, 1024);
    CHECK(tq_ratelimit_hit(rl, "a\0b", 3, 0) == 0);
    CHECK(tq_ratelimit_hit(rl, "a\0c", 3, 0) == 0);
    CHECK(tq_ratelimit_hit(rl, "a\0b", 3, 0) == 60);
    CHECK(tq_ratelimit_hit(rl, "a", 1, 0) == 0);
    CHECK(tq_ratelimit_hit(rl, "a\0c", 3, 0) == 60);
    tq_ratelimit_free(rl);
}

static void test_bounded(void)
{
    /* one slot per shard: every new key evicts, and nothing breaks */
    tq_ratelimit *rl = tq_ratelimit_new(2, 60, 16);
    char key[32];
    int refused = 0;
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof(key), "k%d", i % 100);
        refused += tq_ratelimit_hit(rl, key, (size_t)n, (uint64_t)i) != 0;
    }
    CHECK(refused < 10000);
    /* a key alone in its shard keeps its count */
    CHECK(tq_ratelimit_hit(rl, "solo", 4, 20000) == 0);
    CHECK(tq_ratelimit_hit(rl, "solo", 4, 20001) == 0);
    CHECK(tq_ratelimit_hit(rl, "solo", 4, 20002) != 0);
    /* expired entries are reused before live ones are evicted */
    CHECK(tq_ratelimit_hit(rl, "solo", 4, 20002 + 60000) == 0);
    tq_ratelimit_free(rl);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_window();
    test_keys();
    test_bounded();
    return TQ_TEST_REPORT();
}
