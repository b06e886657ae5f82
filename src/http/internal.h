/*
 * internal.h - the HTTP module's shared state: the server and the request handler.
 */
#ifndef TENANTQL_HTTP_INTERNAL_H
#define TENANTQL_HTTP_INTERNAL_H

#include <stdatomic.h>

#include "tenantql/gql_schema.h"
#include "tenantql/jwt.h"
#include "tenantql/registry.h"
#include "tenantql/server.h"
#include "tenantql/worker.h"

typedef struct tq_server {
    tq_server_config cfg;
    h2o_globalconf_t globalconf;
    tq_worker *workers;
    int nworkers;
    tq_registry *registry;
    tq_jwt_verifier *jwt;
    tq_schema *schema;
    atomic_long requests_in_flight; /* across workers: shutdown waits for zero */
    atomic_ulong request_seq;       /* request ids for logs */
    struct sockaddr_storage listen_addr; /* every worker opens its own SO_REUSEPORT listener */
    socklen_t listen_addr_len;
    pthread_barrier_t start_barrier; /* workers report their start-up, then wait for the verdict */
    bool start_failed;
} tq_server;

/* Registers the /graphql handler on a path configuration. */
void tq_graphql_handler_register(h2o_pathconf_t *pathconf, tq_server *server);
/* Rewrites h2o's own plain-text 400/413 answers (sent before any handler runs, e.g. for
 * an oversize body) into GraphQL JSON errors. */
void tq_error_filter_register(h2o_pathconf_t *pathconf);

#endif
