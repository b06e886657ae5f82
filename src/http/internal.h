/*
 * internal.h - the HTTP module's shared state: the server, its state per worker, the
 * request handler and the reading of GraphQL-over-HTTP requests.
 */
#ifndef TENANTQL_HTTP_INTERNAL_H
#define TENANTQL_HTTP_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>

#include "tenantql/api.h"
#include "tenantql/budget.h"
#include "tenantql/client_budget.h"
#include "tenantql/doc_cache.h"
#include "tenantql/quota.h"
#include "tenantql/jwt.h"
#include "tenantql/registry.h"
#include "tenantql/schema.h"
#include "tenantql/server.h"
#include "tenantql/strbuf.h"
#include "tenantql/token_cache.h"
#include "tenantql/worker.h"

#define TQ_HTTP_STATUSES 12 /* statuses counted one by one for /metrics (server.c) */
#define TQ_HTTP_LIMITS (TQ_LIMIT_COUNT_ + 1) /* the budget's limits, then the answer cap (limits.c) */

/* Client connections against their cap (accept.c). The counters are shared by the
 * workers; said and said_at belong to the main thread's report. */
typedef struct tq_client_limits {
    long max;                 /* the cap in force: configured, or derived from the descriptor limit */
    atomic_long open;         /* accepted and not yet closed, all workers */
    atomic_ulong refused_cap; /* closed at once at the cap, nothing to replace */
    atomic_ulong evicted;     /* connections waiting for a request closed to make room */
    atomic_ulong refused_fds; /* accepts failed for want of descriptors */
    unsigned long said[3];    /* the three counts above (cap, evicted, fds) at their last report */
    uint64_t said_at[3];      /* when (tq_clock_ms), 0: never */
} tq_client_limits;

/* Why a request was refused before it ran, counted for /metrics (tenantql_refusals_total). */
typedef enum tq_refusal_reason {
    TQ_REFUSED_FRAMING,          /* Content-Length with Transfer-Encoding (hygiene.c) */
    TQ_REFUSED_CLIENT_BUDGET,    /* an address over its budget for requests without a token */
    TQ_REFUSED_TENANT_RATE,      /* a tenant over its requests per second */
    TQ_REFUSED_TENANT_IN_FLIGHT, /* a tenant at its requests in flight */
    TQ_REFUSED_TENANT_DB_TIME,   /* a tenant over its database time per second */
    TQ_REFUSED_TENANT_SHARE,     /* a tenant over its fair share of a busy server */
    TQ_REFUSED_TENANT_MIGRATING, /* a tenant being migrated, or at a schema version outside the server's range */
    TQ_REFUSED_REASONS_,
} tq_refusal_reason;

#define TQ_CORS_MAX_ORIGINS 64 /* --cors-origins entries */
#define TQ_CORS_MAX_ORIGIN 255 /* bytes of one */

/* The CORS allow-list, parsed once at start-up (read-only afterwards). */
typedef struct tq_cors {
    bool on;          /* any origin listed */
    bool any;         /* "*": every origin, never with credentials */
    bool credentials; /* --cors-credentials */
    int count;
    char origins[TQ_CORS_MAX_ORIGINS][TQ_CORS_MAX_ORIGIN + 1];
} tq_cors;

typedef struct tq_server {
    tq_server_config cfg;
    h2o_globalconf_t globalconf;
    tq_workers *workers;
    tq_registry *registry;
    tq_jwt_verifier *jwt;
    tq_schema *schema;
    struct tq_graphiql *graphiql;   /* NULL with --graphiql off */
    atomic_long requests_in_flight; /* across workers: shutdown waits for zero */
    atomic_ulong request_seq;       /* request ids made here (tq_http_request_id) */
    char request_id_prefix[16];     /* this process's, random: ids from two processes never meet */
    struct sockaddr_storage listen_addr; /* every worker opens its own SO_REUSEPORT listener */
    socklen_t listen_addr_len;
    atomic_ulong http_statuses[TQ_HTTP_STATUSES + 1]; /* answers by status, the last: others */
    atomic_ulong refusals[TQ_REFUSED_REASONS_];         /* requests refused before they ran, by reason */
    tq_api_auth api_auth;           /* what login and mutations use (registry, signer, limits) */
    tq_client_limits clients;       /* client connections and their cap (accept.c) */
    tq_budget_schema *budget;       /* the list sizes the execution budget multiplies by */
    atomic_ulong limits_exceeded[TQ_HTTP_LIMITS][2]; /* by limit and tq_limits_mode (limits.c) */
    tq_client_budget *client_budget; /* per address, for requests without a token; NULL: off */
    tq_quota default_quota;          /* for what a tenant's own quota leaves out (--tenant-*) */
    struct tq_admin *admin;          /* the admin API (admin.c); NULL with --admin-listen off */
    tq_cors cors;                    /* --cors-origins, parsed (middleware.c) */
    struct tq_tracer *tracer;        /* --otlp-endpoint's exporter; NULL: no traces */
} tq_server;

typedef struct tq_admin tq_admin;

/* ---- the middleware (middleware.c) ---- */


/* --cors-origins (comma- or space-separated origins, or "*") and --cors-credentials into
 * out: 0, or -1 with err (a malformed origin, too many, "*" with credentials). */
int tq_cors_parse(const char *list, bool credentials, tq_cors *out, char *err, size_t errlen);
/* The preflight handler and the answer filter of /graphql, when CORS is on; register
 * before the path's other handlers. */
void tq_cors_register(h2o_pathconf_t *pathconf, tq_server *s);
/* The security headers filter on every path of host (register once its paths are). */
void tq_security_headers_register(h2o_hostconf_t *host);

/* A request's id: the client's X-Request-ID when it is sane (1 to TQ_REQUEST_ID_MAX bytes
 * of A-Z a-z 0-9 and . _ : @ / + = -, nothing a log line or a JSON string must escape),
 * else one made here, unique across processes (a random prefix per process, then a
 * sequence number). It names the request on every log line and comes back in the answer's
 * X-Request-ID. */
#define TQ_REQUEST_ID_MAX 128
#define TQ_REQUEST_ID_SIZE (TQ_REQUEST_ID_MAX + 1)
/* Fills out with req's id and adds the X-Request-ID answer header. Any thread. */
void tq_http_request_id(tq_server *s, h2o_req_t *req, char out[TQ_REQUEST_ID_SIZE]);

/* HOST:PORT (flag names the option in messages) resolved for bind(2): 0, or -1 with err. */
int tq_http_resolve_listen(const char *listen, const char *flag, struct sockaddr_storage *ss, socklen_t *len,
                           char *err, size_t errlen);
/* A listening, non-blocking socket bound to ss: its descriptor, or -1 with err. */
int tq_http_open_listener(const struct sockaddr_storage *ss, socklen_t len, bool reuseport, char *err, size_t errlen);

/* The http module's state on one worker (its slot): h2o's context, the listener, the
 * connections and requests of this worker, and the caches the handler keeps per thread. */
typedef struct http_worker {
    tq_worker *w;
    tq_server *server;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    h2o_timeout_entry_t accept_resume; /* accepting paused for want of descriptors (accept.c) */
    size_t connections;             /* accepted HTTP connections still open */
    h2o_linklist_t requests;        /* GraphQL requests in flight (graphql_handler.c) */
    tq_token_cache *tokens;         /* bearer tokens this worker has verified */
    tq_doc_cache *docs;             /* documents this worker has parsed and found valid */
    size_t paused_waiting;          /* requests waiting for their tenant's pause to end */
} http_worker;

/* The worker state of the h2o context a request arrived on. */
static inline http_worker *tq_http_worker_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(http_worker, ctx, req->conn->ctx);
}

/* ---- client connections (accept.c) ---- */

/* At start-up, before the workers: raises the soft descriptor limit to the hard one and
 * sets the cap on client connections (configured, or derived from the limit); logs both.
 * 0, or -1 with err when the limit leaves no room for clients. */
int tq_server_client_limits(tq_server *s, char *err, size_t errlen);
/* The listener's read callback (listener->data is the worker's http_worker). */
void tq_http_on_accept(h2o_socket_t *listener, const char *err);
/* The listener closes: no resuming after a pause. */
void tq_http_accept_stop(http_worker *hw);
/* The main thread, about once a second: one line per kind of refusal and interval. */
void tq_server_report_clients(tq_server *s);
/* The client connection gauges and counters in Prometheus text (/metrics). */
void tq_server_write_client_metrics(tq_server *s, tq_strbuf *b);

/* Counts an HTTP answer for /metrics. Any thread. */
void tq_server_count_status(tq_server *s, int status);
/* Writes the answers-by-status counters in Prometheus text (ops.c's /metrics). */
void tq_server_write_status_metrics(tq_server *s, tq_strbuf *b);
/* Counts a refusal for /metrics. Any thread. */
void tq_server_count_refusal(tq_server *s, tq_refusal_reason why);
/* Writes the refusals-by-reason counters in Prometheus text. */
void tq_server_write_refusal_metrics(tq_server *s, tq_strbuf *b);
/* Registers /healthz, /readyz and /metrics. */
void tq_ops_handlers_register(h2o_hostconf_t *host, tq_server *s);

/* ---- the execution budget and the answer cap (limits.c) ---- */

/* Whether an operation of this measure may run: true when it is within every limit, or
 * in measure mode (then what it exceeds is logged and counted); otherwise counts, logs and
 * writes the QUERY_TOO_COMPLEX answer to refusal ({"errors":[...]}, no data) and returns
 * false. Any thread. */
bool tq_limits_admit(tq_server *s, const char *request_id, const tq_budget_measure *m, tq_strbuf *refusal);
/* Counts and logs an answer cut off at --max-response-bytes. Any thread. */
void tq_limits_count_answer_cap(tq_server *s, const char *request_id, size_t bytes);
/* Writes tenantql_limit_exceeded_total{limit,mode} in Prometheus text (ops.c's /metrics). */
void tq_limits_write_metrics(tq_server *s, tq_strbuf *b);

/* How often a request held for its paused tenant looks at the tenant's record again. The
 * registry thread applies a changed row within a second of its commit; this adds at most
 * 25 ms to that, for one hash probe per held request and tick. Its timer bucket is made
 * when a worker starts (server.c): made later, with a worker's buckets all taken, the
 * closest would be 0 and a held request would spin its loop. */
#define TQ_HTTP_PAUSE_POLL_MS 25

/* Registers the /graphql handler on a path configuration. */
void tq_graphql_handler_register(h2o_pathconf_t *pathconf, tq_server *server);
/* At the drain deadline: answers the worker's requests still running with 503 (their
 * queries are cancelled by the pools); returns how many. */
size_t tq_graphql_cut_off(http_worker *hw);
/* Rewrites h2o's own plain-text 400/413 answers (sent before any handler runs, e.g. for
 * an oversize body) into GraphQL JSON errors. */
void tq_error_filter_register(h2o_pathconf_t *pathconf);

/* ---- HTTP hygiene (hygiene.c) ---- */

/* Registers on a path, before its other handlers, the check that answers 400 and closes
 * the connection when a request is framed two ways (Content-Length and
 * Transfer-Encoding, or two different Content-Lengths). */
void tq_hygiene_register(h2o_pathconf_t *pathconf, tq_server *s);
/* Whether req's HTTP/1 head has Content-Length and Transfer-Encoding, or two different
 * Content-Lengths (h2o 2.2 keeps neither field in req->headers). */
bool tq_http_framed_twice(h2o_req_t *req);
/* X-Content-Type-Options: nosniff and Cache-Control: no-store, for every JSON answer. */
void tq_http_add_json_headers(h2o_req_t *req);

/* ---- budgets and quotas (quotas.c) ---- */

/* Takes cost from the budget of req's client address (requests without a token): 0 when
 * it was there (or the budget is off, or the peer has no IP address), else the
 * Retry-After seconds (the refusal is counted). */
int tq_quotas_client_take(tq_server *s, h2o_req_t *req, int cost);

/* A request's standing in its tenant's quota. */
typedef struct tq_quota_ticket {
    tq_usage *usage;                /* once admitted: its place in flight, given back by _leave */
    const char *policy;             /* RateLimit-Policy and RateLimit values (the request's */
    const char *limit;              /* arena), or NULL: the tenant has no quota */
    tq_quota_verdict verdict;
    int retry_after_s;              /* when refused */
    const char *what;               /* when refused: the limit, for the message */
} tq_quota_ticket;

/* Admits a request of tenant t (whose reference the request holds) under its quota: the
 * registry row's, with the server's defaults for what it leaves out. False when a limit
 * refuses it (counted; the caller answers 429 with Retry-After). */
bool tq_quotas_tenant_admit(tq_server *s, tq_tenant *t, tq_arena *a, tq_quota_ticket *ticket);
/* The admitted request is freed: its place in flight is given back. */
void tq_quotas_tenant_leave(tq_quota_ticket *ticket);
/* The admitted request took us microseconds of its worker outside its query callbacks
 * (which the pool charges): towards its tenant's fair share. */
void tq_quotas_tenant_charge(const tq_quota_ticket *ticket, uint64_t us);
/* The ticket's RateLimit-Policy and RateLimit fields, when the tenant has a quota. */
void tq_quotas_add_headers(h2o_req_t *req, const tq_quota_ticket *ticket);

/* ---- reading a GraphQL-over-HTTP request (request.c) ---- */

/* The parameters of one request. Strings point into the request (h2o's pool), the arena
 * or the JSON; valid until tq_gql_params_dispose and the end of the request. */
typedef struct tq_gql_params {
    const char *query;
    size_t query_len;
    const char *operation_name;     /* NULL when not given */
    json_t *variables;              /* an object, or NULL */
    json_t *json;                   /* what was parsed: the POST body, or GET's variables */
    json_t *extensions;             /* GET's ?extensions=, parsed only to be checked */
} tq_gql_params;

/* Why a request cannot be read: an HTTP status and a message for its GraphQL error. */
typedef struct tq_http_refusal {
    int status;
    const char *message;            /* static or in the arena */
} tq_http_refusal;

/* Reads the parameters of a GET query string or a POST JSON body; false with why filled
 * when the request is malformed (400) or not JSON (415). */
bool tq_http_read_graphql(h2o_req_t *req, tq_arena *a, bool is_get, tq_gql_params *gp, tq_http_refusal *why);
void tq_gql_params_dispose(tq_gql_params *gp);
/* Picks the response type from Accept: application/graphql-response+json when the client
 * prefers it, or names both at the same quality; application/json when it prefers that,
 * only offers wildcards (the GraphQL-over-HTTP default) or sends no Accept. False when it
 * accepts neither. */
bool tq_http_negotiate_graphql(h2o_req_t *req, bool *graphql_response);

/* True when the Content-Type value is `type` (any case), with no charset but UTF-8. */
bool tq_media_type_is(h2o_iovec_t value, const char *type);
/* How much the request's Accept header wants `type` ("a/b"): 0 not at all; otherwise 4 x q
 * (q in thousandths) plus 2 when the deciding range names the type itself rather than a
 * wildcard. No Accept header accepts everything (4000). */
unsigned tq_accept_score(h2o_req_t *req, const char *type);
/* Whether a score came from a range naming the type itself. */
bool tq_accept_score_exact(unsigned score);
/* True when Accept-Encoding allows gzip. */
bool tq_accepts_gzip(h2o_req_t *req);

#endif
