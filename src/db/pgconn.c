/*
 * pgconn.c - asynchronous libpq connection on an h2o loop (see pgconn.h).
 *
 * Notes that shaped this file:
 * - PQconnectPoll may switch to a new socket between steps (multi-host, SSL/GSS
 *   fallback), so during CONNECTING the h2o wrapper is rebuilt at every step.
 * - h2o closes the fd it wraps; it wraps a dup() so libpq's descriptor stays libpq's.
 * - Connections stay in pipeline mode; one query is one Prepare (first use only),
 *   one Execute and one Sync, so a query costs one round trip and one flush.
 */
#include "tenantql/pgconn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "tenantql/log.h"
#include "tenantql/pg_admin.h"

struct tq_pgconn {
    PGconn *pg;
    h2o_socket_t *sock;       /* wrapper of a dup() of PQsocket; NULL while detached */
    const tq_pgconn_loop *loop; /* the loop the wrapper lives in */
    tq_pgconn_state state;
    const tq_pgconn_ops *ops;
    void *owner;
    uint64_t prepared;        /* bit i: statement id i is prepared on this connection */
    PGresult *result;         /* the current query's result, until its sync arrives */
    bool awaiting_write;      /* h2o_socket_notify_write is pending (it asserts if doubled) */
    bool prepare_sent;        /* the current query began with a Prepare */
    int entry;                /* pipeline entry being read: 0 = first of the current query */
    h2o_timeout_entry_t deferred; /* reports a failure that happened inside a call */
    void (*on_closed)(void *data); /* tq_pgconn_close_gracefully's callback */
    void *on_closed_data;
};

static void on_connect_io(h2o_socket_t *sock, const char *err);
static void on_readable(h2o_socket_t *sock, const char *err);
static void on_writable(h2o_socket_t *sock, const char *err);

static void wrap_socket(tq_pgconn *c)
{
    int fd = fcntl(PQsocket(c->pg), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        c->sock = NULL;
        return;
    }
    c->sock = h2o_evloop_socket_create(c->loop->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    c->sock->data = c;
}

static void unwrap_socket(tq_pgconn *c)
{
    if (c->sock == NULL)
        return;
    h2o_socket_read_stop(c->sock);
    h2o_socket_close(c->sock);
    c->sock = NULL;
    c->awaiting_write = false;
}

static const char *pg_error(tq_pgconn *c)
{
    const char *m = PQerrorMessage(c->pg);
    return m && *m ? m : "connection lost";
}

/* ---- connecting ---- */

static void report_connected(tq_pgconn *c, bool ok, const char *msg)
{
    c->ops->on_connected(c->owner, ok, msg);
}

static void fail_connect(tq_pgconn *c)
{
    unwrap_socket(c);
    c->state = TQ_PGCONN_BROKEN;
    report_connected(c, false, pg_error(c));
}

static void finish_connect(tq_pgconn *c)
{
    unwrap_socket(c);
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        fail_connect(c);
        return;
    }
    wrap_socket(c);
    if (c->sock == NULL) {
        fail_connect(c);
        return;
    }
    c->state = TQ_PGCONN_IDLE;
    h2o_socket_read_start(c->sock, on_readable);
    report_connected(c, true, NULL);
}

/* Waits for what PQconnectPoll asked for; the socket is rebuilt at each step. */
static void wait_connect(tq_pgconn *c, PostgresPollingStatusType want)
{
    unwrap_socket(c);
    wrap_socket(c);
    if (c->sock == NULL) {
        fail_connect(c);
        return;
    }
    if (want == PGRES_POLLING_READING) {
        h2o_socket_read_start(c->sock, on_connect_io);
    } else {
        c->awaiting_write = true;
        h2o_socket_notify_write(c->sock, on_connect_io);
    }
}

static void step_connect(tq_pgconn *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_OK:
        finish_connect(c);
        break;
    case PGRES_POLLING_READING:
        wait_connect(c, PGRES_POLLING_READING);
        break;
    case PGRES_POLLING_WRITING:
        wait_connect(c, PGRES_POLLING_WRITING);
        break;
    default:
        fail_connect(c);
        break;
    }
}

static void on_connect_io(h2o_socket_t *sock, const char *err)
{
    tq_pgconn *c = sock->data;
    c->awaiting_write = false;
    step_connect(c);
}

static void on_deferred_failure(h2o_timeout_entry_t *entry)
{
    tq_pgconn *c = H2O_STRUCT_FROM_MEMBER(tq_pgconn, deferred, entry);
    fail_connect(c);
}

tq_pgconn *tq_pgconn_connect(const tq_pgconn_loop *l, const char *const *keywords, const char *const *values,
                             const tq_pgconn_ops *ops, void *owner)
{
    tq_pgconn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->loop = l;
    c->ops = ops;
    c->owner = owner;
    c->state = TQ_PGCONN_CONNECTING;
    c->pg = PQconnectStartParams(keywords, values, 0);
    if (c->pg == NULL) {
        free(c);
        return NULL;
    }
    tq_pg_log_notices(c->pg);
    c->deferred.cb = on_deferred_failure;
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        /* the owner expects the outcome on a later loop turn, never inside this call */
        h2o_timeout_link(l->loop, l->zero, &c->deferred);
        return c;
    }
    /* libpq: after PQconnectStart, behave as if PGRES_POLLING_WRITING had been returned */
    wait_connect(c, PGRES_POLLING_WRITING);
    return c;
}

/* ---- queries ---- */

static void break_connection(tq_pgconn *c)
{
    tq_pgconn_state was = c->state;
    c->state = TQ_PGCONN_BROKEN;
    unwrap_socket(c);
    if (c->result != NULL) {
        PQclear(c->result);
        c->result = NULL;
    }
    if (was == TQ_PGCONN_BUSY)
        c->ops->on_result(c->owner, NULL, pg_error(c));
    else if (was == TQ_PGCONN_IDLE)
        c->ops->on_lost(c->owner, pg_error(c));
}

static int flush_output(tq_pgconn *c)
{
    int r = PQflush(c->pg);
    if (r < 0)
        return -1;
    if (r == 1 && !c->awaiting_write) {
        c->awaiting_write = true;
        h2o_socket_notify_write(c->sock, on_writable);
    }
    return 0;
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    tq_pgconn *c = sock->data;
    c->awaiting_write = false;
    if (err != NULL || flush_output(c) != 0)
        break_connection(c);
}

int tq_pgconn_send(tq_pgconn *c, const tq_stmt *stmt, const tq_stmt_scope *scope, const char *const *params)
{
    (void)scope;
    uint64_t bit = (uint64_t)1 << stmt->id;
    c->state = TQ_PGCONN_BUSY;
    c->prepare_sent = false;
    c->entry = 0;
    if ((c->prepared & bit) == 0) {
        if (!PQsendPrepare(c->pg, stmt->name, stmt->sql, stmt->nparams, NULL))
            goto broken;
        c->prepared |= bit;
        c->prepare_sent = true;
    }
    if (!PQsendQueryPrepared(c->pg, stmt->name, stmt->nparams, params, NULL, NULL, 0) || !PQpipelineSync(c->pg))
        goto broken;
    if (flush_output(c) != 0)
        goto broken;
    return 0;
broken:
    if (c->prepare_sent)
        c->prepared &= ~bit;
    break_connection(c);
    return -1;
}

/* Keeps the one result that answers the query: the Execute's, or the Prepare's error
 * when the Prepare failed (the Execute then reports PIPELINE_ABORTED). */
static void keep_result(tq_pgconn *c, PGresult *res)
{
    bool from_prepare = c->prepare_sent && c->entry == 0;
    if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED || (from_prepare && PQresultStatus(res) != PGRES_FATAL_ERROR) ||
        c->result != NULL) {
        PQclear(res);
        return;
    }
    c->result = res;
}

static void finish_query(tq_pgconn *c)
{
    PGresult *out = c->result;
    c->result = NULL;
    if (out != NULL && PQresultStatus(out) == PGRES_FATAL_ERROR && c->prepare_sent && c->entry <= 1)
        c->prepared = 0; /* the Prepare failed: nothing can be assumed prepared */
    c->state = TQ_PGCONN_IDLE;
    c->ops->on_result(c->owner, out, out == NULL ? "no result" : NULL);
}

/* Reads results up to the Sync that closes the current query. Each pipeline entry ends
 * with a NULL from PQgetResult; two NULLs in a row mean libpq has nothing queued. */
static void drain_results(tq_pgconn *c)
{
    int nulls = 0;
    while (c->state == TQ_PGCONN_BUSY && !PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (res == NULL) {
            if (++nulls > 1)
                return;
            c->entry++;
            continue;
        }
        nulls = 0;
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            finish_query(c);
            return;
        }
        keep_result(c, res);
    }
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
    tq_pgconn *c = sock->data;
    if (err != NULL || !PQconsumeInput(c->pg)) {
        break_connection(c);
        return;
    }
    /* notifications are not used on pooled connections; drop any */
    PGnotify *n;
    while ((n = PQnotifies(c->pg)) != NULL)
        PQfreemem(n);
    if (c->state == TQ_PGCONN_BUSY) {
        drain_results(c);
    } else if (PQstatus(c->pg) == CONNECTION_BAD) {
        break_connection(c);
    }
}

void tq_pgconn_cancel(tq_pgconn *c)
{
    if (c->state == TQ_PGCONN_BUSY)
        pgconn_cancel_submit(PQgetCancel(c->pg));
}

/* ---- ownership ---- */

bool tq_pgconn_reusable(const tq_pgconn *c)
{
    (void)c;
    return true;
}

tq_pgconn_state tq_pgconn_get_state(const tq_pgconn *c)
{
    return c->state;
}

void tq_pgconn_detach(tq_pgconn *c)
{
    unwrap_socket(c);
}

int tq_pgconn_attach(tq_pgconn *c, const tq_pgconn_loop *l)
{
    c->loop = l;
    if (c->state == TQ_PGCONN_BROKEN)
        return -1;
    wrap_socket(c);
    if (c->sock == NULL) {
        c->state = TQ_PGCONN_BROKEN;
        return -1;
    }
    h2o_socket_read_start(c->sock, on_readable);
    return 0;
}

/* ---- closing so that the server has let go ----
 * done runs before the connection is freed: the owner may still unlink it from its lists */

static void finish_graceful_close(tq_pgconn *c)
{
    c->on_closed(c->on_closed_data);
    tq_pgconn_close(c);
}

static void on_closing_readable(h2o_socket_t *sock, const char *err)
{
    tq_pgconn *c = sock->data;
    /* the socket is watched, not read, by h2o (libpq reads it): drain it here; what the
     * server still says is of no interest, its end of the socket closing is */
    char buf[512];
    ssize_t n;
    while ((n = recv(PQsocket(c->pg), buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        ;
    if (err != NULL || n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        finish_graceful_close(c);
}

static void on_close_timeout(h2o_timeout_entry_t *entry)
{
    finish_graceful_close(H2O_STRUCT_FROM_MEMBER(tq_pgconn, deferred, entry));
}

void tq_pgconn_close_gracefully(tq_pgconn *c, void (*done)(void *data), void *data)
{
    c->on_closed = done;
    c->on_closed_data = data;
    if (c->sock == NULL || c->state == TQ_PGCONN_BROKEN || PQsocket(c->pg) < 0) {
        finish_graceful_close(c);
        return;
    }
    /* end of input makes the backend exit; it closes its end only after leaving
     * pg_stat_activity, so the socket's EOF tells that the server slot is free */
    c->state = TQ_PGCONN_BROKEN;
    shutdown(PQsocket(c->pg), SHUT_WR);
    h2o_socket_read_stop(c->sock);
    h2o_socket_read_start(c->sock, on_closing_readable);
    if (h2o_timeout_is_linked(&c->deferred))
        h2o_timeout_unlink(&c->deferred);
    c->deferred.cb = on_close_timeout;
    h2o_timeout_link(c->loop->loop, c->loop->linger, &c->deferred);
}

void tq_pgconn_close(tq_pgconn *c)
{
    if (h2o_timeout_is_linked(&c->deferred))
        h2o_timeout_unlink(&c->deferred);
    unwrap_socket(c);
    if (c->result != NULL)
        PQclear(c->result);
    PQfinish(c->pg);
    free(c);
}
