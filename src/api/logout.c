/*
 * logout.c - Mutation.logout: revokes the caller's token (by its jti), or with
 * allSessions every token issued to the caller's user until now (README, "Revocation").
 *
 * The revocation is written to the tenant's database, which every server process asks
 * (the request gate): every worker of every process refuses the token within a second.
 * This worker forgets what it knew at once.
 *
 * "Until now" has whole seconds, like iat: logout(allSessions) at second S revokes every
 * token with iat <= S (tokens issued earlier in S included); login, seeing S, issues its
 * next tokens with iat S + 1 (login.c), so a login right after a logout is not revoked.
 */
#include <time.h>

#include "internal.h"

#define LAST_SECOND 253402300799LL /* 9999-12-31T23:59:59Z: later exp values are kept as this */

typedef struct logout_call {
    tq_field_ctx *fc;
    bool all;
} logout_call;

static tq_api_ctx *api(tq_field_ctx *fc)
{
    return fc->context;
}

static void on_revoked(void *data, tq_ds_result *r)
{
    logout_call *lc = data;
    tq_api_ctx *ctx = api(lc->fc);
    if (r->error_code != NULL) {
        tq_field_error(lc->fc, r->error_code, "%s", r->error_message);
        return;
    }
    if (r->value.kind == TQ_VAL_NULL) { /* the user went away meanwhile */
        tq_field_error(lc->fc, "UNAUTHENTICATED", "logout needs a token whose user is an active user of its tenant.");
        return;
    }
    tq_user_status_forget(ctx->db.worker, ctx->claims->tenant_id, lc->all ? ctx->claims->sub : ctx->claims->jti);
    tq_field_resolve(lc->fc, tq_value_bool(true));
}

void api_logout(tq_field_ctx *fc)
{
    tq_api_ctx *ctx = api(fc);
    const tq_jwt_claims *c = ctx->claims;
    const tq_value *all = tq_field_arg(fc, "allSessions");
    logout_call *lc = tq_arena_alloc(fc->arena, sizeof(*lc));
    *lc = (logout_call){fc, all != NULL && all->kind == TQ_VAL_BOOL && all->u.b};
    if (ctx->header_mode || c == NULL || !c->has_sub) {
        tq_field_error(fc, "UNAUTHENTICATED", "logout needs a token with a user (sub).");
        return;
    }
    if (lc->all) {
        tq_user_ds_revoke_sessions(ctx->users, c->sub, (int64_t)time(NULL), on_revoked, lc);
        return;
    }
    if (!c->has_jti) {
        tq_field_error(fc, "BAD_USER_INPUT",
                       "This token has no id (jti), so it cannot be revoked alone; use logout(allSessions: true).");
        return;
    }
    /* a revocation must outlive the token: it is accepted until exp + leeway */
    int64_t until = c->exp < LAST_SECOND - ctx->auth->leeway ? c->exp + ctx->auth->leeway : LAST_SECOND;
    tq_user_ds_revoke_token(ctx->users, c->sub, c->jti, until, on_revoked, lc);
}
