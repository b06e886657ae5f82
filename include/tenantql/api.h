/*
 * api.h - the tenantql API on top of the GraphQL engine: the resolvers of the public
 * schema, the custom scalars, and the per-request context they run against.
 */
#ifndef TENANTQL_API_H
#define TENANTQL_API_H

#include <stdbool.h>

#include "tenantql/budget.h"
#include "tenantql/datasource.h"
#include "tenantql/schema.h"
#include "tenantql/jwt.h"
#include "tenantql/ratelimit.h"
#include "tenantql/registry.h"

/* What login and the mutations need beyond the request's tenant; made once by the
 * server, read-only while serving. */
typedef struct tq_api_auth {
    tq_registry *registry;            /* login finds its tenant by name */
    const tq_jwt_verifier *jwt;       /* signs the tokens login hands out */
    long token_ttl;                   /* seconds from iat to exp */
    long leeway;                      /* --jwt-leeway: a token is accepted until exp + leeway */
    tq_ratelimit *login_limit;        /* attempts per tenant and email; NULL: none */
} tq_api_auth;

/* What resolvers see of a request: its tenant's data sources, made by the factories
 * for this request only, and who is asking. */
typedef struct tq_api_ctx {
    tq_arena *arena;
    tq_db db;
    tq_user_ds *users;
    tq_product_ds *products;
    const tq_tenant *tenant;        /* the request's (held by the request); NULL for login-only operations */
    const tq_jwt_claims *claims;    /* the verified token's, NULL without one (and in header mode) */
    const char *sub;      /* the token's user id, NULL without one (and in header mode) */
    bool header_mode;     /* the tenant came from a trusted X-Tenant-ID header */
    const tq_api_auth *auth;
} tq_api_ctx;

/* What the HTTP layer knows of a request when it builds its context. */
typedef struct tq_api_ctx_params {
    tq_arena *arena;                  /* the request's; outlives the context */
    tq_worker *worker;                /* the request's worker: its queries run there */
    tq_pool *pool;                    /* borrowed (tq_tenant_borrow_pool) and handed to the
                                       * context, which returns it in tq_api_ctx_dispose;
                                       * NULL for an operation made only of `login` fields:
                                       * login binds its own */
    const tq_api_auth *auth;
    const tq_tenant *tenant;          /* held by the caller for the request's life; NULL when pool is */
    const tq_jwt_claims *claims;      /* the verified token's (outlives the context), or NULL */
    const char *sub;                  /* the token's user id, or NULL */
    bool header_mode;                 /* the tenant came from a trusted X-Tenant-ID header */
    const char *request_id;           /* for the log (valid while the request runs) */
    void (*on_idle)(tq_db *db);       /* the request's queries are all back */
} tq_api_ctx_params;

/* Binds ctx to a tenant pool for one request (the factory functions of the ADR). */
void tq_api_ctx_init(tq_api_ctx *ctx, const tq_api_ctx_params *p);
/* The request gave up (timed out, or its client went away): its queries are cancelled
 * (tq_db_cancel); resolvers still complete, with errors. */
void tq_api_ctx_cancel(tq_api_ctx *ctx);
/* Gives back what the context holds (the borrowed pool); a zeroed context is fine. */
void tq_api_ctx_dispose(tq_api_ctx *ctx);

/* The request gate (gate.c), run before every operation that binds a tenant: a token
 * with `sub` may be used while that sub is an active user of its tenant, its jti was not
 * revoked by logout, and its iat is after the user's last logout(allSessions) second.
 * Tokens without sub and the trusted header pass. Returns true when the answer is known
 * now (*code NULL: pass; else an extensions.code - UNAUTHENTICATED, or the database's
 * TENANT_BUSY, TENANT_UNAVAILABLE, ... - and a client-safe *message), false when cb gets
 * the same on a later loop turn (the request's tq_db counts it as a query out). The
 * strings are static. */
typedef void (*tq_api_gate_cb)(void *data, const char *code, const char *message);
bool tq_api_gate(tq_api_ctx *ctx, tq_api_gate_cb cb, void *data, const char **code, const char **message);

/* Builds the executable schema from SDL with the API's resolvers and scalars; the caller
 * owns it (tq_schema_free), NULL with err filled. */
tq_schema *tq_api_schema_build(const char *sdl, size_t len, char *err, size_t errlen);

/* How many items each list of the schema returns at most, as the resolvers enforce it,
 * for the execution budget (tq_budget_schema_new); ends with a NULL coordinate. */
extern const tq_budget_list_size tq_api_list_sizes[];

#endif
