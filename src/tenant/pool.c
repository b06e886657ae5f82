/*
 * pool.c - per-tenant connection pools shared by the worker threads (see pool.h; the
 * global cap lives in pool_cap.c, the shared structures in pool_internal.h).
 *
 * Hand-over paths:
 *   release on worker A, first waiter on A  -> run at once
 *   release on worker A, first waiter on B  -> detach on A, message to B, attach on B
 *   query on B, idle connection only on A   -> take it from A's list, message to A
 *                                              ("steal"), A detaches and forwards to B
 *
 * Ownership: a pool belongs to whoever created it (the registry) until retired, and is
 * freed by a janitor once retired, unborrowed and without connections. A retired pool
 * still serves the requests that borrowed it before (they were admitted under the old
 * settings and finish with them), but keeps no connection idle. A connection
 * belongs to its pool and is touched only on the worker whose loop watches it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"
#include "tenantql/clock.h"
#include "tenantql/log.h"

/* a database that refused a connection is not retried for this long: its requests fail
 * fast instead of piling up behind connection attempts */
#define POOL_DOWN_BACKOFF_MS 1000
#define JANITOR_INTERVAL_MS 1000

pools_state pools_module = {.lock = PTHREAD_MUTEX_INITIALIZER, .slot = -1};

static void on_conn_connected(void *owner, bool ok, const char *errmsg);
/* Hands a result to its query's caller, and charges the worker's time the caller took
 * with it (resolvers, the answer) to the tenant's fair share. The pool may go with the
 * last request that borrowed it: the tenant's counters are held across the call. */
static void served(tq_pool *p, tq_db_query *q, tq_db_status status, PGresult *res)
{
    if (p->usage == NULL || !tq_share_enabled()) {
        q->cb(q, status, res);
        return;
    }
    tq_usage *u = tq_usage_ref(p->usage);
    uint64_t t0 = tq_clock_us();
    q->cb(q, status, res);
    uint64_t t1 = tq_clock_us();
    tq_usage_charge_served(u, t1 - t0, t1 / 1000);
    tq_usage_release(u);
}

static void on_conn_result(void *owner, PGresult *res, const char *errmsg);
static void on_conn_lost(void *owner, const char *errmsg);
static void run_query(tq_db_query *q, pool_conn *c);

static const tq_pgconn_ops pool_conn_ops = {on_conn_connected, on_conn_result, on_conn_lost};

/* internal outcome: the connection taken for this query broke on the way; try again */
#define TQ_DB_RETRY ((tq_db_status)100)

static pool_worker *worker_state(tq_worker *w)
{
    return tq_worker_state(w, pools_module.slot);
}

/* ---- pools ---- */

static void pool_free(tq_pool *p)
{
    cap_forget_pool(p);
    tq_usage_release(p->usage);
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
    free(pools_module.workers);
    pools_module.workers = NULL;
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
    atomic_init(&p->borrowers, 0);
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

void tq_pool_meter(tq_pool *p, tq_usage *u)
{
    p->usage = tq_usage_ref(u);
}

void tq_pool_retire(tq_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->retired = true; /* the janitors close its idle connections and free it */
    pthread_mutex_unlock(&p->lock);
}

bool tq_pool_retire_if_idle(tq_pool *p)
{
    pthread_mutex_lock(&p->lock);
    bool idle = atomic_load(&p->borrowers) == 0 && p->total == 0 && p->nwaiting == 0 && !p->retired &&
                tq_clock_ms() - atomic_load(&p->last_asked_ms) >= (uint64_t)p->opts.idle_timeout_ms;
    if (idle)
        p->retired = true;
    pthread_mutex_unlock(&p->lock);
    return idle;
}

void tq_pool_borrow(tq_pool *p)
{
    atomic_fetch_add(&p->borrowers, 1);
}

void tq_pool_return(tq_pool *p)
{
    if (p != NULL)
        atomic_fetch_sub(&p->borrowers, 1);
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

const char *tq_pool_label(const tq_pool *p)
{
    return p->label;
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
    return cap_max();
}

unsigned long tq_pools_evictions(void)
{
    return cap_evictions();
}

int tq_pools_open_connections(void)
{
    return cap_open_connections();
}

/* ---- completing queries ---- */

static void on_deferred_completion(h2o_timeout_entry_t *entry)
{
    tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, timer, entry);
    if (q->status == TQ_DB_RETRY) {
        tq_pool_query(q->pool, q->worker->w, q);
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
    h2o_timeout_link(q->worker->loop.loop, q->worker->loop.zero, &q->timer);
}

/* Sends q (with a connection or an outcome) to its own worker. Runs on any thread; a
 * connection must already be detached. */
static void send_to_owner(tq_db_query *q)
{
    h2o_multithread_send_message(&q->worker->handover_rx, &q->msg);
}

/* Gives connection c (attached to worker `from`) to query q. */
static void hand_over(tq_db_query *q, pool_conn *c, pool_worker *from)
{
    if (q->worker == from) {
        if (h2o_timeout_is_linked(&q->timer))
            h2o_timeout_unlink(&q->timer);
        run_query(q, c);
        return;
    }
    tq_pgconn_detach(c->pg);
    q->conn = c;
    q->steal = false;
    send_to_owner(q);
}

static void fail_waiter(tq_db_query *q, tq_db_status status, pool_worker *on)
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

static void conn_free(pool_conn *c)
{
    tq_pgconn_close(c->pg);
    free(c);
}

static void count_close(tq_pool *p, tq_pool_close_reason why)
{
    pthread_mutex_lock(&p->lock);
    p->closed++;
    p->closed_by[why]++;
    pthread_mutex_unlock(&p->lock);
}

static void on_released_slot(void *data)
{
    pool_conn *c = data;
    h2o_linklist_unlink(&c->link);
    pool_worker *pw = c->worker;
    free(c);
    cap_release(pw);
}

/* Closes a connection (already out of its pool's counts) and frees its global slot once
 * the server has let go of it: under the cap, PostgreSQL never sees more connections
 * than the cap, not even for the moment a backend takes to exit. */
static void close_releasing_slot(pool_conn *c, tq_pool_close_reason why)
{
    count_close(c->pool, why);
    pool_worker *pw = c->worker;
    if (tq_worker_stopping(pw->w) && tq_pgconn_get_state(c->pg) != TQ_PGCONN_BUSY) {
        conn_free(c);
        cap_release(pw);
        return;
    }
    h2o_linklist_insert(&pw->closing, &c->link);
    tq_pgconn_close_gracefully(c->pg, on_released_slot, c);
}

void pool_close_evicted(pool_conn *c, pool_worker *pw)
{
    (void)pw;
    tq_log_debug("pool", "%s: idle connection closed to make room for another tenant", c->pool->label);
    cap_count_eviction();
    close_releasing_slot(c, TQ_POOL_CLOSED_EVICTED);
}

void pool_start_connection(tq_pool *p, pool_worker *pw)
{
    tq_log_debug("pool", "%s: opening a connection (%d open in all pools)", p->label, cap_open_connections());
    pool_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        tq_log_error("pool", "%s: out of memory creating a connection", p->label);
        abort();
    }
    c->pool = p;
    c->worker = pw;
    c->pg = tq_pgconn_connect(&pw->loop, p->keywords, p->values, &pool_conn_ops, c);
    if (c->pg == NULL) {
        tq_log_error("pool", "%s: out of memory creating a connection", p->label);
        abort();
    }
    /* only the worker knows it until it connects: shutdown waits for it or closes it */
    h2o_linklist_insert(&pw->opening, &c->link);
}

bool pool_needs_connection_locked(const tq_pool *p)
{
    return p->nwaiting > p->opening && p->total < p->opts.max;
}

/* With the lock held: whether a new connection should be opened for waiting queries.
 * Takes the pool's count when it answers yes (the caller has the slot). */
static bool reserve_connection_for_waiters_locked(tq_pool *p)
{
    if (!pool_needs_connection_locked(p))
        return false;
    p->total++;
    p->opening++;
    return true;
}

/* With p's lock held: the first waiter, out of the FIFO, or NULL. */
static tq_db_query *pop_waiter_locked(tq_pool *p)
{
    if (h2o_linklist_is_empty(&p->waiters))
        return NULL;
    tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, wait_link, p->waiters.next);
    h2o_linklist_unlink(&q->wait_link);
    q->waiting = false;
    p->nwaiting--;
    return q;
}

/* Connection c on worker pw is free: first waiter gets it, else it goes idle. */
static void conn_available(pool_conn *c, pool_worker *pw)
{
    tq_pool *p = c->pool;
    pthread_mutex_lock(&p->lock);
    /* queued queries belong to requests in flight, also while the server drains or after
     * the pool was retired: they are served first, and only a connection nobody waits for
     * is closed */
    tq_db_query *q = pop_waiter_locked(p);
    if (q != NULL) {
        pthread_mutex_unlock(&p->lock);
        hand_over(q, c, pw);
        return;
    }
    if (p->retired || tq_worker_stopping(pw->w)) {
        p->total--;
        pthread_mutex_unlock(&p->lock);
        close_releasing_slot(c, TQ_POOL_CLOSED_OTHER);
        return;
    }
    if (cap_has_waiters()) {
        /* another tenant waits for a slot under the cap: this one would only sit idle */
        p->total--;
        pthread_mutex_unlock(&p->lock);
        cap_count_eviction();
        close_releasing_slot(c, TQ_POOL_CLOSED_EVICTED);
        return;
    }
    c->idle_since = tq_worker_now(pw->w);
    h2o_linklist_insert(&p->idle[tq_worker_id(pw->w)], &c->link);
    p->nidle++;
    pthread_mutex_unlock(&p->lock);
}

/* Connection c is unusable: forget it, and open a replacement if queries wait. */
static void conn_gone(pool_conn *c, pool_worker *pw)
{
    tq_pool *p = c->pool;
    pthread_mutex_lock(&p->lock);
    p->total--;
    bool grow = reserve_connection_for_waiters_locked(p);
    pthread_mutex_unlock(&p->lock);
    count_close(p, TQ_POOL_CLOSED_BROKEN);
    conn_free(c);
    if (grow)
        pool_start_connection(p, pw); /* the slot passes to the replacement */
    else
        cap_release(pw);
}

static void on_conn_connected(void *owner, bool ok, const char *errmsg)
{
    pool_conn *c = owner;
    tq_pool *p = c->pool;
    pool_worker *pw = c->worker;
    h2o_linklist_unlink(&c->link); /* out of pw->opening */
    pthread_mutex_lock(&p->lock);
    p->opening--;
    if (ok) {
        p->created++;
        p->down_until = 0;
    }
    pthread_mutex_unlock(&p->lock);
    if (ok) {
        tq_log_debug("pool", "%s: connection opened", p->label);
        conn_available(c, pw);
        return;
    }
    tq_log_warn("pool", "%s: cannot connect: %.*s", p->label, (int)strcspn(errmsg, "\n"), errmsg);
    /* with no connection left, nobody would serve the waiters: fail them all now */
    h2o_linklist_t failed;
    h2o_linklist_init_anchor(&failed);
    pthread_mutex_lock(&p->lock);
    p->total--;
    if (p->total == 0) {
        p->down_until = tq_worker_now(pw->w) + POOL_DOWN_BACKOFF_MS;
        tq_db_query *q;
        while ((q = pop_waiter_locked(p)) != NULL)
            h2o_linklist_insert(&failed, &q->wait_link);
    }
    pthread_mutex_unlock(&p->lock);
    conn_free(c);
    cap_release(pw);
    while (!h2o_linklist_is_empty(&failed)) {
        tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, wait_link, failed.next);
        h2o_linklist_unlink(&q->wait_link);
        fail_waiter(q, TQ_DB_UNAVAILABLE, pw);
    }
}

static void on_conn_result(void *owner, PGresult *res, const char *errmsg)
{
    pool_conn *c = owner;
    pool_worker *pw = c->worker;
    tq_pool *p = c->pool; /* c may go below; the pool stays while q's request borrows it */
    tq_db_query *q = c->query;
    c->query = NULL;
    h2o_linklist_unlink(&c->busy_link);
    /* the database's time, cancelled queries and errors included: what the connection was busy for */
    if (c->pool->usage != NULL)
        tq_usage_charge_db(c->pool->usage, tq_clock_us() - c->sent_us);
    tq_db_status status;
    if (res == NULL) {
        tq_log_warn("pool", "%s: connection lost during a query: %.*s", c->pool->label, (int)strcspn(errmsg, "\n"),
                    errmsg);
        status = TQ_DB_UNAVAILABLE;
        conn_gone(c, pw);
    } else {
        status = PQresultStatus(res) == PGRES_FATAL_ERROR ? TQ_DB_SQL_ERROR : TQ_DB_OK;
        conn_available(c, pw);
    }
    if (q->conn == NULL) {
        /* the failure happened inside tq_pgconn_send: keep the no-reentry promise */
        PQclear(res);
        complete_later(q, TQ_DB_UNAVAILABLE);
        return;
    }
    q->conn = NULL;
    served(p, q, status, res);
}

static void on_conn_lost(void *owner, const char *errmsg)
{
    pool_conn *c = owner;
    tq_pool *p = c->pool;
    pthread_mutex_lock(&p->lock);
    bool was_idle = c->link.next != NULL;
    if (was_idle) {
        h2o_linklist_unlink(&c->link);
        p->nidle--;
    }
    pthread_mutex_unlock(&p->lock);
    /* a connection in transit to another worker is dealt with when it arrives */
    if (!was_idle)
        return;
    tq_log_info("pool", "%s: idle connection closed by the server: %.*s", p->label, (int)strcspn(errmsg, "\n"),
                errmsg);
    conn_gone(c, c->worker);
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

static void run_query(tq_db_query *q, pool_conn *c)
{
    pool_worker *pw = q->worker;
    uint64_t now = tq_worker_now(pw->w);
    record_wait(q->pool, now > q->asked_at ? now - q->asked_at : 0);
    c->query = q;
    c->worker = pw;
    h2o_linklist_insert(&pw->busy, &c->busy_link);
    /* q->conn stays NULL during the send, which tells on_conn_result to defer */
    q->conn = NULL;
    c->sent_us = tq_clock_us();
    static const tq_stmt_scope public_scope = {1, "public", false};
    if (tq_pgconn_send(c->pg, q->stmt, &public_scope, q->params) == 0)
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

static pool_conn *pop_idle_locked(tq_pool *p, int worker_id)
{
    if (h2o_linklist_is_empty(&p->idle[worker_id]))
        return NULL;
    /* most recently used first: its server process is warmest, the others may expire */
    pool_conn *c = H2O_STRUCT_FROM_MEMBER(pool_conn, link, p->idle[worker_id].prev);
    h2o_linklist_unlink(&c->link);
    p->nidle--;
    return c;
}

/* With p's lock held: another worker holds an idle connection of p. */
static bool has_stealable_locked(tq_pool *p, int self)
{
    if (p->nidle == 0)
        return false;
    for (int i = 0; i < pools_module.nworkers; i++)
        if (i != self && !h2o_linklist_is_empty(&p->idle[i]))
            return true;
    return false;
}

/* With p's lock held: q joins p's FIFO, bounded by the acquire timeout. */
static void wait_in_line_locked(tq_pool *p, pool_worker *pw, tq_db_query *q)
{
    q->waiting = true;
    p->nwaiting++;
    h2o_linklist_insert(&p->waiters, &q->wait_link);
    q->timer.cb = on_acquire_timeout;
    h2o_timeout_link(pw->loop.loop, tq_worker_timeout(pw->w, (uint64_t)p->opts.acquire_timeout_ms), &q->timer);
}

/* With p's lock held (released on return): nothing idle anywhere and room to grow. A
 * connection already being opened will serve q when it is enough; only a pool that
 * really needs one more takes a slot, and only a pool that finds none makes room by
 * closing another tenant's idle connection. */
static void grow_or_wait_unlock(tq_pool *p, pool_worker *pw, tq_db_query *q)
{
    wait_in_line_locked(p, pw, q);
    bool needs = pool_needs_connection_locked(p);
    bool grow = needs && cap_reserve();
    if (grow) {
        p->total++;
        p->opening++;
    }
    pthread_mutex_unlock(&p->lock);
    if (grow)
        pool_start_connection(p, pw);
    else if (needs)
        cap_wait_for_slot(p, pw);
}

void tq_pool_query(tq_pool *p, tq_worker *w, tq_db_query *q)
{
    pool_worker *pw = worker_state(w);
    int self = tq_worker_id(w);
    q->pool = p;
    q->worker = pw;
    q->asked_at = tq_worker_now(w);
    atomic_store_explicit(&p->last_asked_ms, tq_clock_ms(), memory_order_relaxed);
    q->conn = NULL;
    q->steal = false;
    q->waiting = false;
    q->timer.cb = NULL;

    pthread_mutex_lock(&p->lock);
    pool_conn *c = pop_idle_locked(p, self);
    if (c != NULL) {
        pthread_mutex_unlock(&p->lock);
        run_query(q, c);
        return;
    }
    if (p->total == 0 && p->down_until > tq_worker_now(w) && !has_stealable_locked(p, self)) {
        pthread_mutex_unlock(&p->lock);
        complete_later(q, TQ_DB_UNAVAILABLE);
        return;
    }
    if (p->total < p->opts.max && !has_stealable_locked(p, self)) {
        grow_or_wait_unlock(p, pw, q);
        return;
    }
    for (int i = 0; i < pools_module.nworkers; i++) {
        if (i == self || (c = pop_idle_locked(p, i)) == NULL)
            continue;
        pthread_mutex_unlock(&p->lock);
        q->conn = c;
        q->steal = true;
        h2o_multithread_send_message(&pools_module.workers[i]->handover_rx, &q->msg);
        return;
    }
    wait_in_line_locked(p, pw, q);
    pthread_mutex_unlock(&p->lock);
}

void tq_pool_cancel(tq_db_query *q)
{
    tq_pool *p = q->pool;
    pthread_mutex_lock(&p->lock);
    bool was_waiting = q->waiting;
    if (was_waiting) {
        h2o_linklist_unlink(&q->wait_link);
        q->waiting = false;
        p->nwaiting--;
    }
    pthread_mutex_unlock(&p->lock);
    if (was_waiting) {
        complete_later(q, TQ_DB_CANCELLED);
        return;
    }
    /* running here (a connection in transit to this worker has no query yet) */
    pool_conn *c = q->conn;
    if (c != NULL && c->query == q && c->worker == q->worker)
        tq_pgconn_cancel(c->pg);
}

/* ---- worker side ---- */

/* A steal reached the connection's old worker: let go of it and forward it. */
static void forward_stolen(tq_db_query *q, pool_worker *pw)
{
    pool_conn *c = q->conn;
    if (tq_pgconn_get_state(c->pg) == TQ_PGCONN_BROKEN) {
        conn_gone(c, pw);
        q->conn = NULL;
        q->status = TQ_DB_RETRY;
    } else {
        tq_pgconn_detach(c->pg);
    }
    q->steal = false;
    send_to_owner(q);
}

static void on_handover_message(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    pool_worker *pw = H2O_STRUCT_FROM_MEMBER(pool_worker, handover_rx, rx);
    while (!h2o_linklist_is_empty(messages)) {
        tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, msg.link, messages->next);
        h2o_linklist_unlink(&q->msg.link);
        pool_conn *c = q->conn;
        if (q->steal) {
            forward_stolen(q, pw);
            continue;
        }
        if (h2o_timeout_is_linked(&q->timer))
            h2o_timeout_unlink(&q->timer);
        if (c == NULL) {
            if (q->status == TQ_DB_RETRY)
                tq_pool_query(q->pool, pw->w, q);
            else
                q->cb(q, q->status, NULL);
            continue;
        }
        c->worker = pw;
        if (tq_pgconn_attach(c->pg, &pw->loop) != 0) {
            conn_gone(c, pw);
            q->conn = NULL;
            q->cb(q, TQ_DB_UNAVAILABLE, NULL);
            continue;
        }
        run_query(q, c);
    }
}

/* Closes pw's idle connections that have idled too long (all of them when closing or
 * when their pool is retired) and frees retired pools nobody needs any more. */
static void janitor_run(pool_worker *pw, bool closing)
{
    int self = tq_worker_id(pw->w);
    uint64_t now = tq_worker_now(pw->w);
    h2o_linklist_t doomed;
    h2o_linklist_init_anchor(&doomed);

    pthread_mutex_lock(&pools_module.lock);
    for (h2o_linklist_t *l = pools_module.pools.next; l != &pools_module.pools;) {
        tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, module_link, l);
        l = l->next;
        pthread_mutex_lock(&p->lock);
        h2o_linklist_t *idle = &p->idle[self];
        for (h2o_linklist_t *e = idle->next; e != idle;) {
            pool_conn *c = H2O_STRUCT_FROM_MEMBER(pool_conn, link, e);
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
        bool unused = p->retired && atomic_load(&p->borrowers) == 0 && p->total == 0 && p->nwaiting == 0;
        pthread_mutex_unlock(&p->lock);
        if (unused) {
            h2o_linklist_unlink(&p->module_link);
            tq_log_debug("pool", "%s: pool closed", p->label);
            pool_free(p);
        }
    }
    pthread_mutex_unlock(&pools_module.lock);

    while (!h2o_linklist_is_empty(&doomed)) {
        pool_conn *c = H2O_STRUCT_FROM_MEMBER(pool_conn, link, doomed.next);
        h2o_linklist_unlink(&c->link);
        if (closing) {
            conn_free(c);
            cap_forget();
        } else {
            h2o_linklist_insert(&pw->closing, &c->link);
            tq_pgconn_close_gracefully(c->pg, on_released_slot, c);
        }
    }
}

static void on_janitor(h2o_timeout_entry_t *entry)
{
    pool_worker *pw = H2O_STRUCT_FROM_MEMBER(pool_worker, janitor, entry);
    janitor_run(pw, false);
    h2o_timeout_link(pw->loop.loop, tq_worker_timeout(pw->w, JANITOR_INTERVAL_MS), &pw->janitor);
}

static int pools_worker_init(tq_worker *w, void *arg, char *err, size_t errlen)
{
    pool_worker *pw = calloc(1, sizeof(*pw));
    if (pw == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pw->w = w;
    pw->loop = (tq_pgconn_loop){tq_worker_loop(w), tq_worker_timeout(w, 0), tq_worker_timeout(w, TQ_PGCONN_LINGER_MS)};
    h2o_linklist_init_anchor(&pw->opening);
    h2o_linklist_init_anchor(&pw->closing);
    h2o_linklist_init_anchor(&pw->busy);
    h2o_multithread_register_receiver(tq_worker_queue(w), &pw->handover_rx, on_handover_message);
    cap_worker_init(pw);
    pw->janitor.cb = on_janitor;
    h2o_timeout_link(pw->loop.loop, tq_worker_timeout(w, JANITOR_INTERVAL_MS), &pw->janitor);
    tq_worker_set_state(w, pools_module.slot, pw);
    pools_module.workers[tq_worker_id(w)] = pw;
    return 0;
}

/* Draining waits for connections being opened (they serve the requests in flight, or
 * close once connected) and for graceful closes (their slots are still counted by the
 * server). */
static bool pools_worker_busy(tq_worker *w, void *arg)
{
    pool_worker *pw = worker_state(w);
    return pw != NULL && (!h2o_linklist_is_empty(&pw->opening) || !h2o_linklist_is_empty(&pw->closing));
}

/* Closes pw's connections still connecting (shutdown: the drain deadline, or disposal);
 * their slots are given back without being granted to anyone. */
static void close_opening(pool_worker *pw)
{
    while (!h2o_linklist_is_empty(&pw->opening)) {
        pool_conn *c = H2O_STRUCT_FROM_MEMBER(pool_conn, link, pw->opening.next);
        h2o_linklist_unlink(&c->link);
        tq_pool *p = c->pool;
        pthread_mutex_lock(&p->lock);
        p->opening--;
        p->total--;
        pthread_mutex_unlock(&p->lock);
        tq_log_info("pool", "%s: connection still being opened at shutdown: closed", p->label);
        count_close(p, TQ_POOL_CLOSED_OTHER);
        conn_free(c);
        cap_forget();
    }
}

/* Fails the queries of worker pw that still wait in any pool's FIFO. */
static void fail_waiting_queries(pool_worker *pw)
{
    h2o_linklist_t failed;
    h2o_linklist_init_anchor(&failed);
    pthread_mutex_lock(&pools_module.lock);
    for (h2o_linklist_t *l = pools_module.pools.next; l != &pools_module.pools; l = l->next) {
        tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, module_link, l);
        pthread_mutex_lock(&p->lock);
        for (h2o_linklist_t *e = p->waiters.next; e != &p->waiters;) {
            tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, wait_link, e);
            e = e->next;
            if (q->worker != pw)
                continue;
            h2o_linklist_unlink(&q->wait_link);
            q->waiting = false;
            p->nwaiting--;
            h2o_linklist_insert(&failed, &q->wait_link);
        }
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&pools_module.lock);
    while (!h2o_linklist_is_empty(&failed)) {
        tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, wait_link, failed.next);
        h2o_linklist_unlink(&q->wait_link);
        complete_later(q, TQ_DB_UNAVAILABLE);
    }
}

/* At the drain deadline: queries still running on pw's connections are cancelled and
 * their connections closed once the server has let go (their requests get
 * TENANT_UNAVAILABLE and end); queries still waiting for a connection fail. */
static size_t pools_worker_cut_off(tq_worker *w, void *arg)
{
    pool_worker *pw = worker_state(w);
    fail_waiting_queries(pw);
    close_opening(pw);
    while (!h2o_linklist_is_empty(&pw->busy)) {
        pool_conn *c = H2O_STRUCT_FROM_MEMBER(pool_conn, busy_link, pw->busy.next);
        h2o_linklist_unlink(&c->busy_link);
        tq_db_query *q = c->query;
        c->query = NULL;
        tq_log_info("pool", "%s: query still running at the drain deadline: cancelled", c->pool->label);
        tq_pgconn_cancel(c->pg);
        pthread_mutex_lock(&c->pool->lock);
        c->pool->total--;
        pthread_mutex_unlock(&c->pool->lock);
        close_releasing_slot(c, TQ_POOL_CLOSED_OTHER);
        if (q != NULL && q->conn != NULL) {
            q->conn = NULL;
            complete_later(q, TQ_DB_UNAVAILABLE);
        }
    }
    return 0;
}

static void pools_worker_dispose(tq_worker *w, void *arg)
{
    pool_worker *pw = worker_state(w);
    if (pw == NULL)
        return;
    /* connections handed to this worker before every worker stopped arrive now */
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(pw->loop.loop, 0);
    if (h2o_timeout_is_linked(&pw->janitor))
        h2o_timeout_unlink(&pw->janitor);
    janitor_run(pw, true);
    close_opening(pw);
    h2o_multithread_unregister_receiver(tq_worker_queue(w), &pw->handover_rx);
    cap_worker_dispose(pw);
    /* graceful closes still waiting for their server: no more waiting */
    while (!h2o_linklist_is_empty(&pw->closing)) {
        pool_conn *c = H2O_STRUCT_FROM_MEMBER(pool_conn, link, pw->closing.next);
        h2o_linklist_unlink(&c->link);
        conn_free(c);
        cap_forget();
    }
    pools_module.workers[tq_worker_id(w)] = NULL;
    tq_worker_set_state(w, pools_module.slot, NULL);
    free(pw);
}

void tq_pools_init(tq_workers *workers, int max_connections)
{
    pools_module.nworkers = tq_workers_count(workers);
    pools_module.workers = calloc((size_t)pools_module.nworkers, sizeof(*pools_module.workers));
    h2o_linklist_init_anchor(&pools_module.pools);
    cap_init(max_connections);
    static const tq_worker_module hooks = {"pool", pools_worker_init, NULL, pools_worker_busy, pools_worker_cut_off,
                                           pools_worker_dispose, NULL};
    pools_module.slot = tq_workers_add_module(workers, &hooks);
}
