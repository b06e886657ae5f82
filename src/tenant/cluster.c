/*
 * cluster.c - this process as one of several sharing a registry (see cluster.h and
 * schema/registry/007_instances.sql).
 *
 * Every heartbeat is one transaction under an advisory lock that all processes take, so
 * they read and change the `instances` table one at a time: delete the rows of dead
 * processes, renew this one's, count the live ones (N) and add up the others' claims.
 * The share is floor(cap / N), at least 1. A share that shrank is applied before the
 * transaction ends (lowering is always safe); a share that grew is taken only as far as
 * the others' claims leave room, and applied only once the transaction that raised this
 * process's claim has committed. Each claim is at least what its process has open or
 * may open, so the connections of all processes together never exceed the cap, joins and
 * deaths included (README, "Several processes", says what is assumed).
 *
 * The thread heartbeats every timeout / 3 and also at once (at most every
 * MIN_GAP_MS) when another process announces a change on tenantql_instances.
 */
#include "tenantql/cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool_internal.h"
#include "tenantql/clock.h"
#include "tenantql/log.h"
#include "tenantql/pg_admin.h"
#include "tenantql/uuid.h"
#include "tenantql/thread.h"

#define MIN_GAP_MS 100 /* between heartbeats that notifications ask for */
#define RECONNECT_DELAY_MS 500
/* pg_advisory_xact_lock's key: every process serializes its heartbeat on it */
#define LOCK_KEY "7305672127394918415"

static struct {
    atomic_bool on;
    atomic_bool detached; /* the cap no longer moves (shutdown) */
    atomic_int instances;
    atomic_int target;
    atomic_ulong failures;
    tq_cluster_options opts;
    char *conninfo;
    char id[TQ_UUID_TEXT_SIZE];
    char host[256];
    char pid[16];
    PGconn *conn; /* the thread's (the caller's during join) */
    int last_claim, last_instances;
    bool warned_mismatch;
    pthread_t thread;
    bool thread_started;
    int stop_pipe[2];
} cl = {.instances = 1, .target = -1, .stop_pipe = {-1, -1}};

bool tq_cluster_on(void)
{
    return atomic_load(&cl.on);
}

int tq_cluster_instances(void)
{
    return atomic_load(&cl.instances);
}

int tq_cluster_target(void)
{
    return atomic_load(&cl.target);
}

int tq_cluster_share(void)
{
    return tq_cluster_on() ? cap_max() : -1;
}

unsigned long tq_cluster_heartbeat_failures(void)
{
    return atomic_load(&cl.failures);
}

static int connect_registry(char *err, size_t errlen)
{
    cl.conn = tq_pg_connect(cl.conninfo, err, errlen);
    if (cl.conn == NULL)
        return -1;
    tq_pg_log_notices(cl.conn);
    char sql[160];
    /* a process stopped while holding the lock must not stop the others for long */
    snprintf(sql, sizeof(sql), "SET lock_timeout = %d; SET statement_timeout = %d; LISTEN tenantql_instances",
             cl.opts.timeout_ms / 3, cl.opts.timeout_ms);
    if (tq_pg_exec(cl.conn, sql, err, errlen) != 0) {
        PQfinish(cl.conn);
        cl.conn = NULL;
        return -1;
    }
    return 0;
}

/* One value of a one-row result, as an integer. */
static int int_at(PGresult *res, int col)
{
    return atoi(PQgetvalue(res, 0, col));
}

/* Runs sql with params; the result's first row's columns into out (up to n), or -1. */
static int query_ints(const char *sql, int nparams, const char *const *params, int *out, int n, char *err,
                      size_t errlen)
{
    PGresult *res = tq_pg_query(cl.conn, sql, nparams, params, err, errlen);
    if (res == NULL)
        return -1;
    for (int i = 0; i < n && PQntuples(res) > 0 && i < PQnfields(res); i++)
        out[i] = int_at(res, i);
    PQclear(res);
    return 0;
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

/* The cap this process may take with n live processes and the others claiming `others`:
 * lower at once, higher only as far as there is room. */
static int next_cap(int target, int current, int others)
{
    if (target <= current)
        return target;
    int room = cl.opts.max_connections - others;
    return max_int(current, room < target ? room : target);
}

/* What a heartbeat reads under the lock. */
typedef struct census {
    int dead;     /* rows of dead processes it deleted */
    bool renewed; /* false: this process's row was made (at join, or after the others took it for dead) */
    int live;     /* live processes, this one included */
    int others;   /* the other live processes' claims, added up */
    int mismatch; /* processes with another cluster cap */
} census;

/* Deletes the dead's rows, renews this process's (or makes it again, claiming what it
 * has), and counts. */
static int take_census(census *c, char *err, size_t errlen)
{
    char timeout[16], cmax[16], claim_now[16];
    snprintf(timeout, sizeof(timeout), "%d", cl.opts.timeout_ms);
    snprintf(cmax, sizeof(cmax), "%d", cl.opts.max_connections);
    snprintf(claim_now, sizeof(claim_now), "%d", max_int(cap_max(), cap_open_connections()));
    const char *p_dead[] = {cl.id, timeout};
    const char *p_me[] = {cl.id, cl.host, cl.pid, cmax, claim_now};
    const char *p_count[] = {cl.id, cmax};
    int inserted = 0, counts[3] = {1, 0, 0};
    if (query_ints("WITH d AS (DELETE FROM instances WHERE id <> $1"
                   " AND heartbeat_at < now() - make_interval(secs => $2::int / 1000.0) RETURNING 1)"
                   " SELECT count(*) FROM d",
                   2, p_dead, &c->dead, 1, err, errlen) != 0 ||
        query_ints("INSERT INTO instances (id, host, pid, cluster_max, claim) VALUES ($1, $2, $3, $4, $5)"
                   " ON CONFLICT (id) DO UPDATE SET heartbeat_at = now() RETURNING (xmax = 0)::int",
                   5, p_me, &inserted, 1, err, errlen) != 0 ||
        query_ints("SELECT count(*), coalesce(sum(claim) FILTER (WHERE id <> $1), 0),"
                   " count(*) FILTER (WHERE cluster_max <> $2::int) FROM instances",
                   2, p_count, counts, 3, err, errlen) != 0)
        return -1;
    c->renewed = !inserted;
    c->live = max_int(counts[0], 1);
    c->others = counts[1];
    c->mismatch = counts[2];
    return 0;
}

/* Writes this process's claim and what it counted, and announces a change. */
static int write_claim(int claim, int live, bool announce, char *err, size_t errlen)
{
    char claim_s[16], n_s[16];
    snprintf(claim_s, sizeof(claim_s), "%d", claim);
    snprintf(n_s, sizeof(n_s), "%d", live);
    const char *p[] = {cl.id, claim_s, n_s};
    PGresult *res = tq_pg_query(cl.conn, "UPDATE instances SET claim = $2, instances = $3 WHERE id = $1", 3, p, err,
                                errlen);
    if (res == NULL)
        return -1;
    PQclear(res);
    if (!announce)
        return 0;
    res = tq_pg_query(cl.conn, "SELECT pg_notify('tenantql_instances', $1)", 1, p, err, errlen);
    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

static void log_census(const census *c, int target)
{
    if (c->mismatch > 0 && !cl.warned_mismatch)
        tq_log_warn("cluster",
                    "%d other process(es) run with another --cluster-max-connections than %d: the cap holds only "
                    "if every process has the same",
                    c->mismatch, cl.opts.max_connections);
    cl.warned_mismatch = c->mismatch > 0;
    if (c->dead > 0)
        tq_log_info("cluster", "%d process(es) without a heartbeat for %d ms taken for dead", c->dead,
                    cl.opts.timeout_ms);
    if (c->live != cl.last_instances)
        tq_log_info("cluster", "%d live process(es): a share of %d connection(s) of %d", c->live, target,
                    cl.opts.max_connections);
}

/* The transaction's statements, after BEGIN and the lock; *raise_to set (else -1) when the
 * cap may grow once it commits. */
static int heartbeat_locked(int *raise_to, char *err, size_t errlen)
{
    census c;
    if (take_census(&c, err, errlen) != 0)
        return -1;
    int target = max_int(cl.opts.max_connections / c.live, 1);
    int current = cap_max();
    int next = atomic_load(&cl.detached) ? current : next_cap(target, current, c.others);
    if (next < current)
        cap_set_max(next); /* before the claim is written: it must cover what stays open */
    int claim = max_int(next, cap_open_connections());
    bool changed = c.dead > 0 || !c.renewed || claim != cl.last_claim || c.live != cl.last_instances;
    if (write_claim(claim, c.live, changed, err, errlen) != 0)
        return -1;
    log_census(&c, target);
    cl.last_claim = claim;
    cl.last_instances = c.live;
    atomic_store(&cl.instances, c.live);
    atomic_store(&cl.target, target);
    *raise_to = next > current ? next : -1;
    return 0;
}

/* One heartbeat; -1 (err filled) when the registry failed us (the caller reconnects). */
static int heartbeat(char *err, size_t errlen)
{
    if (tq_pg_exec(cl.conn, "BEGIN; SELECT pg_advisory_xact_lock(" LOCK_KEY ")", err, errlen) != 0)
        return -1;
    int raise_to = -1;
    if (heartbeat_locked(&raise_to, err, errlen) != 0 || tq_pg_exec(cl.conn, "COMMIT", err, errlen) != 0) {
        tq_pg_exec(cl.conn, "ROLLBACK", NULL, 0);
        return -1;
    }
    if (raise_to >= 0 && !atomic_load(&cl.detached))
        cap_set_max(raise_to); /* committed: the others now see the claim that covers it */
    return 0;
}

int tq_cluster_join(const tq_cluster_options *o, char *err, size_t errlen)
{
    cl.opts = *o;
    cl.conninfo = strdup(o->conninfo);
    uint8_t id[16];
    randombytes_buf(id, sizeof(id));
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* version 4 */
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
    tq_uuid_format(id, cl.id);
    if (gethostname(cl.host, sizeof(cl.host) - 1) != 0)
        snprintf(cl.host, sizeof(cl.host), "?");
    snprintf(cl.pid, sizeof(cl.pid), "%d", (int)getpid());
    cl.last_claim = -1;
    cl.last_instances = 0;
    cap_make_movable(0); /* nothing until the registry says how much is free */
    if (connect_registry(err, errlen) != 0 || heartbeat(err, errlen) != 0) {
        if (cl.conn != NULL)
            PQfinish(cl.conn);
        cl.conn = NULL;
        free(cl.conninfo);
        cl.conninfo = NULL;
        return -1;
    }
    atomic_store(&cl.on, true);
    tq_log_info("cluster", "joined as %s (host %s, pid %s): %d connection(s) now, a share of %d", cl.id, cl.host,
                cl.pid, cap_max(), tq_cluster_target());
    return 0;
}

static void lose_connection(const char *why)
{
    atomic_fetch_add(&cl.failures, 1);
    tq_log_warn("cluster", "heartbeat failed (%s); keeping a cap of %d meanwhile", why, cap_max());
    PQfinish(cl.conn);
    cl.conn = NULL;
}

/* Whether a notification from another process is in libpq's queue (all are consumed). */
static bool others_changed(void)
{
    bool any = false;
    PGnotify *note;
    while ((note = PQnotifies(cl.conn)) != NULL) {
        any |= strcmp(note->extra, cl.id) != 0;
        PQfreemem(note);
    }
    return any;
}

static void *cluster_thread(void *arg)
{
    (void)arg;
    uint64_t interval = (uint64_t)cl.opts.timeout_ms / 3, last = tq_clock_ms(), next = last + interval;
    for (;;) {
        uint64_t now = tq_clock_ms();
        int timeout = cl.conn == NULL ? RECONNECT_DELAY_MS : next <= now ? 0 : (int)(next - now);
        struct pollfd fds[2] = {{cl.stop_pipe[0], POLLIN, 0}, {cl.conn ? PQsocket(cl.conn) : -1, POLLIN, 0}};
        int rc = poll(fds, 2, timeout);
        if ((rc < 0 && errno != EINTR) || fds[0].revents != 0)
            break;
        char err[256];
        if (cl.conn == NULL) {
            if (connect_registry(err, sizeof(err)) == 0)
                next = 0;
            continue;
        }
        if (rc > 0) {
            if (!PQconsumeInput(cl.conn)) {
                lose_connection(PQerrorMessage(cl.conn));
                continue;
            }
            if (others_changed() && last + MIN_GAP_MS < next)
                next = last + MIN_GAP_MS;
        }
        now = tq_clock_ms();
        if (now < next)
            continue;
        if (heartbeat(err, sizeof(err)) != 0) {
            lose_connection(err);
            continue;
        }
        last = tq_clock_ms();
        next = last + interval;
        /* what came with the COMMIT: our own notification, and others' (a process that left
         * while the heartbeat ran, say) that the heartbeat may not have seen */
        if (others_changed())
            next = last + MIN_GAP_MS;
    }
    return NULL;
}

int tq_cluster_start(void)
{
    if (!tq_cluster_on())
        return 0;
    if (pipe2(cl.stop_pipe, O_CLOEXEC) != 0)
        return -1;
    if (tq_thread_start(&cl.thread, cluster_thread, NULL) != 0)
        return -1;
    cl.thread_started = true;
    return 0;
}

void tq_cluster_detach(void)
{
    atomic_store(&cl.detached, true);
}

void tq_cluster_leave(void)
{
    if (!tq_cluster_on())
        return;
    atomic_store(&cl.detached, true);
    if (cl.thread_started) {
        ssize_t w = write(cl.stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(cl.thread, NULL);
        cl.thread_started = false;
    }
    if (cl.stop_pipe[0] >= 0) {
        close(cl.stop_pipe[0]);
        close(cl.stop_pipe[1]);
    }
    char err[256];
    const char *p[] = {cl.id};
    PGresult *res = NULL;
    if (cl.conn == NULL && connect_registry(err, sizeof(err)) != 0)
        tq_log_warn("cluster",
                    "cannot remove this process from the registry (%s); the others take it for dead "
                    "after %d ms",
                    err, cl.opts.timeout_ms);
    else if ((res = tq_pg_query(cl.conn,
                                "WITH d AS (DELETE FROM instances WHERE id = $1::uuid)"
                                " SELECT pg_notify('tenantql_instances', $1::text)",
                                1, p, err, sizeof(err))) == NULL)
        tq_log_warn("cluster", "cannot remove this process from the registry: %s", err);
    PQclear(res);
    if (cl.conn != NULL)
        PQfinish(cl.conn);
    cl.conn = NULL;
    free(cl.conninfo);
    cl.conninfo = NULL;
    atomic_store(&cl.on, false);
}
