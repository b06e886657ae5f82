/*
 * pool_internal.h - what the pool's files share: the pool record, the pooled connection,
 * the pools' state per worker, and the global cap (pool_cap.c).
 *
 * Locking: each pool has one mutex guarding its counters, idle lists and FIFO of waiting
 * queries; the module's list of pools has its own (taken before any pool's); the cap's
 * queue of pools waiting for a slot has a third, never held while taking another.
 * Connections themselves are only touched by the worker whose loop watches them, so
 * every hand-over to another worker detaches the connection first and travels as a
 * message.
 */
#ifndef TENANTQL_POOL_INTERNAL_H
#define TENANTQL_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "tenantql/pool.h"

#define POOL_MAX_PARAMS 24

typedef struct pool_worker pool_worker;

/* A connection of a pool; owned by the pool, watched by one worker at a time. */
typedef struct pool_conn {
    tq_pgconn *pg;
    tq_pool *pool;
    pool_worker *worker;           /* whose loop watches it */
    tq_db_query *query;            /* the query in flight, or NULL */
    h2o_linklist_t link;           /* its worker's opening or closing list, or an idle list (pool lock) */
    h2o_linklist_t busy_link;      /* its worker's list of connections with a query out */
    uint64_t idle_since;           /* loop ms when last released */
    uint64_t sent_us;              /* when the query in flight was sent (tq_clock_us) */
} pool_conn;

/* The pools' state on one worker (its slot). */
struct pool_worker {
    tq_worker *w;
    tq_pgconn_loop loop;           /* what the worker's connections are watched by */
    h2o_multithread_receiver_t handover_rx; /* queries arriving with a connection or an outcome */
    h2o_multithread_receiver_t evict_rx;    /* idle connections to close for another pool */
    h2o_linklist_t opening;        /* pool_conn.link: connections still connecting */
    h2o_linklist_t closing;        /* pool_conn.link: graceful closes waiting for the server */
    h2o_linklist_t busy;           /* pool_conn.busy_link */
    h2o_timeout_entry_t janitor;
};

struct tq_pool {
    pthread_mutex_t lock;
    char *label;
    const char *keywords[POOL_MAX_PARAMS];
    const char *values[POOL_MAX_PARAMS];
    char *strings;                 /* one allocation holding the parameter texts */
    tq_pool_options opts;
    tq_usage *usage;               /* where database time is charged, or NULL */
    atomic_int borrowers;          /* requests using the pool */
    bool retired;                  /* the owner let go */
    int total;                     /* connections open or opening */
    int opening;                   /* of which still connecting (each will serve a waiter) */
    bool wants_slot;               /* queued for a slot under the global cap (cap lock) */
    h2o_linklist_t slot_link;
    int nidle;
    int nwaiting;
    h2o_linklist_t *idle;          /* per worker: pool_conn.link, oldest first */
    h2o_linklist_t waiters;        /* tq_db_query.wait_link, FIFO */
    uint64_t down_until;
    unsigned long created, closed;
    unsigned long closed_by[TQ_POOL_CLOSE_REASONS_];
    _Atomic unsigned long wait_buckets[TQ_POOL_WAIT_BUCKETS + 1]; /* the last: over the largest bound */
    _Atomic unsigned long wait_count, wait_sum_ms;
    _Atomic uint64_t last_asked_ms; /* monotonic: the last tq_pool_query */
    h2o_linklist_t module_link;
};

/* The module's own state: the workers' pool states, every pool for the janitor. */
typedef struct pools_state {
    pthread_mutex_t lock;          /* the pool list (taken before any pool's lock) */
    int slot;                      /* the pools' worker slot */
    pool_worker **workers;         /* by worker id */
    int nworkers;
    h2o_linklist_t pools;
} pools_state;

extern pools_state pools_module;

/* ---- pool.c, for pool_cap.c ---- */

/* With p's lock held: p has waiters that the connections being opened will not serve. */
bool pool_needs_connection_locked(const tq_pool *p);
/* Opens a connection of p on worker pw (its slot and its count are already taken). */
void pool_start_connection(tq_pool *p, pool_worker *pw);
/* Closes an idle connection, already out of its pool's counts, for another pool. */
void pool_close_evicted(pool_conn *c, pool_worker *pw);

/* ---- pool_cap.c: the global cap on connections across all pools ---- */

void cap_init(int max_connections);
int cap_max(void);
/* Takes a slot for a new connection when the cap allows. */
bool cap_reserve(void);
/* A connection is gone for good: its slot goes to the next pool waiting for one, whose
 * connection opens on worker pw. */
void cap_release(pool_worker *pw);
/* Gives a slot back without granting it (shutdown). */
void cap_forget(void);
/* Queues p for the next free slot (once), and has the longest-idle connection of
 * another pool closed to free one. */
void cap_wait_for_slot(tq_pool *p, pool_worker *pw);
/* Whether pools wait for slots (a released connection then goes rather than idles). */
bool cap_has_waiters(void);
/* p goes away: out of the slot queue. */
void cap_forget_pool(tq_pool *p);
/* On pw's thread: receives idle connections to close for another pool. */
void cap_worker_init(pool_worker *pw);
void cap_worker_dispose(pool_worker *pw);
unsigned long cap_evictions(void);
/* An idle connection was closed to make room for another pool. */
void cap_count_eviction(void);
int cap_open_connections(void);

#endif
