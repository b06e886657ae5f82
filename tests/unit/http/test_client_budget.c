/*
 * test_client_budget.c - http/client_budget.c: addresses as clients (IPv4, an IPv6 /64,
 * IPv4-mapped IPv6), a budget per client that refuses with Retry-After and refills, and a
 * table far smaller than the clients that never refuses a newcomer and never takes a
 * budget away: an address pushed out starts again full.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>

#include "tenantql/client_budget.h"
#include "tq_test.h"

static tq_client_key v4(const char *text)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, text, &sa.sin_addr);
    tq_client_key k;
    CHECK(tq_client_key_of((struct sockaddr *)&sa, &k));
    return k;
}

static tq_client_key v6(const char *text)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, text, &sa.sin6_addr);
    tq_client_key k;
    CHECK(tq_client_key_of((struct sockaddr *)&sa, &k));
    return k;
}

static bool same(tq_client_key a, tq_client_key b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static void test_keys(void)
{
    CHECK(same(v4("192.0.2.1"), v4("192.0.2.1")));
    CHECK(!same(v4("192.0.2.1"), v4("192.0.2.2")));
    CHECK(same(v6("2001:db8:1:2::1"), v6("2001:db8:1:2:ffff::9")));
    CHECK(!same(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1")));
    CHECK(same(v6("::ffff:192.0.2.1"), v4("192.0.2.1")));
    struct sockaddr sa = {.sa_family = AF_UNIX};
    tq_client_key k;
    CHECK(!tq_client_key_of(&sa, &k));
}

static void test_budget(void)
{
    tq_client_budget *cb = tq_client_budget_new(1, 10, 1024); /* 1 per second, 10 at once */
    tq_client_key a = v4("192.0.2.1"), b = v4("192.0.2.2");
    CHECK(tq_client_budget_take(cb, &a, 5, 1000) == 0); /* a login of cost 5 */
    CHECK(tq_client_budget_take(cb, &a, 5, 1000) == 0);
    CHECK(tq_client_budget_take(cb, &a, 1, 1000) == 1);
    CHECK(tq_client_budget_take(cb, &a, 5, 1000) == 5);
    CHECK(tq_client_budget_take(cb, &b, 1, 1000) == 0); /* another address is unaffected */
    CHECK(tq_client_budget_take(cb, &a, 1, 2000) == 0); /* refilled */
    CHECK(tq_client_budget_take(cb, &a, 1, 2000) == 1);
    tq_client_budget_free(cb);
}

static void test_full_table(void)
{
    /* one set of 8 entries: 1000 addresses pass through it */
    tq_client_budget *cb = tq_client_budget_new(1, 2, 1);
    tq_client_key victim = v4("198.51.100.7");
    CHECK(tq_client_budget_take(cb, &victim, 2, 0) == 0);
    CHECK(tq_client_budget_take(cb, &victim, 1, 0) == 1); /* empty now */
    int refused = 0;
    for (int i = 0; i < 1000; i++) {
        char text[32];
        snprintf(text, sizeof(text), "203.0.%d.%d", i / 250, i % 250); /* 1000 distinct clients */
        tq_client_key k = v4(text);
        refused += tq_client_budget_take(cb, &k, 1, 10) != 0;
    }
    CHECK(refused == 0); /* no newcomer is refused because the table is full */
    /* the victim was pushed out meanwhile: it starts again full, never worse off */
    CHECK(tq_client_budget_take(cb, &victim, 2, 10) == 0);
    tq_client_budget_free(cb);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_keys();
    test_budget();
    test_full_table();
    return TQ_TEST_REPORT();
}
