/*
 * traceparent.c - W3C trace context: the traceparent header read and written, and the
 * ids of traces and spans (random, from a generator per thread: an id is made for every
 * traced request, and a system call each time would cost more than the span itself).
 */
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "tenantql/traceparent.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* uppercase is malformed too (the specification's lowercase only) */
}

/* n bytes from 2n lowercase hex digits; false on any other character. */
static bool read_hex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++)
        any |= b[i];
    return any == 0;
}

bool tq_traceparent_parse(const char *s, size_t len, tq_traceparent *out)
{
    /* version 00 has exactly this length; other versions are not read (see the header) */
    if (s == NULL || len != TQ_TRACEPARENT_LEN || s[0] != '0' || s[1] != '0' || s[2] != '-' || s[35] != '-' ||
        s[52] != '-')
        return false;
    tq_traceparent tp;
    if (!read_hex(s + 3, TQ_TRACE_ID_LEN, tp.trace_id) || !read_hex(s + 36, TQ_SPAN_ID_LEN, tp.parent_id) ||
        !read_hex(s + 53, 1, &tp.flags))
        return false;
    if (all_zero(tp.trace_id, TQ_TRACE_ID_LEN) || all_zero(tp.parent_id, TQ_SPAN_ID_LEN))
        return false;
    *out = tp;
    return true;
}

void tq_trace_hex(const uint8_t *id, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * n] = '\0';
}

void tq_traceparent_format(const uint8_t trace_id[TQ_TRACE_ID_LEN], const uint8_t span_id[TQ_SPAN_ID_LEN],
                           uint8_t flags, char out[TQ_TRACEPARENT_LEN + 1])
{
    memcpy(out, "00-", 3);
    tq_trace_hex(trace_id, TQ_TRACE_ID_LEN, out + 3);
    out[35] = '-';
    tq_trace_hex(span_id, TQ_SPAN_ID_LEN, out + 36);
    out[52] = '-';
    tq_trace_hex(&flags, 1, out + 53);
}

/* ---- ids ---- */

/* xoshiro256** (Blackman and Vigna), one state per thread, owned by this file. */
static _Thread_local uint64_t rng[4];
static _Thread_local bool rng_seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    uint64_t result = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl(rng[3], 45);
    return result;
}

static void rng_seed(void)
{
    if (getrandom(rng, sizeof(rng), 0) != (ssize_t)sizeof(rng)) {
        /* no entropy yet (early boot): the time and the state's address still differ per thread */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rng[0] = (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&rng;
        rng[1] = (uint64_t)ts.tv_sec * 0x9e3779b97f4a7c15ull;
        rng[2] = 0x6a09e667f3bcc908ull;
        rng[3] = 0xbb67ae8584caa73bull;
    }
    if (all_zero((const uint8_t *)rng, sizeof(rng)))
        rng[0] = 1; /* the one state the generator cannot leave */
    rng_seeded = true;
}

void tq_trace_random_id(uint8_t *out, size_t n)
{
    if (!rng_seeded)
        rng_seed();
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = rng_next();
            memcpy(out + i, &r, n - i < 8 ? n - i : 8);
        }
    } while (all_zero(out, n));
}
