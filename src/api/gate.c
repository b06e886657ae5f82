/*
 * gate.c - the request gate: whether the caller may still use its token, asked before
 * every operation that binds a tenant runs (reads included).
 *
 * A token with `sub` passes while that sub names an active user of the token's tenant,
 * its jti was not revoked by logout, and its iat comes after the user's last
 * logout(allSessions) second (iat at or before it: revoked). Tokens without sub and the
 * trusted X-Tenant-ID header name no user and always pass. The statuses come from the
 * data sources' per-worker memory (a second old at most) or from one batched lookup per
 * tenant pool per loop turn (status.c), never from a query per request.
 */
#include <stdio.h>

#include "internal.h"
#include "tenantql/log.h"

#define REFUSED "The token has been revoked, or its user is no longer an active user of its tenant."

typedef struct gate_call {
    tq_api_ctx *ctx;
    tq_api_gate_cb cb;
    void *data;
} gate_call;

/* Why the token may not be used (for the log), or NULL when it may. */
static const char *refusal(const tq_jwt_claims *c, const tq_user_status *st)
{
    if (!st->active)
        return "its user is not an active user of the tenant";
    if (st->token_revoked)
        return "it was revoked by logout";
    /* iat has whole seconds: a token of the logout's own second is revoked too */
    if (st->sessions_revoked && (!c->has_iat || c->iat <= st->revoked_through))
        return "it was issued before its user's logout(allSessions: true)";
    return NULL;
}

static void judge(tq_api_ctx *ctx, const tq_user_status *st, const char **code, const char **message)
{
    const char *why = refusal(ctx->claims, st);
    *code = *message = NULL;
    if (why == NULL)
        return;
    char reason[96];
    snprintf(reason, sizeof(reason), "token refused: %s", why);
    tq_log_limited(TQ_LOG_INFO, "auth", reason, "request %s: %s", ctx->db.request_id, reason);
    *code = "UNAUTHENTICATED";
    *message = REFUSED;
}

static void on_status(void *data, const char *error_code, const char *error_message, const tq_user_status *st)
{
    gate_call *g = data;
    const char *code = error_code, *message = error_message;
    if (st != NULL)
        judge(g->ctx, st, &code, &message);
    g->cb(g->data, code, message);
}

bool tq_api_gate(tq_api_ctx *ctx, tq_api_gate_cb cb, void *data, const char **code, const char **message)
{
    *code = *message = NULL;
    const tq_jwt_claims *c = ctx->claims;
    if (ctx->header_mode || c == NULL || !c->has_sub)
        return true;
    gate_call *g = tq_arena_alloc(ctx->arena, sizeof(*g));
    *g = (gate_call){ctx, cb, data};
    tq_user_status st;
    if (!tq_user_status_get(&ctx->db, c->tenant_id, c->sub, c->has_jti ? c->jti : NULL, &st, on_status, g))
        return false;
    judge(ctx, &st, code, message);
    return true;
}
