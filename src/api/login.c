/*
 * login.c - Mutation.login: the tenant by name, the user by email in that tenant's
 * database, the password checked on the hashing threads, and a signed token.
 *
 * Every way of failing (unknown or inactive tenant, unknown email, wrong password,
 * inactive user) gives the same error after the same work: one full password hash runs
 * in each case, so neither the answer nor its timing tells which it was. Attempts are
 * counted per tenant and email before anything else, so the limit also bounds the
 * hashing an attacker can cause for one account; an attempt whose password was never
 * hashed (the hashing queue was full) is given back, so TENANT_BUSY costs no attempt.
 *
 * A login-only operation has no tenant of its own (no token is needed), so the field
 * binds a data source to the named tenant's pool for its own life; its queries keep the
 * request alive through the request's database counter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "tenantql/clock.h"
#include "tenantql/cluster.h"
#include "tenantql/log.h"
#include "tenantql/password.h"

#define LOGIN_FAILED "Invalid credentials."

typedef struct login_call {
    tq_field_ctx *fc;
    tq_tenant *tenant;        /* NULL when unknown or inactive; released when answered */
    tq_db db;                 /* bound to the tenant's pool */
    tq_db *parent;            /* the request's counter of queries out */
    tq_password_key share;    /* the tenant name as sent: its share of the hashing threads */
    const char *password;
    size_t password_len;
    tq_value user;            /* null until found */
    tq_value revoked_through; /* the user's last logout(allSessions) second (int), or null */
    bool counted;             /* the attempt counts against the limit (ticket) */
    tq_ratelimit_ticket ticket;
} login_call;

static tq_api_ctx *api(tq_field_ctx *fc)
{
    return fc->context;
}

/* The login's own queries are done: let the request go when nothing else holds it. */
static void on_login_db_idle(tq_db *db)
{
    login_call *lc = H2O_STRUCT_FROM_MEMBER(login_call, db, db);
    tq_pool_return(lc->db.pool); /* its one query is back: the pool is no longer needed */
    lc->db.pool = NULL;
    tq_db *p = lc->parent;
    /* its statements are the request's */
    p->timings.wait_us += db->timings.wait_us;
    p->timings.pg_us += db->timings.pg_us;
    p->timings.statements += db->timings.statements;
    if (--p->inflight == 0 && p->on_idle != NULL)
        p->on_idle(p);
}

static void finish(login_call *lc)
{
    tq_tenant_release(lc->tenant);
    lc->tenant = NULL;
}

static void fail(login_call *lc, const char *code, const char *message)
{
    finish(lc);
    tq_field_error(lc->fc, code, "%s", message);
}

static void refuse(login_call *lc, const char *why)
{
    char reason[64];
    snprintf(reason, sizeof(reason), "login refused: %s", why);
    tq_log_limited(TQ_LOG_INFO, "auth", reason, "%s", reason);
    fail(lc, "UNAUTHENTICATED", LOGIN_FAILED);
}

static tq_value text_value(tq_arena *a, const char *s)
{
    size_t n = strlen(s);
    return tq_value_string(tq_arena_strndup(a, s, n), (uint32_t)n);
}

/* The token's iat: now, or the second after the user's last logout(allSessions) when that
 * was this very second, so that a login right after it is not revoked (logout.c). */
static int64_t issued_at(const login_call *lc)
{
    int64_t now = (int64_t)time(NULL);
    return lc->revoked_through.kind == TQ_VAL_INT && lc->revoked_through.u.i >= now ? lc->revoked_through.u.i + 1 : now;
}

/* Signs the token (with a fresh jti) and answers AuthPayload. */
static void issue(login_call *lc)
{
    tq_field_ctx *fc = lc->fc;
    const tq_api_auth *auth = api(fc)->auth;
    const tq_value *id = tq_value_get(&lc->user, "id");
    char sub[TQ_UUID_TEXT_SIZE], err[256];
    snprintf(sub, sizeof(sub), "%.*s", (int)id->u.s.len, id->u.s.s);
    int64_t iat = issued_at(lc);
    char *token = tq_jwt_issue(auth->jwt, tq_tenant_id_text(lc->tenant), sub, iat, auth->token_ttl, err, sizeof(err));
    if (token == NULL) {
        tq_log_error("auth", "login: the token could not be issued: %s", err);
        fail(lc, "INTERNAL_SERVER_ERROR", "Internal server error.");
        return;
    }
    time_t exp = (time_t)(iat + auth->token_ttl);
    struct tm tm;
    char expires[32];
    gmtime_r(&exp, &tm);
    strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    const tq_schema_type *type = tq_schema_find_type(tq_exec_schema(fc->exec), "AuthPayload", 11);
    tq_value out = tq_value_object(fc->arena, type, 3);
    tq_value_object_set(&out, 0, "token", text_value(fc->arena, token));
    tq_value_object_set(&out, 1, "expiresAt", text_value(fc->arena, expires));
    tq_value_object_set(&out, 2, "user", lc->user);
    sodium_memzero(token, strlen(token));
    free(token);
    finish(lc);
    tq_field_resolve(fc, out);
}

/* The password was never hashed: the attempt does not count. */
static void give_back(login_call *lc)
{
    if (lc->counted)
        tq_ratelimit_give_back(api(lc->fc)->auth->login_limit, &lc->ticket);
    lc->counted = false;
}

static void on_checked(void *data, tq_password_status st)
{
    login_call *lc = data;
    if (st == TQ_PASSWORD_BUSY || st == TQ_PASSWORD_FAILED)
        give_back(lc);
    if (st == TQ_PASSWORD_BUSY) {
        fail(lc, "TENANT_BUSY", "Too many logins are being checked at the moment; try again shortly.");
        return;
    }
    if (st == TQ_PASSWORD_FAILED) {
        fail(lc, "INTERNAL_SERVER_ERROR", "Internal server error.");
        return;
    }
    const tq_value *active = tq_value_get(&lc->user, "active");
    if (lc->tenant == NULL)
        refuse(lc, "unknown or inactive tenant");
    else if (lc->user.kind != TQ_VAL_OBJECT)
        refuse(lc, "unknown email");
    else if (st != TQ_PASSWORD_OK)
        refuse(lc, "wrong password");
    else if (active == NULL || active->kind != TQ_VAL_BOOL || !active->u.b)
        refuse(lc, "inactive user");
    else
        issue(lc);
}

/* Checks the password against stored (NULL: nothing to check against, which costs the
 * same and fails). */
static void check_password(login_call *lc, const char *stored)
{
    tq_password_verify_async(lc->db.worker, lc->share, stored, lc->password, lc->password_len, on_checked, lc);
}

static void on_user(void *data, tq_ds_result *r)
{
    login_call *lc = data;
    if (r->error_code != NULL) {
        give_back(lc); /* nothing was hashed */
        fail(lc, r->error_code, r->error_message);
        return;
    }
    lc->user = r->value;
    bool found = r->value.kind == TQ_VAL_OBJECT && r->extra.kind == TQ_VAL_LIST &&
                 r->extra.u.list.items[0].kind == TQ_VAL_STRING;
    if (found)
        lc->revoked_through = r->extra.u.list.items[1];
    check_password(lc, found ? r->extra.u.list.items[0].u.s.s : NULL);
}

static bool has_nul(const tq_value *v)
{
    return memchr(v->u.s.s, '\0', v->u.s.len) != NULL;
}

/* False (after answering) when the attempt is over the limit. */
static bool count_attempt(login_call *lc, const char *tenant_key, const char *email)
{
    tq_field_ctx *fc = lc->fc;
    tq_ratelimit *rl = api(fc)->auth->login_limit;
    if (rl == NULL)
        return true;
    size_t tl = strlen(tenant_key), el = strlen(email);
    char *key = tq_arena_alloc(fc->arena, tl + el + 1);
    memcpy(key, tenant_key, tl);
    key[tl] = '\0'; /* a name cannot hold NUL: the split is unambiguous */
    memcpy(key + tl + 1, email, el);
    tq_ratelimit_set_parts(rl, tq_cluster_instances()); /* the live processes share the limit */
    int retry = tq_ratelimit_hit(rl, key, tl + 1 + el, tq_clock_ms(), &lc->ticket);
    lc->counted = retry == 0;
    if (retry == 0)
        return true;
    tq_field_error(fc, "FORBIDDEN", "Too many login attempts; try again in %d second%s.", retry,
                   retry == 1 ? "" : "s");
    return false;
}

void api_login(tq_field_ctx *fc)
{
    tq_api_ctx *ctx = api(fc);
    const tq_value *tenant = tq_field_arg(fc, "tenant"), *email = tq_field_arg(fc, "email"),
                   *password = tq_field_arg(fc, "password");
    login_call *lc = tq_arena_calloc(fc->arena, 1, sizeof(*lc));
    lc->fc = fc;
    lc->parent = &ctx->db;
    lc->user = tq_value_null();
    lc->revoked_through = tq_value_null();
    lc->share = (tq_password_key){tenant->u.s.s, tenant->u.s.len};
    lc->password = password->u.s.s;
    lc->password_len = password->u.s.len;
    lc->db = (tq_db){NULL, ctx->db.worker, fc->arena, 0, on_login_db_idle, ctx->db.request_id};
    const char *lower = api_ascii_lower(fc->arena, email->u.s.s, email->u.s.len);
    tq_tenant *t = has_nul(tenant) ? NULL : tq_registry_get_by_name(ctx->auth->registry, tenant->u.s.s, tenant->u.s.len);
    /* a tenant whose password cannot be had is not tried without one (libpq would fall back
     * to PGPASSWORD or a passfile) */
    if (t != NULL && (!tq_tenant_active(t) || !tq_tenant_credentials_ok(t))) {
        tq_tenant_release(t);
        t = NULL;
    }
    if (!count_attempt(lc, t != NULL ? tq_tenant_id_text(t) : tenant->u.s.s, lower)) {
        tq_tenant_release(t);
        return;
    }
    lc->tenant = t;
    if (t == NULL || has_nul(email)) {
        check_password(lc, NULL);
        return;
    }
    lc->db.pool = tq_tenant_borrow_pool(t);
    ctx->db.inflight++; /* released by on_login_db_idle */
    tq_user_ds_find_for_login(tq_user_ds_create(fc->arena, &lc->db), lower, on_user, lc);
}
