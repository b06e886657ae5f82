/*
 * clock.h - the one clock threads share. Each h2o loop keeps its own notion of now
 * (refreshed once per turn); what is compared across threads - when a pool was last
 * asked for, when a login attempt was counted - reads this clock instead.
 */
#ifndef TENANTQL_CLOCK_H
#define TENANTQL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds. */
static inline uint64_t tq_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC in microseconds (what a query took). */
static inline uint64_t tq_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

#endif
