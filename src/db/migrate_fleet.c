/*
 * migrate_fleet.c - tq_migrate_all (see migrate.h): every tenant of the registry brought to
 * the newest migration by a few threads, each tenant's outcome recorded in its registry
 * row.
 *
 * The registry's tenants are listed once, those of one shared database next to each
 * other; the ones to visit go into an array that the threads take from through one atomic
 * cursor, so that neighbours (same database) tend to go to the same thread and reuse its
 * connection. A canary phase is the same with the cursor's end set to the canary count.
 * Every thread owns its connections (one registry, at most one tenant database at a time):
 * nothing is shared but the listing (read only), the cursor, and the callback lock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/clock.h"
#include "tenantql/migrate.h"
#include "tenantql/pg_admin.h"
#include "tenantql/secret.h"

/* the registry's tenants, those sharing a database next to each other; the columns of
 * later registry migrations by way of to_jsonb, so that a dry run against a registry not
 * migrated yet still lists them (NULL: database placement, public, version unknown) */
#define SELECT_FLEET                                                                                                   \
    "SELECT name, db_host, db_port::text, db_name, db_user, db_password, (to_jsonb(t) ->> 'placement'),"               \
    " (to_jsonb(t) ->> 'db_schema'), (to_jsonb(t) ->> 'schema_version'), (to_jsonb(t) ->> 'migrating')"                \
    " FROM tenants t ORDER BY db_host, db_port, db_name, db_user, db_password, name"
enum {
    COL_NAME,
    COL_HOST,
    COL_PORT,
    COL_DB,
    COL_USER,
    COL_PASSWORD,
    COL_PLACEMENT,
    COL_SCHEMA,
    COL_VERSION,
    COL_MIGRATING
};

#define SET_MIGRATING "UPDATE tenants SET migrating = true WHERE name = $1"
/* one statement for the outcome; a version not known after a failure keeps the row's */
#define RECORD_OUTCOME                                                                                                 \
    "UPDATE tenants SET migrating = false, schema_version = coalesce($2::integer, schema_version),"                    \
    " migrated_at = now(), migrate_error = $3 WHERE name = $1"

#define ERROR_MAX 300 /* migrate_error and the report keep this much of a message */

typedef struct fleet {
    const tq_migrate_fleet *opt;
    PGresult *rows;
    int *order; /* the rows to visit, in listing order */
    int nvisit;
    int latest;
    atomic_int next;      /* index into order of the next tenant to take */
    int end;              /* the current phase ends before this index */
    pthread_mutex_t lock; /* the callbacks and sum */
    tq_migrate_summary *sum;
} fleet;

/* One thread's connections. conn_row is the row conn was made for (-1: none); a
 * database that could not be reached is not tried again for the next tenant in it (a
 * thousand tenants of an unreachable server would wait out a thousand timeouts). */
typedef struct worker {
    fleet *f;
    pthread_t thread;
    PGconn *registry; /* NULL in a dry run */
    PGconn *conn;
    int conn_row;
    char conn_err[512];
} worker;

/* Whether two stored passwords are one: sealed forms of one password differ (a random
 * nonce each), so they are compared opened. */
static bool same_password(const char *x, const char *y)
{
    if (strcmp(x, y) == 0)
        return true;
    char err[256];
    char *px = tq_secret_reveal(x, err, sizeof(err));
    char *py = px != NULL ? tq_secret_reveal(y, err, sizeof(err)) : NULL;
    bool same = py != NULL && strcmp(px, py) == 0;
    tq_secret_free(px);
    tq_secret_free(py);
    return same;
}

static bool same_database(PGresult *rows, int a, int b)
{
    for (int c = COL_HOST; c < COL_PASSWORD; c++)
        if (strcmp(PQgetvalue(rows, a, c), PQgetvalue(rows, b, c)) != 0)
            return false;
    return same_password(PQgetvalue(rows, a, COL_PASSWORD), PQgetvalue(rows, b, COL_PASSWORD));
}

static PGconn *connect_for(worker *w, int r)
{
    PGresult *rows = w->f->rows;
    if (w->conn_row >= 0 && same_database(rows, w->conn_row, r))
        return w->conn;
    if (w->conn != NULL)
        PQfinish(w->conn);
    w->conn_row = r;
    /* the row's password in whatever form it is stored (sealed, a reference, plain) */
    char why[256];
    char *password = tq_secret_reveal(PQgetvalue(rows, r, COL_PASSWORD), why, sizeof(why));
    if (password == NULL) {
        snprintf(w->conn_err, sizeof(w->conn_err), "its database password cannot be used: %s", why);
        w->conn = NULL;
        return NULL;
    }
    w->conn = tq_pg_connect_db(PQgetvalue(rows, r, COL_HOST), PQgetvalue(rows, r, COL_PORT),
                               PQgetvalue(rows, r, COL_DB), PQgetvalue(rows, r, COL_USER), password, w->conn_err,
                               sizeof(w->conn_err));
    tq_secret_free(password);
    return w->conn;
}

/* After a tenant failed: a connection that broke, or is left inside a transaction, is
 * not handed to the next tenant. */
static void check_conn(worker *w)
{
    if (w->conn == NULL)
        return;
    if (PQstatus(w->conn) == CONNECTION_OK && PQtransactionStatus(w->conn) != PQTRANS_IDLE)
        tq_pg_exec(w->conn, "ROLLBACK", NULL, 0);
    if (PQstatus(w->conn) != CONNECTION_OK || PQtransactionStatus(w->conn) != PQTRANS_IDLE) {
        PQfinish(w->conn);
        w->conn = NULL;
        w->conn_row = -1;
    }
}

/* A message fit for migrate_error and the report: its first line, at most ERROR_MAX
 * bytes. libpq's and PostgreSQL's messages name hosts, ports, users and objects, never a
 * password; no conninfo string ever reaches here. */
static void short_error(char *dst, size_t dstlen, const char *prefix, const char *msg)
{
    size_t n = strcspn(msg, "\n");
    if (n > ERROR_MAX)
        n = ERROR_MAX;
    snprintf(dst, dstlen, "%s%.*s", prefix, (int)n, msg);
}

/* The row's registry statement on this thread's registry connection; -1 with err. A
 * broken connection is made again once, for this statement. */
static int registry_update(worker *w, const char *sql, int nparams, const char *const *params, char *err, size_t errlen)
{
    if (PQstatus(w->registry) != CONNECTION_OK) {
        PQfinish(w->registry);
        w->registry = tq_pg_connect(w->f->opt->registry, err, errlen);
        if (w->registry == NULL)
            return -1;
    }
    PGresult *res = tq_pg_query(w->registry, sql, nparams, params, err, errlen);
    PQclear(res);
    return res != NULL ? 0 : -1;
}

static void report(fleet *f, const tq_migrate_result *res)
{
    pthread_mutex_lock(&f->lock);
    if (res->error != NULL)
        f->sum->failed++;
    else if (res->applied > 0)
        f->sum->migrated++;
    else
        f->sum->current++;
    if (f->opt->on_tenant != NULL)
        f->opt->on_tenant(f->opt->ctx, res);
    pthread_mutex_unlock(&f->lock);
}

/* Applies what is pending to the tenant of row r through conn, between the two registry
 * statements; fills res (error into errbuf). */
static void migrate_row(worker *w, int r, PGconn *conn, tq_migrate_result *res, char *errbuf, size_t errlen)
{
    PGresult *rows = w->f->rows;
    const char *schema = PQgetisnull(rows, r, COL_SCHEMA) ? NULL : PQgetvalue(rows, r, COL_SCHEMA);
    bool schema_placed = !PQgetisnull(rows, r, COL_PLACEMENT) &&
                         strcmp(PQgetvalue(rows, r, COL_PLACEMENT), "schema") == 0;
    const char *name = res->tenant;
    char detail[512];
    if (registry_update(w, SET_MIGRATING, 1, &name, detail, sizeof(detail)) != 0) {
        short_error(errbuf, errlen, "registry: ", detail);
        res->error = errbuf;
        return;
    }
    int n = schema_placed ? tq_migrate_schema(conn, TQ_MIGRATIONS_TENANT, schema, detail, sizeof(detail))
                          : tq_migrate(conn, TQ_MIGRATIONS_TENANT, detail, sizeof(detail));
    if (n >= 0) {
        res->applied = n;
        res->to = res->from + n;
        return;
    }
    short_error(errbuf, errlen, "", detail);
    res->error = errbuf;
    check_conn(w);
    /* where it stopped: each migration commits on its own */
    if (w->conn != NULL)
        res->to = tq_migrate_version(w->conn, schema_placed ? schema : NULL, detail, sizeof(detail));
}

/* Records res in the tenant's row (not in a dry run); a failure to record is the
 * tenant's failure too. */
static void record(worker *w, tq_migrate_result *res, char *errbuf, size_t errlen)
{
    if (w->f->opt->dry_run)
        return;
    char version[16], detail[512];
    snprintf(version, sizeof(version), "%d", res->to);
    const char *params[] = {res->tenant, res->to >= 0 ? version : NULL, res->error};
    if (registry_update(w, RECORD_OUTCOME, 3, params, detail, sizeof(detail)) == 0)
        return;
    if (res->error == NULL) {
        short_error(errbuf, errlen, "registry: ", detail);
        res->error = errbuf;
    }
}

/* One tenant: connect (or reuse), read its version, migrate what is pending, record. */
static void visit(worker *w, int r)
{
    fleet *f = w->f;
    uint64_t t0 = tq_clock_ms();
    char errbuf[ERROR_MAX + 32], detail[512];
    tq_migrate_result res = {.tenant = PQgetvalue(f->rows, r, COL_NAME), .from = -1, .to = -1};
    bool schema_placed = !PQgetisnull(f->rows, r, COL_PLACEMENT) &&
                         strcmp(PQgetvalue(f->rows, r, COL_PLACEMENT), "schema") == 0;
    PGconn *conn = connect_for(w, r);
    if (conn == NULL) {
        short_error(errbuf, sizeof(errbuf), "", w->conn_err);
        res.error = errbuf;
    } else {
        res.from = tq_migrate_version(conn, schema_placed ? PQgetvalue(f->rows, r, COL_SCHEMA) : NULL, detail,
                                      sizeof(detail));
        if (res.from < 0) {
            short_error(errbuf, sizeof(errbuf), "", detail);
            res.error = errbuf;
            check_conn(w);
        } else if (f->opt->dry_run) {
            res.to = res.from < f->latest ? f->latest : res.from;
            res.applied = res.to - res.from;
        } else if (res.from < f->latest) {
            migrate_row(w, r, conn, &res, errbuf, sizeof(errbuf));
        } else {
            res.to = res.from; /* current (or newer than this build): nothing to take the tenant out of service for */
        }
    }
    record(w, &res, errbuf, sizeof(errbuf));
    res.ms = (long)(tq_clock_ms() - t0);
    report(f, &res);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    fleet *f = w->f;
    for (;;) {
        if (f->opt->stop != NULL && *f->opt->stop)
            break;
        int i = atomic_fetch_add(&f->next, 1);
        if (i >= f->end)
            break;
        visit(w, f->order[i]);
    }
    return NULL;
}

/* Visits order[begin..end) with up to opt->parallel threads; returns when all are done. */
static void run_phase(fleet *f, worker *workers, int begin, int end)
{
    if (end <= begin)
        return; /* nothing to visit: no worker was made */
    atomic_store(&f->next, begin);
    f->end = end;
    int n = f->opt->parallel < end - begin ? f->opt->parallel : end - begin, started = 0;
    for (int i = 1; i < n; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) == 0)
            started = i;
        else
            break;
    worker_main(&workers[0]); /* this thread is the first worker (and the only one if none started) */
    for (int i = 1; i <= started; i++)
        pthread_join(workers[i].thread, NULL);
}

/* Whether row r needs a visit: not when its row says current and not migrating (unless
 * recheck). */
static bool needs_visit(const fleet *f, int r)
{
    if (f->opt->recheck || PQgetisnull(f->rows, r, COL_VERSION))
        return true;
    bool migrating = !PQgetisnull(f->rows, r, COL_MIGRATING) &&
                     strcmp(PQgetvalue(f->rows, r, COL_MIGRATING), "true") == 0;
    return migrating || atoi(PQgetvalue(f->rows, r, COL_VERSION)) != f->latest;
}

/* The registry itself: migrated (or, in a dry run, its version read). */
static int migrate_registry(PGconn *registry, const tq_migrate_fleet *opt, tq_migrate_summary *sum, char *err,
                            size_t errlen)
{
    sum->registry_to = tq_migrate_latest_version(TQ_MIGRATIONS_REGISTRY);
    sum->registry_from = tq_migrate_version(registry, NULL, err, errlen);
    if (sum->registry_from < 0)
        return -1;
    if (opt->dry_run) {
        sum->registry_applied = sum->registry_from < sum->registry_to ? sum->registry_to - sum->registry_from : 0;
        return 0;
    }
    sum->registry_applied = tq_migrate(registry, TQ_MIGRATIONS_REGISTRY, err, errlen);
    return sum->registry_applied < 0 ? -1 : 0;
}

/* Opens every worker's registry connection (none in a dry run); -1 with err. */
static int open_workers(worker *workers, int n, fleet *f, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        workers[i] = (worker){.f = f, .conn_row = -1};
        if (!f->opt->dry_run && (workers[i].registry = tq_pg_connect(f->opt->registry, err, errlen)) == NULL)
            return -1;
    }
    return 0;
}

static void close_workers(worker *workers, int n)
{
    for (int i = 0; i < n; i++) {
        if (workers[i].registry != NULL)
            PQfinish(workers[i].registry);
        if (workers[i].conn != NULL)
            PQfinish(workers[i].conn);
    }
}

/* Lists the tenants, picks those to visit, and runs the canary phase, then the rest. */
static int migrate_tenants(PGconn *registry, fleet *f, char *err, size_t errlen)
{
    f->rows = tq_pg_query(registry, SELECT_FLEET, 0, NULL, err, errlen);
    if (f->rows == NULL)
        return -1;
    int total = PQntuples(f->rows);
    f->sum->total = total;
    f->order = malloc(sizeof(int) * (size_t)(total > 0 ? total : 1));
    for (int r = 0; r < total; r++)
        if (needs_visit(f, r))
            f->order[f->nvisit++] = r;
    f->sum->skipped = total - f->nvisit;
    int nworkers = f->opt->parallel < f->nvisit ? f->opt->parallel : f->nvisit;
    worker *workers = calloc((size_t)(nworkers > 0 ? nworkers : 1), sizeof(worker));
    int rc = open_workers(workers, nworkers, f, err, errlen);
    if (rc == 0) {
        if (f->opt->on_plan != NULL)
            f->opt->on_plan(f->opt->ctx, total, f->nvisit);
        int canary = f->opt->canary > 0 && f->opt->canary < f->nvisit ? f->opt->canary : 0;
        if (canary > 0)
            run_phase(f, workers, 0, canary);
        if (canary > 0 && f->sum->failed > 0) {
            f->sum->canary_failed = true;
            f->sum->untouched = f->nvisit - canary;
        } else {
            run_phase(f, workers, canary, f->nvisit);
        }
        int visited = f->sum->migrated + f->sum->current + f->sum->failed;
        if (!f->sum->canary_failed && visited < f->nvisit) {
            f->sum->stopped = true;
            f->sum->untouched = f->nvisit - visited;
        }
    }
    close_workers(workers, nworkers);
    free(workers);
    free(f->order);
    PQclear(f->rows);
    return rc;
}

int tq_migrate_all(const tq_migrate_fleet *opt, tq_migrate_summary *sum, char *err, size_t errlen)
{
    *sum = (tq_migrate_summary){0};
    if (opt->parallel < TQ_MIGRATE_PARALLEL_MIN || opt->parallel > TQ_MIGRATE_PARALLEL_MAX) {
        snprintf(err, errlen, "parallel must be %d..%d", TQ_MIGRATE_PARALLEL_MIN, TQ_MIGRATE_PARALLEL_MAX);
        return -1;
    }
    uint64_t t0 = tq_clock_ms();
    PGconn *registry = tq_pg_connect(opt->registry, err, errlen);
    if (registry == NULL)
        return -1;
    fleet f = {.opt = opt, .latest = tq_migrate_latest_version(TQ_MIGRATIONS_TENANT), .sum = sum};
    pthread_mutex_init(&f.lock, NULL);
    int rc = migrate_registry(registry, opt, sum, err, errlen);
    if (rc == 0)
        rc = migrate_tenants(registry, &f, err, errlen);
    pthread_mutex_destroy(&f.lock);
    PQfinish(registry);
    sum->ms = (long)(tq_clock_ms() - t0);
    return rc;
}
