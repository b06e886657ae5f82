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
 * The owner (the tenant pool) gets exactly one callback per event, always on the loop
 * the connection is attached to.
 */
#ifndef TENANTQL_PGCONN_H
#define TENANTQL_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "tenantql/worker.h"

typedef struct tq_pgconn tq_pgconn;

/* A statement prepared once per connection, on first use. ids are 0..63. */
typedef struct tq_stmt {
    int id;
    const char *name;
    const char *sql;
    int nparams;
} tq_stmt;

typedef enum tq_pgconn_state {
    TQ_PGCONN_CONNECTING,
    TQ_PGCONN_IDLE,
    TQ_PGCONN_BUSY,
    TQ_PGCONN_BROKEN,
} tq_pgconn_state;

typedef struct tq_pgconn_ops {
    /* connecting finished: ok, or failed with a message for the log */
    void (*on_connected)(tq_pgconn *c, bool ok, const char *errmsg);
    /* the query sent with tq_pgconn_send finished; res is NULL when the connection
     * broke (errmsg says why); otherwise the callee owns res (PQclear) */
    void (*on_result)(tq_pgconn *c, PGresult *res, const char *errmsg);
    /* an idle connection was closed by the server or the network */
    void (*on_lost)(tq_pgconn *c, const char *errmsg);
} tq_pgconn_ops;

struct tq_pgconn {
    PGconn *pg;
    h2o_socket_t *sock;       /* wrapper of a dup() of PQsocket; NULL while detached */
    tq_worker *worker;        /* the loop the wrapper lives in */
    tq_pgconn_state state;
    const tq_pgconn_ops *ops;
    void *owner;              /* the pool */
    void *query;              /* the owner's record of the query in flight */
    uint64_t prepared;        /* bit i: statement id i is prepared on this connection */
    PGresult *result;         /* the current query's result, until its sync arrives */
    bool awaiting_write;      /* h2o_socket_notify_write is pending (it asserts if doubled) */
    bool prepare_sent;        /* the current query began with a Prepare */
    int entry;                /* pipeline entry being read: 0 = first of the current query */
    h2o_timeout_entry_t deferred; /* reports a failure that happened inside a call */
    h2o_linklist_t link;      /* owner's lists (idle, all) */
    uint64_t idle_since;      /* loop ms when last released */
    void (*on_closed)(void *data); /* tq_pgconn_close_gracefully's callback */
    void *on_closed_data;
};

/* Starts connecting on worker w. Returns NULL only when libpq cannot even allocate a
 * connection; every other failure is reported through on_connected on a later loop turn. */
tq_pgconn *tq_pgconn_connect(tq_worker *w, const char *const *keywords, const char *const *values,
                             const tq_pgconn_ops *ops, void *owner);

/* Sends one prepared-statement execution (text parameters, NULL = SQL NULL). The
 * connection must be IDLE. Returns 0, or -1 if the connection broke while sending (then
 * on_result follows with res NULL). */
int tq_pgconn_send(tq_pgconn *c, const tq_stmt *stmt, const char *const *params);

/* Moving an idle connection between workers: detach on the old loop, attach on the new. */
void tq_pgconn_detach(tq_pgconn *c);
/* Returns -1 if the socket cannot be watched (no descriptor left); the connection is then
 * BROKEN and the caller closes it. */
int tq_pgconn_attach(tq_pgconn *c, tq_worker *w);

/* Closes the connection and frees it; must run on the attached worker (or detached). */
void tq_pgconn_close(tq_pgconn *c);
/* Closes an idle connection once the server has let go of it (its end of the socket
 * closed, or after 2 s): calls done on the same worker (maybe before returning), then
 * frees the connection. For slots that must not be reused while the server still counts
 * them. A closing connection is freed at once by tq_pgconn_close. */
void tq_pgconn_close_gracefully(tq_pgconn *c, void (*done)(void *data), void *data);

#endif
