/* test_traceparent.c - W3C traceparent read strictly (hostile inputs refused), written,
 * and random ids never zero. */
#include <stdlib.h>

#include "tenantql/traceparent.h"
#include "tq_test.h"

static const char good[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static bool parses(const char *s)
{
    tq_traceparent tp;
    return tq_traceparent_parse(s, strlen(s), &tp);
}

static void test_good(void)
{
    tq_traceparent tp;
    CHECK(tq_traceparent_parse(good, strlen(good), &tp));
    CHECK(tp.trace_id[0] == 0x4b && tp.trace_id[15] == 0x36);
    CHECK(tp.parent_id[0] == 0x00 && tp.parent_id[7] == 0xb7);
    CHECK(tp.flags == TQ_TRACE_FLAG_SAMPLED);
    char out[TQ_TRACEPARENT_LEN + 1];
    tq_traceparent_format(tp.trace_id, tp.parent_id, tp.flags, out);
    CHECK_STR(out, good);
    CHECK(parses("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")); /* not sampled */
    CHECK(parses("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff")); /* unknown flags are kept */
    CHECK(tq_traceparent_parse(good, strlen(good), &tp) && tp.flags == 1);
}

static void test_hostile(void)
{
    const char *bad[] = {
        "",
        "00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    /* short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",  /* long */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  /* version 00 has no tail */
        " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* a version not read */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* forbidden version */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* uppercase */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero parent id */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",   /* not hex */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b+-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7--1",
        "00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01",   /* dashes misplaced */
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tq_traceparent tp = {.flags = 0x77};
        bool ok = tq_traceparent_parse(bad[i], strlen(bad[i]), &tp);
        CHECK(!ok);
        CHECK(tp.flags == 0x77); /* untouched */
        if (ok)
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
    }
    /* a NUL inside, and a length that stops short of a valid value */
    char nul[sizeof(good)];
    memcpy(nul, good, sizeof(good));
    nul[10] = '\0';
    tq_traceparent tp;
    CHECK(!tq_traceparent_parse(nul, TQ_TRACEPARENT_LEN, &tp));
    CHECK(!tq_traceparent_parse(good, TQ_TRACEPARENT_LEN - 1, &tp));
    CHECK(!tq_traceparent_parse(NULL, 0, &tp));
    /* every single byte changed to every value: only hex digits where hex belongs pass */
    char buf[sizeof(good)];
    int accepted = 0;
    for (size_t pos = 0; pos < TQ_TRACEPARENT_LEN; pos++)
        for (int c = 0; c < 256; c++) {
            memcpy(buf, good, sizeof(good));
            buf[pos] = (char)c;
            if (tq_traceparent_parse(buf, TQ_TRACEPARENT_LEN, &tp))
                accepted++;
        }
    /* 16 lowercase hex digits at each of the 50 hex positions, and at each of the 5 fixed
     * ones (version, dashes) only its own character */
    CHECK(accepted == 50 * 16 + 5);
}

static void test_ids(void)
{
    uint8_t a[TQ_TRACE_ID_LEN], b[TQ_TRACE_ID_LEN], s[TQ_SPAN_ID_LEN];
    tq_trace_random_id(a, sizeof(a));
    tq_trace_random_id(b, sizeof(b));
    tq_trace_random_id(s, sizeof(s));
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    char hex[2 * TQ_TRACE_ID_LEN + 1];
    tq_trace_hex(a, sizeof(a), hex);
    CHECK(strlen(hex) == 32);
    char tp[TQ_TRACEPARENT_LEN + 1];
    tq_traceparent_format(a, s, 1, tp);
    tq_traceparent back;
    CHECK(tq_traceparent_parse(tp, strlen(tp), &back));
    CHECK(memcmp(back.trace_id, a, sizeof(a)) == 0 && memcmp(back.parent_id, s, sizeof(s)) == 0);
    uint8_t one[1];
    for (int i = 0; i < 1000; i++) {
        tq_trace_random_id(one, 1);
        CHECK(one[0] != 0);
    }
}

int main(void)
{
    test_good();
    test_hostile();
    test_ids();
    return TQ_TEST_REPORT();
}
