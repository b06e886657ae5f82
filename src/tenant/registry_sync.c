/*
 * registry_sync.c - the registry thread: keeps the tenant cache (registry.c) current.
 *
 * The thread owns one blocking libpq connection that LISTENs on tenantql_tenants. It
 * wakes on a notification (re-reads those tenants), on its refresh interval (re-reads
 * all, as a safety net for lost notifications), every second to retire idle pools, or on
 * the stop pipe. Host names of tenant databases are resolved on this thread, so that
 * connecting from a worker never does a blocking DNS lookup (libpq gets hostaddr=).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry_internal.h"
#include "tenantql/clock.h"
#include "tenantql/log.h"
#include "tenantql/pg_admin.h"
#include "tenantql/uuid.h"
#include "tenantql/thread.h"

#define RECONNECT_DELAY_MS 1000
#define IDLE_SWEEP_MS 1000      /* how often pools idle past their timeout are looked for */
#define NOTIFY_BATCH 64         /* changed tenants re-read by id; more at once: re-read all */

/* Applies every row of res. A row the server cannot use (logged) drops the tenant's
 * cached record too: serving it by the settings it had before would be a guess. */
static void apply_rows(tq_registry *r, PGresult *res)
{
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        tq_tenant *t = registry_tenant_from_row(r, res, i);
        uint8_t id[16];
        if (t != NULL)
            registry_apply_tenant(r, t);
        else if (tq_uuid_parse(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), id))
            registry_drop_tenant(r, id);
    }
}

/* The ids of res's rows, as a set (keys point into res: use it while res lives). */
static void ids_of_rows(PGresult *res, tq_map *set, uint8_t (*ids)[16])
{
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++)
        if (tq_uuid_parse(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), ids[i]))
            tq_map_put(set, ids[i], 16, ids[i]);
}

/* Drops the tenants among `asked` (or among all cached ones when asked is NULL) that res
 * does not hold: they were deleted. */
static void drop_missing(tq_registry *r, PGresult *res, uint8_t (*asked)[16], size_t nasked)
{
    int rows = PQntuples(res);
    uint8_t(*row_ids)[16] = malloc((size_t)(rows ? rows : 1) * 16);
    tq_map present;
    tq_map_init(&present, NULL);
    ids_of_rows(res, &present, row_ids);
    uint8_t(*cached)[16] = NULL;
    if (asked == NULL)
        asked = cached = registry_cached_ids(r, &nasked);
    for (size_t i = 0; i < nasked; i++)
        if (tq_map_get(&present, asked[i], 16) == NULL)
            registry_drop_tenant(r, asked[i]);
    free(cached);
    tq_map_dispose(&present);
    free(row_ids);
}

static int load_all(tq_registry *r, char *err, size_t errlen)
{
    PGresult *res = tq_pg_query(r->conn, SELECT_TENANTS, 0, NULL, err, errlen);
    if (res == NULL)
        return -1;
    apply_rows(r, res);
    drop_missing(r, res, NULL, 0);
    PQclear(res);
    return 0;
}

static int load_some(tq_registry *r, uint8_t (*ids)[16], size_t n)
{
    /* '{id,id,...}' as a uuid[] literal */
    char *arr = malloc(n * 37 + 3), *p = arr;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        tq_uuid_format(ids[i], p);
        p += 36;
    }
    *p++ = '}';
    *p = '\0';
    const char *params[] = {arr};
    char err[256];
    PGresult *res = tq_pg_query(r->conn, SELECT_TENANTS " WHERE id = ANY($1::uuid[])", 1, params, err, sizeof(err));
    free(arr);
    if (res == NULL) {
        tq_log_warn("registry", "re-reading changed tenants failed: %s", err);
        return -1;
    }
    apply_rows(r, res);
    drop_missing(r, res, ids, n);
    PQclear(res);
    return 0;
}

int registry_connect(tq_registry *r, char *err, size_t errlen)
{
    r->conn = tq_pg_connect(r->conninfo, err, errlen);
    if (r->conn == NULL)
        return -1;
    tq_pg_log_notices(r->conn);
    if (tq_pg_exec(r->conn, "SET TimeZone = 'UTC'; LISTEN tenantql_tenants", err, errlen) != 0 ||
        load_all(r, err, errlen) != 0) {
        PQfinish(r->conn);
        r->conn = NULL;
        return -1;
    }
    atomic_store(&r->healthy, true);
    return 0;
}

/* Applies the notifications libpq holds; true when that ran queries, which may have
 * brought more notifications into libpq's queue without a byte left on the socket for
 * poll to see: the caller must look again at once. */
static bool handle_notifications(tq_registry *r)
{
    uint8_t ids[NOTIFY_BATCH][16];
    size_t n = 0;
    PGnotify *note;
    bool overflow = false;
    while ((note = PQnotifies(r->conn)) != NULL) {
        if (n < NOTIFY_BATCH && tq_uuid_parse(note->extra, strlen(note->extra), ids[n]))
            n++;
        else
            overflow = true;
        PQfreemem(note);
    }
    if (overflow) {
        char err[256];
        if (load_all(r, err, sizeof(err)) != 0)
            tq_log_warn("registry", "re-reading tenants failed: %s", err);
    } else if (n > 0) {
        load_some(r, ids, n);
    }
    return overflow || n > 0;
}

static void lose_connection(tq_registry *r, const char *why)
{
    tq_log_warn("registry", "registry connection lost (%s); serving cached tenants", why);
    atomic_store(&r->healthy, false);
    PQfinish(r->conn);
    r->conn = NULL;
}

/* Waits for notifications, and on its own clock re-reads the whole registry every
 * refresh_ms and sweeps idle pools every IDLE_SWEEP_MS. */
static void *registry_thread(void *arg)
{
    tq_registry *r = arg;
    uint64_t next_refresh = tq_clock_ms() + (uint64_t)r->refresh_ms, next_sweep = tq_clock_ms() + IDLE_SWEEP_MS;
    /* queries just ran on the connection: notifications may wait in libpq's queue, which
     * poll cannot see (a tenant created while the last re-read ran stayed unknown until the
     * next notification or the next full re-read: up to refresh_ms) */
    bool queued = false;
    for (;;) {
        uint64_t now = tq_clock_ms();
        uint64_t next = next_refresh < next_sweep ? next_refresh : next_sweep;
        int timeout = r->conn == NULL ? RECONNECT_DELAY_MS : queued || next <= now ? 0 : (int)(next - now);
        struct pollfd fds[2] = {{r->stop_pipe[0], POLLIN, 0}, {r->conn ? PQsocket(r->conn) : -1, POLLIN, 0}};
        int rc = poll(fds, 2, timeout);
        if (rc < 0 && errno != EINTR)
            break;
        if (fds[0].revents != 0)
            break;
        now = tq_clock_ms();
        if (now >= next_sweep) {
            registry_tear_down_idle_pools(r);
            next_sweep = now + IDLE_SWEEP_MS;
        }
        char err[256];
        if (r->conn == NULL) {
            if (registry_connect(r, err, sizeof(err)) == 0) {
                tq_log_info("registry", "registry connection restored");
                queued = true;
            }
            continue;
        }
        if (now >= next_refresh) {
            next_refresh = now + (uint64_t)r->refresh_ms;
            if (load_all(r, err, sizeof(err)) != 0)
                lose_connection(r, err);
            queued = r->conn != NULL;
            continue;
        }
        if (rc == 0 && !queued)
            continue;
        if (rc > 0 && !PQconsumeInput(r->conn)) {
            lose_connection(r, PQerrorMessage(r->conn));
            continue;
        }
        queued = handle_notifications(r);
        if (PQstatus(r->conn) != CONNECTION_OK)
            lose_connection(r, "connection closed");
    }
    return NULL;
}

int tq_registry_start(tq_registry *r)
{
    if (pipe2(r->stop_pipe, O_CLOEXEC) != 0)
        return -1;
    if (tq_thread_start(&r->thread, registry_thread, r) != 0)
        return -1;
    r->thread_started = true;
    return 0;
}

void registry_stop_thread(tq_registry *r)
{
    if (r->thread_started) {
        ssize_t w = write(r->stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(r->thread, NULL);
        r->thread_started = false;
    }
    if (r->stop_pipe[0] >= 0) {
        close(r->stop_pipe[0]);
        close(r->stop_pipe[1]);
        r->stop_pipe[0] = r->stop_pipe[1] = -1;
    }
}
