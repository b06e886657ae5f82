/*
 * internal.h - the HTTP module's shared state: the server and the request handler.
 */
#ifndef TENANTQL_HTTP_INTERNAL_H
#define TENANTQL_HTTP_INTERNAL_H

#include <stdatomic.h>

#include "tenantql/api.h"
#include "tenantql/schema.h"
#include "tenantql/jwt.h"
#include "tenantql/registry.h"
#include "tenantql/server.h"
#include "tenantql/worker.h"

#define TQ_HTTP_STATUSES 11 /* statuses counted one by one for /metrics (ops.c) */

typedef struct tq_server {
    tq_server_config cfg;
    h2o_globalconf_t globalconf;
    tq_worker *workers;
    int nworkers;
    tq_registry *registry;
    tq_jwt_verifier *jwt;
    tq_schema *schema;
    struct tq_graphiql *graphiql;   /* NULL with --graphiql off */
    atomic_long requests_in_flight; /* across workers: shutdown waits for zero */
    atomic_ulong request_seq;       /* request ids for logs */
    struct sockaddr_storage listen_addr; /* every worker opens its own SO_REUSEPORT listener */
    socklen_t listen_addr_len;
    atomic_ulong http_statuses[TQ_HTTP_STATUSES + 1]; /* answers by status (ops.c), the last: others */
    pthread_barrier_t start_barrier; /* workers report their start-up, then wait for the verdict */
    bool start_failed;
    tq_api_auth api_auth;           /* what login and mutations use (registry, signer, limits) */
} tq_server;

/* Counts an HTTP answer for /metrics. Any thread. */
void tq_server_count_status(tq_server *s, int status);
/* Registers /healthz, /readyz and /metrics. */
void tq_ops_handlers_register(h2o_hostconf_t *host, tq_server *s);

/* Registers the /graphql handler on a path configuration. */
void tq_graphql_handler_register(h2o_pathconf_t *pathconf, tq_server *server);
/* Rewrites h2o's own plain-text 400/413 answers (sent before any handler runs, e.g. for
 * an oversize body) into GraphQL JSON errors. */
void tq_error_filter_register(h2o_pathconf_t *pathconf);

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
