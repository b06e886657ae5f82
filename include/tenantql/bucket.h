/*
 * bucket.h - a token bucket: it holds at most `burst` units and refills at `rate` units
 * per second. A request takes units when the bucket holds them (tq_bucket_take); a cost
 * known only afterwards is charged even when that leaves the bucket in debt
 * (tq_bucket_charge), and nothing is taken again until the debt is paid back by time.
 *
 * The caller owns the bucket and locks around it when threads share it; the rate and
 * burst are passed on every call, so a limit changed at run time applies at once to
 * the bucket as it is.
 */
#ifndef TENANTQL_BUCKET_H
#define TENANTQL_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

/* Zeroed: a new bucket, full on first use. */
typedef struct tq_bucket {
    double level;   /* units held; below 0 after a charge: debt */
    uint64_t at_ms; /* when level was brought up to date */
    bool started;   /* false: not used yet */
} tq_bucket;

/* The bucket's level at now_ms (refilled, at most burst; a new bucket is full). */
double tq_bucket_level(tq_bucket *b, double rate, double burst, uint64_t now_ms);
/* Takes cost when the bucket holds it: true; else false and nothing is taken. */
bool tq_bucket_take(tq_bucket *b, double rate, double burst, double cost, uint64_t now_ms);
/* Takes cost whatever the level (a cost measured after the fact). */
void tq_bucket_charge(tq_bucket *b, double rate, double burst, double cost, uint64_t now_ms);
/* Milliseconds from the last update until the bucket holds `need` units (0: it does). */
uint64_t tq_bucket_wait_ms(const tq_bucket *b, double rate, double need);
/* Whole seconds, at least 1, for a Retry-After of wait_ms. */
int tq_bucket_retry_after_s(uint64_t wait_ms);

#endif
