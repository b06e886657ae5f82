/*
 * server.c - the HTTP server: its start-up, its listeners and h2o contexts on the worker
 * threads (the http module's worker hooks), and its shutdown.
 *
 * Each worker has its own h2o context and SO_REUSEPORT listener (the kernel spreads
 * connections across them); the h2o configuration is built once, before the threads
 * start, and is read-only afterwards. The main thread only waits for SIGINT or SIGTERM.
 * Shutdown: stop accepting, let requests in flight finish (bounded by the drain timeout;
 * then they are answered 503 and their queries cancelled), close idle keep-alive
 * connections, close every pooled connection, exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin.h"
#include "graphiql.h"
#include "internal.h"
#include "tenantql/cluster.h"
#include "tenantql/linesink.h"
#include "tenantql/api.h"
#include "tenantql/embedded.h"
#include "tenantql/doc_cache.h"
#include "tenantql/log.h"
#include "tenantql/password.h"
#include "tenantql/pgconn.h"
#include "tenantql/secret.h"
#include "tenantql/token_cache.h"
#include "tenantql/trace.h"

#define DOC_CACHE_BYTES (8u << 20) /* per worker: parsed documents */
#define DOC_CACHE_MAX_TEXT 65536   /* longer query texts are parsed each time */
/* client addresses whose budget is remembered: 48 bytes each, 768 KiB; more addresses
 * than this at once only reset each other's budgets to full (client_budget.h) */
#define CLIENT_BUDGET_ENTRIES 16384

static int http_slot = -1; /* the http module's worker slot */

/* ---- answers by status, for /metrics ---- */

static const int counted_statuses[TQ_HTTP_STATUSES] = {200, 400, 401, 403, 404, 405, 406, 413, 415, 429, 500, 503};

void tq_server_count_status(tq_server *s, int status)
{
    int i = 0;
    while (i < TQ_HTTP_STATUSES && counted_statuses[i] != status)
        i++;
    atomic_fetch_add(&s->http_statuses[i], 1); /* i == TQ_HTTP_STATUSES: any other */
}

void tq_server_write_status_metrics(tq_server *s, tq_strbuf *b)
{
    for (int i = 0; i <= TQ_HTTP_STATUSES; i++) {
        unsigned long n = atomic_load(&s->http_statuses[i]);
        if (i < TQ_HTTP_STATUSES)
            tq_strbuf_printf(b, "tenantql_http_responses_total{status=\"%d\"} %lu\n", counted_statuses[i], n);
        else
            tq_strbuf_printf(b, "tenantql_http_responses_total{status=\"other\"} %lu\n", n);
    }
}

static const char *const refusal_names[TQ_REFUSED_REASONS_] = {
    "framing", "client_budget", "tenant_rate", "tenant_in_flight", "tenant_db_time", "tenant_share", "tenant_migrating"};

void tq_server_count_refusal(tq_server *s, tq_refusal_reason why)
{
    atomic_fetch_add(&s->refusals[why], 1);
}

void tq_server_write_refusal_metrics(tq_server *s, tq_strbuf *b)
{
    for (int i = 0; i < TQ_REFUSED_REASONS_; i++)
        tq_strbuf_printf(b, "tenantql_refusals_total{reason=\"%s\"} %lu\n", refusal_names[i],
                         atomic_load(&s->refusals[i]));
}

/* ---- listening ---- */

int tq_http_resolve_listen(const char *listen, const char *flag, struct sockaddr_storage *ss, socklen_t *len,
                           char *err, size_t errlen)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon[1] == '\0') {
        snprintf(err, errlen, "%s must be HOST:PORT, got \"%s\"", flag, listen);
        return -1;
    }
    char host[256];
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof(host))
        hl = sizeof(host) - 1;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 1 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    if (atoi(colon + 1) <= 0) {
        snprintf(err, errlen, "%s needs a port between 1 and 65535, got \"%s\"", flag, colon + 1);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s %s: %s", flag, listen, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int tq_http_open_listener(const struct sockaddr_storage *ss, socklen_t len, bool reuseport, char *err, size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), on = 1;
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 4096) != 0) {
        snprintf(err, errlen, "cannot listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- the http module on each worker ---- */

static int http_worker_init(tq_worker *w, void *arg, char *err, size_t errlen)
{
    tq_server *s = arg;
    http_worker *hw = calloc(1, sizeof(*hw));
    hw->w = w;
    hw->server = s;
    h2o_linklist_init_anchor(&hw->requests);
    tq_worker_set_state(w, http_slot, hw);
    s->hws[tq_worker_id(w)] = hw;
    tq_live_worker_init(hw);
    tq_worker_timeout(w, TQ_HTTP_PAUSE_POLL_MS); /* its bucket now, while there is room (internal.h) */
    h2o_context_init(&hw->ctx, tq_worker_loop(w), &s->globalconf);
    hw->accept_ctx.ctx = &hw->ctx;
    hw->accept_ctx.hosts = s->globalconf.hosts;
    hw->tokens = tq_token_cache_new(hw->live->jwt, TQ_HTTP_TOKEN_CACHE_SLOTS);
    hw->docs = tq_doc_cache_new(s->schema, (size_t)s->cfg.doc_cache_entries, DOC_CACHE_BYTES, DOC_CACHE_MAX_TEXT);
    int fd = tq_http_open_listener(&s->listen_addr, s->listen_addr_len, true, err, errlen);
    if (fd < 0)
        return -1;
    hw->listener = h2o_evloop_socket_create(tq_worker_loop(w), fd, H2O_SOCKET_FLAG_DONT_READ);
    hw->listener->data = hw;
    h2o_socket_read_start(hw->listener, tq_http_on_accept);
    return 0;
}

static void close_listener(http_worker *hw)
{
    tq_http_accept_stop(hw);
    if (hw->listener == NULL)
        return;
    h2o_socket_read_stop(hw->listener);
    h2o_socket_close(hw->listener);
    hw->listener = NULL;
}

/* Shutdown begins: no new connections; idle keep-alive connections close (h2o 2.2 cannot
 * close them on demand, but expiring their idle timer makes it close them on the next
 * turn; connections with a request in flight close once it is answered). */
static void http_worker_stop(tq_worker *w, void *arg)
{
    http_worker *hw = tq_worker_state(w, http_slot);
    close_listener(hw);
    h2o_context_request_shutdown(&hw->ctx);
    hw->ctx.http1.req_timeout.timeout = 0;
}

/* Draining waits for every worker's requests (a request may need a connection another
 * worker holds) and for this worker's connections to close. */
static bool http_worker_busy(tq_worker *w, void *arg)
{
    tq_server *s = arg;
    http_worker *hw = tq_worker_state(w, http_slot);
    return atomic_load(&s->requests_in_flight) > 0 || hw->connections > 0;
}

static size_t http_worker_cut_off(tq_worker *w, void *arg)
{
    return tq_graphql_cut_off(tq_worker_state(w, http_slot));
}

static void http_worker_dispose(tq_worker *w, void *arg)
{
    http_worker *hw = tq_worker_state(w, http_slot);
    if (hw == NULL)
        return;
    close_listener(hw);
    if (!h2o_linklist_is_empty(&hw->requests))
        tq_log_warn("server", "worker %d: requests still open at exit", tq_worker_id(w));
    /* h2o_context_request_shutdown arms an HTTP/2 graceful-shutdown timer even when no
     * HTTP/2 connection exists; disposing the context with it linked asserts */
    if (h2o_timeout_is_linked(&hw->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&hw->ctx.http2._graceful_shutdown_timeout);
    if (hw->ctx.loop != NULL)
        h2o_context_dispose(&hw->ctx);
    tq_token_cache_free(hw->tokens);
    tq_doc_cache_free(hw->docs);
    tq_live_worker_dispose(hw);
    hw->server->hws[tq_worker_id(w)] = NULL;
    tq_worker_set_state(w, http_slot, NULL);
    free(hw);
}

/* ---- set-up ---- */

static void configure_h2o(tq_server *s)
{
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("tenantql"));
    s->globalconf.max_request_entity_size = (size_t)s->cfg.max_body_bytes;
    /* HTTP/2 in h2o 2.2 is unmaintained upstream: keep cleartext upgrades off */
    s->globalconf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    /* h2o_config_register_path may move earlier pathconfs: finish each one at once */
    /* the framing check is each path's first handler (the fallback's too: before GraphiQL's) */
    tq_hygiene_register(&host->fallback_path, s);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/graphql", 0);
    tq_hygiene_register(path, s);
    tq_cors_register(path, s);
    tq_graphql_handler_register(path, s);
    tq_error_filter_register(path);
    if (s->graphiql != NULL)
        tq_graphiql_register(host, s->graphiql, s);
    tq_error_filter_register(&host->fallback_path);
    tq_security_headers_register(host);
}

/* What login and the mutations need: the hashing threads, the login attempt limit, and
 * the registry and signer to issue tokens with. */
static int load_auth(tq_server *s, char *err, size_t errlen)
{
    const tq_server_config *c = &s->cfg;
    tq_password_config pc = {c->hash_threads, c->hash_opslimit, c->hash_memlimit};
    if (tq_password_start(&pc, s->workers, err, errlen) != 0)
        return -1;
    if (c->login_rate_limit > 0) {
        s->api_auth.login_limit = tq_ratelimit_new(c->login_rate_limit, c->login_rate_window_s, (size_t)c->login_rate_keys);
        if (s->api_auth.login_limit == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    s->api_auth.registry = s->registry; /* the signer, token TTL and leeway are the live settings' */
    return 0;
}

/* The budget per client address for requests without a token, and the quota of tenants
 * whose own leaves something out. */
static int load_limits(tq_server *s, char *err, size_t errlen)
{
    const tq_server_config *c = &s->cfg;
    if (c->anon_rate > 0 &&
        (s->client_budget = tq_client_budget_new(c->anon_rate, c->anon_burst, CLIENT_BUDGET_ENTRIES)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    tq_share_configure(c->threads, c->fair_share);
    return 0;
}

/* The trace exporter, when --otlp-endpoint names a collector. */
static int load_tracer(tq_server *s, char *err, size_t errlen)
{
    if (s->cfg.otlp_endpoint == NULL)
        return 0;
    tq_tracer_config tc = {s->cfg.otlp_endpoint, 0};
    if (tq_trace_parse_sample(s->cfg.trace_sample, &tc.sample, err, errlen) != 0)
        return -1;
    s->tracer = tq_tracer_start(&tc, err, errlen);
    return s->tracer != NULL ? 0 : -1;
}

static int load_parts(tq_server *s, char *err, size_t errlen)
{
    const tq_embedded_file *sdl = tq_embedded_find("schema/schema.graphql");
    s->schema = tq_api_schema_build(sdl->data, sdl->len, err, errlen);
    if (s->schema == NULL || (s->budget = tq_budget_schema_new(s->schema, tq_api_list_sizes, err, errlen)) == NULL)
        return -1;
    /* the keys, limits, quotas and CORS, what SIGHUP may replace (live.c): checked before
     * the registry is opened, so a bad key is reported as such */
    if ((s->live = tq_live_build(s, &s->cfg, err, errlen)) == NULL)
        return -1;
    char keys[512];
    tq_jwt_describe(s->live->jwt, keys, sizeof(keys));
    tq_log_info("auth", "tokens: %s", keys);
    if (s->cfg.graphiql && (s->graphiql = tq_graphiql_new(&s->cfg)) == NULL) {
        snprintf(err, errlen, "GraphiQL's files are not all compiled in (see graphiql_assets in meson.build)");
        return -1;
    }
    /* before the registry: its rows' sealed passwords open with this ring */
    if (tq_secret_install_from(s->cfg.secrets_key_file, err, errlen) != 0)
        return -1;
    const tq_secret_ring *ring = tq_secret_process_ring();
    if (ring != NULL) {
        char ids[TQ_SECRET_MAX_KEYS * (TQ_SECRET_KEY_ID_LEN + 2)] = "";
        for (size_t i = 0; i < tq_secret_ring_count(ring); i++)
            snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s", i ? ", " : "",
                     tq_secret_ring_key_id(ring, i));
        tq_log_info("registry", "secrets: %zu key(s), sealing with %s (ids %s)", tq_secret_ring_count(ring),
                    tq_secret_ring_key_id(ring, 0), ids);
    }
    tq_registry_options ro = {s->cfg.registry, s->cfg.registry_refresh_ms, s->cfg.tenant_sslmode, s->cfg.shared_db_max};
    char detail[512];
    s->registry = tq_registry_open(&ro, detail, sizeof(detail));
    if (s->registry == NULL) {
        snprintf(err, errlen, "cannot load the tenant registry: %s", detail);
        return -1;
    }
    if (tq_access_log_open(s, err, errlen) != 0)
        return -1;
    if (load_auth(s, err, errlen) != 0 || load_limits(s, err, errlen) != 0)
        return -1;
    /* the snapshot was built before the registry and the login limit existed */
    s->live->api_auth.registry = s->api_auth.registry;
    s->live->api_auth.login_limit = s->api_auth.login_limit;
    return load_tracer(s, err, errlen);
}

static void unload_parts(tq_server *s)
{
    tq_tracer_stop(s->tracer); /* the workers are stopped: every request has handed its spans over */
    tq_password_stop();
    tq_pgconn_cancel_shutdown();
    tq_ratelimit_free(s->api_auth.login_limit);
    tq_client_budget_free(s->client_budget);
    tq_registry_close(s->registry);
    tq_secret_install_ring(NULL);
    tq_pools_destroy();
    tq_live_release(s->live);
    s->live = NULL;
    tq_graphiql_free(s->graphiql);
    tq_budget_schema_free(s->budget);
    tq_schema_free(s->schema);
    tq_access_log_close(s); /* last: the workers, whose requests write to it, are gone */
}

/* Waits for SIGINT or SIGTERM; meanwhile reloads on SIGHUP and, once a second, says what
 * is the main thread's to say: suppressed log lines whose window is over, refused client
 * connections. (Signals are blocked in every thread and taken here synchronously: no
 * handler runs, and the reload is ordinary code on this thread, off the worker loops.) */
static int wait_for_signal(tq_server *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    const struct timespec tick = {1, 0};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGHUP) {
            tq_server_reload(s);
            tq_linesink_reopen(s->access_log); /* whatever the file says: log rotation */
        }
        else if (sig > 0)
            return sig;
        tq_log_flush_suppressed(false);
        tq_server_report_clients(s);
    }
}

/* The http module's hooks, registered last: it starts after the modules it uses and
 * stops and disposes before them. */
static void register_http_module(tq_server *s)
{
    tq_worker_module hooks = {"http", http_worker_init, http_worker_stop, http_worker_busy, http_worker_cut_off,
                              http_worker_dispose, s};
    http_slot = tq_workers_add_module(s->workers, &hooks);
}

/* Serves until SIGINT or SIGTERM; returns once the workers have drained. */
static void serve(tq_server *s)
{
    const tq_server_config *cfg = &s->cfg;
    tq_log_info("server", "listening on http://%s/graphql with %d worker thread(s), %zu tenant(s) registered",
                cfg->listen, cfg->threads, tq_registry_count(s->registry));
    if (cfg->graphiql)
        tq_log_info("server", "GraphiQL: open http://%s/graphql in a browser", cfg->listen);
    if (cfg->ready_banner != NULL) {
        fputs(cfg->ready_banner, stdout);
        fflush(stdout);
    }
    int sig = wait_for_signal(s);
    tq_log_info("server", "%s received: finishing requests in flight, then stopping",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static void server_free(tq_server *s)
{
    tq_admin_close(s);
    tq_cluster_leave(); /* a start-up that failed after joining: out of the registry at once */
    unload_parts(s);
    h2o_config_dispose(&s->globalconf);
    tq_workers_free(s->workers);
    pthread_mutex_destroy(&s->live_lock);
    free(s->hws);
    free(s->in_force_text);
    free(s);
}

/* glibc's malloc raises its mmap threshold each time a large block is freed (up to 32 MiB),
 * so after one big answer, later big answers and arena chunks come from the per-thread
 * heaps, which keep what they once held: under a flood of large answers (introspection)
 * the resident memory grew to several hundred MiB and stayed there. A fixed threshold
 * sends every block over 256 KiB to mmap and back to the system when freed, and heaps
 * are trimmed as soon as 1 MiB at their top is free; few malloc arenas, because the
 * workers' allocations are short-lived and rarely contended. */
static void tune_allocator(int threads)
{
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    mallopt(M_ARENA_MAX, threads + 2);
}

/* With --cluster-max-connections: registers this process in the registry and takes its
 * share of the cluster's cap (README, "Several processes"). */
static int join_cluster(const tq_server_config *cfg, char *err, size_t errlen)
{
    if (cfg->cluster_max_connections == 0)
        return 0;
    tq_cluster_options co = {cfg->registry, cfg->cluster_max_connections, cfg->cluster_timeout_ms};
    char detail[400];
    if (tq_cluster_join(&co, detail, sizeof(detail)) != 0) {
        snprintf(err, errlen, "cannot join the processes sharing the registry (is it migrated? `tenantql migrate`): %s",
                 detail);
        return -1;
    }
    return 0;
}

int tq_server_run(const tq_server_config *cfg)
{
    char err[512];
    /* SIGHUP reloads (wait_for_signal); blocked before any thread starts, which inherit
     * the mask, so that no thread dies of it in the meantime */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);
    tq_server *s = calloc(1, sizeof(*s));
    s->cfg = *cfg;
    s->in_force = *cfg;
    if (tq_server_config_check(cfg, err, sizeof(err)) != 0 || sodium_init() < 0) {
        tq_log_error("server", "%s", err);
        free(s);
        return 2;
    }
    uint8_t prefix[4];
    randombytes_buf(prefix, sizeof(prefix));
    snprintf(s->request_id_prefix, sizeof(s->request_id_prefix), "%02x%02x%02x%02x", prefix[0], prefix[1], prefix[2],
             prefix[3]);
    int probe;
    /* a probe without SO_REUSEPORT tells "address in use" apart from sharing the port */
    if (tq_http_resolve_listen(cfg->listen, "--listen", &s->listen_addr, &s->listen_addr_len, err, sizeof(err)) != 0 ||
        (probe = tq_http_open_listener(&s->listen_addr, s->listen_addr_len, false, err, sizeof(err))) < 0) {
        tq_log_error("server", "%s (%s)", err, cfg->listen);
        free(s);
        return 1;
    }
    close(probe);
    tune_allocator(cfg->threads);
    tq_log_set_limit(cfg->log_rate_limit, TQ_LOG_LIMIT_DEFAULT_WINDOW_MS);
    if (tq_server_client_limits(s, err, sizeof(err)) != 0) {
        tq_log_error("server", "%s", err);
        free(s);
        return 1;
    }
    h2o_config_init(&s->globalconf);
    pthread_mutex_init(&s->live_lock, NULL);
    s->nhws = cfg->threads;
    s->hws = calloc((size_t)cfg->threads, sizeof(*s->hws));
    /* modules register with the workers bottom-up: pools, data sources, passwords, http */
    s->workers = tq_workers_new(cfg->threads, cfg->drain_timeout_ms);
    tq_pgconn_set_statement_cache(cfg->statement_cache);
    tq_pools_init(s->workers, cfg->max_connections);
    tq_ds_init(s->workers);
    if (load_parts(s, err, sizeof(err)) != 0 || join_cluster(cfg, err, sizeof(err)) != 0) {
        tq_log_error("server", "%s", err);
        server_free(s);
        return 1;
    }
    if (cfg->trust_tenant_header)
        tq_log_warn("server", "--trust-tenant-header is on: X-Tenant-ID selects a tenant WITHOUT a token. "
                              "For local benchmarks only; never expose this server.");

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    configure_h2o(s);
    register_http_module(s);
    if (tq_admin_open(s, err, sizeof(err)) != 0) {
        tq_log_error("server", "%s", err);
        server_free(s);
        return 1;
    }
    if (tq_workers_start(s->workers, err, sizeof(err)) != 0) {
        tq_log_error("server", "start-up failed: %s", err);
        server_free(s);
        return 1;
    }
    if (tq_admin_start(s, err, sizeof(err)) != 0) {
        tq_log_error("server", "start-up failed: the admin API: %s", err);
        tq_workers_stop(s->workers);
        server_free(s);
        return 1;
    }
    int rc = 0;
    if (tq_registry_start(s->registry) != 0 || tq_cluster_start() != 0) {
        tq_log_error("server", "start-up failed: the tenant registry cannot be read");
        rc = 1;
    } else {
        serve(s);
    }
    tq_admin_stop(s); /* first: its /metrics reads the pools the workers close */
    tq_cluster_detach(); /* the cap stays put while the workers close the connections */
    tq_workers_stop(s->workers);
    tq_cluster_leave(); /* every connection closed: the others may take this share */
    tq_server_report_clients(s);
    server_free(s);
    tq_log_flush_suppressed(true);
    tq_log_info("server", "stopped");
    return rc;
}
