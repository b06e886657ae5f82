/*
 * admin.c - the admin API's listener, on a thread and loop of its own so that neither
 * tenant load nor the admin's work delays the other: /metrics, /healthz and /readyz
 * (moved here from the public port: tenant names and load are operator information),
 * /openapi.json, and /tenants, where every call needs a platform token (jwt.h) and its
 * registry work runs on a job thread (admin_jobs.c, admin_tenants.c).
 *
 *   GET    /tenants                 list (?limit=, ?after=NAME)
 *   POST   /tenants                 create
 *   GET    /tenants/{name}          one tenant
 *   PATCH  /tenants/{name}          pool_options, quota, active
 *   DELETE /tenants/{name}          offboard (export); again: drop
 *   POST   /tenants/{name}/pause    hold its requests
 *   POST   /tenants/{name}/resume
 *
 * Errors are {"error":{"code","message"}} with the HTTP status; each call is logged with
 * its request id, method, path, status and the platform token's sub, never a body.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "tenantql/embedded.h"
#include "tenantql/log.h"

struct tq_admin {
    tq_server *server;
    h2o_globalconf_t conf;
    int listen_fd;
    tq_workers *workers; /* one thread */
    int slot;
    admin_jobs *jobs;
    bool sweeping;
    /* on the admin thread */
    tq_worker *w;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    h2o_multithread_receiver_t done_rx;
    h2o_timeout_entry_t sweep;
    size_t connections;
};

const char tq_admin_openapi_path[] = "schema/openapi.json";

typedef struct admin_handler {
    h2o_handler_t super;
    tq_server *server;
} admin_handler;

/* ---- answers ---- */

static void send_json(tq_server *s, h2o_req_t *req, int status, const char *retry_after, const char *body, size_t len)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = status;
    req->res.reason = status < 300 ? "OK" : "Error";
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    if (retry_after != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, retry_after, strlen(retry_after));
    if (status == 401)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
    tq_server_count_status(s, status);
    char *copy = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(copy, body, len);
    h2o_start_response(req, &generator);
    h2o_iovec_t iov = h2o_iovec_init(copy, len);
    h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
}

static void log_call(h2o_req_t *req, const char *id, const char *sub, int status)
{
    tq_log_info("admin", "request %s: %.*s %.*s by %s: %d", id, (int)req->method.len, req->method.base,
                (int)(req->path.len > 256 ? 256 : req->path.len), req->path.base, sub[0] ? sub : "(no sub)",
                status);
}

static int send_error(tq_server *s, h2o_req_t *req, const char *id, int status, const char *code, const char *msg)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_admin_error_json(&b, code, msg);
    send_json(s, req, status, NULL, b.data, b.len);
    tq_strbuf_free(&b);
    log_call(req, id, "", status);
    return 0;
}

/* ---- the platform token ---- */

/* 0 with claims filled, or answers 401/403 and returns -1. */
static int authenticate(tq_server *s, h2o_req_t *req, const char *id, tq_jwt_platform_claims *claims)
{
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const h2o_iovec_t *v = at >= 0 ? &req->headers.entries[at].value : NULL;
    if (v == NULL || v->len < 7 || strncasecmp(v->base, "Bearer ", 7) != 0) {
        send_error(s, req, id, 401, "UNAUTHENTICATED", "A platform token is required (Authorization: Bearer).");
        return -1;
    }
    tq_live *live = tq_live_acquire(s); /* the keys in force (SIGHUP may replace them) */
    tq_jwt_status st = tq_jwt_verify_platform(live->jwt, v->base + 7, v->len - 7, (int64_t)time(NULL), claims);
    tq_live_release(live);
    if (st == TQ_JWT_OK)
        return 0;
    tq_log_warn("admin", "request %s: platform token refused: %s", id, tq_jwt_status_text(st));
    if (st == TQ_JWT_TENANT_TOKEN || st == TQ_JWT_NOT_PLATFORM)
        send_error(s, req, id, 403, "FORBIDDEN", "The admin API needs a platform token, not a tenant's.");
    else
        send_error(s, req, id, 401, "UNAUTHENTICATED", "The platform token is invalid or expired.");
    return -1;
}

/* ---- routing ---- */

static bool method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* The call for a method and a path below /tenants ("" or "/NAME" or "/NAME/pause"...);
 * name receives NAME. -1: no such path (404); -2: no such method there (405). */
static int route(h2o_req_t *req, const char *rest, size_t len, char name[64])
{
    name[0] = '\0';
    if (len == 0 || (len == 1 && rest[0] == '/'))
        return method_is(req, "GET") ? ADMIN_LIST : method_is(req, "POST") ? ADMIN_CREATE : -2;
    if (rest[0] != '/')
        return -1;
    rest++, len--;
    size_t n = 0;
    while (n < len && rest[n] != '/')
        n++;
    if (n == 0 || n >= 64)
        return -1;
    memcpy(name, rest, n);
    name[n] = '\0';
    const char *action = rest + n;
    size_t alen = len - n;
    if (alen == 0)
        return method_is(req, "GET")      ? ADMIN_GET
               : method_is(req, "PATCH")  ? ADMIN_PATCH
               : method_is(req, "DELETE") ? ADMIN_DELETE
                                          : -2;
    if (h2o_memis(action, alen, H2O_STRLIT("/pause")))
        return method_is(req, "POST") ? ADMIN_PAUSE : -2;
    if (h2o_memis(action, alen, H2O_STRLIT("/resume")))
        return method_is(req, "POST") ? ADMIN_RESUME : -2;
    return -1;
}

/* ?limit=N&after=NAME of GET /tenants; bad values are refused, not clamped silently. */
static int read_list_query(h2o_req_t *req, admin_job *job)
{
    job->limit = TQ_ADMIN_LIST_DEFAULT;
    if (req->query_at == SIZE_MAX)
        return 0;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        size_t n = (size_t)((amp ? amp : end) - q);
        if (n > 6 && memcmp(q, "limit=", 6) == 0) {
            char buf[16];
            if (n - 6 >= sizeof(buf))
                return -1;
            memcpy(buf, q + 6, n - 6);
            buf[n - 6] = '\0';
            char *e;
            long v = strtol(buf, &e, 10);
            if (*e != '\0' || v < 1 || v > TQ_ADMIN_LIST_MAX)
                return -1;
            job->limit = (int)v;
        } else if (n > 6 && memcmp(q, "after=", 6) == 0) {
            if (n - 6 >= sizeof(job->after))
                return -1;
            memcpy(job->after, q + 6, n - 6);
            job->after[n - 6] = '\0';
        }
        q += n + 1;
    }
    return 0;
}

static void job_free(admin_job *job)
{
    free(job->body);
    tq_strbuf_free(&job->answer);
    free(job);
}

static void on_req_gone(void *p)
{
    admin_job *job = *(admin_job **)p;
    if (job != NULL)
        job->req = NULL;
}

static int on_tenants_req(h2o_handler_t *self, h2o_req_t *req)
{
    tq_server *s = ((admin_handler *)self)->server;
    char id[TQ_REQUEST_ID_SIZE];
    tq_http_request_id(s, req, id);
    tq_jwt_platform_claims claims;
    if (authenticate(s, req, id, &claims) != 0)
        return 0;
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *rest = req->path.base + strlen("/tenants");
    char name[64];
    int call = route(req, rest, plen - strlen("/tenants"), name);
    if (call == -1)
        return send_error(s, req, id, 404, "NOT_FOUND", "No such admin path.");
    if (call == -2)
        return send_error(s, req, id, 405, "METHOD_NOT_ALLOWED", "That method is not allowed on this path.");
    admin_job *job = calloc(1, sizeof(*job));
    job->call = (admin_call)call;
    job->server = s;
    memcpy(job->id, id, sizeof(job->id));
    job->answer = (tq_strbuf)TQ_STRBUF_INIT;
    strcpy(job->name, name);
    strcpy(job->operator_sub, claims.sub);
    if (call == ADMIN_LIST && read_list_query(req, job) != 0) {
        job_free(job);
        return send_error(s, req, id, 400, "BAD_REQUEST",
                          "limit must be 1 to 1000 and after a tenant name (at most 63 bytes).");
    }
    if (req->entity.base != NULL && req->entity.len > 0) {
        job->body = malloc(req->entity.len + 1);
        memcpy(job->body, req->entity.base, req->entity.len);
        job->body[req->entity.len] = '\0';
        job->body_len = req->entity.len;
    }
    job->req = req;
    job->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*job->guard), on_req_gone);
    *job->guard = job;
    if (!tq_admin_jobs_submit(s->admin->jobs, job)) {
        *job->guard = NULL;
        job_free(job);
        tq_strbuf b = TQ_STRBUF_INIT;
        tq_admin_error_json(&b, "BUSY", "Too many admin calls at once; try again shortly.");
        send_json(s, req, 503, "1", b.data, b.len);
        tq_strbuf_free(&b);
        log_call(req, id, claims.sub, 503);
    }
    return 0;
}

/* Finished jobs, back on the admin loop: answer their clients. */
static void on_jobs_done(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    tq_admin *a = H2O_STRUCT_FROM_MEMBER(tq_admin, done_rx, rx);
    while (!h2o_linklist_is_empty(messages)) {
        admin_job *job = H2O_STRUCT_FROM_MEMBER(admin_job, msg.link, messages->next);
        h2o_linklist_unlink(&job->msg.link);
        if (job->call == ADMIN_SWEEP)
            a->sweeping = false;
        if (job->req != NULL) {
            *job->guard = NULL;
            send_json(job->server, job->req, job->status, job->retry_after, job->answer.data ? job->answer.data : "",
                      job->answer.len);
            log_call(job->req, job->id, job->operator_sub, job->status);
        }
        job_free(job);
    }
}

static void arm_sweep(tq_admin *a);

/* Every TQ_ADMIN_SWEEP_MS: drop the tenants whose offboarding grace period is over (one
 * sweep at a time; a sweep that finds the queue full waits for the next tick). */
static void on_sweep(h2o_timeout_entry_t *e)
{
    tq_admin *a = H2O_STRUCT_FROM_MEMBER(tq_admin, sweep, e);
    if (!a->sweeping && !tq_worker_stopping(a->w)) {
        admin_job *job = calloc(1, sizeof(*job));
        job->call = ADMIN_SWEEP;
        job->server = a->server;
        job->answer = (tq_strbuf)TQ_STRBUF_INIT;
        a->sweeping = tq_admin_jobs_submit(a->jobs, job);
        if (!a->sweeping)
            job_free(job);
    }
    arm_sweep(a);
}

static void arm_sweep(tq_admin *a)
{
    if (tq_worker_stopping(a->w))
        return;
    a->sweep.cb = on_sweep;
    h2o_timeout_link(a->ctx.loop, tq_worker_timeout(a->w, TQ_ADMIN_SWEEP_MS), &a->sweep);
}

static int on_openapi_req(h2o_handler_t *self, h2o_req_t *req)
{
    tq_server *s = ((admin_handler *)self)->server;
    if (!method_is(req, "GET") && !method_is(req, "HEAD"))
        return send_error(s, req, "-", 405, "METHOD_NOT_ALLOWED", "Use GET.");
    const tq_embedded_file *f = tq_embedded_find(tq_admin_openapi_path);
    send_json(s, req, 200, NULL, (const char *)f->data, f->len);
    return 0;
}

static int on_unknown_req(h2o_handler_t *self, h2o_req_t *req)
{
    tq_server *s = ((admin_handler *)self)->server;
    return send_error(s, req, "-", 404, "NOT_FOUND", "No such admin path.");
}

/* ---- the listener ---- */

static void on_admin_closed(void *data)
{
    tq_admin *a = data;
    a->connections--;
}

static void on_admin_accept(h2o_socket_t *listener, const char *err)
{
    tq_admin *a = listener->data;
    if (err != NULL)
        return;
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        if (a->connections >= TQ_ADMIN_MAX_CONNECTIONS) {
            h2o_socket_close(sock);
            continue;
        }
        a->connections++;
        sock->on_close.cb = on_admin_closed;
        sock->on_close.data = a;
        h2o_accept(&a->accept_ctx, sock);
    }
}

/* ---- the admin thread (a worker group of one) ---- */

static int admin_init(tq_worker *w, void *arg, char *err, size_t errlen)
{
    tq_admin *a = arg;
    a->w = w;
    h2o_context_init(&a->ctx, tq_worker_loop(w), &a->conf);
    a->accept_ctx.ctx = &a->ctx;
    a->accept_ctx.hosts = a->conf.hosts;
    h2o_multithread_register_receiver(tq_worker_queue(w), &a->done_rx, on_jobs_done);
    a->jobs = tq_admin_jobs_start(a->server->cfg.admin_threads, a->server->cfg.registry, &a->done_rx, err, errlen);
    if (a->jobs == NULL)
        return -1;
    a->listener = h2o_evloop_socket_create(tq_worker_loop(w), a->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    a->listen_fd = -1; /* the socket owns it */
    a->listener->data = a;
    h2o_socket_read_start(a->listener, on_admin_accept);
    arm_sweep(a);
    return 0;
}

static void admin_stop(tq_worker *w, void *arg)
{
    tq_admin *a = arg;
    if (a->listener != NULL) {
        h2o_socket_read_stop(a->listener);
        h2o_socket_close(a->listener);
        a->listener = NULL;
    }
    if (h2o_timeout_is_linked(&a->sweep))
        h2o_timeout_unlink(&a->sweep);
    h2o_context_request_shutdown(&a->ctx);
    a->ctx.http1.req_timeout.timeout = 0;
}

static bool admin_busy(tq_worker *w, void *arg)
{
    tq_admin *a = arg;
    return (a->jobs != NULL && tq_admin_jobs_pending(a->jobs) > 0) || a->connections > 0;
}

static void admin_dispose(tq_worker *w, void *arg)
{
    tq_admin *a = arg;
    admin_stop(w, arg);
    tq_admin_jobs_stop(a->jobs); /* hands back what is left */
    a->jobs = NULL;
    for (int i = 0; i < 1000 && !h2o_linklist_is_empty(&a->done_rx._messages); i++)
        h2o_evloop_run(tq_worker_loop(w), 0);
    h2o_multithread_unregister_receiver(tq_worker_queue(w), &a->done_rx);
    if (h2o_timeout_is_linked(&a->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&a->ctx.http2._graceful_shutdown_timeout);
    if (a->ctx.loop != NULL)
        h2o_context_dispose(&a->ctx);
}

/* ---- set-up ---- */

static void register_handler(h2o_hostconf_t *host, const char *path, tq_server *s,
                             int (*on_req)(h2o_handler_t *, h2o_req_t *))
{
    h2o_pathconf_t *pc = path != NULL ? h2o_config_register_path(host, path, 0) : &host->fallback_path;
    tq_hygiene_register(pc, s);
    admin_handler *h = (admin_handler *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_req;
    h->server = s;
}

int tq_admin_open(tq_server *s, char *err, size_t errlen)
{
    if (strcmp(s->cfg.admin_listen, "off") == 0)
        return 0;
    struct sockaddr_storage ss;
    socklen_t len;
    char detail[256];
    if (tq_http_resolve_listen(s->cfg.admin_listen, "--admin-listen", &ss, &len, detail, sizeof(detail)) != 0) {
        snprintf(err, errlen, "%s", detail);
        return -1;
    }
    /* no SO_REUSEPORT: a second server on the same admin address must fail, not share it */
    int fd = tq_http_open_listener(&ss, len, false, detail, sizeof(detail));
    if (fd < 0) {
        snprintf(err, errlen, "--admin-listen %s: %s", s->cfg.admin_listen, detail);
        return -1;
    }
    tq_admin *a = calloc(1, sizeof(*a));
    a->server = s;
    a->listen_fd = fd;
    h2o_config_init(&a->conf);
    a->conf.server_name = h2o_iovec_init(H2O_STRLIT("tenantql"));
    a->conf.max_request_entity_size = TQ_ADMIN_MAX_BODY;
    a->conf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&a->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    register_handler(host, NULL, s, on_unknown_req);
    register_handler(host, "/tenants", s, on_tenants_req);
    register_handler(host, "/openapi.json", s, on_openapi_req);
    tq_ops_handlers_register(host, s);
    tq_security_headers_register(host);
    s->admin = a;
    return 0;
}

int tq_admin_start(tq_server *s, char *err, size_t errlen)
{
    tq_admin *a = s->admin;
    if (a == NULL)
        return 0;
    a->workers = tq_workers_new(1, s->cfg.drain_timeout_ms);
    tq_worker_module hooks = {"admin", admin_init, admin_stop, admin_busy, NULL, admin_dispose, a};
    a->slot = tq_workers_add_module(a->workers, &hooks);
    if (tq_workers_start(a->workers, err, errlen) != 0)
        return -1;
    tq_log_info("admin", "admin API, /metrics, /healthz and /readyz on http://%s", s->cfg.admin_listen);
    return 0;
}

void tq_admin_stop(tq_server *s)
{
    if (s->admin != NULL && s->admin->workers != NULL)
        tq_workers_stop(s->admin->workers);
}

void tq_admin_close(tq_server *s)
{
    tq_admin *a = s->admin;
    if (a == NULL)
        return;
    if (a->workers != NULL)
        tq_workers_free(a->workers);
    if (a->listen_fd >= 0)
        close(a->listen_fd);
    h2o_config_dispose(&a->conf);
    free(a);
    s->admin = NULL;
}
