/*
 * internal.h - the HTTP module's shared state: the server, its state per worker, the
 * request handler and the reading of GraphQL-over-HTTP requests.
 */
#ifndef TENANTQL_HTTP_INTERNAL_H
#define TENANTQL_HTTP_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
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

/* The CORS allow-list, parsed at start-up and by each reload (read-only afterwards). */
typedef struct tq_cors {
    bool on;          /* any origin listed */
    bool any;         /* "*": every origin, never with credentials */
    bool credentials; /* --cors-credentials */
    int count;
    char origins[TQ_CORS_MAX_ORIGINS][TQ_CORS_MAX_ORIGIN + 1];
} tq_cors;

/* The settings a SIGHUP may change, as one immutable snapshot (live.c). Read it on a
 * worker through tq_live_here() or a request's own reference; never keep a pointer into it
 * past the callback that read it unless you hold a reference. */
typedef struct tq_live {
    atomic_long refs;
    tq_jwt_verifier *jwt;         /* the keys (owned) */
    tq_api_auth api_auth;         /* the server's, with this snapshot's signer, token TTL and leeway */
    tq_cors cors;                 /* --cors-origins, --cors-credentials */
    long cors_max_age_s;
    tq_limits_mode limits;        /* --limits and the --max-* budget */
    long max_depth, max_fields, max_aliases, max_cost, max_response_bytes;
    tq_quota default_quota;       /* for what a tenant's own quota leaves out (--tenant-*) */
} tq_live;

enum { TQ_RELOAD_OK, TQ_RELOAD_REFUSED, TQ_RELOAD_OUTCOMES_ };

typedef struct tq_server {
    tq_server_config cfg;           /* as started; read-only (the reloadable part is in live) */
    h2o_globalconf_t globalconf;
    tq_workers *workers;
    tq_registry *registry;
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
    struct tq_admin *admin;          /* the admin API (admin.c); NULL with --admin-listen off */
    struct tq_linesink *access_log;  /* NULL: --access-log off (access_log.c) */
    pthread_mutex_t live_lock;       /* guards the live pointer (not what it points to) */
    tq_live *live;                   /* the settings in force; the server holds one reference */
    struct http_worker **hws;        /* each worker's http state by worker id, for reload notes */
    int nhws;
    tq_server_config in_force;       /* main thread: cfg with the reloadable options last applied */
    char *in_force_text;             /* the configuration file text in_force's strings point into */
    atomic_ulong reloads[TQ_RELOAD_OUTCOMES_]; /* SIGHUP reloads by outcome */
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

/* ---- the access log (access_log.c) ---- */

#define TQ_ACCESS_MAX_CODES 4 /* distinct extensions.code values a line names */
#define TQ_ACCESS_REMOTE_SIZE 48

/* What a line says of one /graphql request: only what the server decided or measured,
 * never a token, a variable's value, a password or the document's text. */
typedef struct tq_access_entry {
    const char *request_id;
    int64_t arrived_unix_us;        /* wall clock at arrival */
    const char *remote;             /* the client's address ("" unknown) */
    const char *method;
    const char *tenant;             /* NULL: none named (or refused before) */
    const char *op_type;            /* "query", "mutation", "subscription"; NULL: none picked */
    const char *op_name;            /* NULL or "": anonymous */
    size_t op_name_len;
    const char *document;           /* hashed (SHA-256), never logged; NULL: none read */
    size_t document_len;
    int status;
    uint64_t duration_us;           /* arrival to answer */
    tq_db_timings db;
    size_t bytes;                   /* the answer's body */
    const char *codes[TQ_ACCESS_MAX_CODES];
    int ncodes;
    const char *trace_id;           /* 32 hex digits, or NULL */
} tq_access_entry;

/* Opens the access log of --access-log and --access-log-file (s->access_log stays NULL
 * with "off"): 0, or -1 with err. */
int tq_access_log_open(tq_server *s, char *err, size_t errlen);
/* Writes e's line (JSON or text); any worker. Never waits for the file: a line that does
 * not fit the buffer is dropped and counted. */
void tq_access_log_write(tq_server *s, const tq_access_entry *e);
/* Its /metrics lines (lines written, dropped). */
void tq_access_log_write_metrics(tq_server *s, tq_strbuf *b);
void tq_access_log_close(tq_server *s);

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
    tq_live *live;                  /* the settings this worker applies (a reference; live.c) */
    h2o_multithread_receiver_t live_rx; /* a reload's note: take the new settings */
    h2o_multithread_message_t live_msg;
    atomic_bool live_pending;       /* live_msg is on its way */
} http_worker;

/* ---- reloadable settings (live.c) ---- */

#define TQ_HTTP_TOKEN_CACHE_SLOTS 1024 /* per worker; a slot holds one token of a few hundred bytes */

/* A snapshot of cfg's reloadable settings (reads key files: not on a loop), with one
 * reference for the caller; NULL with err (the same messages as at start-up). */
tq_live *tq_live_build(tq_server *s, const tq_server_config *cfg, char *err, size_t errlen);
/* Another reference to l (the caller holds one already); returns l. */
tq_live *tq_live_hold(tq_live *l);
/* Drops a reference (NULL: nothing); the last one frees the snapshot. */
void tq_live_release(tq_live *l);
/* A reference to the snapshot in force. Any thread. */
tq_live *tq_live_acquire(tq_server *s);
/* The calling worker's snapshot: valid until this callback returns (a worker thread only;
 * NULL elsewhere). */
const tq_live *tq_live_here(void);
/* A worker's http state takes the snapshot in force and listens for reloads (on its
 * thread, at init), and lets go (at dispose). */
void tq_live_worker_init(http_worker *hw);
void tq_live_worker_dispose(http_worker *hw);
/* SIGHUP, on the main thread: reads the configuration again, checks it, and applies its
 * reloadable part or refuses all of it; logs and counts the outcome. */
void tq_server_reload(tq_server *s);
/* tenantql_config_reloads_total{outcome} in Prometheus text. */
void tq_server_write_reload_metrics(tq_server *s, tq_strbuf *b);

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
