/*
 * graphql_handler.c - /graphql: one GraphQL request from HTTP to response.
 *
 *   1. a request naming no tenant (no token, no trusted X-Tenant-ID) pays from its client
 *      address's budget before its body is parsed (429 when it is spent)
 *   2. read the GraphQL-over-HTTP request (POST JSON body or GET query string)
 *   3. authenticate: a bearer token (or, when trusted, X-Tenant-ID) names the tenant;
 *      introspection-only queries and login-only mutations need neither (but pay from
 *      the address's budget, a login more)
 *   4. parse the document and pick the operation
 *   5. look the tenant up in the registry cache: unknown or inactive is 403 and no
 *      database is touched; then the tenant's quota admits the request (429) or not;
 *      a paused tenant's request waits here for a record that is not paused (see
 *      "a paused tenant" below)
 *   6. validate a document not seen before, and measure the operation against the
 *      execution budget (QUERY_TOO_COMPLEX)
 *   7. build the request context (data sources bound to the tenant's pool), let the
 *      request gate check the token's user and revocations, and execute; resolvers
 *      wait for the database without blocking the loop
 *   8. write the JSON response straight into the body buffer
 *
 * A tq_request outlives its h2o_req_t when the client goes away mid-query: it is freed
 * once the execution is complete and no query of it is out (or, while it waits for a
 * pause to end, at its next look at the registry).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>

#include "graphiql.h"
#include "internal.h"
#include "tenantql/api.h"
#include "tenantql/budget.h"
#include "tenantql/clock.h"
#include "tenantql/doc_cache.h"
#include "tenantql/exec.h"
#include "tenantql/introspection.h"
#include "tenantql/parser.h"
#include "tenantql/roots.h"
#include "tenantql/validate.h"
#include "tenantql/json_writer.h"
#include "tenantql/log.h"
#include "tenantql/migrate.h"
#include "tenantql/token_cache.h"
#include "tenantql/trace.h"
#include "tenantql/uuid.h"

#define MAX_DOCUMENT_DEPTH 64
#define MAX_DOCUMENT_TOKENS 20000

static const tq_gql_parse_options parse_options = {false, MAX_DOCUMENT_DEPTH, MAX_DOCUMENT_TOKENS};

typedef struct graphql_handler {
    h2o_handler_t super;
    tq_server *server;
} graphql_handler;

typedef struct tq_request {
    tq_arena arena;
    tq_server *server;
    http_worker *hw;
    tq_live *live;               /* the reloadable settings as it arrived (a reference: login signs late) */
    h2o_linklist_t link;         /* hw->requests */
    h2o_req_t *req;              /* NULL once the client has gone */
    struct tq_request **guard;   /* slot in req->pool whose disposal clears req */
    char id[TQ_REQUEST_ID_SIZE];   /* X-Request-ID: the client's, if sane, else made here */
    uint64_t start_us;           /* tq_clock_us when it arrived (its duration in /metrics) */
    tq_gql_params params;
    bool graphql_response;       /* answer as application/graphql-response+json */
    bool head;                   /* HEAD: headers only */
    const char *allow;           /* the Allow header of a 405 */
    bool responded;
    bool exec_done;
    tq_tenant *tenant;           /* the tenant it names, once looked up (a reference) */
    bool tenant_looked_up;
    bool quota_admitted;         /* r->quota holds its place */
    tq_jwt_claims claims;
    bool authenticated;
    tq_api_ctx api;
    tq_exec *exec;
    tq_exec *gated;              /* the execution waiting for the request gate */
    tq_doc_pin *doc_pin;         /* the worker's cached document this request runs, if any */
    h2o_timeout_entry_t timeout;
    bool client_charged;         /* paid 1 from its address's budget already */
    int retry_after_s;           /* a 429's Retry-After, or a 503's (0: none) */
    tq_quota_ticket quota;       /* its place in its tenant's quota, and the RateLimit fields */
    bool *freed;                 /* while the handler runs: set when r is freed under it */
    uint64_t handler_start_us;   /* when the handler started (charged to the tenant's share) */
    tq_exec *held;               /* the execution waiting for its tenant's pause to end */
    const tq_gql_document *held_doc; /* and its document */
    h2o_timeout_entry_t pause_timer; /* the next look at the tenant's record while held */
    uint64_t held_since;         /* loop time (ms) the wait began */
    /* for its access log line */
    int64_t arrived_unix_us;     /* wall clock at arrival */
    uint64_t answered_us;        /* tq_clock_us when answered */
    int status;                  /* the answer's */
    size_t bytes;                /* the answer's body */
    const tq_gql_operation *op;  /* the operation it runs, once picked (in its document) */
    const char *codes[TQ_ACCESS_MAX_CODES]; /* the answer's distinct extensions.code values */
    int ncodes;
    char remote[TQ_ACCESS_REMOTE_SIZE];
    const char *method;          /* GET, POST, HEAD, ... (method_name) */
    tq_trace trace;              /* its trace (--otlp-endpoint): ids, and spans when sampled */
} tq_request;

/* ---- request lifetime ---- */

/* The client went away (h2o frees the request's pool): what the request still asks of the
 * database is no longer wanted. */
static void on_req_pool_dispose(void *p)
{
    tq_request **slot = p;
    tq_request *r = *slot;
    if (r == NULL)
        return;
    r->req = NULL;
    if (!r->responded)
        tq_api_ctx_cancel(&r->api);
}

/* The client's address, as text, for the access log. */
static void remote_address(h2o_req_t *req, char out[TQ_ACCESS_REMOTE_SIZE])
{
    struct sockaddr_storage ss;
    out[0] = '\0';
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (len == 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, TQ_ACCESS_REMOTE_SIZE);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, TQ_ACCESS_REMOTE_SIZE);
}

/* ---- traces (trace.h): the request's span and its children ---- */

static const char *method_name(h2o_req_t *req)
{
    static const char *const known[] = {"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (h2o_memis(req->method.base, req->method.len, known[i], strlen(known[i])))
            return known[i];
    return "_OTHER"; /* OpenTelemetry's name for a method it does not list */
}

/* With tracing on: the request's trace, continued from its traceparent (a request with
 * two is read as having none) or started, and its id in the answer's traceparent. */
static void trace_begin(tq_request *r, h2o_req_t *req)
{
    if (r->server->tracer == NULL)
        return;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("traceparent"), -1);
    bool one = i >= 0 && h2o_find_header_by_str(&req->headers, H2O_STRLIT("traceparent"), i) < 0;
    h2o_iovec_t v = one ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
    tq_trace_begin(&r->trace, r->server->tracer, method_name(req), v.base, v.len, r->start_us, &r->arena);
    char *tp = h2o_mem_alloc_pool(&req->pool, TQ_TRACEPARENT_LEN + 1);
    tq_trace_response_header(&r->trace, tp);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("traceparent"), 0, NULL, tp, TQ_TRACEPARENT_LEN);
}

/* One of the request's statements came back (tq_db.on_statement; sampled requests). */
static void trace_statement(tq_db *db, const tq_db_query *q, tq_db_status status)
{
    tq_request *r = H2O_STRUCT_FROM_MEMBER(tq_request, api.db, db);
    tq_trace_statement(&r->trace, q->stmt->name, q->asked_us, q->sent_us, q->done_us, status != TQ_DB_OK);
}

/* A sampled request's statements carry its trace: a span each, and the SQL comment
 * (unless --trace-sql-comment is off). */
static void trace_bind_db(tq_request *r)
{
    if (!tq_trace_sampled(&r->trace))
        return;
    if (r->server->cfg.trace_sql_comment)
        r->api.db.sql_comment = tq_trace_sql_comment(&r->trace);
    r->api.db.on_statement = trace_statement;
}

/* An operation's name is the client's to choose and GraphQL sets no length: the access log
 * and the spans keep its first TQ_OP_NAME_LOGGED bytes, so that neither a line nor a
 * queued span grows with it. */
#define TQ_OP_NAME_LOGGED 128

static size_t logged_name_len(const tq_gql_operation *op)
{
    return op == NULL ? 0 : op->name.len < TQ_OP_NAME_LOGGED ? op->name.len : TQ_OP_NAME_LOGGED;
}

static const char *operation_type_name(const tq_gql_operation *op)
{
    if (op == NULL)
        return NULL;
    return op->type == TQ_GQL_OP_MUTATION ? "mutation" : op->type == TQ_GQL_OP_SUBSCRIPTION ? "subscription" : "query";
}

static void trace_operation(tq_request *r, const tq_gql_operation *op)
{
    if (op != NULL)
        tq_trace_operation(&r->trace, operation_type_name(op), op->name.s, logged_name_len(op));
}

/* The request is freed: its spans go to the exporter. */
static void trace_finish(tq_request *r)
{
    tq_trace_request tr = {r->tenant != NULL ? tq_tenant_name(r->tenant) : NULL, r->id};
    tq_trace_finish(&r->trace, &tr);
}

static tq_request *request_new(http_worker *hw, h2o_req_t *req)
{
    tq_server *s = hw->server;
    tq_request *r = calloc(1, sizeof(*r));
    tq_arena_init(&r->arena, 8192);
    r->server = s;
    r->hw = hw;
    r->live = tq_live_hold(hw->live);
    h2o_linklist_insert(&hw->requests, &r->link);
    r->req = req;
    tq_http_request_id(s, req, r->id);
    r->start_us = tq_clock_us();
    if (s->access_log != NULL) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        r->arrived_unix_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
        remote_address(req, r->remote);
    }
    r->method = method_name(req);
    trace_begin(r, req);
    r->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*r->guard), on_req_pool_dispose);
    *r->guard = r;
    atomic_fetch_add(&s->requests_in_flight, 1);
    return r;
}

static void unhold(tq_request *r);

/* Its access log line: once freed, its statements (even one outliving the answer) are all
 * counted. */
static void log_access(tq_request *r)
{
    tq_access_entry e = {
        .request_id = r->id,
        .arrived_unix_us = r->arrived_unix_us,
        .remote = r->remote,
        .method = r->method,
        .tenant = r->tenant != NULL ? tq_tenant_name(r->tenant) : NULL,
        .op_type = operation_type_name(r->op),
        .op_name = r->op != NULL ? r->op->name.s : NULL,
        .op_name_len = logged_name_len(r->op),
        .document = r->params.query,
        .document_len = r->params.query_len,
        .status = r->status,
        .duration_us = r->answered_us > r->start_us ? r->answered_us - r->start_us : 0,
        .db = r->api.db.timings,
        .bytes = r->bytes,
        .ncodes = r->ncodes,
    };
    memcpy(e.codes, r->codes, sizeof(e.codes));
    char trace_id[TQ_TRACE_ID_HEX_SIZE];
    if (tq_trace_id_hex(&r->trace, trace_id))
        e.trace_id = trace_id;
    tq_access_log_write(r->server, &e);
}

/* Remembers an extensions.code of the answer (distinct, the first few). */
static void note_code(tq_request *r, const char *code)
{
    for (int i = 0; i < r->ncodes; i++)
        if (strcmp(r->codes[i], code) == 0)
            return;
    if (r->ncodes < TQ_ACCESS_MAX_CODES)
        r->codes[r->ncodes++] = code;
}

static void request_free(tq_request *r)
{
    if (r->server->access_log != NULL && r->responded)
        log_access(r);
    trace_finish(r);
    if (r->req != NULL)
        *r->guard = NULL;
    if (h2o_timeout_is_linked(&r->timeout))
        h2o_timeout_unlink(&r->timeout);
    unhold(r); /* answered while waiting for a pause to end (the drain's cut-off) */
    h2o_linklist_unlink(&r->link);
    tq_api_ctx_dispose(&r->api);
    if (r->freed != NULL) { /* answered within the handler */
        *r->freed = true;
        tq_quotas_tenant_charge(&r->quota, tq_clock_us() - r->handler_start_us);
    }
    tq_quotas_tenant_leave(&r->quota); /* in flight until freed: its queries may still run */
    tq_tenant_release(r->tenant);
    tq_gql_params_dispose(&r->params);
    tq_doc_cache_release(r->hw->docs, r->doc_pin);
    tq_arena_free(&r->arena);
    tq_live_release(r->live);
    atomic_fetch_sub(&r->server->requests_in_flight, 1);
    free(r);
}

/* Frees the request once nothing refers to it any more. */
static void request_maybe_free(tq_request *r)
{
    if (!r->responded || (r->exec != NULL && !r->exec_done) || r->api.db.inflight > 0)
        return;
    request_free(r);
}

static void on_db_idle(tq_db *db)
{
    tq_request *r = H2O_STRUCT_FROM_MEMBER(tq_request, api.db, db);
    request_maybe_free(r);
}

/* ---- responses ---- */

static void free_body(void *p)
{
    free(*(char **)p);
}

static void send_body(tq_request *r, int status, tq_strbuf *body)
{
    tq_trace_answered(&r->trace, status);
    r->responded = true;
    r->status = status;
    r->bytes = body->len;
    r->answered_us = tq_clock_us();
    tq_server_count_status(r->server, status);
    if (r->tenant != NULL) /* the tenant it named pays; a request refused before that, nobody */
        tq_usage_count_request(tq_tenant_usage(r->tenant), tq_request_outcome_of(status), r->answered_us - r->start_us,
                               r->api.db.timings.pg_us, r->api.db.timings.statements);
    h2o_req_t *req = r->req;
    if (req == NULL) {
        tq_strbuf_free(body);
        return;
    }
    static const char *const reasons[] = {[200] = "OK", [400] = "Bad Request", [401] = "Unauthorized",
                                          [403] = "Forbidden", [405] = "Method Not Allowed", [406] = "Not Acceptable",
                                          [413] = "Payload Too Large", [415] = "Unsupported Media Type",
                                          [429] = "Too Many Requests", [503] = "Service Unavailable"};
    req->res.status = status;
    req->res.reason = (size_t)status < sizeof(reasons) / sizeof(reasons[0]) && reasons[status] ? reasons[status] : "Error";
    req->res.content_length = body->len;
    if (r->graphql_response)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/graphql-response+json; charset=utf-8"));
    else
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/json; charset=utf-8"));
    if (status == 401)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
    if (status == 429 || (status == 503 && r->retry_after_s > 0)) {
        char *s = tq_arena_sprintf(&r->arena, "%d", r->retry_after_s > 0 ? r->retry_after_s : 1);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, s, strlen(s));
    }
    tq_quotas_add_headers(req, &r->quota);
    if (status == 405) {
        const char *allow = r->allow != NULL ? r->allow : "GET, POST";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    }
    /* the answer's type depends on Accept */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept"));
    tq_http_add_json_headers(req);
    if (req->conn->ctx->shutdown_requested)
        req->http1_is_persistent = 0; /* h2o only does this for requests parsed after shutdown began */
    /* the body buffer is handed to h2o as is and freed with the request's pool */
    char **owner = h2o_mem_alloc_shared(&req->pool, sizeof(char *), free_body);
    size_t len;
    *owner = tq_strbuf_detach(body, &len);
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_iovec_t iov = h2o_iovec_init(*owner, len);
    /* h2o 2.2 leaves HEAD to the handler: the length is announced, the body not sent */
    h2o_send(req, &iov, r->head ? 0 : 1, H2O_SEND_STATE_FINAL);
    *r->guard = NULL;
    r->req = NULL;
}

/* {"errors":[{"message":...,"extensions":{"code":...}}]} for errors raised before
 * execution, then the request is done. */
static void send_error(tq_request *r, int status, const char *code, const char *message)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_strbuf_lit(&b, "{\"errors\":[{\"message\":");
    tq_json_write_cstr(&b, message);
    tq_strbuf_lit(&b, ",\"extensions\":{\"code\":");
    tq_json_write_cstr(&b, code);
    tq_strbuf_lit(&b, "}}]}");
    tq_log_debug("http", "request %s: %d %s: %s", r->id, status, code, message);
    note_code(r, code);
    send_body(r, status, &b);
    request_maybe_free(r);
}

static void on_request_timeout(h2o_timeout_entry_t *entry)
{
    tq_request *r = H2O_STRUCT_FROM_MEMBER(tq_request, timeout, entry);
    tq_log_limited(TQ_LOG_WARN, "http", "request timed out", "request %s: no answer after %ld ms", r->id,
                   r->server->cfg.request_timeout_ms);
    tq_api_ctx_cancel(&r->api); /* before answering, which may free r */
    send_error(r, 503, "TENANT_BUSY", "The request took too long.");
}

/* ---- execution ---- */

/* TENANT_MIGRATING's Retry-After (whole seconds): one tenant's migration takes
 * milliseconds, and servers see its end within a second (the registry's NOTIFY); a
 * tenant outside this server's range of versions waits for `tenantql migrate` to reach
 * it in a fleet, or for a newer server: longer, and retried less often */
#define MIGRATING_RETRY_AFTER_S 1
#define OUT_OF_RANGE_RETRY_AFTER_S 5

static bool is_post(h2o_req_t *req)
{
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
}

static void on_exec_done(tq_exec *ex, void *data)
{
    tq_request *r = data;
    r->exec_done = true;
    if (!r->responded) {
        tq_strbuf b = TQ_STRBUF_INIT;
        size_t bytes;
        bool too_large = tq_exec_answer_too_large(ex, &bytes);
        if (too_large)
            tq_limits_count_answer_cap(r->server, r->id, bytes);
        if (too_large)
            note_code(r, "QUERY_TOO_COMPLEX");
        else
            r->ncodes = (int)tq_exec_error_codes(ex, r->codes, TQ_ACCESS_MAX_CODES);
        tq_exec_write_response(ex, &b);
        int status = 200;
        /* an answer cut off is that one error, whatever else went wrong meanwhile */
        if (!too_large &&
            (tq_exec_has_error_code(ex, "TENANT_UNAVAILABLE") || tq_exec_has_error_code(ex, "TENANT_BUSY")))
            status = 503;
        else if (!too_large && tq_exec_has_error_code(ex, "TENANT_MIGRATING"))
            status = 503; /* its tables are behind this server's statements (datasource/db.c) */
        else if (tq_exec_is_request_error(ex) && r->graphql_response)
            status = 400;
        if (status == 503 && tq_exec_has_error_code(ex, "TENANT_MIGRATING"))
            r->retry_after_s = MIGRATING_RETRY_AFTER_S;
        send_body(r, status, &b);
    }
    request_maybe_free(r);
}

/* What an operation needs before it may run, read from its root fields: introspection
 * reads only the public schema, and login finds its tenant by the name it is given;
 * anything else needs a token (or the trusted header) and a tenant. */
typedef enum op_access {
    ACCESS_TENANT,
    ACCESS_SCHEMA,
    ACCESS_LOGIN,
} op_access;

static op_access operation_access(tq_request *r, const tq_gql_document *doc, const tq_gql_operation *op)
{
    static const char *const schema_fields[] = {"__schema", "__type", "__typename", NULL};
    static const char *const login_fields[] = {"login", "__typename", NULL};
    if (op == NULL)
        return ACCESS_SCHEMA; /* nothing runs: the request error needs no tenant */
    if (op->type == TQ_GQL_OP_QUERY && tq_gql_roots_only(doc, op, schema_fields, &r->arena))
        return ACCESS_SCHEMA;
    if (op->type == TQ_GQL_OP_MUTATION && tq_gql_roots_only(doc, op, login_fields, &r->arena))
        return ACCESS_LOGIN;
    return ACCESS_TENANT;
}

/* ---- budgets and quotas ---- */

static void send_rate_limited(tq_request *r, int retry_after_s, const char *message)
{
    r->retry_after_s = retry_after_s;
    send_error(r, 429, "RATE_LIMITED", message);
}

/* Takes cost from the budget of the request's client address; false after answering 429. */
static bool charge_client(tq_request *r, int cost)
{
    int retry = tq_quotas_client_take(r->server, r->req, cost);
    if (retry == 0)
        return true;
    tq_log_limited(TQ_LOG_INFO, "http", "refused: client address over its budget",
                   "request %s: refused: the client address is over its budget for requests without a token", r->id);
    send_rate_limited(r, retry, tq_arena_sprintf(&r->arena,
                                                 "Too many requests without a token from this address; try again in "
                                                 "%d second%s.",
                                                 retry, retry == 1 ? "" : "s"));
    return false;
}

/* A request that names no tenant (no Authorization, no trusted X-Tenant-ID) pays 1 from
 * its address's budget before its body is parsed; false after answering 429. */
static bool budget_anonymous(tq_request *r, h2o_req_t *req)
{
    if (h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1) >= 0)
        return true;
    if (r->server->cfg.trust_tenant_header && h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-tenant-id"), -1) >= 0)
        return true; /* the trusted header names a tenant: its quota applies instead */
    r->client_charged = true;
    return charge_client(r, 1);
}

/* Operations that run before a tenant is known pay from the address's budget whoever
 * sends them: a login what its password hash is worth, the rest 1 (unless paid already).
 * False after answering 429. */
static bool budget_access(tq_request *r, op_access access)
{
    if (access == ACCESS_TENANT)
        return true;
    int cost = access == ACCESS_LOGIN ? r->server->cfg.anon_login_cost : 1;
    if (r->client_charged)
        cost -= 1;
    r->client_charged = true;
    return cost <= 0 || charge_client(r, cost);
}

/* A request of a known tenant is admitted by its quota, once; false after answering 429. */
static bool admit_tenant(tq_request *r)
{
    if (r->tenant == NULL || r->quota_admitted)
        return true;
    r->quota_admitted = true;
    if (tq_quotas_tenant_admit(r->server, r->tenant, &r->arena, &r->quota))
        return true;
    int retry = r->quota.retry_after_s;
    if (r->quota.verdict == TQ_QUOTA_OVER_SHARE) {
        tq_log_limited(TQ_LOG_INFO, "http", "refused: tenant over its fair share",
                       "request %s: refused: tenant %s is over its fair share of a busy server", r->id,
                       tq_tenant_name(r->tenant));
        send_rate_limited(r, retry, "The server is busy and this tenant has had more than its share of it; try "
                                    "again in 1 second.");
        return false;
    }
    tq_log_limited(TQ_LOG_INFO, "http", "refused: tenant over its quota",
                   "request %s: refused: tenant %s is over its quota of %s", r->id, tq_tenant_name(r->tenant),
                   r->quota.what);
    send_rate_limited(r, retry, tq_arena_sprintf(&r->arena, "Over the tenant's quota of %s; try again in %d second%s.",
                                                 r->quota.what, retry, retry == 1 ? "" : "s"));
    return false;
}

/* Looks up the tenant that the token (or the trusted header) names, once; r->tenant stays
 * NULL when the registry does not know it. */
static void find_tenant(tq_request *r, const char *header_tenant, size_t header_len)
{
    if (r->tenant_looked_up)
        return;
    r->tenant_looked_up = true;
    tq_registry *reg = r->server->registry;
    uint8_t id[16];
    if (r->authenticated) {
        tq_uuid_parse(r->claims.tenant_id, 36, id);
        r->tenant = tq_registry_get_by_id(reg, id);
    } else if (tq_uuid_parse(header_tenant, header_len, id)) {
        r->tenant = tq_registry_get_by_id(reg, id);
    } else {
        r->tenant = tq_registry_get_by_name(reg, header_tenant, header_len);
    }
}

/* Whether r->tenant (the record looked up) may be served; false after answering 503 or
 * 403. */
static bool tenant_usable(tq_request *r)
{
    tq_registry *reg = r->server->registry;
    if (r->tenant == NULL && !tq_registry_healthy(reg)) {
        send_error(r, 503, "TENANT_UNAVAILABLE", "The tenant registry is unavailable; try again shortly.");
        return false;
    }
    if (r->tenant == NULL || !tq_tenant_active(r->tenant)) {
        /* the tenant's name comes from the registry, never from the token */
        tq_log_limited(TQ_LOG_INFO, "auth", r->tenant ? "tenant refused: inactive" : "tenant refused: unknown",
                       "request %s: tenant refused: %s%s", r->id, r->tenant ? "inactive tenant " : "unknown tenant",
                       r->tenant ? tq_tenant_name(r->tenant) : "");
        send_error(r, 403, "FORBIDDEN", "Unknown or inactive tenant.");
        return false;
    }
    if (!tq_tenant_credentials_ok(r->tenant)) {
        /* its password could not be opened or resolved (the registry thread logged why) */
        send_error(r, 503, "TENANT_UNAVAILABLE", "The tenant's database is unavailable.");
        return false;
    }
    return true;
}

/* Whether r->tenant's tables fit this server's statements (tq_tenant_schema_gate): false
 * after answering 503 TENANT_MIGRATING, before anything touched its database. */
static bool schema_servable(tq_request *r)
{
    tq_schema_gate gate = tq_tenant_schema_gate(r->tenant);
    if (gate == TQ_SCHEMA_SERVABLE)
        return true;
    tq_server_count_refusal(r->server, TQ_REFUSED_TENANT_MIGRATING);
    if (gate == TQ_SCHEMA_MIGRATING) {
        tq_log_limited(TQ_LOG_INFO, "http", "refused: tenant migrating",
                       "request %s: refused: tenant %s is being migrated; answered 503", r->id,
                       tq_tenant_name(r->tenant));
        r->retry_after_s = MIGRATING_RETRY_AFTER_S;
    } else {
        tq_log_limited(TQ_LOG_INFO, "http", "refused: tenant schema version out of range",
                       "request %s: refused: tenant %s is at schema version %d, this server serves %d..%d; answered "
                       "503",
                       r->id, tq_tenant_name(r->tenant), tq_tenant_schema_version(r->tenant), TQ_TENANT_SCHEMA_MIN,
                       tq_migrate_latest_version(TQ_MIGRATIONS_TENANT));
        r->retry_after_s = OUT_OF_RANGE_RETRY_AFTER_S;
    }
    send_error(r, 503, "TENANT_MIGRATING", "The tenant's database is being migrated; try again shortly.");
    return false;
}

/* Resolves the tenant of an authenticated request; false after answering. */
static bool attach_tenant(tq_request *r, const char *header_tenant, size_t header_len)
{
    find_tenant(r, header_tenant, header_len);
    return tenant_usable(r);
}

/* One error of a document that cannot run (syntax or validation): BAD_USER_INPUT. */
static void write_document_error(tq_strbuf *b, const char *message, const tq_gql_loc *locs, uint32_t nlocs)
{
    tq_strbuf_lit(b, "{\"message\":");
    tq_json_write_cstr(b, message);
    if (nlocs > 0) {
        tq_strbuf_lit(b, ",\"locations\":[");
        for (uint32_t k = 0; k < nlocs; k++)
            tq_strbuf_printf(b, "%s{\"line\":%u,\"column\":%u}", k ? "," : "", locs[k].line, locs[k].column);
        tq_strbuf_lit(b, "]");
    }
    tq_strbuf_lit(b, ",\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}");
}

/* Answers a document's errors as request errors (no data): 400 for
 * graphql-response+json, 200 for application/json, as GraphQL over HTTP asks. */
static void send_document_errors(tq_request *r, tq_strbuf *errors_json)
{
    note_code(r, "BAD_USER_INPUT");
    send_body(r, r->graphql_response ? 400 : 200, errors_json);
    request_maybe_free(r);
}

/* Validates doc (spec section 5); when it is invalid, answers with every error and
 * returns false. */
static bool validate_document(tq_request *r, const tq_gql_document *doc)
{
    int span = tq_trace_begin_span(&r->trace, "graphql.validate");
    tq_validation_result vr = tq_validate(r->server->schema, doc, &r->arena);
    tq_trace_end_span(&r->trace, span, vr.count > 0);
    if (vr.count == 0)
        return true;
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_strbuf_lit(&b, "{\"errors\":[");
    for (uint32_t i = 0; i < vr.count; i++) {
        if (i > 0)
            tq_strbuf_lit(&b, ",");
        write_document_error(&b, vr.errors[i].message, vr.errors[i].locations, vr.errors[i].nlocations);
    }
    tq_strbuf_lit(&b, "]}");
    tq_log_debug("http", "request %s: %u validation errors", r->id, (unsigned)vr.count);
    send_document_errors(r, &b);
    return false;
}

/* The request's document: from the worker's cache when this exact text was seen valid
 * before (r->doc_pin is then set), else parsed here (and not yet validated). NULL after
 * answering with a syntax error. */
static const tq_gql_document *parse_document(tq_request *r, const tq_gql_params *gp)
{
    int span = tq_trace_begin_span(&r->trace, "graphql.parse");
    /* pinned: other requests may evict the entry while this one waits for the database */
    r->doc_pin = tq_doc_cache_get(r->hw->docs, gp->query, gp->query_len);
    tq_trace_set_cached(&r->trace, span, r->doc_pin != NULL);
    if (r->doc_pin != NULL) {
        tq_trace_end_span(&r->trace, span, false);
        return tq_doc_pin_document(r->doc_pin);
    }
    tq_gql_parse_error perr;
    tq_gql_document *doc = tq_gql_parse(&r->arena, gp->query, gp->query_len, &parse_options, &perr);
    tq_trace_end_span(&r->trace, span, doc == NULL);
    if (doc == NULL) {
        tq_strbuf b = TQ_STRBUF_INIT;
        tq_strbuf_lit(&b, "{\"errors\":[");
        write_document_error(&b, perr.message, &perr.loc, 1);
        tq_strbuf_lit(&b, "]}");
        send_document_errors(r, &b);
    }
    return doc;
}

/* Validates a freshly parsed document (a cached one was valid when it was cached) and
 * remembers it when it passes; false after answering with its errors (no data). */
static bool check_document(tq_request *r, const tq_gql_document *doc, const tq_gql_params *gp)
{
    if (r->doc_pin != NULL)
        return true;
    if (!validate_document(r, doc))
        return false;
    if (!r->server->cfg.introspection) {
        /* a validation error, as graphql-js's NoSchemaIntrospectionCustomRule gives: no data */
        tq_strbuf b = TQ_STRBUF_INIT;
        if (tq_introspection_reject(r->server->schema, doc, &b)) {
            send_document_errors(r, &b);
            return false;
        }
        tq_strbuf_free(&b);
    }
    tq_doc_cache_put(r->hw->docs, gp->query, gp->query_len, &parse_options);
    return true;
}

/* Who may run the operation: a token (or the trusted header) and an active tenant, unless
 * it only reads the schema or logs in; false after answering 401 or 403. */
static bool identify_caller(tq_request *r, op_access access, const char *header_tenant, size_t header_len)
{
    if (access != ACCESS_TENANT)
        return true;
    if (!r->authenticated && header_tenant == NULL) {
        tq_log_limited(TQ_LOG_INFO, "auth", "refused: no token", "request %s: refused: no token", r->id);
        send_error(r, 401, "UNAUTHENTICATED", "Authentication required: send Authorization: Bearer <token>.");
        return false;
    }
    return attach_tenant(r, header_tenant, header_len);
}

/* Binds the request's context to its tenant's pool (the record r->tenant, which a pause
 * may have replaced since the caller was identified). */
static void bind_context(tq_request *r, op_access access)
{
    tq_api_ctx_params ap = {&r->arena, r->hw->w, NULL, &r->live->api_auth, NULL, NULL, NULL, false, r->id, on_db_idle};
    if (access == ACCESS_SCHEMA)
        return;
    if (access == ACCESS_TENANT) {
        ap.pool = tq_tenant_borrow_pool(r->tenant);
        ap.tenant = r->tenant;
        ap.claims = r->authenticated ? &r->claims : NULL;
        ap.sub = r->authenticated && r->claims.has_sub ? r->claims.sub : NULL;
        ap.header_mode = !r->authenticated;
    }
    tq_api_ctx_init(&r->api, &ap);
    trace_bind_db(r);
}

/* The execution budget, after validation and before anything runs, for cached documents
 * too (the variables change the cost): the operation is measured with its fragments
 * expanded (budget.h). Over a limit it gets one QUERY_TOO_COMPLEX error and no data, with
 * the status of a validation error - unless the server only measures (limits.c). False
 * after answering. */
static bool check_budget(tq_request *r, const tq_gql_document *doc, const tq_gql_operation *op, const tq_gql_params *gp)
{
    if (op == NULL)
        return true; /* nothing runs: the request error needs no budget */
    int span = tq_trace_begin_span(&r->trace, "graphql.budget");
    tq_budget_measure m = tq_budget_measure_operation(r->server->budget, doc, op, gp->variables, &r->arena);
    tq_strbuf refusal = TQ_STRBUF_INIT;
    bool admitted = tq_limits_admit(r->server, r->id, &m, &refusal);
    tq_trace_end_span(&r->trace, span, !admitted);
    if (admitted)
        return true;
    send_document_errors(r, &refusal);
    return false;
}

/* The request timeout runs from the first stage that waits (the gate, or the execution). */
static void start_timeout(tq_request *r)
{
    if (h2o_timeout_is_linked(&r->timeout))
        return;
    tq_worker *w = r->hw->w;
    h2o_timeout_link(tq_worker_loop(w), tq_worker_timeout(w, (uint64_t)r->server->cfg.request_timeout_ms), &r->timeout);
    r->timeout.cb = on_request_timeout;
}

static void run(tq_request *r, tq_exec *ex)
{
    r->exec = ex;
    start_timeout(r);
    tq_exec_run(ex);
}

/* ---- the request gate: the token's user still active, the token not revoked ---- */

static int gate_status(const char *code)
{
    if (strcmp(code, "UNAUTHENTICATED") == 0)
        return 401;
    return strcmp(code, "INTERNAL_SERVER_ERROR") == 0 ? 500 : 503; /* the tenant's database */
}

static void gate_decided(tq_request *r, tq_exec *ex, const char *code, const char *message)
{
    if (code == NULL) {
        run(r, ex);
        return;
    }
    if (strcmp(code, "TENANT_MIGRATING") == 0) /* the user's columns are not there yet */
        r->retry_after_s = MIGRATING_RETRY_AFTER_S;
    send_error(r, gate_status(code), code, message);
}

/* The gate's answer after a lookup. r cannot be freed in here: the lookup still counts
 * as a query of r's until this returns. */
static void on_gate(void *data, const char *code, const char *message)
{
    tq_request *r = data;
    if (!r->responded) /* else timed out, or cut off at shutdown, meanwhile */
        gate_decided(r, r->gated, code, message);
}

/* Runs ex once the request gate lets the caller through: at once when this worker knows
 * the token's user for the last second, else when one batched lookup answers. */
static void admit(tq_request *r, tq_exec *ex)
{
    const char *code, *message;
    r->gated = ex;
    if (tq_api_gate(&r->api, on_gate, r, &code, &message))
        gate_decided(r, ex, code, message);
    else
        start_timeout(r);
}

/* What follows the caller's admission: validate, measure, let the gate check the token's
 * user, run. At once, or once the tenant's pause is over. */
static void proceed(tq_request *r, op_access access, const tq_gql_document *doc, tq_exec *ex)
{
    bind_context(r, access);
    if (!check_document(r, doc, &r->params) || !check_budget(r, doc, tq_exec_operation(ex), &r->params))
        return;
    admit(r, ex);
}

/* ---- a paused tenant: the request waits for a newer record ---- */

/* Requests one worker holds for paused tenants at once; beyond it, 503 at once. Each holds
 * its request (body, arena, a few KiB) and a timer, and counts against its tenant's
 * in-flight quota like a running request (it was admitted before it waits), which bounds
 * one tenant's share; this cap bounds the worker's whole, tenants without an in-flight
 * limit included. */
#define PAUSE_MAX_WAITING 1024
static void on_pause_tick(h2o_timeout_entry_t *entry);

static void hold_tick(tq_request *r)
{
    tq_worker *w = r->hw->w;
    r->pause_timer.cb = on_pause_tick;
    h2o_timeout_link(tq_worker_loop(w), tq_worker_timeout(w, TQ_HTTP_PAUSE_POLL_MS), &r->pause_timer);
}

/* The wait is over (or never began): the timer and the worker's count let go of r. */
static void unhold(tq_request *r)
{
    if (r->held == NULL)
        return;
    if (h2o_timeout_is_linked(&r->pause_timer))
        h2o_timeout_unlink(&r->pause_timer);
    r->held = NULL;
    r->hw->paused_waiting--;
}

static void send_paused(tq_request *r, const char *why)
{
    tq_log_limited(TQ_LOG_WARN, "http", "refused: tenant paused", "request %s: tenant %s is paused: %s; answered 503",
                   r->id, tq_tenant_name(r->tenant), why);
    r->retry_after_s = 1;
    send_error(r, 503, "TENANT_UNAVAILABLE", "The tenant is paused (being moved); try again shortly.");
}

/* Holds a paused tenant's request: nothing of it has touched the tenant's database, and
 * nothing will until a record that is not paused replaces r->tenant (on_pause_tick). */
static void hold(tq_request *r, const tq_gql_document *doc, tq_exec *ex)
{
    if (r->server->cfg.pause_max_wait_ms == 0) {
        send_paused(r, "--pause-max-wait-ms is 0");
        return;
    }
    if (r->hw->paused_waiting >= PAUSE_MAX_WAITING) {
        send_paused(r, "this worker already holds " H2O_TO_STR(PAUSE_MAX_WAITING) " waiting requests");
        return;
    }
    r->held = ex;
    r->held_doc = doc;
    r->held_since = tq_worker_now(r->hw->w);
    r->hw->paused_waiting++;
    tq_log_debug("http", "request %s: tenant %s is paused: waiting", r->id, tq_tenant_name(r->tenant));
    hold_tick(r);
}

/* The worker's time a stage of r takes outside the handler's own call is its tenant's,
 * as in on_graphql_request; charge_end after the stage, which may have freed r. */
static void charge_begin(tq_request *r, bool *freed)
{
    *freed = false;
    r->freed = freed;
    r->handler_start_us = tq_clock_us();
}

static void charge_end(tq_request *r, const bool *freed)
{
    if (*freed)
        return;
    r->freed = NULL;
    tq_quotas_tenant_charge(&r->quota, tq_clock_us() - r->handler_start_us);
}

/* A held request's look at its tenant's record: still paused, wait on (up to
 * --pause-max-wait-ms); otherwise go on with the fresh record, which may name another
 * database now (a move), or refuse as a new request would be refused. */
static void on_pause_tick(h2o_timeout_entry_t *entry)
{
    tq_request *r = H2O_STRUCT_FROM_MEMBER(tq_request, pause_timer, entry);
    tq_exec *ex = r->held;
    const tq_gql_document *doc = r->held_doc;
    if (r->req == NULL) {
        /* the client went away (h2o freed the request): nothing ran, nobody to answer */
        tq_log_debug("http", "request %s: client gone while its tenant was paused", r->id);
        unhold(r);
        r->responded = true;
        request_maybe_free(r);
        return;
    }
    uint8_t id[16];
    tq_uuid_parse(tq_tenant_id_text(r->tenant), 36, id);
    tq_tenant *fresh = tq_registry_get_by_id(r->server->registry, id);
    uint64_t waited = tq_worker_now(r->hw->w) - r->held_since;
    if (fresh != NULL && tq_tenant_active(fresh) && tq_tenant_paused(fresh) &&
        waited < (uint64_t)r->server->cfg.pause_max_wait_ms) {
        tq_tenant_release(fresh);
        hold_tick(r);
        return;
    }
    unhold(r);
    /* the quota ticket stays (a tenant's records share their counters), unless the tenant
     * is gone: the old record may hold the last reference to the counters the ticket
     * points at, so it lets go of them first */
    if (fresh == NULL || tq_tenant_usage(fresh) != tq_tenant_usage(r->tenant))
        tq_quotas_tenant_leave(&r->quota);
    tq_tenant_release(r->tenant);
    r->tenant = fresh;
    bool freed;
    charge_begin(r, &freed);
    if (fresh != NULL && tq_tenant_active(fresh) && tq_tenant_paused(fresh)) {
        send_paused(r, tq_arena_sprintf(&r->arena, "still paused after %lu ms", (unsigned long)waited));
    } else if (tenant_usable(r) && schema_servable(r)) {
        tq_log_debug("http", "request %s: tenant %s no longer paused after %lu ms", r->id, tq_tenant_name(fresh),
                     (unsigned long)waited);
        proceed(r, ACCESS_TENANT, doc, ex);
    }
    charge_end(r, &freed);
}

/* A request whose parameters and token were read, cheapest checks first: parse, pick the
 * operation, refuse what it may not do (no token, unknown tenant, over its quota) before
 * validating the document, then run - once its tenant is not paused. */
static void execute(tq_request *r, const tq_gql_params *gp, const char *header_tenant, size_t header_len)
{
    const tq_gql_document *doc = parse_document(r, gp);
    if (doc == NULL)
        return;
    tq_exec_params ep = {r->server->schema, doc, gp->operation_name, gp->variables, &r->api, &r->arena,
                         on_exec_done, r};
    ep.max_response_bytes = (size_t)r->live->max_response_bytes;
    tq_exec *ex = tq_exec_create(&ep);
    const tq_gql_operation *op = tq_exec_operation(ex);
    r->op = op;
    trace_operation(r, op);
    if (op != NULL && op->type != TQ_GQL_OP_QUERY && r->req != NULL && !is_post(r->req)) {
        /* GET must stay safe (links, prefetching, caches): only queries run over it */
        r->allow = "POST";
        send_error(r, 405, "BAD_USER_INPUT", "Only queries can be sent with GET; send mutations with POST.");
        return;
    }
    op_access access = operation_access(r, doc, op);
    if (!budget_access(r, access) || !identify_caller(r, access, header_tenant, header_len) || !admit_tenant(r))
        return;
    /* a tenant whose tables may not fit this server's statements is refused before they run */
    if (access == ACCESS_TENANT && !schema_servable(r))
        return;
    /* only what reads or writes the tenant's tables waits: introspection needs no tenant,
     * and login only reads (the copy a move leaves behind is complete while it is paused) */
    if (access == ACCESS_TENANT && tq_tenant_paused(r->tenant)) {
        hold(r, doc, ex);
        return;
    }
    proceed(r, access, doc, ex);
}

/* Checks the bearer token; false after answering 401. */
static bool authenticate(tq_request *r, h2o_iovec_t authz)
{
    if (authz.len < 7 || strncasecmp(authz.base, "Bearer ", 7) != 0) {
        tq_log_limited(TQ_LOG_INFO, "auth", "token refused: not Bearer",
                       "request %s: token refused: Authorization is not \"Bearer <token>\"", r->id);
        send_error(r, 401, "UNAUTHENTICATED", "The Authorization header must be \"Bearer <token>\".");
        return false;
    }
    const char *token = authz.base + 7;
    size_t len = authz.len - 7;
    while (len > 0 && *token == ' ')
        token++, len--;
    tq_jwt_status st = tq_token_cache_verify(r->hw->tokens, token, len, (int64_t)time(NULL), &r->claims);
    if (st != TQ_JWT_OK) {
        /* the reason goes to the log, never the token */
        char reason[96];
        snprintf(reason, sizeof(reason), "token refused: %s", tq_jwt_status_text(st));
        tq_log_limited(TQ_LOG_INFO, "auth", reason, "request %s: %s", r->id, reason);
        send_error(r, 401, "UNAUTHENTICATED",
                   st == TQ_JWT_EXPIRED ? "The token has expired." : "The token is invalid.");
        return false;
    }
    r->authenticated = true;
    return true;
}

/* A verified token's tenant pays from its quota before the body is even read, so a tenant
 * over its quota costs the server a token check (cached) and a 429, whatever it sends.
 * An unknown or inactive tenant is refused later, and only if the operation needs one. */
static bool admit_early(tq_request *r)
{
    find_tenant(r, NULL, 0);
    return r->tenant == NULL || !tq_tenant_active(r->tenant) || admit_tenant(r);
}

/* Stages 1 to 7 for a new request; may answer (and free r) at any stage. */
static void handle(graphql_handler *h, tq_request *r, h2o_req_t *req)
{
    r->head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    bool acceptable = tq_http_negotiate_graphql(req, &r->graphql_response);

    bool is_get = r->head || h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    if (!is_get && !is_post(req)) {
        send_error(r, 405, "BAD_USER_INPUT", "Use GET or POST.");
        return;
    }
    if (!acceptable) {
        send_error(r, 406, "BAD_USER_INPUT",
                   "The Accept header allows neither application/graphql-response+json nor application/json.");
        return;
    }
    if (!budget_anonymous(r, req))
        return;
    /* an Authorization header decides alone: a bad token is 401 even with X-Tenant-ID */
    ssize_t ai = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (ai >= 0 && (!authenticate(r, req->headers.entries[ai].value) || !admit_early(r)))
        return;
    tq_http_refusal why;
    if (!tq_http_read_graphql(req, &r->arena, is_get, &r->params, &why)) {
        send_error(r, why.status, "BAD_USER_INPUT", why.message);
        return;
    }

    const char *header_tenant = NULL;
    size_t header_len = 0;
    if (ai < 0 && h->server->cfg.trust_tenant_header) {
        ssize_t ti = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-tenant-id"), -1);
        if (ti >= 0) {
            header_tenant = req->headers.entries[ti].value.base;
            header_len = req->headers.entries[ti].value.len;
        }
    }
    execute(r, &r->params, header_tenant, header_len);
}

static int on_graphql_request(h2o_handler_t *self, h2o_req_t *req)
{
    graphql_handler *h = (graphql_handler *)self;
    if (h->server->graphiql != NULL && tq_graphiql_wanted(req)) {
        tq_server_count_status(h->server, 200);
        tq_graphiql_send_page(h->server->graphiql, req);
        return 0;
    }
    tq_request *r = request_new(tq_http_worker_of(req), req);
    /* the worker's time the handler takes is its tenant's (when one admitted it), like
     * the time of its query callbacks (which the pool charges) */
    bool freed;
    charge_begin(r, &freed);
    handle(h, r, req);
    charge_end(r, &freed);
    return 0;
}

size_t tq_graphql_cut_off(http_worker *hw)
{
    size_t cut = 0;
    for (h2o_linklist_t *l = hw->requests.next; l != &hw->requests;) {
        tq_request *r = H2O_STRUCT_FROM_MEMBER(tq_request, link, l);
        l = l->next; /* answering may free r */
        if (r->responded)
            continue;
        tq_log_warn("http", "request %s: still running at the drain deadline: answered 503", r->id);
        cut++;
        send_error(r, 503, "TENANT_UNAVAILABLE", "The server is shutting down; try again.");
    }
    return cut;
}

void tq_graphql_handler_register(h2o_pathconf_t *pathconf, tq_server *server)
{
    graphql_handler *h = (graphql_handler *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_graphql_request;
    h->server = server;
}
