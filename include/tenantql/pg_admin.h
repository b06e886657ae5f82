/*
 * pg_admin.h - blocking libpq helpers for the command line and for start-up. Never call
 * these from a worker thread's event loop: request-time database work goes through the
 * asynchronous pool (pool.h).
 */
#ifndef TENANTQL_PG_ADMIN_H
#define TENANTQL_PG_ADMIN_H

#include <libpq-fe.h>
#include <stddef.h>

/* Connects with keyword/value arrays (NULL-terminated); returns NULL and fills err. The
 * caller PQfinishes the connection (likewise for tq_pg_connect). */
PGconn *tq_pg_connect_params(const char *const *keywords, const char *const *values, char *err, size_t errlen);
/* Connects with a conninfo string or URI. */
PGconn *tq_pg_connect(const char *conninfo, char *err, size_t errlen);
/* Connects to database db on host:port as user (a tenant's registry row, say), with a
 * 10-second connect timeout; NULL with err filled. The caller PQfinishes it. */
PGconn *tq_pg_connect_db(const char *host, const char *port, const char *db, const char *user, const char *password,
                         char *err, size_t errlen);

/* Runs one or more statements with no parameters; 0 on success. */
int tq_pg_exec(PGconn *conn, const char *sql, char *err, size_t errlen);
/* Runs a parameterised statement (text parameters); returns the result (caller PQclears)
 * or NULL with err filled. */
PGresult *tq_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
                      size_t errlen);

/* Copies libpq's last error without its trailing newline. */
void tq_pg_copy_error(const char *msg, char *err, size_t errlen);

/* ---- libpq's notices (any connection, blocking or not) ---- */

/* Sends conn's notices to the log instead of libpq's default (raw text on stderr): the
 * server's NOTICE and WARNING messages, and errors that arrive while no query runs (such
 * as "FATAL: terminating connection due to administrator command"), each one line with
 * the database's name, at a level from its severity. For the server's connections; the
 * command line keeps its own quiet handler (tq_pg_connect). Any thread. */
void tq_pg_log_notices(PGconn *conn);

#endif
