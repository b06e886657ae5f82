/*
 * ops.c - what operators and orchestrators ask of a running server:
 *
 *   GET /healthz   200 while the process serves HTTP at all (liveness)
 *   GET /readyz    200 when the tenant registry is reachable, else 503 (readiness)
 *   GET /metrics   Prometheus text format: per-tenant pool gauges and counters, the
 *                  acquire wait histogram, the global connection count and cap,
 *                  evictions, HTTP answers by status, the password hashing counters, and
 *                  operations over a limit
 *
 * These paths answer without a token: they reveal tenant names (pool labels) and load,
 * never data, and belong behind the operator's network boundary like any /metrics.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tenantql/cluster.h"
#include "tenantql/trace.h"
#include "tenantql/log.h"
#include "tenantql/password.h"
#include "tenantql/registry.h"
#include "tenantql/strbuf.h"
#include "tenantql/pool.h"

typedef struct ops_handler {
    h2o_handler_t super;
    tq_server *server;
    int (*answer)(struct ops_handler *h, h2o_req_t *req);
} ops_handler;

static int send_text(h2o_req_t *req, int status, const char *reason, const char *ctype, char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_iovec_t iov = h2o_iovec_init(body, len);
    h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static int answer_healthz(ops_handler *h, h2o_req_t *req)
{
    tq_server_count_status(h->server, 200);
    return send_text(req, 200, "OK", "text/plain; charset=utf-8", "ok\n", 3);
}

static int answer_readyz(ops_handler *h, h2o_req_t *req)
{
    if (tq_registry_healthy(h->server->registry)) {
        tq_server_count_status(h->server, 200);
        return send_text(req, 200, "OK", "text/plain; charset=utf-8", "ready\n", 6);
    }
    tq_server_count_status(h->server, 503);
    return send_text(req, 503, "Service Unavailable", "text/plain; charset=utf-8", "registry unreachable\n", 21);
}

/* ---- /metrics ---- */

static void write_label(tq_strbuf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            tq_strbuf_putc(b, '\\');
        if (*v == '\n')
            tq_strbuf_lit(b, "\\n");
        else
            tq_strbuf_putc(b, *v);
    }
}

typedef struct metric_family {
    const char *name, *type, *help;
} metric_family;

static const metric_family pool_families[] = {
    {"tenantql_pool_connections", "gauge", "Connections of a tenant's pool, open or opening."},
    {"tenantql_pool_connections_max", "gauge", "The pool's max (pool_options)."},
    {"tenantql_pool_in_use", "gauge", "Connections running a query."},
    {"tenantql_pool_idle", "gauge", "Connections waiting for a query."},
    {"tenantql_pool_waiting", "gauge", "Queries waiting for a connection."},
    {"tenantql_pool_connections_created_total", "counter", "Connections opened."},
    {"tenantql_pool_connections_closed_total", "counter", "Connections closed, by reason."},
    {"tenantql_pool_acquire_wait_seconds", "histogram", "Time from asking for a connection to getting one."},
};
enum { F_SIZE, F_MAX, F_IN_USE, F_IDLE, F_WAITING, F_CREATED, F_CLOSED, F_WAIT, F_COUNT_ };

typedef struct tenant_requests tenant_requests;

typedef struct pool_sample {
    tq_strbuf *families[F_COUNT_];
    const tenant_requests *named; /* the tenants with series of their own, NULL: every tenant */
    size_t nnamed;
    tq_pool_stats other;          /* the pools of all other tenants, summed */
    bool have_other;
} pool_sample;

static void write_sample(tq_strbuf *b, const char *family, const char *suffix, const char *tenant, const char *extra,
                         unsigned long value)
{
    tq_strbuf_printf(b, "%s%s{tenant=\"", family, suffix);
    write_label(b, tenant);
    tq_strbuf_printf(b, "\"%s} %lu\n", extra, value);
}

static void write_pool(pool_sample *ps, const tq_pool_stats *stp)
{
    const tq_pool_stats st = *stp;
    const char *t = st.label;
    write_sample(ps->families[F_SIZE], pool_families[F_SIZE].name, "", t, "", (unsigned long)st.total);
    write_sample(ps->families[F_MAX], pool_families[F_MAX].name, "", t, "", (unsigned long)st.max);
    write_sample(ps->families[F_IN_USE], pool_families[F_IN_USE].name, "", t, "",
                 (unsigned long)st.in_use);
    write_sample(ps->families[F_IDLE], pool_families[F_IDLE].name, "", t, "", (unsigned long)st.idle);
    write_sample(ps->families[F_WAITING], pool_families[F_WAITING].name, "", t, "", (unsigned long)st.waiting);
    write_sample(ps->families[F_CREATED], pool_families[F_CREATED].name, "", t, "", st.created);
    static const char *const reasons[TQ_POOL_CLOSE_REASONS_] = {",reason=\"idle\"", ",reason=\"evicted\"",
                                                               ",reason=\"broken\"", ",reason=\"other\""};
    for (int i = 0; i < TQ_POOL_CLOSE_REASONS_; i++)
        write_sample(ps->families[F_CLOSED], pool_families[F_CLOSED].name, "", t, reasons[i], st.closed_by[i]);
    static const unsigned bounds[TQ_POOL_WAIT_BUCKETS] = TQ_POOL_WAIT_BOUNDS_MS;
    unsigned long cumulative = 0;
    for (int i = 0; i <= TQ_POOL_WAIT_BUCKETS; i++) {
        char le[48];
        cumulative += st.wait_buckets[i];
        if (i < TQ_POOL_WAIT_BUCKETS)
            snprintf(le, sizeof(le), ",le=\"%g\"", bounds[i] / 1000.0);
        else
            snprintf(le, sizeof(le), ",le=\"+Inf\"");
        write_sample(ps->families[F_WAIT], pool_families[F_WAIT].name, "_bucket", t, le, cumulative);
    }
    tq_strbuf_printf(ps->families[F_WAIT], "%s_sum{tenant=\"", pool_families[F_WAIT].name);
    write_label(ps->families[F_WAIT], t);
    tq_strbuf_printf(ps->families[F_WAIT], "\"} %.3f\n", st.wait_sum_ms / 1000.0);
    write_sample(ps->families[F_WAIT], pool_families[F_WAIT].name, "_count", t, "", st.wait_count);
}

static bool is_named(const pool_sample *ps, const char *tenant);

static void add_pool_stats(tq_pool_stats *acc, const tq_pool_stats *st)
{
    acc->max += st->max, acc->in_use += st->in_use, acc->waiting += st->waiting;
    acc->total += st->total, acc->idle += st->idle;
    acc->created += st->created, acc->closed += st->closed;
    for (int i = 0; i < TQ_POOL_CLOSE_REASONS_; i++)
        acc->closed_by[i] += st->closed_by[i];
    for (int i = 0; i <= TQ_POOL_WAIT_BUCKETS; i++)
        acc->wait_buckets[i] += st->wait_buckets[i];
    acc->wait_count += st->wait_count, acc->wait_sum_ms += st->wait_sum_ms;
}

static void sample_pool(tq_pool *p, void *data)
{
    pool_sample *ps = data;
    tq_pool_stats st;
    tq_pool_get_stats(p, &st);
    if (is_named(ps, st.label)) {
        write_pool(ps, &st);
        return;
    }
    add_pool_stats(&ps->other, &st);
    ps->have_other = true;
}

static void count_pool(tq_pool *p, void *data)
{
    (void)p;
    ++*(size_t *)data;
}

static void write_header(tq_strbuf *b, const char *name, const char *type, const char *help)
{
    tq_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Several processes sharing the registry (--cluster-max-connections): only when on. */
static void write_cluster_metrics(tq_strbuf *b)
{
    if (!tq_cluster_on())
        return;
    write_header(b, "tenantql_cluster_instances", "gauge",
                 "Live server processes sharing the registry, this one included (at the last heartbeat).");
    tq_strbuf_printf(b, "tenantql_cluster_instances %d\n", tq_cluster_instances());
    write_header(b, "tenantql_cluster_connection_target", "gauge",
                 "This process's share of --cluster-max-connections: floor(cap / instances), at least 1.");
    tq_strbuf_printf(b, "tenantql_cluster_connection_target %d\n", tq_cluster_target());
    write_header(b, "tenantql_cluster_connection_share", "gauge",
                 "The cap this process enforces now: its share, or less until the others have shrunk theirs.");
    tq_strbuf_printf(b, "tenantql_cluster_connection_share %d\n", tq_cluster_share());
    write_header(b, "tenantql_cluster_heartbeat_failures_total", "counter",
                 "Heartbeats that failed (the registry unreachable or slow).");
    tq_strbuf_printf(b, "tenantql_cluster_heartbeat_failures_total %lu\n", tq_cluster_heartbeat_failures());
}

/* The hashing threads: what they computed (one verification per login attempt that was
 * not refused first) and what they answered BUSY. */
static void write_password_metrics(tq_strbuf *b)
{
    tq_password_stats ps;
    tq_password_get_stats(&ps);
    write_header(b, "tenantql_password_hashes_total", "counter", "Argon2id computations, by kind.");
    tq_strbuf_printf(b, "tenantql_password_hashes_total{kind=\"verify\"} %lu\n", ps.verified);
    tq_strbuf_printf(b, "tenantql_password_hashes_total{kind=\"hash\"} %lu\n", ps.hashed);
    write_header(b, "tenantql_password_busy_total", "counter",
                 "Hashing jobs answered TENANT_BUSY (their key's share of the queue was full).");
    tq_strbuf_printf(b, "tenantql_password_busy_total %lu\n", ps.busy);
    write_header(b, "tenantql_password_queued", "gauge", "Hashing jobs waiting.");
    tq_strbuf_printf(b, "tenantql_password_queued %lu\n", ps.queued);
    write_header(b, "tenantql_password_queued_keys", "gauge", "Share keys (tenant names) with hashing jobs waiting.");
    tq_strbuf_printf(b, "tenantql_password_queued_keys %lu\n", ps.keys);
}

/* ---- per-tenant request series, the busiest tenants by name ---- */

struct tenant_requests {
    char *name;
    tq_request_stats st;
};

static bool is_named(const pool_sample *ps, const char *tenant)
{
    if (ps->named == NULL)
        return true;
    for (size_t i = 0; i < ps->nnamed; i++)
        if (strcmp(ps->named[i].name, tenant) == 0)
            return true;
    return false;
}

typedef struct requests_list {
    tenant_requests *items;
    size_t n, cap;
} requests_list;

static void collect_tenant(const char *name, tq_usage *usage, void *data)
{
    requests_list *l = data;
    tq_request_stats st = {0};
    tq_usage_add_request_stats(usage, &st);
    if (st.duration.count == 0)
        return; /* no series for a tenant without requests */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = realloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n++] = (tenant_requests){strdup(name), st};
}

static int busiest_first(const void *a, const void *b)
{
    const tenant_requests *x = a, *y = b;
    if (x->st.duration.count != y->st.duration.count)
        return x->st.duration.count < y->st.duration.count ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void write_outcomes(tq_strbuf *b, const char *tenant, const tq_request_stats *st)
{
    static const char *const outcomes[TQ_OUTCOMES_] = {"ok", "client_error", "refused", "server_error"};
    for (int i = 0; i < TQ_OUTCOMES_; i++) {
        char extra[40];
        snprintf(extra, sizeof(extra), ",outcome=\"%s\"", outcomes[i]);
        write_sample(b, "tenantql_tenant_requests_total", "", tenant, extra, st->outcomes[i]);
    }
}

static void write_hist(tq_strbuf *hist, const char *name, const char *tenant, const tq_request_hist *h)
{
    static const unsigned bounds[TQ_REQUEST_BUCKETS] = TQ_REQUEST_BOUNDS_MS;
    unsigned long cumulative = 0;
    for (int i = 0; i <= TQ_REQUEST_BUCKETS; i++) {
        char le[48];
        cumulative += h->buckets[i];
        if (i < TQ_REQUEST_BUCKETS)
            snprintf(le, sizeof(le), ",le=\"%g\"", bounds[i] / 1000.0);
        else
            snprintf(le, sizeof(le), ",le=\"+Inf\"");
        write_sample(hist, name, "_bucket", tenant, le, cumulative);
    }
    tq_strbuf_printf(hist, "%s_sum{tenant=\"", name);
    write_label(hist, tenant);
    tq_strbuf_printf(hist, "\"} %.6f\n", (double)h->sum_us / 1e6);
    write_sample(hist, name, "_count", tenant, "", h->count);
}

static void add_hist(tq_request_hist *to, const tq_request_hist *from)
{
    for (int k = 0; k <= TQ_REQUEST_BUCKETS; k++)
        to->buckets[k] += from->buckets[k];
    to->count += from->count;
    to->sum_us += from->sum_us;
}

/* The busiest --metrics-tenants tenants by name, the rest summed as tenant="other": with
 * 10,000 tenants, a scrape stays a few hundred series. */
static void write_tenant_request_metrics(const requests_list l, size_t named, tq_strbuf *b)
{
    tq_request_stats other = {0};
    for (size_t i = named; i < l.n; i++) {
        for (int k = 0; k < TQ_OUTCOMES_; k++)
            other.outcomes[k] += l.items[i].st.outcomes[k];
        add_hist(&other.duration, &l.items[i].st.duration);
        add_hist(&other.db, &l.items[i].st.db);
    }
    tq_strbuf hist = TQ_STRBUF_INIT, db = TQ_STRBUF_INIT;
    write_header(b, "tenantql_tenant_requests_total", "counter",
                 "Answered GraphQL requests per tenant, by outcome (ok, client_error, refused: 429, server_error); "
                 "the busiest --metrics-tenants tenants by name, the rest as tenant=\"other\".");
    for (size_t i = 0; i <= named; i++) {
        const tenant_requests *t = i < named ? &l.items[i] : NULL;
        if (t == NULL && other.duration.count == 0)
            break;
        const tq_request_stats *st = t ? &t->st : &other;
        const char *name = t ? t->name : "other";
        write_outcomes(b, name, st);
        write_hist(&hist, "tenantql_tenant_request_duration_seconds", name, &st->duration);
        if (st->db.count > 0)
            write_hist(&db, "tenantql_tenant_request_db_seconds", name, &st->db);
    }
    write_header(b, "tenantql_tenant_request_duration_seconds", "histogram",
                 "Time from a request's arrival to its answer, per tenant (as tenantql_tenant_requests_total).");
    tq_strbuf_append(b, hist.data ? hist.data : "", hist.len);
    write_header(b, "tenantql_tenant_request_db_seconds", "histogram",
                 "Time a request's statements took in PostgreSQL (from sending each to its result, summed), per "
                 "tenant, of requests that ran statements.");
    tq_strbuf_append(b, db.data ? db.data : "", db.len);
    tq_strbuf_free(&hist);
    tq_strbuf_free(&db);
}

static int answer_metrics(ops_handler *h, h2o_req_t *req)
{
    tq_server *s = h->server;
    /* the busiest --metrics-tenants tenants by requests are named in the per-tenant series
     * (pools too, once there are more pools than that); the rest are summed as "other" */
    requests_list busiest = {0};
    tq_registry_foreach(s->registry, collect_tenant, &busiest);
    if (busiest.n > 0)
        qsort(busiest.items, busiest.n, sizeof(*busiest.items), busiest_first);
    size_t cap = (size_t)s->cfg.metrics_tenants, named = busiest.n < cap ? busiest.n : cap, pools = 0;
    tq_pools_foreach(count_pool, &pools);
    tq_strbuf fam[F_COUNT_];
    pool_sample ps = {.named = pools > cap ? busiest.items : NULL, .nnamed = named};
    for (int i = 0; i < F_COUNT_; i++) {
        fam[i] = (tq_strbuf)TQ_STRBUF_INIT;
        ps.families[i] = &fam[i];
    }
    tq_pools_foreach(sample_pool, &ps);
    if (ps.have_other) {
        ps.other.label = "other";
        write_pool(&ps, &ps.other);
    }

    tq_strbuf b = TQ_STRBUF_INIT;
    for (int i = 0; i < F_COUNT_; i++) {
        write_header(&b, pool_families[i].name, pool_families[i].type, pool_families[i].help);
        tq_strbuf_append(&b, fam[i].data ? fam[i].data : "", fam[i].len);
        tq_strbuf_free(&fam[i]);
    }
    write_header(&b, "tenantql_connections", "gauge", "Connections to tenant databases, all tenants.");
    tq_strbuf_printf(&b, "tenantql_connections %d\n", tq_pools_open_connections());
    write_header(&b, "tenantql_connections_max", "gauge", "The global cap (--max-connections, 0: none; or this process's share of "
                 "--cluster-max-connections).");
    tq_strbuf_printf(&b, "tenantql_connections_max %d\n", tq_pools_max_connections());
    write_cluster_metrics(&b);
    unsigned long prepared, unnamed, prepares;
    tq_pgconn_statement_counts(&prepared, &unnamed, &prepares);
    write_header(&b, "tenantql_statements_total", "counter",
                 "Statements executed, by kind: prepared (planned before, --statement-cache) or unnamed (parsed and "
                 "planned for this execution); prepare counts the statements prepared.");
    tq_strbuf_printf(&b, "tenantql_statements_total{kind=\"prepared\"} %lu\n", prepared);
    tq_strbuf_printf(&b, "tenantql_statements_total{kind=\"unnamed\"} %lu\n", unnamed);
    tq_strbuf_printf(&b, "tenantql_statements_total{kind=\"prepare\"} %lu\n", prepares);
    write_header(&b, "tenantql_connection_evictions_total", "counter",
                 "Idle connections closed to make room for another tenant.");
    tq_strbuf_printf(&b, "tenantql_connection_evictions_total %lu\n", tq_pools_evictions());
    tq_server_write_client_metrics(s, &b);
    write_header(&b, "tenantql_log_lines_suppressed_total", "counter",
                 "Log lines a client caused that the rate limit left out (--log-rate-limit).");
    tq_strbuf_printf(&b, "tenantql_log_lines_suppressed_total %llu\n", (unsigned long long)tq_log_suppressed_total());
    write_header(&b, "tenantql_tenants", "gauge", "Tenants in the registry cache.");
    tq_strbuf_printf(&b, "tenantql_tenants %zu\n", tq_registry_count(s->registry));
    write_header(&b, "tenantql_registry_up", "gauge", "1 when the tenant registry is reachable.");
    tq_strbuf_printf(&b, "tenantql_registry_up %d\n", tq_registry_healthy(s->registry) ? 1 : 0);
    write_header(&b, "tenantql_http_responses_total", "counter", "HTTP answers, by status.");
    tq_server_write_status_metrics(s, &b);
    write_header(&b, "tenantql_refusals_total", "counter",
                 "Requests refused before they ran, by reason (framing, client_budget, tenant_rate, tenant_in_flight, "
                 "tenant_db_time, tenant_share, tenant_migrating).");
    tq_server_write_refusal_metrics(s, &b);
    tq_access_log_write_metrics(s, &b);
    write_header(&b, "tenantql_config_reloads_total", "counter",
                 "Configuration reloads (SIGHUP), by outcome (ok, refused).");
    tq_server_write_reload_metrics(s, &b);
    write_header(&b, "tenantql_requests_in_flight", "gauge", "GraphQL requests not yet answered.");
    tq_strbuf_printf(&b, "tenantql_requests_in_flight %ld\n", atomic_load(&s->requests_in_flight));
    write_password_metrics(&b);
    tq_limits_write_metrics(s, &b);
    write_tenant_request_metrics(busiest, named, &b);
    tq_tracer_write_metrics(s->tracer, &b);
    for (size_t i = 0; i < busiest.n; i++)
        free(busiest.items[i].name);
    free(busiest.items);

    size_t len;
    char *body = tq_strbuf_detach(&b, &len);
    char *copy = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(copy, body, len);
    free(body);
    tq_server_count_status(s, 200);
    return send_text(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", copy, len);
}

static int on_ops_request(h2o_handler_t *self, h2o_req_t *req)
{
    ops_handler *h = (ops_handler *)self;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        tq_server_count_status(h->server, 405);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        return send_text(req, 405, "Method Not Allowed", "text/plain; charset=utf-8", "use GET\n", 8);
    }
    return h->answer(h, req);
}

static void register_one(h2o_hostconf_t *host, const char *path, tq_server *s,
                         int (*answer)(ops_handler *, h2o_req_t *))
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, path, 0);
    tq_hygiene_register(pathconf, s);
    ops_handler *h = (ops_handler *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_ops_request;
    h->server = s;
    h->answer = answer;
}

void tq_ops_handlers_register(h2o_hostconf_t *host, tq_server *s)
{
    register_one(host, "/healthz", s, answer_healthz);
    register_one(host, "/readyz", s, answer_readyz);
    register_one(host, "/metrics", s, answer_metrics);
}
