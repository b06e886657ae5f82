/*
 * pool_cap.c - the global cap on connections across all databases (--max-connections).
 *
 * Every connection, open or opening, holds one slot. A database pool that needs one more
 * connection and finds no free slot queues for one (FIFO across databases: the first to
 * ask is served first, and one that still needs more goes to the back) and has the
 * longest-idle connection of another database closed to make room. A slot is given back only
 * once the server has let go of the connection (graceful close), so PostgreSQL never
 * counts more connections than the cap.
 *
 * Under --cluster-max-connections the cap is this process's share of the cluster's
 * (cluster.c) and moves while the server runs: lowered, idle connections above it are
 * closed at once and busy ones as they are released; raised, waiting pools get slots.
 */
#include <stdlib.h>

#include "pool_internal.h"
#include "tenantql/log.h"

/* An idle connection closed on its own worker to free a slot for another pool. */
typedef struct evict_msg {
    h2o_multithread_message_t super;
    pool_conn *conn;               /* NULL: no connection, hand free slots to waiting pools */
} evict_msg;

static struct {
    _Atomic int max_total;         /* 0: no cap, unless movable (then: no connection at all) */
    bool movable;                  /* a cluster share (cap_set_max): 0 is a cap too */
    _Atomic int total;             /* connections open or opening, all pools */
    pthread_mutex_t lock;          /* the slot queue; never held while taking another lock */
    h2o_linklist_t slot_waiters;   /* pool_db.slot_link, FIFO */
    _Atomic unsigned long evictions;
} cap = {.lock = PTHREAD_MUTEX_INITIALIZER};

void cap_init(int max_connections)
{
    atomic_store(&cap.max_total, max_connections);
    cap.movable = false;
    atomic_store(&cap.total, 0);
    h2o_linklist_init_anchor(&cap.slot_waiters);
}

void cap_make_movable(int initial)
{
    cap.movable = true;
    atomic_store(&cap.max_total, initial);
}

int cap_max(void)
{
    return atomic_load(&cap.max_total);
}

static bool capped(void)
{
    return cap.movable || atomic_load(&cap.max_total) > 0;
}

bool cap_over(void)
{
    return capped() && atomic_load(&cap.total) > atomic_load(&cap.max_total);
}

int cap_open_connections(void)
{
    return atomic_load(&cap.total);
}

unsigned long cap_evictions(void)
{
    return atomic_load(&cap.evictions);
}

void cap_count_eviction(void)
{
    atomic_fetch_add(&cap.evictions, 1);
}

bool cap_reserve(void)
{
    int cur = atomic_load(&cap.total);
    do {
        if (capped() && cur >= atomic_load(&cap.max_total))
            return false;
    } while (!atomic_compare_exchange_weak(&cap.total, &cur, cur + 1));
    return true;
}

void cap_forget(void)
{
    atomic_fetch_sub(&cap.total, 1);
}

static void queue_for_slot(pool_db *p)
{
    pthread_mutex_lock(&cap.lock);
    if (!p->wants_slot) {
        p->wants_slot = true;
        h2o_linklist_insert(&cap.slot_waiters, &p->slot_link);
    }
    pthread_mutex_unlock(&cap.lock);
}

bool cap_has_waiters(void)
{
    if (!capped())
        return false;
    pthread_mutex_lock(&cap.lock);
    bool any = !h2o_linklist_is_empty(&cap.slot_waiters);
    pthread_mutex_unlock(&cap.lock);
    return any;
}

void cap_forget_db(pool_db *p)
{
    pthread_mutex_lock(&cap.lock);
    if (p->wants_slot) {
        h2o_linklist_unlink(&p->slot_link);
        p->wants_slot = false;
    }
    pthread_mutex_unlock(&cap.lock);
}

/* Hands free slots to waiting pools in FIFO order, opening their connections on worker
 * pw; a pool that still needs more goes to the back of the queue (round robin). */
static void grant_slots(pool_worker *pw)
{
    for (;;) {
        pthread_mutex_lock(&cap.lock);
        if (h2o_linklist_is_empty(&cap.slot_waiters)) {
            pthread_mutex_unlock(&cap.lock);
            return;
        }
        pool_db *p = H2O_STRUCT_FROM_MEMBER(pool_db, slot_link, cap.slot_waiters.next);
        h2o_linklist_unlink(&p->slot_link);
        p->wants_slot = false;
        pthread_mutex_unlock(&cap.lock);

        if (!cap_reserve()) {
            queue_for_slot(p); /* the next slot that frees serves the queue again */
            return;
        }
        pthread_mutex_lock(&p->lock);
        bool grow = pool_needs_connection_locked(p);
        if (grow) {
            p->total++;
            p->opening++;
        }
        bool more = grow && pool_needs_connection_locked(p);
        pthread_mutex_unlock(&p->lock);
        if (!grow) {
            cap_forget();
            continue;
        }
        if (more)
            queue_for_slot(p);
        pool_start_connection(p, pw);
    }
}

void cap_release(pool_worker *pw)
{
    cap_forget();
    grant_slots(pw);
}

/* With the module lock held: the longest-idle connection of a pool other than for_pool,
 * taken out of its pool's lists and counts; NULL when none is idle. */
static pool_conn *take_longest_idle_locked(const pool_db *for_pool)
{
    pool_db *victim_pool = NULL;
    pool_conn *victim = NULL;
    int victim_worker = -1;
    for (h2o_linklist_t *l = pools_module.dbs.next; l != &pools_module.dbs; l = l->next) {
        pool_db *p = H2O_STRUCT_FROM_MEMBER(pool_db, module_link, l);
        if (p == for_pool)
            continue;
        pthread_mutex_lock(&p->lock);
        for (int i = 0; i < pools_module.nworkers && p->nidle > 0; i++) {
            if (h2o_linklist_is_empty(&p->idle[i]))
                continue;
            pool_conn *c = H2O_STRUCT_FROM_MEMBER(pool_conn, link, p->idle[i].next); /* oldest first */
            if (victim == NULL || c->idle_since < victim->idle_since) {
                victim = c;
                victim_pool = p;
                victim_worker = i;
            }
        }
        pthread_mutex_unlock(&p->lock);
    }
    if (victim == NULL)
        return NULL;
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
    return still_idle ? victim : NULL;
}

static void send_evict_msg(pool_worker *to, pool_conn *c);

/* Closes the longest-idle connection of another pool, on the worker it lives on; its
 * slot then goes to the first pool waiting for one. Nothing idle: nothing to do (a slot
 * frees when some connection is released or closes). */
static void evict_idle_connection(pool_db *for_pool, pool_worker *pw)
{
    pthread_mutex_lock(&pools_module.lock);
    pool_conn *victim = take_longest_idle_locked(for_pool);
    pthread_mutex_unlock(&pools_module.lock);
    if (victim == NULL)
        return;
    if (victim->worker == pw) {
        pool_close_evicted(victim, pw);
        return;
    }
    send_evict_msg(victim->worker, victim);
}

void cap_wait_for_slot(pool_db *p, pool_worker *pw)
{
    queue_for_slot(p);
    evict_idle_connection(p, pw);
}

static void on_evict_message(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    pool_worker *pw = H2O_STRUCT_FROM_MEMBER(pool_worker, evict_rx, rx);
    while (!h2o_linklist_is_empty(messages)) {
        evict_msg *m = H2O_STRUCT_FROM_MEMBER(evict_msg, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        if (m->conn != NULL)
            pool_close_evicted(m->conn, pw);
        else
            grant_slots(pw);
        free(m);
    }
}

static void send_evict_msg(pool_worker *to, pool_conn *c)
{
    evict_msg *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    m->conn = c;
    h2o_multithread_send_message(&to->evict_rx, &m->super);
}

/* Any thread but a worker's: closes idle connections (longest idle first, each on its own
 * worker) until no more than the cap are open, at most as many as are over it now. */
static void trim_idle(void)
{
    int over = atomic_load(&cap.total) - atomic_load(&cap.max_total);
    for (int i = 0; i < over; i++) {
        pthread_mutex_lock(&pools_module.lock);
        pool_conn *victim = take_longest_idle_locked(NULL);
        pthread_mutex_unlock(&pools_module.lock);
        if (victim == NULL)
            return;
        send_evict_msg(victim->worker, victim);
    }
}

void cap_set_max(int max_connections)
{
    int before = atomic_exchange(&cap.max_total, max_connections);
    if (max_connections < before) {
        trim_idle();
    } else if (max_connections > before && pools_module.nworkers > 0 && pools_module.workers[0] != NULL &&
               cap_has_waiters()) {
        /* slots are opened on a worker's loop: the first worker serves the queue */
        send_evict_msg(pools_module.workers[0], NULL);
    }
}

void cap_worker_init(pool_worker *pw)
{
    h2o_multithread_register_receiver(tq_worker_queue(pw->w), &pw->evict_rx, on_evict_message);
}

void cap_worker_dispose(pool_worker *pw)
{
    h2o_multithread_unregister_receiver(tq_worker_queue(pw->w), &pw->evict_rx);
}
