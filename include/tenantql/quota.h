/*
 * quota.h - what one tenant may use of a server process, and what it is using: requests
 * per second (a token bucket with a burst), requests in flight, and database time per
 * second (what its queries took from being sent to being answered, added up across its
 * connections and charged as they come back).
 *
 * The limits come from the tenant's registry row (the `quota` column, live like the rest
 * of the row), with the server's defaults for what the row leaves out. The counters
 * belong to the tenant, not to one record of it: a changed row swaps the record but keeps
 * the counters, so a changed quota applies at once to the usage so far. They are shared
 * by every worker thread and kept per process: several server processes sharing a
 * registry (--cluster-max-connections) each allow their part of it (tq_quota_split).
 */
#ifndef TENANTQL_QUOTA_H
#define TENANTQL_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A quota. 0: no limit; TQ_QUOTA_UNSET (in a registry row): the server's default. */
typedef struct tq_quota {
    int rate;      /* requests per second */
    int burst;     /* requests at once after a pause; 0: one second of the rate */
    int in_flight; /* requests being served at once (admitted, not yet freed) */
    int db_ms;     /* milliseconds of database time per second */
} tq_quota;

#define TQ_QUOTA_UNSET (-1)
#define TQ_QUOTA_NONE_SET                                                                                              \
    {                                                                                                                  \
        TQ_QUOTA_UNSET, TQ_QUOTA_UNSET, TQ_QUOTA_UNSET, TQ_QUOTA_UNSET                                                 \
    }
/* the bound of every quota value (the registry's parser refuses larger ones) */
#define TQ_QUOTA_MAX 1000000000

/* The quota of a registry row's `quota` JSON object text (NULL or "": none set): each
 * key present and valid is set, the others TQ_QUOTA_UNSET; bad values and unknown keys
 * are logged with the tenant's name and otherwise ignored. */
void tq_quota_parse(const char *json_text, const char *tenant, tq_quota *out);
/* Checks a quota given on the command line: a JSON object of known keys with integers in
 * 0..TQ_QUOTA_MAX; 0, or -1 with err saying what is wrong. */
int tq_quota_check(const char *json_text, char *err, size_t errlen);
/* Sets the fields of q that are TQ_QUOTA_UNSET to those of defaults. */
void tq_quota_merge(tq_quota *q, const tq_quota *defaults);
/* Whether any limit is in force. */
bool tq_quota_any(const tq_quota *q);
/* This process's part of an effective quota when `parts` processes share the tenant
 * (README, "Several processes"): every limit in force becomes ceil(limit / parts), so the
 * parts add up to at most limit + parts - 1 and none is 0 (no limit). parts <= 1: as is. */
void tq_quota_split(tq_quota *q, int parts);
/* The burst of an effective quota: its own, or one second of its rate. */
int tq_quota_burst(const tq_quota *q);

/* A tenant's counters (reference-counted; see tq_usage_ref). */
typedef struct tq_usage tq_usage;

/* A new set of counters holding one reference; each reference (new or ref) stays valid
 * until its tq_usage_release. */
tq_usage *tq_usage_new(void);
tq_usage *tq_usage_ref(tq_usage *u);
void tq_usage_release(tq_usage *u);

/* What a tenant's requests came to, for /metrics: counted once per answered request. */
typedef enum tq_request_outcome {
    TQ_OUTCOME_OK,           /* 2xx (GraphQL errors in a 200 included) */
    TQ_OUTCOME_CLIENT_ERROR, /* 4xx but 429: bad input, unauthenticated, forbidden */
    TQ_OUTCOME_REFUSED,      /* 429: over a quota or a fair share */
    TQ_OUTCOME_SERVER_ERROR, /* 5xx: unavailable, busy, migrating, paused too long */
    TQ_OUTCOMES_,
} tq_request_outcome;

/* Upper bounds (ms) of the request duration histogram, plus one bucket above the last. */
#define TQ_REQUEST_BUCKETS 10
#define TQ_REQUEST_BOUNDS_MS {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000}

/* A histogram of times with TQ_REQUEST_BOUNDS_MS. */
typedef struct tq_request_hist {
    unsigned long buckets[TQ_REQUEST_BUCKETS + 1]; /* not cumulative */
    unsigned long count;
    uint64_t sum_us;
} tq_request_hist;

typedef struct tq_request_stats {
    unsigned long outcomes[TQ_OUTCOMES_];
    tq_request_hist duration;  /* arrival to answer */
    tq_request_hist db;        /* time in PostgreSQL, of requests that ran statements */
} tq_request_stats;

/* Counts one answered request of the tenant (any thread): its duration, and the time its
 * statements took in PostgreSQL (statements: how many; none, and it adds no db sample). */
void tq_usage_count_request(tq_usage *u, tq_request_outcome outcome, uint64_t duration_us, uint64_t db_us,
                            uint32_t statements);
/* A snapshot of the tenant's counts (any thread); adds into *acc (zero it first). */
void tq_usage_add_request_stats(tq_usage *u, tq_request_stats *acc);
/* The outcome of an HTTP status. */
tq_request_outcome tq_request_outcome_of(int status);

/* Which limit refused a request. */
typedef enum tq_quota_verdict {
    TQ_QUOTA_OK,
    TQ_QUOTA_OVER_RATE,
    TQ_QUOTA_OVER_IN_FLIGHT,
    TQ_QUOTA_OVER_DB_TIME,
    TQ_QUOTA_OVER_SHARE,
} tq_quota_verdict;

/* Where a request leaves the tenant's quota, for the RateLimit header and Retry-After. */
typedef struct tq_quota_state {
    tq_quota_verdict verdict;
    int retry_after_s;  /* when refused: whole seconds until the refusing limit allows one more */
    long rate_left;     /* requests the bucket holds now (whole) */
    int rate_next_s;    /* seconds until it holds one, when it holds none */
    int in_flight_left; /* requests that may start while this one runs */
    long db_ms_left;    /* database milliseconds left in the bucket (0 when in debt) */
    int db_next_s;      /* seconds until the debt is paid back, when in debt */
} tq_quota_state;

/* Admits one request under q (an effective quota: tq_quota_merge'd) at now_ms
 * (tq_clock_ms): refused while the tenant is at its requests in flight or in database
 * time debt, over its fair share of a busy server, or when its rate bucket is empty;
 * otherwise takes one request from the
 * bucket and one place in flight, which tq_usage_leave gives back. Fills st either way.
 * Any thread. */
tq_quota_verdict tq_usage_admit(tq_usage *u, const tq_quota *q, uint64_t now_ms, tq_quota_state *st);
/* An admitted request is freed. */
void tq_usage_leave(tq_usage *u);
/* Charges database time (microseconds) measured as a query came back, against the limit
 * the tenant's requests were last admitted under. Any thread. */
void tq_usage_charge_db(tq_usage *u, uint64_t us);
/* Charges us microseconds of a worker's time that one of the tenant's requests took
 * (parsing, validating, running resolvers, writing the answer: not its waits) at now_ms
 * (tq_clock_ms), towards the fair share. Any thread. */
void tq_usage_charge_served(tq_usage *u, uint64_t us, uint64_t now_ms);

/* ---- fair share of a busy server ----
 * When the tenants' requests take more than busy_percent of the workers' time (workers x
 * one second per second, measured over the last second), a tenant that took more than
 * its fair share of it (that time divided by the tenants served in the last second) is
 * refused (TQ_QUOTA_OVER_SHARE) until it is back within its share or the server is no
 * longer busy. A tenant alone, or on a server with room, is never refused by it. The
 * meter is one per process, owned by this module. */

/* Sets the meter up (busy_percent 0: off, the default); start-up and tests. */
void tq_share_configure(int workers, int busy_percent);
/* Whether the meter is on: when off, nothing is measured or charged. Any thread. */
bool tq_share_enabled(void);

/* Requests in flight now (tests, metrics). */
int tq_usage_in_flight(tq_usage *u);

#endif
