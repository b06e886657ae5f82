/*
 * pg_admin.c - blocking libpq helpers (see pg_admin.h).
 */
#include "tenantql/pg_admin.h"

#include <stdio.h>
#include <string.h>

#include "tenantql/log.h"

void tq_pg_copy_error(const char *msg, char *err, size_t errlen)
{
    if (err == NULL || errlen == 0)
        return;
    snprintf(err, errlen, "%s", msg ? msg : "unknown error");
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

/* The log level of a notice: server chatter is debug, what may need an operator warn. */
static tq_log_level notice_level(const char *severity)
{
    if (severity == NULL)
        return TQ_LOG_WARN;
    if (strcmp(severity, "DEBUG") == 0 || strcmp(severity, "LOG") == 0)
        return TQ_LOG_DEBUG;
    if (strcmp(severity, "INFO") == 0 || strcmp(severity, "NOTICE") == 0)
        return TQ_LOG_INFO;
    return TQ_LOG_WARN; /* WARNING, and ERROR/FATAL/PANIC arriving outside a query */
}

static void log_notice(void *arg, const PGresult *res)
{
    PGconn *conn = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *shown = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *db = PQdb(conn);
    if (msg == NULL) {
        /* libpq's own notices may carry only the whole text ("SEVERITY:  message\n") */
        msg = PQresultErrorMessage(res);
        shown = NULL;
    }
    tq_log(notice_level(severity), "db", "%s: %s%s%.*s", db != NULL && *db ? db : "?", shown ? shown : "",
           shown ? ": " : "", (int)strcspn(msg, "\n"), msg);
}

void tq_pg_log_notices(PGconn *conn)
{
    PQsetNoticeReceiver(conn, log_notice, conn);
}

static PGconn *check_connected(PGconn *conn, char *err, size_t errlen)
{
    if (conn == NULL) {
        tq_pg_copy_error("out of memory", err, errlen);
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        tq_pg_copy_error(PQerrorMessage(conn), err, errlen);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* keeps server notices ("relation already exists, skipping") out of the CLI output */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *tq_pg_connect_params(const char *const *keywords, const char *const *values, char *err, size_t errlen)
{
    PGconn *conn = check_connected(PQconnectdbParams(keywords, values, 0), err, errlen);
    if (conn != NULL)
        PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

PGconn *tq_pg_connect(const char *conninfo, char *err, size_t errlen)
{
    const char *k[] = {"dbname", "application_name", NULL};
    const char *v[] = {conninfo, "tenantql", NULL};
    /* expand_dbname: conninfo may be a URI or "key=value" string */
    PGconn *conn = check_connected(PQconnectdbParams(k, v, 1), err, errlen);
    if (conn != NULL)
        PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

PGconn *tq_pg_connect_db(const char *host, const char *port, const char *db, const char *user, const char *password,
                         char *err, size_t errlen)
{
    const char *k[] = {"host", "port", "dbname", "user", "password", "application_name", "connect_timeout", NULL};
    const char *v[] = {host, port, db, user, password, "tenantql", "10", NULL};
    return tq_pg_connect_params(k, v, err, errlen);
}

int tq_pg_exec(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok)
        tq_pg_copy_error(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), err, errlen);
    PQclear(res);
    return ok ? 0 : -1;
}

PGresult *tq_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
                      size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    tq_pg_copy_error(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), err, errlen);
    PQclear(res);
    return NULL;
}
