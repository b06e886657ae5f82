/*
 * pgconn.h - one asynchronous libpq connection driven by a worker's h2o loop.
 *
 * The loop never blocks on the database: the connection is made with PQconnectStart/
 * PQconnectPoll, queries are sent in pipeline mode and results are read as the socket
 * becomes readable. h2o watches a dup() of libpq's socket, so closing h2o's wrapper never
 * closes libpq's own descriptor; that also lets an idle connection move to another worker
 * (detach on the old loop, attach on the new one).
 *
 * Explicit states (PgBouncer style): CONNECTING -> IDLE <-> BUSY, and BROKEN from any.
 * The owner (a pool) gets exactly one callback per event, always on the loop the
 * connection is attached to. The connection knows nothing of pools or workers: it is
 * given a loop and two of its timer buckets, as h2o's own clients are.
 */
#ifndef TENANTQL_PGCONN_H
#define TENANTQL_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>

typedef struct tq_pgconn tq_pgconn;

/* A statement of the application. Its tables are written `@.users`: the two characters `@.`
 * stand for the schema of the scope it runs in (nothing else in the text may contain `@.`).
 * id is unique among statements (>= 0); name is the prefix of its prepared statements'
 * names (one longer than 52 bytes is never prepared, as the server would cut the name).
 * name and sql must stay valid and unchanged as long as any connection that
 * ran the statement lives (static statements).
 *
 * Prepared statements are planned once for all values (connections run with
 * plan_cache_mode=force_generic_plan: planning is most of a short statement's cost). A
 * statement whose best plan depends on its values (optional filters written
 * `$1 IS NULL OR ...`, where a given value could use an index the generic plan cannot)
 * sets plan_per_values: it is never prepared, so each execution is planned for its own
 * values. */
typedef struct tq_stmt {
    int id;
    const char *name;
    const char *sql;
    int nparams;
    bool plan_per_values;
} tq_stmt;

/* Where a statement runs: the schema its tables (`@.` in tq_stmt.sql) live in, and the
 * role it runs as. */
typedef struct tq_stmt_scope {
    uint32_t id;        /* unique per schema binding within the process (names prepared statements); never 0 */
    const char *schema; /* unquoted identifier, e.g. "public" or "tenant_acme"; valid while the query runs */
    /* never prepare: every execution is an unnamed Parse/Bind/Execute (for PgBouncer in transaction mode) */
    bool unnamed;
    /* NULL: none. Else every execution runs with SET LOCAL ROLE <role> in its transaction
     * (the implicit one its Sync ends), so that PostgreSQL's privileges, not only the
     * statement's text, decide what it may touch; nothing of it outlasts the query. A role
     * name, unquoted; valid while the query runs. */
    const char *role;
} tq_stmt_scope;

/* Process-wide, before any connection: how many prepared statements one connection keeps
 * (LRU; 0 = never prepare). Default 512. A connection keeps the value it was made with. */
void tq_pgconn_set_statement_cache(int per_connection);

#define TQ_PGCONN_STATEMENT_CACHE_DEFAULT 512

typedef enum tq_pgconn_state {
    TQ_PGCONN_CONNECTING,
    TQ_PGCONN_IDLE,
    TQ_PGCONN_BUSY,
    TQ_PGCONN_BROKEN,
} tq_pgconn_state;

/* The loop a connection is watched by, with two timer buckets of that loop: one of 0 ms
 * (reports on the next turn) and one bounding a graceful close. The owner of the loop
 * keeps this alive as long as connections are attached to it. */
typedef struct tq_pgconn_loop {
    h2o_loop_t *loop;
    h2o_timeout_t *zero;
    h2o_timeout_t *linger;     /* of TQ_PGCONN_LINGER_MS */
} tq_pgconn_loop;

#define TQ_PGCONN_LINGER_MS 2000

/* Events for the owner; `owner` is what it gave to tq_pgconn_connect. */
typedef struct tq_pgconn_ops {
    /* connecting finished: ok, or failed with a message for the log */
    void (*on_connected)(void *owner, bool ok, const char *errmsg);
    /* the query sent with tq_pgconn_send finished; res is NULL when the connection
     * broke (errmsg says why); otherwise the callee owns res (PQclear) */
    void (*on_result)(void *owner, PGresult *res, const char *errmsg);
    /* an idle connection was closed by the server or the network */
    void (*on_lost)(void *owner, const char *errmsg);
} tq_pgconn_ops;

/* Starts connecting on loop l. Returns NULL only when libpq cannot even allocate a
 * connection; every other failure is reported through on_connected on a later loop turn.
 * The connection lives until tq_pgconn_close (or the end of a graceful close). */
tq_pgconn *tq_pgconn_connect(const tq_pgconn_loop *l, const char *const *keywords, const char *const *values,
                             const tq_pgconn_ops *ops, void *owner);

tq_pgconn_state tq_pgconn_get_state(const tq_pgconn *c);

/* Sends one execution of stmt in scope (text parameters, NULL = SQL NULL); the text sent
 * has each `@.` replaced by the quoted schema and a dot. The connection must be IDLE.
 * Returns 0, or -1 if the connection broke while sending (then on_result follows with res
 * NULL, inside this call).
 *
 * Prepared statements (unless scope->unnamed or the cache is 0): a (scope, statement) pair
 * runs unnamed the first time on a connection and is remembered; run again while it is
 * remembered, it is prepared (named `<stmt name>_<scope id>`), and later runs only
 * execute it. A connection remembers at most the process's statement cache of pairs; the
 * least recently used goes, with a DEALLOCATE sent in the same pipeline when it was
 * prepared, so the server never holds more than that many of them.
 *
 * With scope->role the pipeline is [DEALLOCATE][Prepare] role-switch Execute Sync; the
 * switch is `SELECT pg_catalog.set_config('role', $1, true)`, which is SET LOCAL ROLE
 * without the warning PostgreSQL gives SET LOCAL outside a BEGIN block (a pipeline's
 * implicit transaction is not one, yet the setting holds in it until its Sync). Where
 * statements are prepared (as above), the switch is prepared too, once per connection
 * (a Prepare before it in the first such pipeline), beside the cache's statements.
 *
 * The answer is the statement's result, or the error of a failed Prepare, DEALLOCATE or
 * role switch sent before it. */
int tq_pgconn_send(tq_pgconn *c, const tq_stmt *stmt, const tq_stmt_scope *scope, const char *const *params);
/* The same with comment (NULL: none) written before the statement's text, so that
 * pg_stat_activity.query shows it (first: PostgreSQL cuts that column at
 * track_activity_query_size). A commented execution is always unnamed, and neither uses
 * nor changes what the connection remembers of stmt. */
int tq_pgconn_send_commented(tq_pgconn *c, const tq_stmt *stmt, const tq_stmt_scope *scope, const char *const *params,
                             const char *comment);

/* False once the connection's prepared statements on the server may differ from what it
 * remembers (a DEALLOCATE failed, the server lost a statement, the connection broke): the
 * owner should then close the connection instead of keeping it for another query. */
bool tq_pgconn_reusable(const tq_pgconn *c);
/* Prepared statements the connection holds on the server now (the cache's, and the role
 * switch), for tests and metrics. */
int tq_pgconn_cached_statements(const tq_pgconn *c);
/* Executions since start, all connections: of prepared statements, unnamed ones, and
 * Prepares sent (for /metrics: how often a statement meets its plan). */
void tq_pgconn_statement_counts(unsigned long *prepared, unsigned long *unnamed, unsigned long *prepares);
/* Whether the connection remembers stmt in scope (prepared, or run once and so prepared
 * on its next use): a pool prefers such a connection for it. */
bool tq_pgconn_knows(const tq_pgconn *c, const tq_stmt *stmt, const tq_stmt_scope *scope);

/* Asks the server to cancel the query running on a BUSY connection. The cancel request
 * travels on a thread of its own (libpq's PQcancel blocks); the query then ends as usual,
 * with an error (SQLSTATE 57014) or its result if it finished first. */
void tq_pgconn_cancel(tq_pgconn *c);

/* Moving an idle connection between loops: detach on the old one, attach on the new. */
void tq_pgconn_detach(tq_pgconn *c);
/* Returns -1 if the socket cannot be watched (no descriptor left); the connection is then
 * BROKEN and the caller closes it. */
int tq_pgconn_attach(tq_pgconn *c, const tq_pgconn_loop *l);

/* Closes the connection and frees it at once; on the loop it is attached to (or detached).
 * A BUSY connection's query gets no result. */
void tq_pgconn_close(tq_pgconn *c);
/* Closes the connection once the server has let go of it (its end of the socket closed,
 * or after TQ_PGCONN_LINGER_MS): calls done on the same loop (maybe before returning),
 * then frees the connection. For slots that must not be reused while the server still
 * counts them. A BUSY connection's query gets no result; cancel it first. */
void tq_pgconn_close_gracefully(tq_pgconn *c, void (*done)(void *data), void *data);

/* ---- cancel requests (their thread) ---- */

/* Stops the cancel thread: requests not yet sent are dropped; waits for the one being
 * sent. At process exit, after every connection is closed. */
void tq_pgconn_cancel_shutdown(void);
/* Cancel requests sent so far and dropped (queue full), for /metrics. */
unsigned long tq_pgconn_cancels_sent(void);

#endif
