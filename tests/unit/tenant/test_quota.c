/*
 * test_quota.c - tenant/quota.c: a registry row's quota (keys left out or invalid fall
 * back to the server's default), the strict check of the command line, and admission:
 * requests per second with a burst, requests in flight given back when freed, database
 * time charged after the fact refusing until the debt is paid, with Retry-After and what
 * is left for the RateLimit header; the fair share of a busy server.
 */

#include "tenantql/clock.h"
#include "tenantql/log.h"
#include "tenantql/quota.h"
#include "tq_test.h"

static void test_parse_and_merge(void)
{
    tq_quota q;
    tq_quota_parse("{\"rate\": 50, \"in_flight\": 0, \"burst\": -1, \"db_ms_per_s\": \"x\", \"nope\": 1}", "t", &q);
    CHECK(q.rate == 50 && q.in_flight == 0 && q.burst == TQ_QUOTA_UNSET && q.db_ms == TQ_QUOTA_UNSET);
    tq_quota defaults = {10, 20, 64, 500};
    tq_quota_merge(&q, &defaults);
    CHECK(q.rate == 50 && q.burst == 20 && q.in_flight == 0 && q.db_ms == 500);
    tq_quota_parse(NULL, "t", &q);
    CHECK(q.rate == TQ_QUOTA_UNSET && q.in_flight == TQ_QUOTA_UNSET);
    tq_quota_parse("[1]", "t", &q);
    CHECK(q.rate == TQ_QUOTA_UNSET);
    tq_quota none = {0, 0, 0, 0};
    CHECK(!tq_quota_any(&none));
    CHECK(tq_quota_burst(&(tq_quota){7, 0, 0, 0}) == 7);

    char err[200];
    CHECK(tq_quota_check("{\"rate\": 5, \"burst\": 10, \"in_flight\": 2, \"db_ms_per_s\": 100}", err, sizeof(err)) ==
          0);
    CHECK(tq_quota_check("{}", err, sizeof(err)) == 0);
    CHECK(tq_quota_check("{\"rps\": 5}", err, sizeof(err)) != 0 && strstr(err, "rps") != NULL);
    CHECK(tq_quota_check("{\"rate\": -1}", err, sizeof(err)) != 0);
    CHECK(tq_quota_check("{\"rate\": 1.5}", err, sizeof(err)) != 0);
    CHECK(tq_quota_check("5", err, sizeof(err)) != 0);
}

static void test_rate(void)
{
    tq_usage *u = tq_usage_new();
    tq_quota q = {2, 3, 0, 0}; /* 2 per second, 3 at once */
    tq_quota_state st;
    for (int i = 0; i < 3; i++) {
        CHECK(tq_usage_admit(u, &q, 1000, &st) == TQ_QUOTA_OK);
        CHECK(st.rate_left == 2 - i);
        tq_usage_leave(u);
    }
    CHECK(tq_usage_admit(u, &q, 1000, &st) == TQ_QUOTA_OVER_RATE);
    CHECK(st.retry_after_s == 1 && st.rate_left == 0 && st.rate_next_s == 1);
    CHECK(tq_usage_in_flight(u) == 0); /* a refused request holds no place */
    CHECK(tq_usage_admit(u, &q, 1500, &st) == TQ_QUOTA_OK);
    tq_usage_leave(u);
    /* the limit changed (live): a higher burst fills up from where the bucket was */
    tq_quota more = {100, 100, 0, 0};
    CHECK(tq_usage_admit(u, &more, 1500, &st) == TQ_QUOTA_OVER_RATE);
    CHECK(tq_usage_admit(u, &more, 1600, &st) == TQ_QUOTA_OK);
    tq_usage_leave(u);
    tq_usage_release(u);
}

static void test_in_flight(void)
{
    tq_usage *u = tq_usage_ref(tq_usage_new());
    tq_quota q = {0, 0, 2, 0};
    tq_quota_state st;
    CHECK(tq_usage_admit(u, &q, 0, &st) == TQ_QUOTA_OK && st.in_flight_left == 1);
    CHECK(tq_usage_admit(u, &q, 0, &st) == TQ_QUOTA_OK && st.in_flight_left == 0);
    CHECK(tq_usage_admit(u, &q, 0, &st) == TQ_QUOTA_OVER_IN_FLIGHT && st.retry_after_s == 1);
    tq_usage_leave(u);
    CHECK(tq_usage_admit(u, &q, 0, &st) == TQ_QUOTA_OK);
    tq_usage_leave(u);
    tq_usage_leave(u);
    CHECK(tq_usage_in_flight(u) == 0);
    tq_usage_release(u);
    tq_usage_release(u);
}

static void test_db_time(void)
{
    tq_usage *u = tq_usage_new();
    tq_quota q = {0, 0, 0, 100}; /* 100 ms per second */
    tq_quota_state st;
    uint64_t now = tq_clock_ms();
    CHECK(tq_usage_admit(u, &q, now, &st) == TQ_QUOTA_OK && st.db_ms_left == 100);
    tq_usage_charge_db(u, 80 * 1000);
    tq_usage_leave(u);
    CHECK(tq_usage_admit(u, &q, now, &st) == TQ_QUOTA_OK && st.db_ms_left >= 20 && st.db_ms_left <= 25);
    tq_usage_charge_db(u, 320 * 1000); /* 300 ms of debt: 3 s to pay back */
    tq_usage_leave(u);
    CHECK(tq_usage_admit(u, &q, now, &st) == TQ_QUOTA_OVER_DB_TIME);
    CHECK(st.retry_after_s == 3 && st.db_ms_left == 0 && st.db_next_s == 3);
    CHECK(tq_usage_admit(u, &q, now + 3100, &st) == TQ_QUOTA_OK);
    tq_usage_leave(u);
    /* without a database limit nothing is charged */
    tq_quota none = {0, 0, 0, 0};
    CHECK(tq_usage_admit(u, &none, now + 3100, &st) == TQ_QUOTA_OK);
    tq_usage_charge_db(u, 10000 * 1000);
    tq_usage_leave(u);
    CHECK(tq_usage_admit(u, &q, now + 3100, &st) == TQ_QUOTA_OK);
    tq_usage_leave(u);
    tq_usage_release(u);
}

/* Fair share: two workers (2 s of their time per second), busy at 50 %. */
static void test_fair_share(void)
{
    tq_share_configure(2, 50);
    tq_usage *heavy = tq_usage_new(), *light = tq_usage_new();
    tq_quota none = {0, 0, 0, 0};
    tq_quota_state st;
    uint64_t t = 1000000; /* ms, at the start of a second */
    /* a tenant alone is never refused, however much it takes */
    tq_usage_charge_served(heavy, 1900000, t);
    CHECK(tq_usage_admit(heavy, &none, t + 10, &st) == TQ_QUOTA_OK);
    tq_usage_leave(heavy);
    /* a second tenant appears: the heavy one took more than half of the busy workers */
    tq_usage_charge_served(light, 100000, t + 20);
    CHECK(tq_usage_admit(heavy, &none, t + 30, &st) == TQ_QUOTA_OVER_SHARE && st.retry_after_s == 1);
    CHECK(tq_usage_in_flight(heavy) == 0);
    CHECK(tq_usage_admit(light, &none, t + 30, &st) == TQ_QUOTA_OK); /* within its share */
    tq_usage_leave(light);
    /* the last second weighs less as it passes: 1.9 s taken, half a second later 0.95 s
     * of it counts, within its share (1 s) */
    CHECK(tq_usage_admit(heavy, &none, t + 1500, &st) == TQ_QUOTA_OK);
    tq_usage_leave(heavy);
    /* with room to spare (below 50 % of the workers' time) nobody is refused */
    tq_share_configure(2, 50);
    tq_usage_charge_served(heavy, 900000, t + 5000);
    tq_usage_charge_served(light, 10, t + 5000);
    CHECK(tq_usage_admit(heavy, &none, t + 5010, &st) == TQ_QUOTA_OK);
    tq_usage_leave(heavy);
    tq_usage_charge_served(heavy, 300000, t + 5020); /* now 1.2 s of 2: busy, and over 1 s */
    CHECK(tq_usage_admit(heavy, &none, t + 5030, &st) == TQ_QUOTA_OVER_SHARE);
    /* off: never refused */
    tq_share_configure(2, 0);
    CHECK(!tq_share_enabled());
    CHECK(tq_usage_admit(heavy, &none, t + 5040, &st) == TQ_QUOTA_OK);
    tq_usage_leave(heavy);
    tq_usage_release(heavy);
    tq_usage_release(light);
}

/* several processes share a quota: ceil(limit / parts) each; 0 (no limit) stays 0 */
static void test_split(void)
{
    tq_quota q = {10, 0, 3, 1000};
    tq_quota_split(&q, 1);
    CHECK(q.rate == 10 && q.burst == 0 && q.in_flight == 3 && q.db_ms == 1000);
    tq_quota_split(&q, 3);
    CHECK(q.rate == 4 && q.burst == 0 && q.in_flight == 1 && q.db_ms == 334);
    CHECK(tq_quota_burst(&q) == 4);
    tq_quota r = {1, 7, 0, 0};
    tq_quota_split(&r, 4);
    CHECK(r.rate == 1 && r.burst == 2 && r.in_flight == 0 && r.db_ms == 0);
}

int main(void)
{
    tq_log_set_level(TQ_LOG_ERROR);
    test_split();
    test_parse_and_merge();
    test_rate();
    test_in_flight();
    test_db_time();
    test_fair_share();
    return TQ_TEST_REPORT();
}
