/*
 * pgconn_harness.h - what the tq_pgconn unit tests share: one bare h2o loop, connections
 * that record their callbacks, and running a statement to its answer. Header-only, for
 * one test file each (its state is that file's).
 */
#ifndef TQ_PGCONN_HARNESS_H
#define TQ_PGCONN_HARNESS_H

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "tenantql/pg_admin.h"
#include "tenantql/pgconn.h"
#include "tq_test.h"
#include "tq_test_pg.h"

static h2o_loop_t *loop;
static h2o_timeout_t zero_timeout, linger_timeout;
static tq_pgconn_loop pl;
static char sockdir[PATH_MAX], port_text[16];

typedef struct conn {
    tq_pgconn *pg;
    int connected; /* 1 ok, -1 failed */
    int results;
    PGresult *res;
} conn;

static void on_connected(void *owner, bool ok, const char *errmsg)
{
    conn *c = owner;
    c->connected = ok ? 1 : -1;
    if (!ok)
        fprintf(stderr, "connect: %s\n", errmsg);
}

static void on_result(void *owner, PGresult *res, const char *errmsg)
{
    conn *c = owner;
    c->results++;
    c->res = res;
    if (res == NULL)
        fprintf(stderr, "query: %s\n", errmsg);
}

static void on_lost(void *owner, const char *errmsg)
{
    (void)owner;
    fprintf(stderr, "lost: %s\n", errmsg);
}

static const tq_pgconn_ops ops = {on_connected, on_result, on_lost};

/* Starts the test's cluster (see tq_test_pg.h), points sockdir and port_text at it and
 * connects *admin as its superuser to database postgres; -1 when the cluster did not start. */
static inline int cluster_start(tq_test_pg *pg, const char *prefix, PGconn **admin)
{
    char err[512];
    if (tq_test_pg_start(pg, prefix) != 0)
        return -1;
    snprintf(sockdir, sizeof(sockdir), "%s", pg->cluster.sockdir);
    snprintf(port_text, sizeof(port_text), "%s", pg->port_text);
    char conninfo[PATH_MAX + 128];
    tq_pg_cluster_conninfo(&pg->cluster, "postgres", conninfo, sizeof(conninfo));
    *admin = tq_pg_connect(conninfo, err, sizeof(err));
    CHECK(*admin != NULL);
    return 0;
}

static inline void loop_start(void)
{
    loop = h2o_evloop_create();
    h2o_timeout_init(loop, &zero_timeout, 0);
    h2o_timeout_init(loop, &linger_timeout, TQ_PGCONN_LINGER_MS);
    pl = (tq_pgconn_loop){loop, &zero_timeout, &linger_timeout};
}

static inline void loop_stop(void)
{
    h2o_timeout_dispose(loop, &zero_timeout);
    h2o_timeout_dispose(loop, &linger_timeout);
    h2o_evloop_destroy(loop);
    tq_pgconn_cancel_shutdown();
}

static inline void run_until(const int *flag, int want)
{
    for (int i = 0; i < 1000 && *flag != want; i++)
        h2o_evloop_run(loop, 10);
}

/* Connects c to database postgres of the test's cluster as user. */
static inline void open_conn_as(conn *c, const char *user)
{
    memset(c, 0, sizeof(*c));
    const char *keywords[] = {"host", "port", "user", "dbname", NULL};
    const char *values[] = {sockdir, port_text, user, "postgres", NULL};
    c->pg = tq_pgconn_connect(&pl, keywords, values, &ops, c);
    CHECK(c->pg != NULL);
    run_until(&c->connected, 1);
    CHECK(c->connected == 1);
}

/* Runs stmt and returns its result (the caller PQclears), NULL when the connection broke. */
static inline PGresult *run(conn *c, const tq_stmt *stmt, const tq_stmt_scope *sc, const char *param)
{
    const char *params[1] = {param};
    int before = c->results;
    c->res = NULL;
    if (tq_pgconn_send(c->pg, stmt, sc, params) != 0)
        return NULL;
    run_until(&c->results, before + 1);
    return c->res;
}

/* The first column of the one row, or the error's SQLSTATE prefixed with '!'; valid until
 * the next call. */
static inline const char *answer(conn *c, const tq_stmt *stmt, const tq_stmt_scope *sc, const char *param)
{
    static char out[2048];
    PGresult *res = run(c, stmt, sc, param);
    if (res == NULL)
        snprintf(out, sizeof(out), "!broken");
    else if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(out, sizeof(out), "%s", PQgetvalue(res, 0, 0));
    else if (PQresultStatus(res) == PGRES_FATAL_ERROR)
        snprintf(out, sizeof(out), "!%s", PQresultErrorField(res, PG_DIAG_SQLSTATE));
    else
        snprintf(out, sizeof(out), "?%s", PQresStatus(PQresultStatus(res)));
    PQclear(res);
    return out;
}

#endif
