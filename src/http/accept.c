/*
 * accept.c - client connections under the descriptor limit: the soft RLIMIT_NOFILE raised
 * to the hard limit at start, a cap on open client connections (--max-client-connections,
 * by default what the limit leaves once database connections, listeners and files have
 * their share), and a listener that never spins.
 *
 * At the cap, a new connection takes the place of the connection of the same worker that
 * has waited longest for a request, if it has waited at least EVICT_MIN_WAIT_MS (an idle
 * keep-alive connection, or one that sent nothing or only part of a request); otherwise
 * it is accepted and closed at once. Connections with a request running are never closed
 * for the cap. A failed accept for want of descriptors (EMFILE, ENFILE) leaves the
 * connection in the kernel's backlog and would wake the loop again at once (h2o's epoll is
 * level-triggered): the worker stops accepting for ACCEPT_PAUSE_MS instead.
 *
 * Refusals, evictions and failed accepts are counted for /metrics and reported by the
 * main thread's tick, one line per kind per REPORT_INTERVAL_MS, with the counts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "internal.h"
#include "tenantql/clock.h"
#include "tenantql/log.h"

/* A connection that has sent no complete request for this long is the cheapest to lose:
 * a client using keep-alive sends its next request sooner, and one that is still sending
 * a request this slowly is itself the problem. Fresh connections never push each other
 * out, so a flood of new connections at the cap costs the flood, not the idle clients of
 * the last second. */
#define EVICT_MIN_WAIT_MS 1000
/* Short enough that clients in the backlog are taken soon after descriptors free up,
 * long enough that a lasting shortage costs each worker ten failed accept(2) a second. */
#define ACCEPT_PAUSE_MS 100
#define REPORT_INTERVAL_MS 10000
#define ACCEPT_BATCH 32 /* per wake-up: one busy listener does not starve the loop */

/* Descriptors that are not client or database connections: stdio, the registry's
 * connection and its thread's pipe, cancel requests, key files read at start, DNS. */
#define SPARE_DESCRIPTORS 64
/* Per worker thread: its epoll instance, its listener and its wake-up pipe (two ends). */
#define DESCRIPTORS_PER_WORKER 4
/* Per database connection: libpq's socket and the duplicate h2o watches (pgconn.c). */
#define DESCRIPTORS_PER_DB_CONNECTION 2

/* ---- the descriptor limit and the cap ---- */

/* The soft limit raised to the hard one (the kernel's nr_open when the hard limit is
 * unlimited); returns the soft limit in force. */
static long raise_descriptor_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        tq_log_warn("server", "descriptors: getrlimit failed (%s)", strerror(errno));
        return 1024;
    }
    rlim_t before = rl.rlim_cur, target = rl.rlim_max;
    if (target == RLIM_INFINITY) {
        long nr_open = 1 << 20;
        FILE *f = fopen("/proc/sys/fs/nr_open", "r");
        if (f != NULL) {
            if (fscanf(f, "%ld", &nr_open) != 1)
                nr_open = 1 << 20;
            fclose(f);
        }
        target = (rlim_t)nr_open;
    }
    if (before != RLIM_INFINITY && before < target) {
        rl.rlim_cur = target;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            tq_log_warn("server", "descriptors: cannot raise the soft limit from %llu to %llu (%s)",
                        (unsigned long long)before, (unsigned long long)target, strerror(errno));
            return (long)before;
        }
        tq_log_info("server", "descriptors: soft limit raised from %llu to %llu (the hard limit)",
                    (unsigned long long)before, (unsigned long long)target);
        return (long)target;
    }
    tq_log_info("server", "descriptors: soft limit %llu, hard limit %llu",
                before == RLIM_INFINITY ? 0ULL : (unsigned long long)before,
                rl.rlim_max == RLIM_INFINITY ? 0ULL : (unsigned long long)rl.rlim_max);
    return before == RLIM_INFINITY ? (long)target : (long)before;
}

int tq_server_client_limits(tq_server *s, char *err, size_t errlen)
{
    const tq_server_config *c = &s->cfg;
    long limit = raise_descriptor_limit();
    /* without a cap on database connections, half the descriptors are kept for them; a
     * cluster cap (which replaces --max-connections) may all be this process's share */
    int cap = c->cluster_max_connections > 0 ? c->cluster_max_connections : c->max_connections;
    long db = cap > 0 ? (long)cap * DESCRIPTORS_PER_DB_CONNECTION : limit / 2;
    long workers = (long)c->threads * DESCRIPTORS_PER_WORKER;
    long derived = limit - db - workers - SPARE_DESCRIPTORS;
    if (c->max_client_connections > 0) {
        s->clients.max = c->max_client_connections;
        if (s->clients.max > derived)
            tq_log_warn("server",
                        "client connections: --max-client-connections %ld is more than the %ld descriptors leave; "
                        "accepting pauses briefly whenever they run out",
                        s->clients.max, derived > 0 ? derived : 0);
        else
            tq_log_info("server", "client connections: at most %ld", s->clients.max);
        return 0;
    }
    if (derived < 1) {
        snprintf(err, errlen,
                 "%ld descriptors leave no room for client connections next to %ld for --max-connections %d: raise "
                 "the limit (ulimit -n) or lower --max-connections",
                 limit, db, cap);
        return -1;
    }
    s->clients.max = derived;
    tq_log_info("server",
                "client connections: at most %ld (%ld descriptors - %ld for %s database connections - %ld for %d "
                "worker thread(s) - %d spare)",
                derived, limit, db, cap > 0 ? "the" : "uncapped", workers, c->threads,
                SPARE_DESCRIPTORS);
    return 0;
}

/* ---- accepting ---- */

static void on_connection_closed(void *data)
{
    http_worker *hw = data;
    hw->connections--;
    atomic_fetch_sub(&hw->server->clients.open, 1);
}

/* Closes this worker's connection that has waited longest for a request, if it has
 * waited long enough. h2o 2.2 links exactly those connections, oldest first, into the
 * context's http1.req_timeout (http1.c's reqread_start); running that timeout's callback
 * is what h2o does when the wait expires: it closes the connection. */
static bool evict_longest_waiting(http_worker *hw)
{
    h2o_timeout_t *t = &hw->ctx.http1.req_timeout;
    if (h2o_linklist_is_empty(&t->_entries))
        return false;
    h2o_timeout_entry_t *e = H2O_STRUCT_FROM_MEMBER(h2o_timeout_entry_t, _link, t->_entries.next);
    if (e->registered_at + EVICT_MIN_WAIT_MS > h2o_now(hw->ctx.loop))
        return false;
    h2o_timeout_unlink(e);
    e->cb(e);
    atomic_fetch_add(&hw->server->clients.evicted, 1);
    return true;
}

static void on_accept_resume(h2o_timeout_entry_t *entry)
{
    http_worker *hw = H2O_STRUCT_FROM_MEMBER(http_worker, accept_resume, entry);
    if (hw->listener != NULL)
        h2o_socket_read_start(hw->listener, tq_http_on_accept);
}

static void pause_accepting(http_worker *hw)
{
    atomic_fetch_add(&hw->server->clients.refused_fds, 1);
    h2o_socket_read_stop(hw->listener);
    hw->accept_resume.cb = on_accept_resume;
    h2o_timeout_link(hw->ctx.loop, tq_worker_timeout(hw->w, ACCEPT_PAUSE_MS), &hw->accept_resume);
}

/* Why accept(2) failed: true when accepting may go on at once. */
static bool accept_failed(http_worker *hw)
{
    switch (errno) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return false;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        pause_accepting(hw);
        return false;
    default:
        return true; /* ECONNABORTED, EPROTO, EPERM...: that connection only */
    }
}

void tq_http_on_accept(h2o_socket_t *listener, const char *err)
{
    http_worker *hw = listener->data;
    tq_client_limits *cl = &hw->server->clients;
    if (err != NULL)
        return;
    for (int i = 0; i < ACCEPT_BATCH && hw->listener != NULL; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            if (accept_failed(hw))
                continue;
            break;
        }
        if (atomic_load(&cl->open) >= cl->max && !evict_longest_waiting(hw)) {
            h2o_socket_close(sock);
            atomic_fetch_add(&cl->refused_cap, 1);
            continue;
        }
        atomic_fetch_add(&cl->open, 1);
        hw->connections++;
        sock->on_close.cb = on_connection_closed;
        sock->on_close.data = hw;
        h2o_accept(&hw->accept_ctx, sock);
    }
}

void tq_http_accept_stop(http_worker *hw)
{
    if (h2o_timeout_is_linked(&hw->accept_resume))
        h2o_timeout_unlink(&hw->accept_resume);
}

/* ---- reports and metrics ---- */

/* One line per kind and interval: what changed since the last line said. */
static void report(tq_client_limits *cl, int kind, unsigned long now_count, uint64_t now, const char *what)
{
    unsigned long delta = now_count - cl->said[kind];
    if (delta == 0 || (cl->said_at[kind] != 0 && now - cl->said_at[kind] < REPORT_INTERVAL_MS))
        return;
    tq_log_warn("server", "client connections: %lu %s since %s (%ld open, cap %ld)", delta, what,
                cl->said_at[kind] != 0 ? "the last report" : "start", atomic_load(&cl->open), cl->max);
    cl->said[kind] = now_count;
    cl->said_at[kind] = now;
}

void tq_server_report_clients(tq_server *s)
{
    tq_client_limits *cl = &s->clients;
    uint64_t now = tq_clock_ms();
    report(cl, 0, atomic_load(&cl->refused_cap), now,
           "new connection(s) closed at once at the cap (every connection had a request running or had waited "
           "less than a second)");
    report(cl, 1, atomic_load(&cl->evicted), now, "connection(s) waiting for a request closed to make room at the cap");
    report(cl, 2, atomic_load(&cl->refused_fds), now,
           "accept(s) failed for want of descriptors (EMFILE/ENFILE): accepting paused 100 ms each time");
}

void tq_server_write_client_metrics(tq_server *s, tq_strbuf *b)
{
    tq_client_limits *cl = &s->clients;
    tq_strbuf_printf(b,
                     "# HELP tenantql_client_connections Open client (HTTP) connections.\n"
                     "# TYPE tenantql_client_connections gauge\n"
                     "tenantql_client_connections %ld\n"
                     "# HELP tenantql_client_connections_max The cap on client connections.\n"
                     "# TYPE tenantql_client_connections_max gauge\n"
                     "tenantql_client_connections_max %ld\n"
                     "# HELP tenantql_client_connections_refused_total New client connections closed at once (cap: "
                     "at the cap with nothing to replace; descriptors: accept failed for want of descriptors).\n"
                     "# TYPE tenantql_client_connections_refused_total counter\n"
                     "tenantql_client_connections_refused_total{reason=\"cap\"} %lu\n"
                     "tenantql_client_connections_refused_total{reason=\"descriptors\"} %lu\n"
                     "# HELP tenantql_client_connections_evicted_total Connections waiting for a request closed to "
                     "make room for a new one at the cap.\n"
                     "# TYPE tenantql_client_connections_evicted_total counter\n"
                     "tenantql_client_connections_evicted_total %lu\n",
                     atomic_load(&cl->open), cl->max, atomic_load(&cl->refused_cap), atomic_load(&cl->refused_fds),
                     atomic_load(&cl->evicted));
}
