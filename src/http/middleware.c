/*
 * middleware.c - what every answer passes through, in the order of the product's design
 * (CORS, security headers; rate limits are the quota module's; request ids; the access
 * log comes later):
 *
 *   CORS      /graphql only. Origins on the allow-list (--cors-origins; none by default:
 *             browsers on other origins cannot read answers) get their preflight
 *             (OPTIONS with Access-Control-Request-Method) answered 204, and their
 *             answers carry Access-Control-Allow-Origin and the headers a client reads
 *             (RateLimit, Retry-After); credentials only with --cors-credentials on.
 *             Any other preflight gets 403 with no CORS header. Answers carry
 *             Vary: Origin whenever CORS is on, so that a cache never hands one origin's
 *             answer to another.
 *   headers   every answer of every path, on both listeners: X-Content-Type-Options:
 *             nosniff, Referrer-Policy: no-referrer, X-Frame-Options: DENY, and
 *             Cache-Control: no-store on JSON. A handler's own value wins (GraphiQL's
 *             cacheable assets, its Content-Security-Policy).
 *   request id  X-Request-ID kept when sane, else made; on every log line about the
 *             request and in its answer (tq_http_request_id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "tenantql/log.h"

/* What a preflight may ask for: the methods GraphQL over HTTP uses, and the request
 * headers a GraphQL client sends (lower case, as h2o keeps them). */
static const char *const cors_methods[] = {"GET", "POST", NULL};
static const char *const cors_headers[] = {"accept", "authorization", "content-type", "x-request-id", "traceparent",
                                           "tracestate", NULL};
#define CORS_ALLOW_METHODS "GET, POST"
#define CORS_ALLOW_HEADERS "Accept, Authorization, Content-Type, X-Request-ID, traceparent, tracestate"
#define CORS_EXPOSE_HEADERS "RateLimit, RateLimit-Policy, Retry-After, X-Request-ID, traceparent"

/* ---- the allow-list ---- */

/* scheme://host[:port], nothing after: what a browser sends as Origin */
static bool origin_well_formed(const char *o, size_t len)
{
    const char *p = memchr(o, ':', len);
    if (p == NULL || (size_t)(p - o) + 3 >= len || p[1] != '/' || p[2] != '/')
        return false;
    if (!((size_t)(p - o) == 4 && strncmp(o, "http", 4) == 0) && !((size_t)(p - o) == 5 && strncmp(o, "https", 5) == 0))
        return false;
    for (const char *c = p + 3; c < o + len; c++)
        if (*c == '/' || *c == '?' || *c == '#' || *c == ' ' || *c == '*' || (unsigned char)*c < 0x21 ||
            (unsigned char)*c > 0x7e)
            return false;
    return true;
}

int tq_cors_parse(const char *list, bool credentials, tq_cors *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->credentials = credentials;
    if (list == NULL || list[0] == '\0')
        return 0;
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n == 0)
            break;
        if (n == 1 && p[0] == '*') {
            out->any = true;
        } else if (out->count == TQ_CORS_MAX_ORIGINS) {
            snprintf(err, errlen, "--cors-origins: at most %d origins", TQ_CORS_MAX_ORIGINS);
            return -1;
        } else if (n > TQ_CORS_MAX_ORIGIN || !origin_well_formed(p, n)) {
            snprintf(err, errlen, "--cors-origins: \"%.*s\" is not an origin (scheme://host[:port], http or https)",
                     (int)(n > 80 ? 80 : n), p);
            return -1;
        } else {
            memcpy(out->origins[out->count], p, n);
            out->origins[out->count][n] = '\0';
            out->count++;
        }
        p += n;
    }
    if (out->any && credentials) {
        /* a browser refuses credentials with "*", and echoing any origin with them would
         * let every site act as the signed-in user */
        snprintf(err, errlen, "--cors-origins \"*\" cannot go with --cors-credentials on: list the origins");
        return -1;
    }
    out->on = out->any || out->count > 0;
    return 0;
}

static bool origin_allowed(const tq_cors *c, const char *o, size_t len)
{
    if (c->any)
        return true;
    for (int i = 0; i < c->count; i++)
        if (strlen(c->origins[i]) == len && strncasecmp(c->origins[i], o, len) == 0)
            return true;
    return false;
}

/* ---- headers ---- */

static const h2o_iovec_t *request_header(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    return i >= 0 ? &req->headers.entries[i].value : NULL;
}

static bool has_response_header(h2o_req_t *req, const char *name, size_t len)
{
    return h2o_find_header_by_str(&req->res.headers, name, len, -1) >= 0;
}

static void add_once(h2o_req_t *req, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (!has_response_header(req, name, nlen))
        h2o_add_header_by_str(&req->pool, &req->res.headers, name, nlen, 0, NULL, value, vlen);
}

void tq_http_add_json_headers(h2o_req_t *req)
{
    /* a browser must never guess another type (HTML) from a JSON body, and answers that may
     * carry a tenant's data, or a token, stay out of every cache */
    add_once(req, H2O_STRLIT("x-content-type-options"), H2O_STRLIT("nosniff"));
    add_once(req, H2O_STRLIT("cache-control"), H2O_STRLIT("no-store"));
}

static bool is_json(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return false;
    const h2o_iovec_t *v = &req->res.headers.entries[i].value;
    return (v->len >= 16 && strncasecmp(v->base, "application/json", 16) == 0) ||
           (v->len >= 33 && strncasecmp(v->base, "application/graphql-response+json", 33) == 0);
}

static void on_headers(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    add_once(req, H2O_STRLIT("x-content-type-options"), H2O_STRLIT("nosniff"));
    /* an answer's URL (a query in a GET) is nobody else's business */
    add_once(req, H2O_STRLIT("referrer-policy"), H2O_STRLIT("no-referrer"));
    /* no page of ours is meant to be framed (GraphiQL's CSP says frame-ancestors too) */
    add_once(req, H2O_STRLIT("x-frame-options"), H2O_STRLIT("DENY"));
    if (is_json(req))
        add_once(req, H2O_STRLIT("cache-control"), H2O_STRLIT("no-store"));
    h2o_setup_next_ostream(req, slot);
    (void)self;
}

void tq_security_headers_register(h2o_hostconf_t *host)
{
    for (size_t i = 0; i < host->paths.size; i++)
        h2o_create_filter(&host->paths.entries[i], sizeof(h2o_filter_t))->on_setup_ostream = on_headers;
    h2o_create_filter(&host->fallback_path, sizeof(h2o_filter_t))->on_setup_ostream = on_headers;
}

/* ---- CORS ---- */

typedef struct cors_handler {
    h2o_handler_t super;
    tq_server *server;
} cors_handler;

typedef struct cors_filter {
    h2o_filter_t super;
    tq_server *server;
} cors_filter;

/* The headers an allowed origin's answers carry (preflight or not). */
static void allow_origin(const tq_cors *c, h2o_req_t *req, const h2o_iovec_t *origin)
{
    if (c->any)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, H2O_STRLIT("*"));
    else
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, origin->base,
                       origin->len);
    if (c->credentials)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-credentials"), 0, NULL,
                              H2O_STRLIT("true"));
}

static bool word_in(const char *w, size_t n, const char *const *list)
{
    for (int i = 0; list[i] != NULL; i++)
        if (strlen(list[i]) == n && strncasecmp(list[i], w, n) == 0)
            return true;
    return false;
}

/* Whether every name of a comma-separated Access-Control-Request-Headers is one we take. */
static bool headers_allowed(const h2o_iovec_t *asked)
{
    if (asked == NULL)
        return true;
    for (size_t i = 0; i < asked->len;) {
        while (i < asked->len && (asked->base[i] == ' ' || asked->base[i] == ','))
            i++;
        size_t start = i;
        while (i < asked->len && asked->base[i] != ',' && asked->base[i] != ' ')
            i++;
        if (i > start && !word_in(asked->base + start, i - start, cors_headers))
            return false;
    }
    return true;
}

/* Adds Origin to the answer's Vary (a handler may have said Accept already). */
static void vary_on_origin(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_VARY, -1);
    if (i < 0) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
        return;
    }
    h2o_iovec_t *v = &req->res.headers.entries[i].value;
    for (size_t k = 0; k + 6 <= v->len; k++)
        if (strncasecmp(v->base + k, "origin", 6) == 0)
            return;
    *v = h2o_concat(&req->pool, *v, h2o_iovec_init(H2O_STRLIT(", Origin")));
}

static int send_preflight(tq_server *s, h2o_req_t *req, int status, const char *reason)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = 0;
    tq_server_count_status(s, status);
    h2o_start_response(req, &generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    return 0;
}

static int on_preflight(h2o_handler_t *self, h2o_req_t *req)
{
    tq_server *s = ((cors_handler *)self)->server;
    const tq_live *live = tq_live_here();
    const tq_cors *c = &live->cors;
    if (!c->on || !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")))
        return -1;
    const h2o_iovec_t *origin = request_header(req, H2O_STRLIT("origin"));
    const h2o_iovec_t *method = request_header(req, H2O_STRLIT("access-control-request-method"));
    if (origin == NULL || method == NULL)
        return -1; /* not a preflight: the GraphQL handler answers OPTIONS (405) */
    vary_on_origin(req);
    if (!origin_allowed(c, origin->base, origin->len) || !word_in(method->base, method->len, cors_methods) ||
        !headers_allowed(request_header(req, H2O_STRLIT("access-control-request-headers")))) {
        tq_log_debug("http", "CORS preflight refused: origin %.*s, method %.*s", (int)(origin->len > 200 ? 200 : origin->len),
                     origin->base, (int)(method->len > 20 ? 20 : method->len), method->base);
        return send_preflight(s, req, 403, "Forbidden");
    }
    allow_origin(c, req, origin);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                          H2O_STRLIT(CORS_ALLOW_METHODS));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                          H2O_STRLIT(CORS_ALLOW_HEADERS));
    char age[24];
    int n = snprintf(age, sizeof(age), "%ld", live->cors_max_age_s);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL,
                          h2o_strdup(&req->pool, age, (size_t)n).base, (size_t)n);
    return send_preflight(s, req, 204, "No Content");
}

static void on_cors_answer(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    const tq_cors *c = &tq_live_here()->cors;
    if (!c->on) { /* a reload may turn CORS on: the filter is always there */
        h2o_setup_next_ostream(req, slot);
        return;
    }
    const h2o_iovec_t *origin = request_header(req, H2O_STRLIT("origin"));
    vary_on_origin(req);
    if (origin != NULL && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")) &&
        origin_allowed(c, origin->base, origin->len)) {
        allow_origin(c, req, origin);
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-expose-headers"), 0, NULL,
                              H2O_STRLIT(CORS_EXPOSE_HEADERS));
    }
    h2o_setup_next_ostream(req, slot);
}

void tq_cors_register(h2o_pathconf_t *pathconf, tq_server *s)
{
    cors_handler *h = (cors_handler *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_preflight;
    h->server = s;
    cors_filter *f = (cors_filter *)h2o_create_filter(pathconf, sizeof(*f));
    f->super.on_setup_ostream = on_cors_answer;
    f->server = s;
}

/* ---- request ids ---- */

static bool request_id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._:@/+=-", c) != NULL;
}

static bool sane_request_id(const h2o_iovec_t *v)
{
    if (v->len == 0 || v->len > TQ_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < v->len; i++)
        if (v->base[i] == '\0' || !request_id_char((unsigned char)v->base[i]))
            return false;
    return true;
}

void tq_http_request_id(tq_server *s, h2o_req_t *req, char out[TQ_REQUEST_ID_SIZE])
{
    const h2o_iovec_t *given = request_header(req, H2O_STRLIT("x-request-id"));
    size_t n;
    if (given != NULL && sane_request_id(given)) {
        memcpy(out, given->base, given->len);
        n = given->len;
    } else {
        n = (size_t)snprintf(out, TQ_REQUEST_ID_SIZE, "%s-%lu", s->request_id_prefix,
                             atomic_fetch_add(&s->request_seq, 1) + 1);
    }
    out[n] = '\0';
    h2o_iovec_t copy = h2o_strdup(&req->pool, out, n); /* the answer may outlive the caller's copy */
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, copy.base, copy.len);
}
