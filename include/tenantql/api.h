/*
 * api.h - the tenantql API on top of the GraphQL engine: the resolvers of the public
 * schema, the custom scalars, and the per-request context they run against.
 */
#ifndef TENANTQL_API_H
#define TENANTQL_API_H

#include <stdbool.h>

#include "tenantql/datasource.h"
#include "tenantql/gql_schema.h"

/* What resolvers see of a request: its tenant's data sources, made by the factories
 * for this request only, and who is asking. */
typedef struct tq_api_ctx {
    tq_arena *arena;
    tq_db db;
    tq_user_ds *users;
    tq_product_ds *products;
    const char *sub;      /* the token's user id, NULL without one (and in header mode) */
    bool header_mode;     /* the tenant came from a trusted X-Tenant-ID header */
} tq_api_ctx;

/* Binds ctx to a tenant pool for one request (the factory functions of the ADR). */
void tq_api_ctx_init(tq_api_ctx *ctx, tq_arena *a, tq_pool *pool, tq_worker *w);

/* Builds the executable schema from SDL with the API's resolvers and scalars. */
tq_schema *tq_api_schema_build(const char *sdl, size_t len, char *err, size_t errlen);

#endif
