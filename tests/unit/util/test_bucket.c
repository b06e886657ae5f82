/*
 * test_bucket.c - util/bucket.c: a new bucket is full, takes what it holds and refuses
 * the rest, refills at its rate up to its burst, a charge may leave it in debt, and the
 * wait until it holds a cost again is what Retry-After says.
 */
#include "tenantql/bucket.h"
#include "tq_test.h"

static void test_take_and_refill(void)
{
    tq_bucket b = {0};
    /* 2 per second, 5 at once */
    for (int i = 0; i < 5; i++)
        CHECK(tq_bucket_take(&b, 2, 5, 1, 1000));
    CHECK(!tq_bucket_take(&b, 2, 5, 1, 1000));
    CHECK(tq_bucket_wait_ms(&b, 2, 1) > 0 && tq_bucket_wait_ms(&b, 2, 1) <= 501);
    CHECK(tq_bucket_retry_after_s(tq_bucket_wait_ms(&b, 2, 1)) == 1);
    CHECK(!tq_bucket_take(&b, 2, 5, 1, 1400));
    CHECK(tq_bucket_take(&b, 2, 5, 1, 1500));
    /* a long pause refills to the burst, no further */
    CHECK(tq_bucket_level(&b, 2, 5, 100000) == 5);
    /* a cost larger than what it holds is refused and takes nothing */
    CHECK(!tq_bucket_take(&b, 2, 5, 6, 100000));
    CHECK(tq_bucket_level(&b, 2, 5, 100000) == 5);
    /* an earlier clock reading refills nothing */
    CHECK(tq_bucket_take(&b, 2, 5, 5, 100000));
    CHECK(tq_bucket_level(&b, 2, 5, 99000) == 0);
}

static void test_charge_and_debt(void)
{
    tq_bucket b = {0};
    /* 100 ms of database time per second, 100 at once; a query of 350 ms leaves 250 of debt */
    tq_bucket_charge(&b, 100, 100, 350, 0);
    CHECK(tq_bucket_level(&b, 100, 100, 0) == -250);
    CHECK(!tq_bucket_take(&b, 100, 100, 0.001, 0));
    CHECK(tq_bucket_wait_ms(&b, 100, 0) == 2500);
    CHECK(tq_bucket_retry_after_s(tq_bucket_wait_ms(&b, 100, 0)) == 3);
    CHECK(tq_bucket_level(&b, 100, 100, 2500) == 0);
    CHECK(tq_bucket_level(&b, 100, 100, 4000) == 100);
}

static void test_changed_limits(void)
{
    tq_bucket b = {0};
    CHECK(tq_bucket_level(&b, 10, 50, 0) == 50);
    /* a lower burst applies at once */
    CHECK(tq_bucket_level(&b, 10, 20, 0) == 20);
    CHECK(tq_bucket_retry_after_s(0) == 1);
    CHECK(tq_bucket_retry_after_s(1001) == 2);
}

int main(void)
{
    test_take_and_refill();
    test_charge_and_debt();
    test_changed_limits();
    return TQ_TEST_REPORT();
}
