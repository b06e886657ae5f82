/*
 * quota.c - tenant quotas: the limits read from a registry row and the counters they are
 * checked against (see quota.h).
 *
 * A tenant's counters sit under one mutex: admission checks three limits and takes from
 * two, and a request holds it for well under a microsecond, once when admitted and once
 * when freed; database time is charged under it once per query, and so is the workers'
 * time the query's callback took (the fair share).
 */
#include "tenantql/quota.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/bucket.h"
#include "tenantql/clock.h"
#include "tenantql/log.h"

/* Time added up in one-second windows: this second's sum and the last one's, so that the
 * rate over the last second is prev x (the part of it still within a second) + cur, a
 * sliding window in two numbers. */
typedef struct share_window {
    uint64_t second;
    uint64_t cur, prev;
} share_window;

struct tq_usage {
    atomic_int refs;
    pthread_mutex_t lock;
    tq_bucket rate;       /* requests */
    tq_bucket db;         /* database milliseconds */
    int in_flight;        /* admitted and not yet freed */
    int db_ms_limit;      /* the database limit of the last admission: what charges refill at (0: none) */
    share_window served;  /* microseconds of the workers' time its requests took */
    atomic_ulong outcomes[TQ_OUTCOMES_];              /* answered requests, for /metrics */
    atomic_ulong duration_buckets[TQ_REQUEST_BUCKETS + 1];
    atomic_ulong db_buckets[TQ_REQUEST_BUCKETS + 1];
    atomic_ulong db_count;
    atomic_ullong db_sum_us;
    atomic_ulong duration_count;
    atomic_ullong duration_sum_us;
};

/* The process's fair-share meter (tq_share_configure), owned by this module: the workers'
 * time all tenants' requests took, and how many tenants had some, per window. Its lock
 * is taken after a tenant's, never before. */
static struct {
    atomic_bool on;       /* read without the lock on every admission and query callback */
    pthread_mutex_t lock;
    uint64_t capacity_us; /* per second: the workers' time (workers x 1 s); 0: fair share off */
    int busy_percent;
    share_window time;    /* microseconds, all tenants */
    share_window tenants; /* tenants charged in the window */
} share = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- limits ---- */

static void quota_key(json_t *obj, const char *key, int *out, const char *tenant)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > TQ_QUOTA_MAX) {
        tq_log_warn("registry", "tenant %s: quota.%s must be an integer in 0..%d; using the server's default", tenant,
                    key, TQ_QUOTA_MAX);
        return;
    }
    *out = (int)json_integer_value(v);
}

static const char *const quota_keys[] = {"rate", "burst", "in_flight", "db_ms_per_s"};

void tq_quota_parse(const char *json_text, const char *tenant, tq_quota *out)
{
    *out = (tq_quota)TQ_QUOTA_NONE_SET;
    if (json_text == NULL || *json_text == '\0')
        return;
    json_error_t jerr;
    json_t *obj = json_loads(json_text, 0, &jerr);
    if (!json_is_object(obj)) {
        tq_log_warn("registry", "tenant %s: quota is not a JSON object; using the server's defaults", tenant);
        json_decref(obj);
        return;
    }
    quota_key(obj, "rate", &out->rate, tenant);
    quota_key(obj, "burst", &out->burst, tenant);
    quota_key(obj, "in_flight", &out->in_flight, tenant);
    quota_key(obj, "db_ms_per_s", &out->db_ms, tenant);
    const char *key;
    json_t *value;
    json_object_foreach (obj, key, value) {
        bool ok = false;
        for (size_t i = 0; i < sizeof(quota_keys) / sizeof(quota_keys[0]); i++)
            ok |= strcmp(key, quota_keys[i]) == 0;
        if (!ok)
            tq_log_warn("registry", "tenant %s: unknown quota key \"%s\" ignored", tenant, key);
    }
    json_decref(obj);
}

int tq_quota_check(const char *json_text, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *obj = json_loads(json_text, 0, &jerr);
    int rc = 0;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "the quota must be a JSON object, e.g. '{\"rate\": 50, \"in_flight\": 20}'");
        rc = -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach (obj, key, value) {
        if (rc != 0)
            break;
        bool ok = false;
        for (size_t i = 0; i < sizeof(quota_keys) / sizeof(quota_keys[0]); i++)
            ok |= strcmp(key, quota_keys[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown quota key \"%s\" (known: rate, burst, in_flight, db_ms_per_s)", key);
            rc = -1;
        } else if (!json_is_integer(value) || json_integer_value(value) < 0 ||
                   json_integer_value(value) > TQ_QUOTA_MAX) {
            snprintf(err, errlen, "quota.%s must be an integer in 0..%d", key, TQ_QUOTA_MAX);
            rc = -1;
        }
    }
    json_decref(obj);
    return rc;
}

void tq_quota_merge(tq_quota *q, const tq_quota *defaults)
{
    if (q->rate == TQ_QUOTA_UNSET)
        q->rate = defaults->rate;
    if (q->burst == TQ_QUOTA_UNSET)
        q->burst = defaults->burst;
    if (q->in_flight == TQ_QUOTA_UNSET)
        q->in_flight = defaults->in_flight;
    if (q->db_ms == TQ_QUOTA_UNSET)
        q->db_ms = defaults->db_ms;
}

bool tq_quota_any(const tq_quota *q)
{
    return q->rate > 0 || q->in_flight > 0 || q->db_ms > 0;
}

/* ceil(v / parts) for a limit in force (> 0): never 0, which would mean no limit */
static int part_of(int v, int parts)
{
    return v > 0 ? (int)(((long long)v + parts - 1) / parts) : v;
}

void tq_quota_split(tq_quota *q, int parts)
{
    if (parts <= 1)
        return;
    q->rate = part_of(q->rate, parts);
    q->burst = part_of(q->burst, parts);
    q->in_flight = part_of(q->in_flight, parts);
    q->db_ms = part_of(q->db_ms, parts);
}

int tq_quota_burst(const tq_quota *q)
{
    return q->burst > 0 ? q->burst : q->rate;
}

/* ---- counters ---- */

tq_usage *tq_usage_new(void)
{
    tq_usage *u = calloc(1, sizeof(*u));
    if (u == NULL)
        abort();
    atomic_init(&u->refs, 1);
    pthread_mutex_init(&u->lock, NULL);
    return u;
}

tq_usage *tq_usage_ref(tq_usage *u)
{
    atomic_fetch_add(&u->refs, 1);
    return u;
}

void tq_usage_release(tq_usage *u)
{
    if (u == NULL || atomic_fetch_sub(&u->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&u->lock);
    free(u);
}

/* ---- fair share ---- */

static void window_roll(share_window *w, uint64_t now_ms)
{
    uint64_t s = now_ms / 1000;
    if (s == w->second)
        return;
    w->prev = s == w->second + 1 ? w->cur : 0;
    w->cur = 0;
    w->second = s;
}

/* The sum over the last second, the older window weighted by how much of it is left. */
static uint64_t window_rate(share_window *w, uint64_t now_ms)
{
    window_roll(w, now_ms);
    return w->prev * (1000 - now_ms % 1000) / 1000 + w->cur;
}

void tq_share_configure(int workers, int busy_percent)
{
    pthread_mutex_lock(&share.lock);
    share.capacity_us = busy_percent > 0 && workers > 0 ? (uint64_t)workers * 1000000 : 0;
    share.busy_percent = busy_percent;
    share.time = share.tenants = (share_window){0};
    atomic_store(&share.on, share.capacity_us > 0);
    pthread_mutex_unlock(&share.lock);
}

bool tq_share_enabled(void)
{
    return atomic_load_explicit(&share.on, memory_order_relaxed);
}

/* Whether a tenant that took mine_us of the workers' time over the last second is over
 * its fair share of a busy server. */
static bool share_over(uint64_t mine_us, uint64_t now_ms)
{
    pthread_mutex_lock(&share.lock);
    bool over = false;
    if (share.capacity_us > 0) {
        uint64_t total = window_rate(&share.time, now_ms);
        window_roll(&share.tenants, now_ms);
        uint64_t tenants = share.tenants.prev > share.tenants.cur ? share.tenants.prev : share.tenants.cur;
        bool busy = total * 100 >= share.capacity_us * (uint64_t)share.busy_percent;
        /* an equal part of the workers' time each; what a tenant leaves of its part goes
         * to the others, since nobody is refused while the server has room */
        over = busy && tenants > 1 && mine_us * tenants > share.capacity_us;
    }
    pthread_mutex_unlock(&share.lock);
    return over;
}

static int seconds(uint64_t ms)
{
    return tq_bucket_retry_after_s(ms);
}

/* With u locked: the state of the limits in force, as a client would be told it. */
static void describe_locked(tq_usage *u, const tq_quota *q, uint64_t now_ms, tq_quota_state *st)
{
    if (q->rate > 0) {
        double level = tq_bucket_level(&u->rate, q->rate, tq_quota_burst(q), now_ms);
        st->rate_left = level >= 1 ? (long)level : 0;
        st->rate_next_s = level >= 1 ? 0 : seconds(tq_bucket_wait_ms(&u->rate, q->rate, 1));
    }
    if (q->in_flight > 0)
        st->in_flight_left = u->in_flight < q->in_flight ? q->in_flight - u->in_flight : 0;
    if (q->db_ms > 0) {
        double level = tq_bucket_level(&u->db, q->db_ms, q->db_ms, now_ms);
        st->db_ms_left = level > 0 ? (long)level : 0;
        st->db_next_s = level >= 0 ? 0 : seconds(tq_bucket_wait_ms(&u->db, q->db_ms, 0));
    }
}

/* With u locked: which limit refuses one more request, and for how long. */
static tq_quota_verdict judge_locked(tq_usage *u, const tq_quota *q, uint64_t now_ms, int *retry_s)
{
    /* the checks without side effects first: a refused request takes nothing */
    if (q->in_flight > 0 && u->in_flight >= q->in_flight) {
        *retry_s = 1; /* no estimate: a request of its own ends at any moment */
        return TQ_QUOTA_OVER_IN_FLIGHT;
    }
    if (q->db_ms > 0 && tq_bucket_level(&u->db, q->db_ms, q->db_ms, now_ms) < 0) {
        *retry_s = seconds(tq_bucket_wait_ms(&u->db, q->db_ms, 0));
        return TQ_QUOTA_OVER_DB_TIME;
    }
    if (tq_share_enabled() && share_over(window_rate(&u->served, now_ms), now_ms)) {
        *retry_s = 1; /* the busy moment is measured over a second */
        return TQ_QUOTA_OVER_SHARE;
    }
    if (q->rate > 0 && !tq_bucket_take(&u->rate, q->rate, tq_quota_burst(q), 1, now_ms)) {
        *retry_s = seconds(tq_bucket_wait_ms(&u->rate, q->rate, 1));
        return TQ_QUOTA_OVER_RATE;
    }
    return TQ_QUOTA_OK;
}

tq_quota_verdict tq_usage_admit(tq_usage *u, const tq_quota *q, uint64_t now_ms, tq_quota_state *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&u->lock);
    u->db_ms_limit = q->db_ms;
    st->verdict = judge_locked(u, q, now_ms, &st->retry_after_s);
    if (st->verdict == TQ_QUOTA_OK)
        u->in_flight++;
    describe_locked(u, q, now_ms, st);
    pthread_mutex_unlock(&u->lock);
    return st->verdict;
}

void tq_usage_leave(tq_usage *u)
{
    pthread_mutex_lock(&u->lock);
    if (u->in_flight > 0)
        u->in_flight--;
    pthread_mutex_unlock(&u->lock);
}

void tq_usage_charge_db(tq_usage *u, uint64_t us)
{
    pthread_mutex_lock(&u->lock);
    int limit = u->db_ms_limit;
    if (limit > 0)
        tq_bucket_charge(&u->db, limit, limit, (double)us / 1000.0, tq_clock_ms());
    pthread_mutex_unlock(&u->lock);
}

void tq_usage_charge_served(tq_usage *u, uint64_t us, uint64_t now_ms)
{
    if (!tq_share_enabled())
        return;
    us = us > 0 ? us : 1; /* a charged tenant counts as served this second */
    pthread_mutex_lock(&u->lock);
    window_roll(&u->served, now_ms);
    bool first = u->served.cur == 0;
    u->served.cur += us;
    pthread_mutex_unlock(&u->lock);
    pthread_mutex_lock(&share.lock);
    window_roll(&share.time, now_ms);
    window_roll(&share.tenants, now_ms);
    share.time.cur += us;
    share.tenants.cur += first;
    pthread_mutex_unlock(&share.lock);
}

int tq_usage_in_flight(tq_usage *u)
{
    pthread_mutex_lock(&u->lock);
    int n = u->in_flight;
    pthread_mutex_unlock(&u->lock);
    return n;
}

/* ---- requests, for /metrics ---- */

tq_request_outcome tq_request_outcome_of(int status)
{
    if (status == 429)
        return TQ_OUTCOME_REFUSED;
    if (status >= 500)
        return TQ_OUTCOME_SERVER_ERROR;
    if (status >= 400)
        return TQ_OUTCOME_CLIENT_ERROR;
    return TQ_OUTCOME_OK;
}

static int request_bucket(uint64_t us)
{
    static const unsigned bounds[TQ_REQUEST_BUCKETS] = TQ_REQUEST_BOUNDS_MS;
    int b = 0;
    while (b < TQ_REQUEST_BUCKETS && us > (uint64_t)bounds[b] * 1000)
        b++;
    return b;
}

void tq_usage_count_request(tq_usage *u, tq_request_outcome outcome, uint64_t duration_us, uint64_t db_us,
                            uint32_t statements)
{
    atomic_fetch_add_explicit(&u->outcomes[outcome], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->duration_buckets[request_bucket(duration_us)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->duration_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->duration_sum_us, duration_us, memory_order_relaxed);
    if (statements == 0)
        return;
    atomic_fetch_add_explicit(&u->db_buckets[request_bucket(db_us)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->db_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->db_sum_us, db_us, memory_order_relaxed);
}

void tq_usage_add_request_stats(tq_usage *u, tq_request_stats *acc)
{
    for (int i = 0; i < TQ_OUTCOMES_; i++)
        acc->outcomes[i] += atomic_load_explicit(&u->outcomes[i], memory_order_relaxed);
    for (int i = 0; i <= TQ_REQUEST_BUCKETS; i++) {
        acc->duration.buckets[i] += atomic_load_explicit(&u->duration_buckets[i], memory_order_relaxed);
        acc->db.buckets[i] += atomic_load_explicit(&u->db_buckets[i], memory_order_relaxed);
    }
    acc->duration.count += atomic_load_explicit(&u->duration_count, memory_order_relaxed);
    acc->duration.sum_us += atomic_load_explicit(&u->duration_sum_us, memory_order_relaxed);
    acc->db.count += atomic_load_explicit(&u->db_count, memory_order_relaxed);
    acc->db.sum_us += atomic_load_explicit(&u->db_sum_us, memory_order_relaxed);
}
