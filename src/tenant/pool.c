/*
 * pool.c - per-tenant connection pools shared by the worker threads (see pool.h).
 *
 * Locking: each pool has one mutex guarding its counters, idle lists and FIFO of
 * waiting queries; the module's list of pools has its own. Connections themselves are
 * only touched by the worker they are attached to, so every hand-over to another worker
 * detaches the connection first and travels as a message.
 *
 * Hand-over paths:
 *   release on worker A, first waiter on A  -> run at once
 *   release on worker A, first waiter on B  -> detach on A, message to B, attach on B
 *   query on B, idle connection only on A   -> take it from A's list, message to A
 *                                              ("steal"), A detaches and forwards to B
 */
#include "tenantql/pool.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/clock.h"
#include "tenantql/log.h"

/* a database that refused a connection is not retried for this long: its requests fail
 * fast instead of piling up behind connection attempts */
#define POOL_DOWN_BACKOFF_MS 1000
#define POOL_MAX_PARAMS 24


struct tq_pool {
    pthread_mutex_t lock;
    char *label;
    const char *keywords[POOL_MAX_PARAMS];
    const char *values[POOL_MAX_PARAMS];
    char *strings;                 /* one allocation holding the parameter texts */
    tq_pool_options opts;
    int refs;                      /* guarded by the module lock */
    bool retired;
    int total;                     /* connections open or opening */
    int opening;                   /* of which still connecting (each will serve a waiter) */
    bool wants_slot;               /* queued for a slot under the global cap (module's cap lock) */
    h2o_linklist_t slot_link;
    int nidle;
    int nwaiting;
    h2o_linklist_t *idle;          /* per worker */
    h2o_linklist_t waiters;        /* tq_db_query.wait_link, FIFO */
    uint64_t down_until;
    unsigned long created, closed;
    unsigned long closed_by[TQ_POOL_CLOSE_REASONS_];
    _Atomic unsigned long wait_buckets[TQ_POOL_WAIT_BUCKETS + 1]; /* the last: over the largest bound */
    _Atomic unsigned long wait_count, wait_sum_ms;
    _Atomic uint64_t last_asked_ms; /* monotonic: the last tq_pool_query */
    h2o_linklist_t module_link;
};

/* the module's own state: which workers exist, every pool for the janitor, and the
 * global cap on connections across all pools with its FIFO of pools waiting for a slot */
static struct {
    pthread_mutex_t lock;          /* the pool list (taken before any pool's lock) */
    tq_worker *workers;
    int nworkers;
    h2o_linklist_t pools;
    int max_total;                 /* 0: no global cap */
    _Atomic int total;             /* connections open or opening, all pools */
    pthread_mutex_t cap_lock;      /* the slot queue; never held while taking another lock */
    h2o_linklist_t slot_waiters;   /* tq_pool.slot_link, FIFO */
    _Atomic unsigned long evictions;
    h2o_linklist_t *closing;       /* per worker: connections waiting for the server to let go */
} pools_module = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, {NULL, NULL}, 0, 0, PTHREAD_MUTEX_INITIALIZER, {NULL, NULL}, 0,
                  NULL};

/* An idle connection closed on its own worker to free a slot for another tenant. */
typedef struct evict_msg {
    h2o_multithread_message_t super;
    tq_pool *pool;
    tq_pgconn *conn;
} evict_msg;

static void on_conn_connected(tq_pgconn *c, bool ok, const char *errmsg);
static void on_conn_result(tq_pgconn *c, PGresult *res, const char *errmsg);
static void on_conn_lost(tq_pgconn *c, const char *errmsg);
static void run_query(tq_db_query *q, tq_pgconn *c);

static const tq_pgconn_ops pool_conn_ops = {on_conn_connected, on_conn_result, on_conn_lost};

/* internal outcome: the connection taken for this query broke on the way; try again */
#define TQ_DB_RETRY ((tq_db_status)100)

/* ---- module ---- */

void tq_pools_init(tq_worker *workers, int nworkers, int max_connections)
{
    pools_module.workers = workers;
    pools_module.nworkers = nworkers;
    pools_module.max_total = max_connections;
    pools_module.total = 0;
    h2o_linklist_init_anchor(&pools_module.pools);
    h2o_linklist_init_anchor(&pools_module.slot_waiters);
    pools_module.closing = calloc((size_t)nworkers, sizeof(*pools_module.closing));
    for (int i = 0; i < nworkers; i++)
        h2o_linklist_init_anchor(&pools_module.closing[i]);
}

/* ---- the global cap ---- */

/* Takes a slot for a new connection when the cap allows. */
static bool slot_reserve(void)
{
    int cur = atomic_load(&pools_module.total);
    do {
        if (pools_module.max_total > 0 && cur >= pools_module.max_total)
            return false;
    } while (!atomic_compare_exchange_weak(&pools_module.total, &cur, cur + 1));
    return true;
}

static void start_connection(tq_pool *p, tq_worker *w);

/* With p's lock held: p has waiters that the connections being opened will not serve. */
static bool pool_needs_connection(const tq_pool *p)
{
    return !p->retired && p->nwaiting > p->opening && p->total < p->opts.max;
}

/* Queues p for the next free slot (once). */
static void slot_wait(tq_pool *p)
{
    pthread_mutex_lock(&pools_module.cap_lock);
    if (!p->wants_slot) {
        p->wants_slot = true;
        h2o_linklist_insert(&pools_module.slot_waiters, &p->slot_link);
    }
    pthread_mutex_unlock(&pools_module.cap_lock);
}

static bool slot_waiters_exist(void)
{
    pthread_mutex_lock(&pools_module.cap_lock);
    bool any = !h2o_linklist_is_empty(&pools_module.slot_waiters);
    pthread_mutex_unlock(&pools_module.cap_lock);
    return any;
}

/* Hands free slots to waiting pools in FIFO order, opening their connections on worker
 * w; a pool that still needs more goes to the back of the queue (round robin). */
static void slot_grant(tq_worker *w)
{
    for (;;) {
        pthread_mutex_lock(&pools_module.cap_lock);
        if (h2o_linklist_is_empty(&pools_module.slot_waiters)) {
            pthread_mutex_unlock(&pools_module.cap_lock);
            return;
        }
        tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, slot_link, pools_module.slot_waiters.next);
        h2o_linklist_unlink(&p->slot_link);
        p->wants_slot = false;
        pthread_mutex_unlock(&pools_module.cap_lock);

        if (!slot_reserve()) {
            slot_wait(p); /* back in front is not possible without the lock dance; fairness holds at the next free */
            return;
        }
        pthread_mutex_lock(&p->lock);
        bool grow = pool_needs_connection(p);
        if (grow) {
            p->total++;
            p->opening++;
        }
        bool more = grow && pool_needs_connection(p);
        pthread_mutex_unlock(&p->lock);
        if (!grow) {
            atomic_fetch_sub(&pools_module.total, 1);
            continue;
        }
        if (more)
            slot_wait(p);
        start_connection(p, w);
    }
}

/* A connection of any pool is gone for good: its slot goes to the next waiting pool. */
static void slot_release(tq_worker *w)
{
    atomic_fetch_sub(&pools_module.total, 1);
    slot_grant(w);
}

static void pool_free(tq_pool *p)
{
    pthread_mutex_destroy(&p->lock);
    free(p->idle);
    free(p->strings);
    free(p->label);
    free(p);
}

void tq_pools_destroy(void)
{
    /* a start-up that failed before tq_pools_init (bad schema, no registry) has no pools */
    if (pools_module.pools.next == NULL)
        return;
    pthread_mutex_lock(&pools_module.lock);
    while (!h2o_linklist_is_empty(&pools_module.pools)) {
        tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, module_link, pools_module.pools.next);
        h2o_linklist_unlink(&p->module_link);
        if (p->total != 0)
            tq_log_warn("pool", "%s: %d connection(s) still open at exit", p->label, p->total);
        pool_free(p);
    }
    pthread_mutex_unlock(&pools_module.lock);
    free(pools_module.closing);
    pools_module.closing = NULL;
}

tq_pool *tq_pool_create(const char *label, const char *const *keywords, const char *const *values,
                        const tq_pool_options *opts)
{
    tq_pool *p = calloc(1, sizeof(*p));
    size_t need = 0, n = 0;
    for (; keywords[n] != NULL && n < POOL_MAX_PARAMS - 1; n++)
        need += strlen(keywords[n]) + strlen(values[n]) + 2;
    p->strings = malloc(need + 1);
    char *s = p->strings;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(keywords[i]) + 1, vl = strlen(values[i]) + 1;
        p->keywords[i] = memcpy(s, keywords[i], kl);
        s += kl;
        p->values[i] = memcpy(s, values[i], vl);
        s += vl;
    }
    p->keywords[n] = p->values[n] = NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->label = strdup(label);
    p->opts = *opts;
    p->refs = 1;
    atomic_init(&p->last_asked_ms, tq_clock_ms());
    p->idle = calloc((size_t)pools_module.nworkers, sizeof(*p->idle));
    for (int i = 0; i < pools_module.nworkers; i++)
        h2o_linklist_init_anchor(&p->idle[i]);
    h2o_linklist_init_anchor(&p->waiters);
    pthread_mutex_lock(&pools_module.lock);
    h2o_linklist_insert(&pools_module.pools, &p->module_link);
    pthread_mutex_unlock(&pools_module.lock);
    return p;
}

bool tq_pool_retire_if_idle(tq_pool *p, int holders)
{
    bool retire = false;
    pthread_mutex_lock(&pools_module.lock);
    pthread_mutex_lock(&p->lock);
    if (p->refs == holders && p->total == 0 && p->nwaiting == 0 && !p->retired &&
        tq_clock_ms() - atomic_load(&p->last_asked_ms) >= (uint64_t)p->opts.idle_timeout_ms) {
        p->refs = 0;
        p->retired = true; /* the janitor frees it: it holds nothing */
        retire = true;
    }
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&pools_module.lock);
    return retire;
}

void tq_pool_ref(tq_pool *p)
{
    pthread_mutex_lock(&pools_module.lock);
    p->refs++;
    pthread_mutex_unlock(&pools_module.lock);
}

void tq_pool_unref(tq_pool *p)
{
    pthread_mutex_lock(&pools_module.lock);
    if (--p->refs == 0) {
        pthread_mutex_lock(&p->lock);
        p->retired = true;
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&pools_module.lock);
}

void tq_pool_get_stats(tq_pool *p, tq_pool_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->lock);
    out->label = p->label;
    out->max = p->opts.max;
    out->total = p->total;
    out->idle = p->nidle;
    out->waiting = p->nwaiting;
    out->created = p->created;
    out->closed = p->closed;
    memcpy(out->closed_by, p->closed_by, sizeof(out->closed_by));
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i <= TQ_POOL_WAIT_BUCKETS; i++)
        out->wait_buckets[i] = atomic_load(&p->wait_buckets[i]);
    out->wait_count = atomic_load(&p->wait_count);
    out->wait_sum_ms = atomic_load(&p->wait_sum_ms);
}

void tq_pools_foreach(void (*fn)(tq_pool *p, void *data), void *data)
{
    pthread_mutex_lock(&pools_module.lock);
    for (h2o_linklist_t *l = pools_module.pools.next; l != &pools_module.pools; l = l->next)
        fn(H2O_STRUCT_FROM_MEMBER(tq_pool, module_link, l), data);
    pthread_mutex_unlock(&pools_module.lock);
}

int tq_pools_max_connections(void)
{
    return pools_module.max_total;
}

/* ---- completing queries ---- */

static void on_deferred_completion(h2o_timeout_entry_t *entry)
{
    tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, timer, entry);
    if (q->status == TQ_DB_RETRY) {
        tq_pool_query(q->pool, q->worker, q);
        return;
    }
    q->cb(q, q->status, NULL);
}

/* Completes q on its own worker on a later loop turn. Runs on q's worker. */
static void complete_later(tq_db_query *q, tq_db_status status)
{
    if (h2o_timeout_is_linked(&q->timer))
        h2o_timeout_unlink(&q->timer);
    q->status = status;
    q->conn = NULL;
    q->timer.cb = on_deferred_completion;
    h2o_timeout_link(tq_worker_loop(q->worker), &q->worker->ctx.zero_timeout, &q->timer);
}

/* Sends q (with a connection or an outcome) to its own worker. Runs on any thread;
 * a connection must already be detached. */
static void send_to_owner(tq_db_query *q)
{
    h2o_multithread_send_message(&q->worker->pool_rx, &q->msg);
}

/* Gives connection c (attached to worker `from`) to query q. */
static void hand_over(tq_db_query *q, tq_pgconn *c, tq_worker *from)
{
    if (q->worker == from) {
        if (h2o_timeout_is_linked(&q->timer))
            h2o_timeout_unlink(&q->timer);
        run_query(q, c);
        return;
    }
    tq_pgconn_detach(c);
    q->conn = c;
    q->steal = false;
    send_to_owner(q);
}

static void fail_waiter(tq_db_query *q, tq_db_status status, tq_worker *on)
{
    if (q->worker == on) {
        complete_later(q, status);
    } else {
        q->conn = NULL;
        q->status = status;
        send_to_owner(q);
    }
}

/* ---- connections ---- */

static void close_conn(tq_pool *p, tq_pgconn *c, tq_pool_close_reason why)
{
    tq_pgconn_close(c);
    pthread_mutex_lock(&p->lock);
    p->closed++;
    p->closed_by[why]++;
    pthread_mutex_unlock(&p->lock);
}

static void on_released_slot(void *data)
{
    tq_pgconn *c = data;
    h2o_linklist_unlink(&c->link);
    c->link.next = c->link.prev = NULL;
    slot_release(c->worker);
}

/* Starts a graceful close; the connection waits in its worker's closing list. */
static void close_gracefully(tq_pgconn *c, tq_worker *w)
{
    h2o_linklist_insert(&pools_module.closing[w->id], &c->link);
    tq_pgconn_close_gracefully(c, on_released_slot, c);
}

/* Closes a live connection (already out of p's counts) and frees its global slot once
 * the server has let go of it: under the cap, PostgreSQL never sees more connections
 * than the cap, not even for the moment a backend takes to exit. */
static void close_conn_releasing_slot(tq_pool *p, tq_pgconn *c, tq_pool_close_reason why, tq_worker *w)
{
    pthread_mutex_lock(&p->lock);
    p->closed++;
    p->closed_by[why]++;
    pthread_mutex_unlock(&p->lock);
    if (w->stopping) {
        tq_pgconn_close(c);
        slot_release(w);
        return;
    }
    close_gracefully(c, w);
}

static void start_connection(tq_pool *p, tq_worker *w)
{
    tq_log_debug("pool", "%s: opening a connection (%d open in all pools)", p->label, atomic_load(&pools_module.total));
    tq_pgconn *c = tq_pgconn_connect(w, p->keywords, p->values, &pool_conn_ops, p);
    if (c == NULL) {
        tq_log_error("pool", "%s: out of memory creating a connection", p->label);
        abort();
    }
    h2o_linklist_init_anchor(&c->link);
    c->link.next = c->link.prev = NULL;
}

/* With the lock held: whether a new connection should be opened for waiting queries.
 * Reserves the slot when it answers yes. */
static bool reserve_connection_for_waiters(tq_pool *p)
{
    if (!pool_needs_connection(p))
        return false;
    p->total++;
    p->opening++;
    return true;
}

/* Connection c on worker w is free: first waiter gets it, else it goes idle. */
static void conn_available(tq_pool *p, tq_pgconn *c, tq_worker *w)
{
    pthread_mutex_lock(&p->lock);
    if (p->retired) {
        p->total--;
        pthread_mutex_unlock(&p->lock);
        close_conn_releasing_slot(p, c, TQ_POOL_CLOSED_OTHER, w);
        return;
    }
    /* while the server drains, queued queries still belong to requests in flight:
     * they are served first, and only a connection nobody waits for is closed */
    if (!h2o_linklist_is_empty(&p->waiters)) {
        tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, wait_link, p->waiters.next);
        h2o_linklist_unlink(&q->wait_link);
        q->waiting = false;
        p->nwaiting--;
        pthread_mutex_unlock(&p->lock);
        hand_over(q, c, w);
        return;
    }
    if (w->stopping) {
        p->total--;
        pthread_mutex_unlock(&p->lock);
        close_conn_releasing_slot(p, c, TQ_POOL_CLOSED_OTHER, w);
        return;
    }
    if (pools_module.max_total > 0 && slot_waiters_exist()) {
        /* another tenant waits for a slot under the cap: this one would only sit idle */
        p->total--;
        pthread_mutex_unlock(&p->lock);
        atomic_fetch_add(&pools_module.evictions, 1);
        close_conn_releasing_slot(p, c, TQ_POOL_CLOSED_EVICTED, w);
        return;
    }
    c->idle_since = tq_worker_now(w);
    h2o_linklist_insert(&p->idle[w->id], &c->link);
    p->nidle++;
    pthread_mutex_unlock(&p->lock);
}

/* Connection c is unusable: forget it, and open a replacement if queries wait. */
static void conn_gone(tq_pool *p, tq_pgconn *c, tq_worker *w)
{
    pthread_mutex_lock(&p->lock);
    p->total--;
    bool grow = reserve_connection_for_waiters(p);
    pthread_mutex_unlock(&p->lock);
    close_conn(p, c, TQ_POOL_CLOSED_BROKEN);
    if (grow)
        start_connection(p, w); /* the slot passes to the replacement */
    else
        slot_release(w);
}

static void on_conn_connected(tq_pgconn *c, bool ok, const char *errmsg)
{
    tq_pool *p = c->owner;
    tq_worker *w = c->worker;
    pthread_mutex_lock(&p->lock);
    p->opening--;
    pthread_mutex_unlock(&p->lock);
    if (ok) {
        pthread_mutex_lock(&p->lock);
        p->created++;
        p->down_until = 0;
        pthread_mutex_unlock(&p->lock);
        tq_log_debug("pool", "%s: connection opened", p->label);
        conn_available(p, c, w);
        return;
    }
    tq_log_warn("pool", "%s: cannot connect: %.*s", p->label, (int)strcspn(errmsg, "\n"), errmsg);
    /* with no connection left, nobody would serve the waiters: fail them all now */
    h2o_linklist_t failed;
    h2o_linklist_init_anchor(&failed);
    pthread_mutex_lock(&p->lock);
    p->total--;
    if (p->total == 0) {
        p->down_until = tq_worker_now(w) + POOL_DOWN_BACKOFF_MS;
        while (!h2o_linklist_is_empty(&p->waiters)) {
            tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, wait_link, p->waiters.next);
            h2o_linklist_unlink(&q->wait_link);
            q->waiting = false;
            p->nwaiting--;
            h2o_linklist_insert(&failed, &q->wait_link);
        }
    }
    pthread_mutex_unlock(&p->lock);
    tq_pgconn_close(c);
    slot_release(w);
    while (!h2o_linklist_is_empty(&failed)) {
        tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, wait_link, failed.next);
        h2o_linklist_unlink(&q->wait_link);
        fail_waiter(q, TQ_DB_UNAVAILABLE, w);
    }
}

static void on_conn_result(tq_pgconn *c, PGresult *res, const char *errmsg)
{
    tq_pool *p = c->owner;
    tq_worker *w = c->worker;
    tq_db_query *q = c->query;
    c->query = NULL;
    tq_db_status status;
    if (res == NULL) {
        tq_log_warn("pool", "%s: connection lost during a query: %.*s", p->label, (int)strcspn(errmsg, "\n"), errmsg);
        status = TQ_DB_UNAVAILABLE;
        conn_gone(p, c, w);
    } else {
        status = PQresultStatus(res) == PGRES_FATAL_ERROR ? TQ_DB_SQL_ERROR : TQ_DB_OK;
        conn_available(p, c, w);
    }
    if (q->conn == NULL) {
        /* the failure happened inside tq_pgconn_send: keep the no-reentry promise */
        PQclear(res);
        complete_later(q, TQ_DB_UNAVAILABLE);
        return;
    }
    q->conn = NULL;
    q->cb(q, status, res);
}

static void on_conn_lost(tq_pgconn *c, const char *errmsg)
{
    tq_pool *p = c->owner;
    pthread_mutex_lock(&p->lock);
    bool was_idle = c->link.next != NULL;
    if (was_idle) {
        h2o_linklist_unlink(&c->link);
        c->link.next = c->link.prev = NULL;
        p->nidle--;
    }
    pthread_mutex_unlock(&p->lock);
    /* a connection in transit to another worker is dealt with when it arrives */
    if (!was_idle)
        return;
    tq_log_info("pool", "%s: idle connection closed by the server: %.*s", p->label, (int)strcspn(errmsg, "\n"),
                errmsg);
    conn_gone(p, c, c->worker);
}

static const unsigned wait_bounds_ms[TQ_POOL_WAIT_BUCKETS] = TQ_POOL_WAIT_BOUNDS_MS;

static void record_wait(tq_pool *p, uint64_t ms)
{
    int b = 0;
    while (b < TQ_POOL_WAIT_BUCKETS && ms > wait_bounds_ms[b])
        b++;
    atomic_fetch_add(&p->wait_buckets[b], 1);
    atomic_fetch_add(&p->wait_count, 1);
    atomic_fetch_add(&p->wait_sum_ms, ms);
}

static void run_query(tq_db_query *q, tq_pgconn *c)
{
    uint64_t now = tq_worker_now(q->worker);
    record_wait(q->pool, now > q->asked_at ? now - q->asked_at : 0);
    c->query = q;
    /* q->conn stays NULL during the send, which tells on_conn_result to defer */
    q->conn = NULL;
    if (tq_pgconn_send(c, q->stmt, q->params) == 0)
        q->conn = c;
}

/* ---- acquiring ---- */

static void on_acquire_timeout(h2o_timeout_entry_t *entry)
{
    tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, timer, entry);
    tq_pool *p = q->pool;
    pthread_mutex_lock(&p->lock);
    bool still_waiting = q->waiting;
    if (still_waiting) {
        h2o_linklist_unlink(&q->wait_link);
        q->waiting = false;
        p->nwaiting--;
    }
    pthread_mutex_unlock(&p->lock);
    /* not waiting any more: a connection is already on its way by message */
    if (still_waiting)
        q->cb(q, TQ_DB_BUSY, NULL);
}

static tq_pgconn *pop_idle(tq_pool *p, int worker_id)
{
    if (h2o_linklist_is_empty(&p->idle[worker_id]))
        return NULL;
    /* most recently used first: its server process is warmest, the others may expire */
    tq_pgconn *c = H2O_STRUCT_FROM_MEMBER(tq_pgconn, link, p->idle[worker_id].prev);
    h2o_linklist_unlink(&c->link);
    c->link.next = c->link.prev = NULL;
    p->nidle--;
    return c;
}

/* With p's lock held: another worker holds an idle connection of p. */
static bool pool_has_stealable(tq_pool *p, int self)
{
    if (p->nidle == 0)
        return false;
    for (int i = 0; i < pools_module.nworkers; i++)
        if (i != self && !h2o_linklist_is_empty(&p->idle[i]))
            return true;
    return false;
}

/* With p's lock held: q joins p's FIFO, bounded by the acquire timeout. */
static void wait_in_line(tq_pool *p, tq_worker *w, tq_db_query *q)
{
    q->waiting = true;
    p->nwaiting++;
    h2o_linklist_insert(&p->waiters, &q->wait_link);
    q->timer.cb = on_acquire_timeout;
    h2o_timeout_link(tq_worker_loop(w), tq_worker_timeout(w, (uint64_t)p->opts.acquire_timeout_ms), &q->timer);
}

static void close_evicted(tq_pool *p, tq_pgconn *c, tq_worker *w)
{
    tq_log_debug("pool", "%s: idle connection closed to make room for another tenant", p->label);
    atomic_fetch_add(&pools_module.evictions, 1);
    close_conn_releasing_slot(p, c, TQ_POOL_CLOSED_EVICTED, w);
}

/* Closes the longest-idle connection of another pool, on the worker it lives on; its
 * slot then goes to the first pool waiting for one. Nothing idle: nothing to do (a
 * slot frees when some connection is released or closes). */
static void evict_idle_connection(tq_pool *for_pool, tq_worker *w)
{
    tq_pool *victim_pool = NULL;
    tq_pgconn *victim = NULL;
    int victim_worker = -1;
    pthread_mutex_lock(&pools_module.lock);
    for (h2o_linklist_t *l = pools_module.pools.next; l != &pools_module.pools; l = l->next) {
        tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, module_link, l);
        if (p == for_pool)
            continue;
        pthread_mutex_lock(&p->lock);
        for (int i = 0; i < pools_module.nworkers && p->nidle > 0; i++) {
            if (h2o_linklist_is_empty(&p->idle[i]))
                continue;
            tq_pgconn *c = H2O_STRUCT_FROM_MEMBER(tq_pgconn, link, p->idle[i].next); /* oldest first */
            if (victim == NULL || c->idle_since < victim->idle_since) {
                victim = c;
                victim_pool = p;
                victim_worker = i;
            }
        }
        pthread_mutex_unlock(&p->lock);
    }
    if (victim != NULL) {
        pthread_mutex_lock(&victim_pool->lock);
        /* still idle where we saw it? Its worker may have used or closed (freed) it
         * meanwhile, so look for the pointer without touching what it points to */
        bool still_idle = false;
        h2o_linklist_t *list = &victim_pool->idle[victim_worker];
        for (h2o_linklist_t *e = list->next; e != list && !still_idle; e = e->next)
            still_idle = e == &victim->link;
        if (still_idle) {
            h2o_linklist_unlink(&victim->link);
            victim->link.next = victim->link.prev = NULL;
            victim_pool->nidle--;
            victim_pool->total--;
        }
        pthread_mutex_unlock(&victim_pool->lock);
        if (!still_idle)
            victim = NULL;
    }
    pthread_mutex_unlock(&pools_module.lock);
    if (victim == NULL)
        return;
    if (victim_worker == w->id) {
        close_evicted(victim_pool, victim, w);
        return;
    }
    evict_msg *m = calloc(1, sizeof(*m));
    m->pool = victim_pool;
    m->conn = victim;
    h2o_multithread_send_message(&pools_module.workers[victim_worker].evict_rx, &m->super);
}

static void on_evict_message(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    tq_worker *w = H2O_STRUCT_FROM_MEMBER(tq_worker, evict_rx, rx);
    while (!h2o_linklist_is_empty(messages)) {
        evict_msg *m = H2O_STRUCT_FROM_MEMBER(evict_msg, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        close_evicted(m->pool, m->conn, w);
        free(m);
    }
}

unsigned long tq_pools_evictions(void)
{
    return atomic_load(&pools_module.evictions);
}

int tq_pools_open_connections(void)
{
    return atomic_load(&pools_module.total);
}

void tq_pool_query(tq_pool *p, tq_worker *w, tq_db_query *q)
{
    q->pool = p;
    q->worker = w;
    q->asked_at = tq_worker_now(w);
    atomic_store_explicit(&p->last_asked_ms, tq_clock_ms(), memory_order_relaxed);
    q->conn = NULL;
    q->steal = false;
    q->waiting = false;
    q->timer.cb = NULL;

    pthread_mutex_lock(&p->lock);
    tq_pgconn *c = pop_idle(p, w->id);
    if (c != NULL) {
        pthread_mutex_unlock(&p->lock);
        run_query(q, c);
        return;
    }
    if (p->retired) {
        pthread_mutex_unlock(&p->lock);
        complete_later(q, TQ_DB_UNAVAILABLE);
        return;
    }
    if (p->total < p->opts.max && !pool_has_stealable(p, w->id)) {
        if (p->total == 0 && p->down_until > tq_worker_now(w)) {
            pthread_mutex_unlock(&p->lock);
            complete_later(q, TQ_DB_UNAVAILABLE);
            return;
        }
        wait_in_line(p, w, q);
        bool grow = pool_needs_connection(p) && slot_reserve();
        if (grow) {
            p->total++;
            p->opening++;
        }
        pthread_mutex_unlock(&p->lock);
        if (grow) {
            start_connection(p, w);
        } else {
            /* the global cap is reached: wait for a slot, and free one if some tenant's
             * connection only sits idle */
            slot_wait(p);
            evict_idle_connection(p, w);
        }
        return;
    }
    for (int i = 0; i < pools_module.nworkers; i++) {
        if (i == w->id || (c = pop_idle(p, i)) == NULL)
            continue;
        pthread_mutex_unlock(&p->lock);
        q->conn = c;
        q->steal = true;
        h2o_multithread_send_message(&pools_module.workers[i].pool_rx, &q->msg);
        return;
    }
    wait_in_line(p, w, q);
    pthread_mutex_unlock(&p->lock);
}

/* ---- worker side ---- */

static void on_pool_message(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    tq_worker *w = H2O_STRUCT_FROM_MEMBER(tq_worker, pool_rx, rx);
    while (!h2o_linklist_is_empty(messages)) {
        tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, msg.link, messages->next);
        h2o_linklist_unlink(&q->msg.link);
        tq_pgconn *c = q->conn;
        if (q->steal) {
            /* we are the connection's old worker: let go of it and forward */
            if (c->state == TQ_PGCONN_BROKEN) {
                conn_gone(q->pool, c, w);
                q->conn = NULL;
                q->status = TQ_DB_RETRY;
            } else {
                tq_pgconn_detach(c);
            }
            q->steal = false;
            send_to_owner(q);
            continue;
        }
        if (h2o_timeout_is_linked(&q->timer))
            h2o_timeout_unlink(&q->timer);
        if (c == NULL) {
            if (q->status == TQ_DB_RETRY)
                tq_pool_query(q->pool, w, q);
            else
                q->cb(q, q->status, NULL);
            continue;
        }
        if (tq_pgconn_attach(c, w) != 0) {
            conn_gone(q->pool, c, w);
            q->conn = NULL;
            q->cb(q, TQ_DB_UNAVAILABLE, NULL);
            continue;
        }
        run_query(q, c);
    }
}

void tq_pools_worker_init(tq_worker *w)
{
    h2o_multithread_register_receiver(w->ctx.queue, &w->pool_rx, on_pool_message);
    h2o_multithread_register_receiver(w->ctx.queue, &w->evict_rx, on_evict_message);
}

void tq_pools_worker_janitor(tq_worker *w, bool closing)
{
    uint64_t now = tq_worker_now(w);
    h2o_linklist_t doomed;
    h2o_linklist_init_anchor(&doomed);

    pthread_mutex_lock(&pools_module.lock);
    for (h2o_linklist_t *l = pools_module.pools.next; l != &pools_module.pools;) {
        tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, module_link, l);
        l = l->next;
        pthread_mutex_lock(&p->lock);
        h2o_linklist_t *idle = &p->idle[w->id];
        for (h2o_linklist_t *e = idle->next; e != idle;) {
            tq_pgconn *c = H2O_STRUCT_FROM_MEMBER(tq_pgconn, link, e);
            e = e->next;
            if (closing || p->retired || c->idle_since + (uint64_t)p->opts.idle_timeout_ms <= now) {
                h2o_linklist_unlink(&c->link);
                h2o_linklist_insert(&doomed, &c->link);
                p->nidle--;
                p->total--;
                p->closed++;
                p->closed_by[closing || p->retired ? TQ_POOL_CLOSED_OTHER : TQ_POOL_CLOSED_IDLE]++;
            }
        }
        bool unused = p->retired && p->refs == 0 && p->total == 0 && p->nwaiting == 0;
        pthread_mutex_unlock(&p->lock);
        if (unused) {
            h2o_linklist_unlink(&p->module_link);
            tq_log_debug("pool", "%s: pool closed", p->label);
            pool_free(p);
        }
    }
    pthread_mutex_unlock(&pools_module.lock);

    while (!h2o_linklist_is_empty(&doomed)) {
        tq_pgconn *c = H2O_STRUCT_FROM_MEMBER(tq_pgconn, link, doomed.next);
        h2o_linklist_unlink(&c->link);
        c->link.next = c->link.prev = NULL;
        if (closing) {
            tq_pgconn_close(c);
            atomic_fetch_sub(&pools_module.total, 1);
        } else {
            close_gracefully(c, w);
        }
    }
}

void tq_pools_worker_dispose(tq_worker *w)
{
    tq_pools_worker_janitor(w, true);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->pool_rx);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->evict_rx);
    /* graceful closes still waiting for their server: no more waiting */
    while (!h2o_linklist_is_empty(&pools_module.closing[w->id])) {
        tq_pgconn *c = H2O_STRUCT_FROM_MEMBER(tq_pgconn, link, pools_module.closing[w->id].next);
        h2o_linklist_unlink(&c->link);
        tq_pgconn_close(c);
        atomic_fetch_sub(&pools_module.total, 1);
    }
}
