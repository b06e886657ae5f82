/*
 * pool.c - connection pools per database, shared by the worker threads and by the
 * tenants placed in the database through their shares (see pool.h; the global cap lives
 * in pool_cap.c, the shared structures in pool_internal.h).
 *
 * Hand-over paths:
 *   release on worker A, first waiter on A  -> run at once
 *   release on worker A, first waiter on B  -> detach on A, message to B, attach on B
 *   query on B, idle connection only on A   -> take it from A's list, message to A
 *                                              ("steal"), A detaches and forwards to B
 *
 * Ownership: a share (tq_pool) belongs to whoever created it (the registry) until
 * retired, and is freed by a janitor once retired, unborrowed and holding nothing. A
 * database (pool_db) belongs to the module: it lives while shares are attached or
 * connections are open, and keeps no connection idle once all its shares are retired. A
 * retired share still serves the requests that borrowed it before (they were admitted
 * under the old settings and finish with them). A connection belongs to its database and
 * is touched only on the worker whose loop watches it.
 *
 * Fairness between the tenants of one database: a connection released goes to the first
 * waiter of the next share in the ring of shares that have waiters and room under their
 * max (round robin), not to the oldest waiter of the database.
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
/* idle connections looked at for one that knows a query's statement (shared databases) */
#define AFFINITY_SCAN 64

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

/* ---- databases and shares ---- */

static void db_free(pool_db *db)
{
    cap_forget_db(db);
    pthread_mutex_destroy(&db->lock);
    free(db->idle);
    free(db->strings);
    free(db->label);
    free(db->key);
    free(db);
}

static void share_free(tq_pool *p)
{
    tq_usage_release(p->usage);
    free(p->schema);
    free(p->role);
    free(p->label);
    free(p);
}

void tq_pools_destroy(void)
{
    /* a start-up that failed before tq_pools_init (bad schema, no registry) has no pools */
    if (pools_module.dbs.next == NULL)
        return;
    pthread_mutex_lock(&pools_module.lock);
    while (!h2o_linklist_is_empty(&pools_module.shares)) {
        tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, module_link, pools_module.shares.next);
        h2o_linklist_unlink(&p->module_link);
        share_free(p);
    }
    while (!h2o_linklist_is_empty(&pools_module.dbs)) {
        pool_db *db = H2O_STRUCT_FROM_MEMBER(pool_db, module_link, pools_module.dbs.next);
        h2o_linklist_unlink(&db->module_link);
        if (db->total != 0)
            tq_log_warn("pool", "%s: %d connection(s) still open at exit", db->label, db->total);
        db_free(db);
    }
    tq_map_dispose(&pools_module.index);
    pthread_mutex_unlock(&pools_module.lock);
    free(pools_module.workers);
    pools_module.workers = NULL;
}

/* The index key of a database: its connection parameters and its max. malloc'ed. */
static char *db_key(const tq_pool_target *t)
{
    size_t need = 32;
    for (size_t i = 0; t->keywords[i] != NULL && i < POOL_MAX_PARAMS - 1; i++)
        need += strlen(t->keywords[i]) + strlen(t->values[i]) + 2;
    char *key = malloc(need);
    size_t off = (size_t)snprintf(key, need, "%d", t->database_max);
    for (size_t i = 0; t->keywords[i] != NULL && i < POOL_MAX_PARAMS - 1; i++)
        off += (size_t)snprintf(key + off, need - off, "\x1f%s=%s", t->keywords[i], t->values[i]);
    return key;
}

static pool_db *db_new(const tq_pool_target *t, char *key, int idle_timeout_ms)
{
    pool_db *db = calloc(1, sizeof(*db));
    size_t need = 0, n = 0;
    for (; t->keywords[n] != NULL && n < POOL_MAX_PARAMS - 1; n++)
        need += strlen(t->keywords[n]) + strlen(t->values[n]) + 2;
    db->strings = malloc(need + 1);
    char *s = db->strings;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(t->keywords[i]) + 1, vl = strlen(t->values[i]) + 1;
        db->keywords[i] = memcpy(s, t->keywords[i], kl);
        s += kl;
        db->values[i] = memcpy(s, t->values[i], vl);
        s += vl;
    }
    db->keywords[n] = db->values[n] = NULL;
    pthread_mutex_init(&db->lock, NULL);
    db->key = key;
    db->label = strdup(t->database_label);
    db->max = t->database_max > 0 ? t->database_max : 1;
    db->idle_timeout_ms = idle_timeout_ms;
    db->idle = calloc((size_t)pools_module.nworkers, sizeof(*db->idle));
    for (int i = 0; i < pools_module.nworkers; i++)
        h2o_linklist_init_anchor(&db->idle[i]);
    h2o_linklist_init_anchor(&db->ready);
    h2o_linklist_init_anchor(&db->share_list);
    h2o_linklist_insert(&pools_module.dbs, &db->module_link);
    tq_map_put(&pools_module.index, db->key, strlen(db->key), db);
    return db;
}

tq_pool *tq_pool_create(const char *label, const tq_pool_target *target, const tq_pool_options *opts)
{
    tq_pool *p = calloc(1, sizeof(*p));
    p->label = strdup(label);
    p->schema = strdup(target->schema);
    p->opts = *opts;
    p->scope.id = atomic_fetch_add(&pools_module.next_scope, 1) + 1;
    p->scope.schema = p->schema;
    p->scope.unnamed = opts->unnamed_statements;
    /* not part of the database's key: tenants with and without roles share its connections */
    p->role = target->role != NULL ? strdup(target->role) : NULL;
    p->scope.role = p->role;
    atomic_init(&p->borrowers, 0);
    atomic_init(&p->last_asked_ms, tq_clock_ms());
    h2o_linklist_init_anchor(&p->waiters);

    char *key = db_key(target);
    pthread_mutex_lock(&pools_module.lock);
    pool_db *db = tq_map_get(&pools_module.index, key, strlen(key));
    if (db == NULL) {
        db = db_new(target, key, opts->idle_timeout_ms);
        tq_log_debug("pool", "%s: connections for %s (max %d)", db->label, label, db->max);
    } else {
        free(key);
    }
    p->db = db;
    db->shares++;
    db->live_shares++;
    pthread_mutex_lock(&db->lock);
    h2o_linklist_insert(&db->share_list, &p->db_link);
    pthread_mutex_unlock(&db->lock);
    h2o_linklist_insert(&pools_module.shares, &p->module_link);
    pthread_mutex_unlock(&pools_module.lock);
    return p;
}

void tq_pool_meter(tq_pool *p, tq_usage *u)
{
    p->usage = tq_usage_ref(u);
}

/* With the module lock and db's lock held: p lets go of its database. The last live share
 * takes the database out of the index: its connections close as they come back. */
static void share_retire_locked(tq_pool *p)
{
    pool_db *db = p->db;
    p->retired = true;
    if (--db->live_shares == 0)
        tq_map_remove(&pools_module.index, db->key, strlen(db->key));
}

void tq_pool_retire(tq_pool *p)
{
    pthread_mutex_lock(&pools_module.lock);
    pthread_mutex_lock(&p->db->lock);
    if (!p->retired)
        share_retire_locked(p); /* the janitors close its database's idle connections if it was the last */
    pthread_mutex_unlock(&p->db->lock);
    pthread_mutex_unlock(&pools_module.lock);
}

bool tq_pool_retire_if_idle(tq_pool *p)
{
    pool_db *db = p->db;
    pthread_mutex_lock(&pools_module.lock);
    pthread_mutex_lock(&db->lock);
    /* the only share of a database also waits for its connections to idle out, as the
     * database would otherwise close them early; a shared database keeps them for the others */
    bool idle = atomic_load(&p->borrowers) == 0 && p->held == 0 && p->nwaiting == 0 && !p->retired &&
                (db->live_shares > 1 || db->total == 0) &&
                tq_clock_ms() - atomic_load(&p->last_asked_ms) >= (uint64_t)p->opts.idle_timeout_ms;
    if (idle)
        share_retire_locked(p);
    pthread_mutex_unlock(&db->lock);
    pthread_mutex_unlock(&pools_module.lock);
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
    pool_db *db = p->db;
    pthread_mutex_lock(&db->lock);
    out->label = p->label;
    out->database = db->label;
    out->max = p->opts.max;
    out->in_use = p->held;
    out->waiting = p->nwaiting;
    out->total = db->total;
    out->idle = db->nidle;
    out->created = db->created;
    out->closed = db->closed;
    memcpy(out->closed_by, db->closed_by, sizeof(out->closed_by));
    pthread_mutex_unlock(&db->lock);
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
    for (h2o_linklist_t *l = pools_module.shares.next; l != &pools_module.shares; l = l->next)
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

/* ---- shares: holds, waiters and the ring of shares to serve ---- */

/* With db's lock held: recounts what p's waiters may take now and keeps p in the ring
 * exactly while that is more than nothing. */
static void share_update_locked(tq_pool *p)
{
    pool_db *db = p->db;
    int room = p->opts.max - p->held;
    int contrib = p->nwaiting < room ? p->nwaiting : room;
    if (contrib < 0)
        contrib = 0;
    db->servable += contrib - p->contrib;
    p->contrib = contrib;
    bool linked = h2o_linklist_is_linked(&p->ready_link);
    if (contrib > 0 && !linked)
        h2o_linklist_insert(&db->ready, &p->ready_link);
    else if (contrib == 0 && linked)
        h2o_linklist_unlink(&p->ready_link);
}

/* With db's lock held: q's share no longer holds a connection for it. */
static void share_let_go_locked(tq_pool *p)
{
    p->held--;
    share_update_locked(p);
}

/* With db's lock held: q leaves its share's FIFO. */
static void unqueue_locked(tq_db_query *q)
{
    h2o_linklist_unlink(&q->wait_link);
    q->waiting = false;
    q->pool->nwaiting--;
    share_update_locked(q->pool);
}

/* With db's lock held: the first waiter of the next share in turn, out of its FIFO and
 * holding a connection of its share; NULL when no share may be served. The share goes to
 * the back of the ring. */
static tq_db_query *pop_waiter_locked(pool_db *db)
{
    if (h2o_linklist_is_empty(&db->ready))
        return NULL;
    tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, ready_link, db->ready.next);
    h2o_linklist_unlink(&p->ready_link);
    tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, wait_link, p->waiters.next);
    h2o_linklist_unlink(&q->wait_link);
    q->waiting = false;
    p->nwaiting--;
    p->held++;
    share_update_locked(p); /* back in at the tail if it may take more */
    return q;
}

/* ---- completing queries ---- */

/* A query that held a connection of its share goes back to asking for one (the
 * connection it was given broke on the way). Runs on q's worker. */
static void retry_query(tq_db_query *q)
{
    pool_db *db = q->pool->db;
    pthread_mutex_lock(&db->lock);
    share_let_go_locked(q->pool);
    pthread_mutex_unlock(&db->lock);
    tq_pool_query(q->pool, q->worker->w, q);
}

static void on_deferred_completion(h2o_timeout_entry_t *entry)
{
    tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, timer, entry);
    q->cb(q, q->status, NULL);
}

/* Completes q on its own worker on a later loop turn. Runs on q's worker. */
static void complete_later(tq_db_query *q, tq_db_status status)
{
    if (q->done_us == 0)
        q->done_us = tq_clock_us();
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

/* Gives connection c (attached to worker `from`) to query q, whose share holds it. */
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

static void count_close(pool_db *db, tq_pool_close_reason why)
{
    pthread_mutex_lock(&db->lock);
    db->closed++;
    db->closed_by[why]++;
    pthread_mutex_unlock(&db->lock);
}

static void on_released_slot(void *data)
{
    pool_conn *c = data;
    h2o_linklist_unlink(&c->link);
    pool_worker *pw = c->worker;
    free(c);
    cap_release(pw);
}

/* Closes a connection (already out of its database's counts) and frees its global slot
 * once the server has let go of it: under the cap, PostgreSQL never sees more
 * connections than the cap, not even for the moment a backend takes to exit. */
static void close_releasing_slot(pool_conn *c, tq_pool_close_reason why)
{
    count_close(c->db, why);
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
    tq_log_debug("pool", "%s: idle connection closed to make room for another database", c->db->label);
    cap_count_eviction();
    close_releasing_slot(c, TQ_POOL_CLOSED_EVICTED);
}

void pool_start_connection(pool_db *db, pool_worker *pw)
{
    tq_log_debug("pool", "%s: opening a connection (%d open in all pools)", db->label, cap_open_connections());
    pool_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        tq_log_error("pool", "%s: out of memory creating a connection", db->label);
        abort();
    }
    c->db = db;
    c->worker = pw;
    c->pg = tq_pgconn_connect(&pw->loop, db->keywords, db->values, &pool_conn_ops, c);
    if (c->pg == NULL) {
        tq_log_error("pool", "%s: out of memory creating a connection", db->label);
        abort();
    }
    /* only the worker knows it until it connects: shutdown waits for it or closes it */
    h2o_linklist_insert(&pw->opening, &c->link);
}

bool pool_needs_connection_locked(const pool_db *db)
{
    return db->servable > db->opening && db->total < db->max;
}

/* With the lock held: whether a new connection should be opened for waiting queries.
 * Takes the database's count when it answers yes (the caller has the slot). */
static bool reserve_connection_for_waiters_locked(pool_db *db)
{
    if (!pool_needs_connection_locked(db))
        return false;
    db->total++;
    db->opening++;
    return true;
}

/* With db's lock held (released on return): the cap was lowered below what is open (a
 * cluster share shrank), so free connection c goes even if queries wait; they queue for
 * a slot under the new cap like any pool that needs one. */
static void close_over_cap_unlock(pool_conn *c, pool_worker *pw)
{
    pool_db *db = c->db;
    db->total--;
    bool needs = db->live_shares > 0 && pool_needs_connection_locked(db);
    pthread_mutex_unlock(&db->lock);
    if (needs)
        cap_wait_for_slot(db, pw); /* queued before the slot frees, so the queue sees it */
    cap_count_eviction();
    close_releasing_slot(c, TQ_POOL_CLOSED_EVICTED);
}

/* Connection c on worker pw is free (and the share `done`, if any, no longer holds it):
 * the next share in turn gets it for its first waiter, else it goes idle. */
static void conn_available(pool_conn *c, pool_worker *pw, tq_pool *done)
{
    pool_db *db = c->db;
    pthread_mutex_lock(&db->lock);
    if (done != NULL)
        share_let_go_locked(done);
    if (cap_over() && !tq_worker_stopping(pw->w)) {
        close_over_cap_unlock(c, pw);
        return;
    }
    /* queued queries belong to requests in flight, also while the server drains or after
     * the shares were retired: they are served first, and only a connection nobody waits
     * for is closed */
    tq_db_query *q = pop_waiter_locked(db);
    if (q != NULL) {
        pthread_mutex_unlock(&db->lock);
        hand_over(q, c, pw);
        return;
    }
    if (db->live_shares == 0 || tq_worker_stopping(pw->w) || !tq_pgconn_reusable(c->pg)) {
        db->total--;
        pthread_mutex_unlock(&db->lock);
        close_releasing_slot(c, db->live_shares == 0 || tq_worker_stopping(pw->w) ? TQ_POOL_CLOSED_OTHER
                                                                                   : TQ_POOL_CLOSED_BROKEN);
        return;
    }
    if (cap_has_waiters()) {
        /* another database waits for a slot under the cap: this one would only sit idle */
        db->total--;
        pthread_mutex_unlock(&db->lock);
        cap_count_eviction();
        close_releasing_slot(c, TQ_POOL_CLOSED_EVICTED);
        return;
    }
    c->idle_since = tq_worker_now(pw->w);
    h2o_linklist_insert(&db->idle[tq_worker_id(pw->w)], &c->link);
    db->nidle++;
    pthread_mutex_unlock(&db->lock);
}

/* Connection c is unusable: forget it (the share `done`, if any, no longer holds it), and
 * open a replacement if queries wait. */
static void conn_gone(pool_conn *c, pool_worker *pw, tq_pool *done)
{
    pool_db *db = c->db;
    pthread_mutex_lock(&db->lock);
    if (done != NULL)
        share_let_go_locked(done);
    db->total--;
    bool grow = reserve_connection_for_waiters_locked(db);
    pthread_mutex_unlock(&db->lock);
    count_close(db, TQ_POOL_CLOSED_BROKEN);
    conn_free(c);
    if (grow)
        pool_start_connection(db, pw); /* the slot passes to the replacement */
    else
        cap_release(pw);
}

static void on_conn_connected(void *owner, bool ok, const char *errmsg)
{
    pool_conn *c = owner;
    pool_db *db = c->db;
    pool_worker *pw = c->worker;
    h2o_linklist_unlink(&c->link); /* out of pw->opening */
    pthread_mutex_lock(&db->lock);
    db->opening--;
    if (ok) {
        db->created++;
        db->down_until = 0;
    }
    pthread_mutex_unlock(&db->lock);
    if (ok) {
        tq_log_debug("pool", "%s: connection opened", db->label);
        conn_available(c, pw, NULL);
        return;
    }
    tq_log_warn("pool", "%s: cannot connect: %.*s", db->label, (int)strcspn(errmsg, "\n"), errmsg);
    /* with no connection left, nobody would serve the waiters: fail them all now */
    h2o_linklist_t failed;
    h2o_linklist_init_anchor(&failed);
    pthread_mutex_lock(&db->lock);
    db->total--;
    if (db->total == 0) {
        db->down_until = tq_worker_now(pw->w) + POOL_DOWN_BACKOFF_MS;
        for (h2o_linklist_t *l = db->share_list.next; l != &db->share_list; l = l->next) {
            tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, db_link, l);
            while (!h2o_linklist_is_empty(&p->waiters)) {
                tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, wait_link, p->waiters.next);
                unqueue_locked(q);
                h2o_linklist_insert(&failed, &q->wait_link);
            }
        }
    }
    pthread_mutex_unlock(&db->lock);
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
    tq_db_query *q = c->query;
    tq_pool *p = q->pool; /* the share stays while q's request borrows it */
    c->query = NULL;
    h2o_linklist_unlink(&c->busy_link);
    /* the database's time, cancelled queries and errors included: what the connection was busy for */
    q->done_us = tq_clock_us();
    if (p->usage != NULL)
        tq_usage_charge_db(p->usage, q->done_us - c->sent_us);
    tq_db_status status;
    if (res == NULL) {
        tq_log_warn("pool", "%s: connection lost during a query of %s: %.*s", c->db->label, p->label,
                    (int)strcspn(errmsg, "\n"), errmsg);
        status = TQ_DB_UNAVAILABLE;
        conn_gone(c, pw, p);
    } else {
        status = PQresultStatus(res) == PGRES_FATAL_ERROR ? TQ_DB_SQL_ERROR : TQ_DB_OK;
        conn_available(c, pw, p);
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
    pool_db *db = c->db;
    pthread_mutex_lock(&db->lock);
    bool was_idle = c->link.next != NULL;
    if (was_idle) {
        h2o_linklist_unlink(&c->link);
        db->nidle--;
    }
    pthread_mutex_unlock(&db->lock);
    /* a connection in transit to another worker is dealt with when it arrives */
    if (!was_idle)
        return;
    tq_log_info("pool", "%s: idle connection closed by the server: %.*s", db->label, (int)strcspn(errmsg, "\n"),
                errmsg);
    conn_gone(c, c->worker, NULL);
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
    c->sent_us = q->sent_us = tq_clock_us();
    if (tq_pgconn_send_commented(c->pg, q->stmt, &q->pool->scope, q->params, q->comment[0] ? q->comment : NULL) == 0)
        q->conn = c;
}

/* ---- acquiring ---- */

static void on_acquire_timeout(h2o_timeout_entry_t *entry)
{
    tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, timer, entry);
    pool_db *db = q->pool->db;
    pthread_mutex_lock(&db->lock);
    bool still_waiting = q->waiting;
    if (still_waiting)
        unqueue_locked(q);
    pthread_mutex_unlock(&db->lock);
    /* not waiting any more: a connection is already on its way by message */
    if (still_waiting)
        q->cb(q, TQ_DB_BUSY, NULL);
}

static pool_conn *pop_idle_locked(pool_db *db, int worker_id)
{
    if (h2o_linklist_is_empty(&db->idle[worker_id]))
        return NULL;
    /* most recently used first: its server process is warmest, the others may expire */
    pool_conn *c = H2O_STRUCT_FROM_MEMBER(pool_conn, link, db->idle[worker_id].prev);
    h2o_linklist_unlink(&c->link);
    db->nidle--;
    return c;
}

/* With db's lock held: an idle connection of worker_id that already knows q's statement
 * in q's schema (prepared there, or run once and prepared on its next use), among the
 * AFFINITY_SCAN most recently used, out of the idle list; NULL when none does. With many
 * tenants on few connections, a statement that meets its own prepared plan skips parsing
 * and planning, most of what it costs PostgreSQL. Idle connections are not touched by
 * their worker while idle, so their caches can be read here under db's lock. */
static pool_conn *pop_idle_knowing_locked(pool_db *db, int worker_id, const tq_db_query *q)
{
    h2o_linklist_t *list = &db->idle[worker_id];
    int seen = 0;
    for (h2o_linklist_t *l = list->prev; l != list && seen < AFFINITY_SCAN; l = l->prev, seen++) {
        pool_conn *c = H2O_STRUCT_FROM_MEMBER(pool_conn, link, l);
        if (tq_pgconn_knows(c->pg, q->stmt, &q->pool->scope)) {
            h2o_linklist_unlink(&c->link);
            db->nidle--;
            return c;
        }
    }
    return NULL;
}

/* With db's lock held: another worker holds an idle connection of db. */
static bool has_stealable_locked(pool_db *db, int self)
{
    if (db->nidle == 0)
        return false;
    for (int i = 0; i < pools_module.nworkers; i++)
        if (i != self && !h2o_linklist_is_empty(&db->idle[i]))
            return true;
    return false;
}

/* With db's lock held: q joins its share's FIFO, bounded by the acquire timeout. */
static void wait_in_line_locked(tq_pool *p, pool_worker *pw, tq_db_query *q)
{
    q->waiting = true;
    p->nwaiting++;
    h2o_linklist_insert(&p->waiters, &q->wait_link);
    share_update_locked(p);
    q->timer.cb = on_acquire_timeout;
    h2o_timeout_link(pw->loop.loop, tq_worker_timeout(pw->w, (uint64_t)p->opts.acquire_timeout_ms), &q->timer);
}

/* With db's lock held (released on return): q waits, and the database grows when its
 * waiters need more than the connections being opened. Only a database that really needs
 * one more takes a slot, and only one that finds none makes room by closing another
 * database's idle connection. */
static void grow_or_wait_unlock(tq_pool *p, pool_worker *pw, tq_db_query *q)
{
    pool_db *db = p->db;
    wait_in_line_locked(p, pw, q);
    bool needs = pool_needs_connection_locked(db);
    bool grow = needs && cap_reserve();
    if (grow) {
        db->total++;
        db->opening++;
    }
    pthread_mutex_unlock(&db->lock);
    if (grow)
        pool_start_connection(db, pw);
    else if (needs)
        cap_wait_for_slot(db, pw);
}

/* With the database's lock held (released on return): q takes idle connection c of
 * worker `from`, which lets go of it and forwards it to q's worker ("steal"). */
static void steal_unlock(tq_pool *p, tq_db_query *q, pool_conn *c, int from)
{
    p->held++;
    pthread_mutex_unlock(&p->db->lock);
    q->conn = c;
    q->steal = true;
    h2o_multithread_send_message(&pools_module.workers[from]->handover_rx, &q->msg);
}

void tq_pool_query(tq_pool *p, tq_worker *w, tq_db_query *q)
{
    pool_worker *pw = worker_state(w);
    pool_db *db = p->db;
    int self = tq_worker_id(w);
    q->pool = p;
    q->worker = pw;
    q->asked_at = tq_worker_now(w);
    q->asked_us = tq_clock_us();
    q->sent_us = q->done_us = 0;
    atomic_store_explicit(&p->last_asked_ms, tq_clock_ms(), memory_order_relaxed);
    q->conn = NULL;
    q->steal = false;
    q->waiting = false;
    q->timer.cb = NULL;

    pthread_mutex_lock(&db->lock);
    if (p->held >= p->opts.max) {
        /* the tenant holds its whole share: it waits for one of its own queries to end */
        wait_in_line_locked(p, pw, q);
        pthread_mutex_unlock(&db->lock);
        return;
    }
    /* a database of one tenant: every connection knows its statements soon enough */
    bool shared = db->live_shares > 1;
    pool_conn *c = shared ? pop_idle_knowing_locked(db, self, q) : NULL;
    if (c == NULL && shared) {
        /* a connection of another worker that knows the statement is worth the hand-over */
        for (int i = 0; i < pools_module.nworkers; i++) {
            if (i == self || (c = pop_idle_knowing_locked(db, i, q)) == NULL)
                continue;
            steal_unlock(p, q, c, i);
            return;
        }
    }
    if (c == NULL)
        c = pop_idle_locked(db, self);
    if (c != NULL) {
        p->held++;
        pthread_mutex_unlock(&db->lock);
        run_query(q, c);
        return;
    }
    if (db->total == 0 && db->down_until > tq_worker_now(w) && !has_stealable_locked(db, self)) {
        pthread_mutex_unlock(&db->lock);
        complete_later(q, TQ_DB_UNAVAILABLE);
        return;
    }
    if (db->total < db->max && !has_stealable_locked(db, self)) {
        grow_or_wait_unlock(p, pw, q);
        return;
    }
    for (int i = 0; i < pools_module.nworkers; i++) {
        if (i == self || (c = pop_idle_locked(db, i)) == NULL)
            continue;
        steal_unlock(p, q, c, i);
        return;
    }
    grow_or_wait_unlock(p, pw, q);
}

void tq_pool_cancel(tq_db_query *q)
{
    pool_db *db = q->pool->db;
    pthread_mutex_lock(&db->lock);
    bool was_waiting = q->waiting;
    if (was_waiting)
        unqueue_locked(q);
    pthread_mutex_unlock(&db->lock);
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
        conn_gone(c, pw, NULL);
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
                retry_query(q);
            else
                q->cb(q, q->status, NULL);
            continue;
        }
        c->worker = pw;
        if (tq_pgconn_attach(c->pg, &pw->loop) != 0) {
            conn_gone(c, pw, q->pool);
            q->conn = NULL;
            q->cb(q, TQ_DB_UNAVAILABLE, NULL);
            continue;
        }
        run_query(q, c);
    }
}

/* Closes pw's idle connections that have idled too long (all of them when closing or
 * when their database has no live share), frees retired shares nobody needs any more,
 * and databases without shares or connections. */
static void janitor_run(pool_worker *pw, bool closing)
{
    int self = tq_worker_id(pw->w);
    uint64_t now = tq_worker_now(pw->w);
    h2o_linklist_t doomed;
    h2o_linklist_init_anchor(&doomed);

    pthread_mutex_lock(&pools_module.lock);
    for (h2o_linklist_t *l = pools_module.shares.next; l != &pools_module.shares;) {
        tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, module_link, l);
        l = l->next;
        pool_db *db = p->db;
        pthread_mutex_lock(&db->lock);
        bool unused = p->retired && atomic_load(&p->borrowers) == 0 && p->held == 0 && p->nwaiting == 0;
        if (unused)
            h2o_linklist_unlink(&p->db_link);
        pthread_mutex_unlock(&db->lock);
        if (unused) {
            h2o_linklist_unlink(&p->module_link);
            db->shares--;
            tq_log_debug("pool", "%s: share of %s closed", p->label, db->label);
            share_free(p);
        }
    }
    for (h2o_linklist_t *l = pools_module.dbs.next; l != &pools_module.dbs;) {
        pool_db *db = H2O_STRUCT_FROM_MEMBER(pool_db, module_link, l);
        l = l->next;
        pthread_mutex_lock(&db->lock);
        bool retired = db->live_shares == 0;
        h2o_linklist_t *idle = &db->idle[self];
        for (h2o_linklist_t *e = idle->next; e != idle;) {
            pool_conn *c = H2O_STRUCT_FROM_MEMBER(pool_conn, link, e);
            e = e->next;
            if (closing || retired || c->idle_since + (uint64_t)db->idle_timeout_ms <= now) {
                h2o_linklist_unlink(&c->link);
                h2o_linklist_insert(&doomed, &c->link);
                db->nidle--;
                db->total--;
                db->closed++;
                db->closed_by[closing || retired ? TQ_POOL_CLOSED_OTHER : TQ_POOL_CLOSED_IDLE]++;
            }
        }
        bool unused = db->shares == 0 && db->total == 0;
        pthread_mutex_unlock(&db->lock);
        if (unused) {
            h2o_linklist_unlink(&db->module_link);
            tq_log_debug("pool", "%s: pool closed", db->label);
            db_free(db);
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
        pool_db *db = c->db;
        pthread_mutex_lock(&db->lock);
        db->opening--;
        db->total--;
        pthread_mutex_unlock(&db->lock);
        tq_log_info("pool", "%s: connection still being opened at shutdown: closed", db->label);
        count_close(db, TQ_POOL_CLOSED_OTHER);
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
    for (h2o_linklist_t *l = pools_module.shares.next; l != &pools_module.shares; l = l->next) {
        tq_pool *p = H2O_STRUCT_FROM_MEMBER(tq_pool, module_link, l);
        pthread_mutex_lock(&p->db->lock);
        for (h2o_linklist_t *e = p->waiters.next; e != &p->waiters;) {
            tq_db_query *q = H2O_STRUCT_FROM_MEMBER(tq_db_query, wait_link, e);
            e = e->next;
            if (q->worker != pw)
                continue;
            unqueue_locked(q);
            h2o_linklist_insert(&failed, &q->wait_link);
        }
        pthread_mutex_unlock(&p->db->lock);
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
        pool_db *db = c->db;
        tq_log_info("pool", "%s: query still running at the drain deadline: cancelled", db->label);
        tq_pgconn_cancel(c->pg);
        pthread_mutex_lock(&db->lock);
        db->total--;
        if (q != NULL)
            share_let_go_locked(q->pool);
        pthread_mutex_unlock(&db->lock);
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
    h2o_linklist_init_anchor(&pools_module.dbs);
    h2o_linklist_init_anchor(&pools_module.shares);
    tq_map_init(&pools_module.index, NULL);
    cap_init(max_connections);
    static const tq_worker_module hooks = {"pool", pools_worker_init, NULL, pools_worker_busy, pools_worker_cut_off,
                                           pools_worker_dispose, NULL};
    pools_module.slot = tq_workers_add_module(workers, &hooks);
}
