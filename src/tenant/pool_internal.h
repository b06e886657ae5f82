/*
 * pool_internal.h - what the pool's files share: the database record (pool_db) and the
 * tenant's share of it (tq_pool), the pooled connection, the pools' state per worker,
 * and the global cap (pool_cap.c).
 *
 * Locking: each database has one mutex guarding its counters, idle lists, and its shares'
 * holds and FIFOs of waiting queries; the module's lists and index have their own (taken
 * before any database's); the cap's queue of databases waiting for a slot has a third,
 * never held while taking another.
 * Connections themselves are only touched by the worker whose loop watches them, so
 * every hand-over to another worker detaches the connection first and travels as a
 * message.
 */
#ifndef TENANTQL_POOL_INTERNAL_H
#define TENANTQL_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "tenantql/map.h"
#include "tenantql/pool.h"

#define POOL_MAX_PARAMS 24

typedef struct pool_worker pool_worker;

typedef struct pool_db pool_db;

/* A connection to a database; owned by its pool_db, watched by one worker at a time. */
typedef struct pool_conn {
    tq_pgconn *pg;
    pool_db *db;
    pool_worker *worker;           /* whose loop watches it */
    tq_db_query *query;            /* the query in flight, or NULL (its share holds the connection) */
    h2o_linklist_t link;           /* its worker's opening or closing list, or an idle list (db lock) */
    h2o_linklist_t busy_link;      /* its worker's list of connections with a query out */
    uint64_t idle_since;           /* loop ms when last released */
    uint64_t sent_us;              /* when the query in flight was sent (tq_clock_us) */
} pool_conn;

/* The pools' state on one worker (its slot). */
struct pool_worker {
    tq_worker *w;
    tq_pgconn_loop loop;           /* what the worker's connections are watched by */
    h2o_multithread_receiver_t handover_rx; /* queries arriving with a connection or an outcome */
    h2o_multithread_receiver_t evict_rx;    /* idle connections to close for another database */
    h2o_linklist_t opening;        /* pool_conn.link: connections still connecting */
    h2o_linklist_t closing;        /* pool_conn.link: graceful closes waiting for the server */
    h2o_linklist_t busy;           /* pool_conn.busy_link */
    h2o_timeout_entry_t janitor;
};

/* The connections to one database with one set of connection settings, shared by the
 * tenants placed in it (each through a share, tq_pool). A tenant with a database of its
 * own is the only share of its pool_db. Waiting queries wait in their share's FIFO; the
 * shares that have a waiter they may serve (under their max) form a ring, served in
 * turn, so one busy tenant never starves the others of the database's connections. */
struct pool_db {
    pthread_mutex_t lock;          /* counters, idle lists, the shares' waiters and holds */
    char *key;                     /* connection settings and max: the module's index key */
    char *label;                   /* for logs */
    const char *keywords[POOL_MAX_PARAMS];
    const char *values[POOL_MAX_PARAMS];
    char *strings;                 /* one allocation holding the parameter texts */
    int max;                       /* connections across all workers and shares */
    int idle_timeout_ms;
    int live_shares;               /* shares not retired (module lock): none left, nothing kept idle */
    int shares;                    /* shares attached, retired or not (module lock) */
    h2o_linklist_t share_list;     /* tq_pool.db_link (db lock) */
    int total;                     /* connections open or opening */
    int opening;                   /* of which still connecting (each will serve a waiter) */
    bool wants_slot;               /* queued for a slot under the global cap (cap lock) */
    h2o_linklist_t slot_link;
    int nidle;
    h2o_linklist_t *idle;          /* per worker: pool_conn.link, oldest first */
    h2o_linklist_t ready;          /* tq_pool.ready_link: shares with a waiter they may serve */
    int servable;                  /* waiters the shares may serve now (sum of their contrib) */
    uint64_t down_until;
    unsigned long created, closed;
    unsigned long closed_by[TQ_POOL_CLOSE_REASONS_];
    h2o_linklist_t module_link;
};

/* A tenant's share of a pool_db: what requests borrow and query. */
struct tq_pool {
    pool_db *db;
    char *label;                   /* the tenant's name */
    char *schema;
    char *role;                    /* NULL: none */
    tq_stmt_scope scope;           /* binds every statement to the tenant's schema (and role) */
    tq_pool_options opts;          /* max: connections the tenant may hold at once */
    tq_usage *usage;               /* where database time is charged, or NULL */
    atomic_int borrowers;          /* requests using the share */
    bool retired;                  /* the owner let go (db lock) */
    int held;                      /* connections running its queries now (db lock) */
    int nwaiting;
    h2o_linklist_t waiters;        /* tq_db_query.wait_link, FIFO */
    int contrib;                   /* its part of db->servable: min(nwaiting, max - held) */
    h2o_linklist_t ready_link;     /* in db->ready while contrib > 0 */
    h2o_linklist_t db_link;        /* db->share_list */
    _Atomic unsigned long wait_buckets[TQ_POOL_WAIT_BUCKETS + 1]; /* the last: over the largest bound */
    _Atomic unsigned long wait_count, wait_sum_ms;
    _Atomic uint64_t last_asked_ms; /* monotonic: the last tq_pool_query */
    h2o_linklist_t module_link;
};

/* The module's own state: the workers' pool states, every database and share. */
typedef struct pools_state {
    pthread_mutex_t lock;          /* the lists and the index (taken before any db's lock) */
    int slot;                      /* the pools' worker slot */
    pool_worker **workers;         /* by worker id */
    int nworkers;
    h2o_linklist_t dbs;            /* pool_db.module_link */
    h2o_linklist_t shares;         /* tq_pool.module_link */
    tq_map index;                  /* pool_db.key -> pool_db with live shares */
    _Atomic uint32_t next_scope;
} pools_state;

extern pools_state pools_module;

/* ---- pool.c, for pool_cap.c ---- */

/* With db's lock held: db has waiters that the connections being opened will not serve. */
bool pool_needs_connection_locked(const pool_db *db);
/* Opens a connection to db on worker pw (its slot and its count are already taken). */
void pool_start_connection(pool_db *db, pool_worker *pw);
/* Closes an idle connection, already out of its database's counts, for another one. */
void pool_close_evicted(pool_conn *c, pool_worker *pw);

/* ---- pool_cap.c: the global cap on connections across all pools ---- */

void cap_init(int max_connections);
/* Makes the cap a cluster share (cluster.c) that cap_set_max moves, where 0 means no
 * connection rather than no cap; before the workers start. */
void cap_make_movable(int initial);
/* Moves the cap (any thread but a worker's, while the workers run): lowered, idle
 * connections above it are closed on their workers; raised, pools waiting for slots get
 * them. */
void cap_set_max(int max_connections);
int cap_max(void);
/* Whether more connections are open than the cap allows (it was lowered). */
bool cap_over(void);
/* Takes a slot for a new connection when the cap allows. */
bool cap_reserve(void);
/* A connection is gone for good: its slot goes to the next pool waiting for one, whose
 * connection opens on worker pw. */
void cap_release(pool_worker *pw);
/* Gives a slot back without granting it (shutdown). */
void cap_forget(void);
/* Queues db for the next free slot (once), and has the longest-idle connection of
 * another database closed to free one. */
void cap_wait_for_slot(pool_db *db, pool_worker *pw);
/* Whether pools wait for slots (a released connection then goes rather than idles). */
bool cap_has_waiters(void);
/* db goes away: out of the slot queue. */
void cap_forget_db(pool_db *db);
/* On pw's thread: receives idle connections to close for another pool. */
void cap_worker_init(pool_worker *pw);
void cap_worker_dispose(pool_worker *pw);
unsigned long cap_evictions(void);
/* An idle connection was closed to make room for another pool. */
void cap_count_eviction(void);
int cap_open_connections(void);

#endif
