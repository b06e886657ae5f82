/*
 * pool.h - the tenant connection manager: libpq connections per database, shared by all
 * worker threads and by the tenants placed in that database.
 *
 * Connections belong to a database (one set of connection settings), which holds at most
 * its max across all workers and tenants. Each tenant queries through its share of the
 * database (a tq_pool): a share holds at most its own max of those connections at once.
 * A tenant with a database of its own is that database's only share; tenants placed in
 * schemas of a shared database share its connections, and every statement names the
 * tenant's schema (tq_stmt_scope), so a connection carries nothing of one tenant into the
 * next one's query.
 *
 * A connection belongs to the worker whose loop watches it; idle connections wait in
 * per-worker lists so that a worker reuses its own first. A query that finds nothing idle
 * opens a new connection (while the database is under its max), takes an idle one from
 * another worker, or queues in its share's FIFO until a connection is released or its
 * acquire timeout passes. Released connections serve the waiting shares in turn (round
 * robin), so a tenant that saturates its share never starves another one. Connections are
 * taken per query and given back as soon as its result is in.
 *
 * Every callback runs on the worker that issued the query and never inside
 * tq_pool_query itself.
 */
#ifndef TENANTQL_POOL_H
#define TENANTQL_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "tenantql/pgconn.h"
#include "tenantql/quota.h"
#include "tenantql/worker.h"

#define TQ_DB_MAX_PARAMS 8

typedef struct tq_pool tq_pool;

typedef struct tq_pool_options {
    int max;                  /* connections across all workers (default 5) */
    int acquire_timeout_ms;   /* wait for a connection before TQ_DB_BUSY (default 5000) */
    int idle_timeout_ms;      /* close connections idle this long (default 30000) */
    int connect_timeout_ms;   /* libpq connect_timeout, rounded up to seconds (default 5000) */
    int statement_timeout_ms; /* server-side statement_timeout, 0 = none (default 5000) */
    /* never prepare named statements on the connections (pool_options "statements":
     * "unnamed"): for a PgBouncer in transaction mode, where the next transaction may run
     * on another server connection that never saw them (default false: "prepared") */
    bool unnamed_statements;
} tq_pool_options;

/* fields left out (unnamed_statements) are false */
#define TQ_POOL_OPTIONS_DEFAULT {5, 5000, 30000, 5000, 5000}

typedef enum tq_db_status {
    TQ_DB_OK,          /* res holds tuples or a command status */
    TQ_DB_SQL_ERROR,   /* res holds the server's error (constraint, timeout ...) */
    TQ_DB_BUSY,        /* no connection within the acquire timeout */
    TQ_DB_UNAVAILABLE, /* the database cannot be reached or the connection broke */
    TQ_DB_CANCELLED,   /* taken out of the queue by tq_pool_cancel */
} tq_db_status;

typedef struct tq_db_query tq_db_query;
/* Owns res (PQclear it); res is NULL for BUSY and UNAVAILABLE. */
typedef void (*tq_db_query_cb)(tq_db_query *q, tq_db_status status, PGresult *res);

struct pool_conn;
struct pool_worker;

/* A statement's SQL comment: a traceparent in sqlcommenter style (73 bytes) and a NUL. */
#define TQ_DB_COMMENT_SIZE 80

struct tq_db_query {
    /* set by the caller */
    const tq_stmt *stmt;
    const char *params[TQ_DB_MAX_PARAMS];
    /* "" (the calloc'd default): none. Else a comment ("/" "*...*" "/", nothing in it that
     * ends a comment early) sent before the statement's text, which then runs unnamed (a
     * prepared statement's text cannot change per execution): see tq_pgconn_send */
    char comment[TQ_DB_COMMENT_SIZE];
    tq_db_query_cb cb;
    void *data;
    /* set by the pool before cb, for the caller's timings (tq_clock_us; 0: never happened) */
    uint64_t asked_us;             /* tq_pool_query */
    uint64_t sent_us;              /* a connection took it: asked_us..sent_us is the wait for one */
    uint64_t done_us;              /* its result came back (or it failed): sent_us..done_us is PostgreSQL's */
    /* private to the pool */
    tq_pool *pool;
    struct pool_worker *worker;    /* the issuing worker's pool state: callbacks run there */
    struct pool_conn *conn;
    tq_db_status status;           /* outcome delivered without a connection */
    uint64_t asked_at;             /* loop ms of tq_pool_query, for the acquire wait histogram */
    bool waiting;                  /* in the pool's FIFO (guarded by the pool lock) */
    bool steal;                    /* conn is on its way from another worker's idle list */
    h2o_linklist_t wait_link;
    h2o_timeout_entry_t timer;     /* acquire timeout, then deferred completion */
    h2o_multithread_message_t msg; /* hand-over between workers */
};

/* Process-wide set-up, before the workers start: registers the pools' per-worker state
 * with the workers (idle lists, hand-over receivers, the janitor) and sets the cap on
 * connections across all pools (0: none). Call once, before any pool.
 *
 * Under the cap, a pool that needs one more connection but finds no free slot queues for
 * one (FIFO across pools) and has the longest-idle connection of another pool closed; a
 * connection released while pools wait for slots is closed instead of kept idle. */
void tq_pools_init(tq_workers *workers, int max_connections);
/* Connections open or opening in all pools, and idle ones closed to make room. */
int tq_pools_open_connections(void);
unsigned long tq_pools_evictions(void);
/* After the workers stopped: frees every pool (each must have no connection left). */
void tq_pools_destroy(void);

/* The database a share connects to, and the tenant's place in it. */
typedef struct tq_pool_target {
    const char *const *keywords;    /* libpq connection parameters (copied) */
    const char *const *values;
    const char *database_label;     /* names the database's connections in logs */
    int database_max;               /* connections to the database across its tenants */
    const char *schema;             /* the tenant's schema ("public": a database of its own) */
    const char *role;               /* its statements run SET LOCAL ROLE to it (tq_stmt_scope.role); NULL: none */
} tq_pool_target;

/* Creates a tenant's share of a database: of the database's pool that has the same
 * connection settings and max if one is alive, else of a new one. label names the share
 * in logs and metrics (the tenant name); opts->max is what the share may hold at once,
 * opts->idle_timeout_ms also sets a new database's idle timeout.
 *
 * Ownership: the caller owns the share (the registry's entry for the tenant) until it
 * calls tq_pool_retire. Requests borrow it (tq_pool_borrow, a count) for as long as they
 * use it. A retired share is freed by the janitor once no borrower is left; a database
 * whose shares are all retired closes its connections as they come back. */
tq_pool *tq_pool_create(const char *label, const tq_pool_target *target, const tq_pool_options *opts);
/* Charges what each query of the pool takes, from being sent to being answered, to u
 * (the tenant's database time; tq_usage_charge_db). The pool keeps a reference to u until
 * it is freed. Call before the pool is used. */
void tq_pool_meter(tq_pool *p, tq_usage *u);
/* The owner lets go. */
void tq_pool_retire(tq_pool *p);
/* The owner lets go if nobody borrows the share and it has been unused for its idle
 * timeout (no query running or waiting; for the only share of a database, no connection
 * left either): returns whether it did. The owner must make
 * sure no one borrows the pool meanwhile (the registry holds its lock around both). */
bool tq_pool_retire_if_idle(tq_pool *p);
/* A counted reference, valid until tq_pool_return; only from the owner's hands (the
 * registry borrows for requests), never on a retired pool. */
void tq_pool_borrow(tq_pool *p);
void tq_pool_return(tq_pool *p);

/* Runs q->stmt with q->params on a connection of the pool, then calls q->cb on worker w
 * (never inside this call). */
void tq_pool_query(tq_pool *p, tq_worker *w, tq_db_query *q);
/* Nobody wants q's answer any more: a query still waiting for a connection leaves the
 * queue (its callback gets TQ_DB_CANCELLED on a later turn); one running is cancelled in
 * PostgreSQL (its callback gets the server's error, or the result if it finished first),
 * and its connection returns to the pool once the server has answered. On q's worker. */
void tq_pool_cancel(tq_db_query *q);

/* Counters for /metrics, logs and tests. */
typedef enum tq_pool_close_reason {
    TQ_POOL_CLOSED_IDLE,     /* idle past idle_timeout_ms */
    TQ_POOL_CLOSED_EVICTED,  /* idle, closed to make room for another tenant under the cap */
    TQ_POOL_CLOSED_BROKEN,   /* the server or the network closed it, or a query broke it */
    TQ_POOL_CLOSED_OTHER,    /* the tenant was removed or changed, or the server is stopping */
    TQ_POOL_CLOSE_REASONS_,
} tq_pool_close_reason;

/* acquire wait histogram: upper bounds in ms, plus one bucket above the last */
#define TQ_POOL_WAIT_BUCKETS 9
#define TQ_POOL_WAIT_BOUNDS_MS {1, 5, 10, 25, 50, 100, 250, 1000, 5000}

/* A share's figures: max, in_use, waiting and the wait histogram are the tenant's own;
 * total, idle, created and closed are its database's (the same for every tenant placed
 * in a shared database). */
typedef struct tq_pool_stats {
    const char *label;       /* the tenant's name; valid while the pool is */
    const char *database;    /* the database's label; valid while the pool is */
    int max, in_use, waiting;
    int total, idle;
    unsigned long created, closed;
    unsigned long closed_by[TQ_POOL_CLOSE_REASONS_];
    unsigned long wait_buckets[TQ_POOL_WAIT_BUCKETS + 1];
    unsigned long wait_count, wait_sum_ms;
} tq_pool_stats;
void tq_pool_get_stats(tq_pool *p, tq_pool_stats *out);
/* The share's label (its tenant's name); valid while the pool is. */
const char *tq_pool_label(const tq_pool *p);
/* Calls fn for every share, with the lists locked (fn may take stats, not create pools). */
void tq_pools_foreach(void (*fn)(tq_pool *p, void *data), void *data);
int tq_pools_max_connections(void);

#endif
