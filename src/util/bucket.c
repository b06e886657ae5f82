/*
 * bucket.c - token buckets (see bucket.h).
 */
#include "tenantql/bucket.h"

double tq_bucket_level(tq_bucket *b, double rate, double burst, uint64_t now_ms)
{
    if (!b->started) {
        b->started = true;
        b->level = burst;
        b->at_ms = now_ms;
    } else if (now_ms > b->at_ms) {
        /* (a clock read a little earlier by another thread refills nothing) */
        b->level += rate * (double)(now_ms - b->at_ms) / 1000.0;
        b->at_ms = now_ms;
    }
    if (b->level > burst)
        b->level = burst; /* also when the burst was lowered meanwhile */
    return b->level;
}

bool tq_bucket_take(tq_bucket *b, double rate, double burst, double cost, uint64_t now_ms)
{
    if (tq_bucket_level(b, rate, burst, now_ms) < cost)
        return false;
    b->level -= cost;
    return true;
}

void tq_bucket_charge(tq_bucket *b, double rate, double burst, double cost, uint64_t now_ms)
{
    tq_bucket_level(b, rate, burst, now_ms);
    b->level -= cost;
}

uint64_t tq_bucket_wait_ms(const tq_bucket *b, double rate, double need)
{
    if (b->level >= need || rate <= 0)
        return 0;
    double ms = (need - b->level) * 1000.0 / rate;
    uint64_t whole = (uint64_t)ms;
    return (double)whole < ms ? whole + 1 : whole;
}

int tq_bucket_retry_after_s(uint64_t wait_ms)
{
    uint64_t s = (wait_ms + 999) / 1000;
    return s < 1 ? 1 : s > 86400 ? 86400 : (int)s;
}
