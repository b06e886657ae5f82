/*
 * server.c - start-up, worker threads and shutdown of the HTTP server.
 *
 * Each worker has its own loop, h2o context and SO_REUSEPORT listener (the kernel
 * spreads connections across them); the h2o configuration is built once, before the
 * threads start, and is read-only afterwards. The main thread only waits for SIGINT or
 * SIGTERM. Shutdown: stop accepting, let requests in flight finish (bounded by the drain
 * timeout), close idle keep-alive connections, close every pooled connection, exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "graphiql.h"
#include "internal.h"
#include "tenantql/api.h"
#include "tenantql/embedded.h"
#include "tenantql/doc_cache.h"
#include "tenantql/log.h"
#include "tenantql/password.h"
#include "tenantql/token_cache.h"

#define JANITOR_INTERVAL_MS 1000
#define TOKEN_CACHE_SLOTS 1024 /* per worker; a slot holds one token of a few hundred bytes */
#define DOC_CACHE_BYTES (8u << 20) /* per worker: parsed documents */
#define DOC_CACHE_MAX_TEXT 65536   /* longer query texts are parsed each time */
#define LOGIN_LIMIT_KEYS 16384     /* tenant+email pairs the login limit remembers */

h2o_timeout_t *tq_worker_timeout(tq_worker *w, uint64_t ms)
{
    for (int i = 0; i < w->ntimeouts; i++)
        if (w->timeout_ms[i] == ms)
            return &w->timeouts[i];
    if (w->ntimeouts < (int)(sizeof(w->timeouts) / sizeof(w->timeouts[0]))) {
        int i = w->ntimeouts++;
        w->timeout_ms[i] = ms;
        h2o_timeout_init(tq_worker_loop(w), &w->timeouts[i], ms);
        return &w->timeouts[i];
    }
    int best = 0;
    for (int i = 1; i < w->ntimeouts; i++)
        if (llabs((long long)w->timeout_ms[i] - (long long)ms) < llabs((long long)w->timeout_ms[best] - (long long)ms))
            best = i;
    return &w->timeouts[best];
}

/* ---- listening ---- */

static int resolve_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon[1] == '\0') {
        snprintf(err, errlen, "--listen must be HOST:PORT, got \"%s\"", listen);
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
        snprintf(err, errlen, "--listen needs a port between 1 and 65535, got \"%s\"", colon + 1);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve --listen %s: %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int open_listener(const struct sockaddr_storage *ss, socklen_t len, bool reuseport, char *err, size_t errlen)
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

/* ---- workers ---- */

static void on_connection_closed(void *data)
{
    tq_worker *w = data;
    w->connections--;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    tq_worker *w = listener->data;
    if (err != NULL)
        return;
    /* a bounded batch per wake-up keeps one busy listener from starving the loop */
    for (int i = 0; i < 32; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        w->connections++;
        sock->on_close.cb = on_connection_closed;
        sock->on_close.data = w;
        h2o_accept(&w->accept_ctx, sock);
    }
}

static void on_wake(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    /* the wake-up itself is the message: the loop re-checks w->stopping */
    (void)rx;
    (void)messages;
}

static void on_janitor(h2o_timeout_entry_t *entry)
{
    tq_worker *w = H2O_STRUCT_FROM_MEMBER(tq_worker, janitor_entry, entry);
    tq_pools_worker_janitor(w, false);
    h2o_timeout_link(tq_worker_loop(w), &w->janitor_timeout, &w->janitor_entry);
}

static void drain(tq_worker *w)
{
    tq_server *s = w->server;
    h2o_socket_read_stop(w->listener);
    h2o_socket_close(w->listener);
    w->listener = NULL;
    h2o_context_request_shutdown(&w->ctx);
    uint64_t deadline = h2o_now(tq_worker_loop(w)) + (uint64_t)s->cfg.drain_timeout_ms;
    while (atomic_load(&s->requests_in_flight) > 0 && h2o_now(tq_worker_loop(w)) < deadline)
        h2o_evloop_run(tq_worker_loop(w), 50);
    /* h2o 2.2 cannot close idle keep-alive connections on demand; expiring their idle
     * timer now makes it close them on the next turn */
    w->ctx.http1.req_timeout.timeout = 0;
    while (w->connections > 0 && h2o_now(tq_worker_loop(w)) < deadline + 1000)
        h2o_evloop_run(tq_worker_loop(w), 10);
    tq_ds_worker_dispose(w);
    tq_pools_worker_dispose(w);
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(tq_worker_loop(w), 0);
}

static int worker_init(tq_server *s, tq_worker *w, char *err, size_t errlen)
{
    h2o_context_init(&w->ctx, h2o_evloop_create(), &s->globalconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = s->globalconf.hosts;
    int fd = open_listener(&s->listen_addr, s->listen_addr_len, true, err, errlen);
    if (fd < 0)
        return -1;
    w->listener = h2o_evloop_socket_create(tq_worker_loop(w), fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
    h2o_multithread_register_receiver(w->ctx.queue, &w->wake_rx, on_wake);
    tq_pools_worker_init(w);
    tq_password_worker_init(w);
    w->tokens = tq_token_cache_new(s->jwt, TOKEN_CACHE_SLOTS);
    w->docs = tq_doc_cache_new(s->schema, (size_t)s->cfg.doc_cache_entries, DOC_CACHE_BYTES, DOC_CACHE_MAX_TEXT);
    h2o_timeout_init(tq_worker_loop(w), &w->janitor_timeout, JANITOR_INTERVAL_MS);
    w->janitor_entry.cb = on_janitor;
    h2o_timeout_link(tq_worker_loop(w), &w->janitor_timeout, &w->janitor_entry);
    return 0;
}

static void worker_dispose(tq_worker *w)
{
    h2o_loop_t *loop = tq_worker_loop(w);
    if (w->listener != NULL)
        h2o_socket_close(w->listener);
    if (h2o_timeout_is_linked(&w->janitor_entry))
        h2o_timeout_unlink(&w->janitor_entry);
    h2o_timeout_dispose(loop, &w->janitor_timeout);
    for (int i = 0; i < w->ntimeouts; i++)
        h2o_timeout_dispose(loop, &w->timeouts[i]);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->wake_rx);
    tq_password_worker_dispose(w);
    /* h2o_context_request_shutdown arms an HTTP/2 graceful-shutdown timer even when no
     * HTTP/2 connection exists; disposing the context with it linked asserts */
    if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
    h2o_context_dispose(&w->ctx);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    tq_token_cache_free(w->tokens);
    w->tokens = NULL;
    tq_doc_cache_free(w->docs);
    w->docs = NULL;
}

/* Everything of a worker's loop is made, run and disposed on the worker's own thread:
 * h2o sockets take their buffers from the creating thread's thread-local recycling
 * allocator, so a socket made on the main thread (the context's message queue, the
 * listener) and used on a worker corrupts the main thread's free lists under load. */
static void *worker_main(void *arg)
{
    tq_worker *w = arg;
    tq_server *s = w->server;
    w->start_rc = worker_init(s, w, w->start_err, sizeof(w->start_err));
    pthread_barrier_wait(&s->start_barrier); /* every worker has tried */
    pthread_barrier_wait(&s->start_barrier); /* the main thread has decided */
    if (w->start_rc == 0 && !s->start_failed) {
        while (!w->stopping)
            h2o_evloop_run(tq_worker_loop(w), INT32_MAX);
        drain(w);
    }
    if (w->ctx.loop != NULL)
        worker_dispose(w);
    return NULL;
}

/* ---- set-up ---- */

static void configure_h2o(tq_server *s)
{
    h2o_config_init(&s->globalconf);
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("tenantql"));
    s->globalconf.max_request_entity_size = (size_t)s->cfg.max_body_bytes;
    /* HTTP/2 in h2o 2.2 is unmaintained upstream: keep cleartext upgrades off */
    s->globalconf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    /* h2o_config_register_path may move earlier pathconfs: finish each one at once */
    h2o_pathconf_t *path = h2o_config_register_path(host, "/graphql", 0);
    tq_graphql_handler_register(path, s);
    tq_error_filter_register(path);
    tq_ops_handlers_register(host, s);
    if (s->graphiql != NULL)
        tq_graphiql_register(host, s->graphiql);
    tq_error_filter_register(&host->fallback_path);
}

/* What login and the mutations need: the hashing threads, the login attempt limit, and
 * the registry and signer to issue tokens with. */
static int load_auth(tq_server *s, char *err, size_t errlen)
{
    const tq_server_config *c = &s->cfg;
    tq_password_config pc = {c->hash_threads, c->hash_opslimit, c->hash_memlimit};
    if (tq_password_start(&pc, err, errlen) != 0)
        return -1;
    if (c->login_rate_limit > 0 &&
        (s->api_auth.login_limit = tq_ratelimit_new(c->login_rate_limit, c->login_rate_window_s, LOGIN_LIMIT_KEYS)) ==
            NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->api_auth.registry = s->registry;
    s->api_auth.jwt = s->jwt;
    s->api_auth.token_ttl = c->token_ttl;
    return 0;
}

static int load_parts(tq_server *s, char *err, size_t errlen)
{
    const tq_embedded_file *sdl = tq_embedded_find("schema/schema.graphql");
    s->schema = tq_api_schema_build(sdl->data, sdl->len, err, errlen);
    if (s->schema == NULL)
        return -1;
    tq_jwt_settings js;
    tq_server_jwt_settings(&s->cfg, &js);
    if ((s->jwt = tq_jwt_settings_load(&js, err, errlen)) == NULL)
        return -1;
    char keys[512];
    tq_jwt_describe(s->jwt, keys, sizeof(keys));
    tq_log_info("auth", "tokens: %s", keys);
    if (s->cfg.graphiql && (s->graphiql = tq_graphiql_new(&s->cfg)) == NULL) {
        snprintf(err, errlen, "GraphiQL's files are not all compiled in (see graphiql_assets in meson.build)");
        return -1;
    }
    tq_registry_options ro = {s->cfg.registry, s->cfg.registry_refresh_ms, s->cfg.tenant_sslmode};
    char detail[512];
    s->registry = tq_registry_open(&ro, detail, sizeof(detail));
    if (s->registry == NULL) {
        snprintf(err, errlen, "cannot load the tenant registry: %s", detail);
        return -1;
    }
    return load_auth(s, err, errlen);
}

static void unload_parts(tq_server *s)
{
    tq_password_stop();
    tq_ratelimit_free(s->api_auth.login_limit);
    tq_registry_close(s->registry);
    tq_pools_destroy();
    tq_jwt_verifier_free(s->jwt);
    tq_graphiql_free(s->graphiql);
    tq_schema_free(s->schema);
}

static int wait_for_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    return sig;
}

int tq_server_run(const tq_server_config *cfg)
{
    char err[512];
    tq_server *s = calloc(1, sizeof(*s));
    s->cfg = *cfg;
    if (tq_server_config_check(cfg, err, sizeof(err)) != 0 || sodium_init() < 0) {
        tq_log_error("server", "%s", err);
        free(s);
        return 2;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    int probe;
    /* a probe without SO_REUSEPORT tells "address in use" apart from sharing the port */
    if (resolve_listen(cfg->listen, &ss, &sslen, err, sizeof(err)) != 0 ||
        (probe = open_listener(&ss, sslen, false, err, sizeof(err))) < 0) {
        tq_log_error("server", "%s (%s)", err, cfg->listen);
        free(s);
        return 1;
    }
    close(probe);
    if (load_parts(s, err, sizeof(err)) != 0) {
        tq_log_error("server", "%s", err);
        unload_parts(s);
        free(s);
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
    s->nworkers = cfg->threads;
    s->workers = calloc((size_t)s->nworkers, sizeof(tq_worker));
    tq_pools_init(s->workers, s->nworkers, cfg->max_connections);
    s->listen_addr = ss;
    s->listen_addr_len = sslen;
    pthread_barrier_init(&s->start_barrier, NULL, (unsigned)s->nworkers + 1);
    for (int i = 0; i < s->nworkers; i++) {
        s->workers[i].id = i;
        s->workers[i].server = s;
        pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
    }
    pthread_barrier_wait(&s->start_barrier);
    int rc = 0;
    for (int i = 0; i < s->nworkers && rc == 0; i++)
        if (s->workers[i].start_rc != 0) {
            tq_log_error("server", "start-up failed: %s", s->workers[i].start_err);
            rc = 1;
        }
    if (rc == 0 && tq_registry_start(s->registry) != 0) {
        tq_log_error("server", "start-up failed: the tenant registry cannot be read");
        rc = 1;
    }
    s->start_failed = rc != 0;
    pthread_barrier_wait(&s->start_barrier);
    int started = s->nworkers;

    if (rc == 0) {
        tq_log_info("server", "listening on http://%s/graphql with %d worker thread(s), %zu tenant(s) registered",
                    cfg->listen, s->nworkers, tq_registry_count(s->registry));
        if (cfg->graphiql)
            tq_log_info("server", "GraphiQL: open http://%s/graphql in a browser", cfg->listen);
        if (cfg->ready_banner != NULL) {
            fputs(cfg->ready_banner, stdout);
            fflush(stdout);
        }
        int sig = wait_for_signal();
        tq_log_info("server", "%s received: finishing requests in flight, then stopping",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    if (rc == 0)
        for (int i = 0; i < started; i++) {
            s->workers[i].stopping = true;
            h2o_multithread_send_message(&s->workers[i].wake_rx, NULL);
        }
    for (int i = 0; i < started; i++)
        pthread_join(s->workers[i].thread, NULL);
    pthread_barrier_destroy(&s->start_barrier);
    unload_parts(s);
    h2o_config_dispose(&s->globalconf);
    free(s->workers);
    free(s);
    tq_log_info("server", "stopped");
    return rc;
}
