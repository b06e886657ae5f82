/*
 * users.c - the user data source: lookups, keyset pages ordered by email in byte order
 * (ties by id), counts and search, against the tenant's `users` table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const tq_stmt stmt_by_id = {STMT_USER_BY_ID, "u_by_id",
                                   "SELECT " USER_COLUMNS " FROM @.users WHERE id = $1::uuid", 1};
static const tq_stmt stmt_by_ids = {STMT_USERS_BY_IDS, "u_by_ids",
                                    "SELECT " USER_COLUMNS " FROM @.users WHERE id = ANY($1::uuid[])", 1};
static const ds_batch_kind lookup_by_id = {&stmt_by_id, &stmt_by_ids};
static const tq_stmt stmt_active_by_id = {STMT_ACTIVE_USER_BY_ID, "u_active_by_id",
                                          "SELECT " USER_COLUMNS " FROM @.users WHERE id = $1::uuid AND active", 1};
static const tq_stmt stmt_first = {
    STMT_USERS_FIRST, "u_first", "SELECT " USER_COLUMNS " FROM @.users ORDER BY email COLLATE \"C\", id LIMIT $1::int",
    1};
static const tq_stmt stmt_after = {STMT_USERS_AFTER, "u_after",
                                   "SELECT " USER_COLUMNS " FROM @.users"
                                   " WHERE (email COLLATE \"C\", id) > ($1::text COLLATE \"C\", $2::uuid)"
                                   " ORDER BY email COLLATE \"C\", id LIMIT $3::int",
                                   3};
static const tq_stmt stmt_count = {STMT_USERS_COUNT, "u_count", "SELECT count(*) FROM @.users", 0};
static const tq_stmt stmt_search = {STMT_USERS_SEARCH, "u_search",
                                    "SELECT " USER_COLUMNS " FROM @.users"
                                    " WHERE email ILIKE $1 OR first_name ILIKE $1 OR last_name ILIKE $1"
                                    " ORDER BY email COLLATE \"C\", id LIMIT $2::int",
                                    2};

typedef struct user_call {
    tq_user_ds *ds;
    tq_ds_cb cb;
    void *data;
    int limit;        /* pages: rows wanted; one more is fetched to learn has_more */
    bool returns_row; /* writes: no row back means no user has the id */
} user_call;

static user_call *new_call(tq_user_ds *ds, tq_ds_cb cb, void *data)
{
    user_call *c = tq_arena_calloc(ds->db->arena, 1, sizeof(*c));
    c->ds = ds;
    c->cb = cb;
    c->data = data;
    return c;
}

tq_user_ds *tq_user_ds_create(tq_arena *a, tq_db *db)
{
    tq_user_ds *ds = tq_arena_alloc(a, sizeof(*ds));
    ds->db = db;
    return ds;
}

static void on_one(void *data, tq_db_status status, PGresult *res)
{
    user_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r))
        r.value = PQntuples(res) > 0 ? ds_user_from_row(c->ds->db->arena, res, 0, 0) : tq_value_null();
    c->cb(c->data, &r);
}

static void on_looked_up(void *data, tq_db_status status, PGresult *res, int row)
{
    user_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r))
        r.value = row >= 0 ? ds_user_from_row(c->ds->db->arena, res, row, 0) : tq_value_null();
    c->cb(c->data, &r);
}

void tq_user_ds_find_by_id(tq_user_ds *ds, const char *id, bool only_active, tq_ds_cb cb, void *data)
{
    if (only_active) {
        const char *params[] = {id};
        ds_query(ds->db, &stmt_active_by_id, params, 1, on_one, new_call(ds, cb, data));
        return;
    }
    ds_lookup_by_id(ds->db, &lookup_by_id, id, on_looked_up, new_call(ds, cb, data));
}

static void on_rows(void *data, tq_db_status status, PGresult *res)
{
    user_call *c = data;
    tq_arena *a = c->ds->db->arena;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r)) {
        int n = PQntuples(res);
        if (c->limit >= 0 && n > c->limit) {
            r.has_more = true;
            n = c->limit;
        }
        r.value = tq_value_list(a, (uint32_t)n);
        r.extra = tq_value_list(a, (uint32_t)n);
        for (int i = 0; i < n; i++) {
            r.value.u.list.items[i] = ds_user_from_row(a, res, i, 0);
            r.extra.u.list.items[i] = ds_text(a, res, i, 1);
        }
    }
    c->cb(c->data, &r);
}

void tq_user_ds_page(tq_user_ds *ds, const tq_page_request *page, tq_ds_cb cb, void *data)
{
    user_call *c = new_call(ds, cb, data);
    c->limit = page->first;
    char *limit = tq_arena_sprintf(ds->db->arena, "%d", page->first + 1);
    if (page->after_key == NULL) {
        const char *params[] = {limit};
        ds_query(ds->db, &stmt_first, params, 1, on_rows, c);
    } else {
        const char *params[] = {page->after_key, page->after_id, limit};
        ds_query(ds->db, &stmt_after, params, 3, on_rows, c);
    }
}

static void on_count(void *data, tq_db_status status, PGresult *res)
{
    user_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r))
        r.value = tq_value_int(atoll(PQgetvalue(res, 0, 0)));
    c->cb(c->data, &r);
}

void tq_user_ds_count(tq_user_ds *ds, tq_ds_cb cb, void *data)
{
    ds_query(ds->db, &stmt_count, NULL, 0, on_count, new_call(ds, cb, data));
}

void tq_user_ds_search(tq_user_ds *ds, const char *pattern, int limit, tq_ds_cb cb, void *data)
{
    user_call *c = new_call(ds, cb, data);
    c->limit = -1;
    const char *params[] = {pattern, tq_arena_sprintf(ds->db->arena, "%d", limit)};
    ds_query(ds->db, &stmt_search, params, 2, on_rows, c);
}

/* ---- login and writes ---- */

static const tq_stmt stmt_login = {STMT_USER_LOGIN, "u_login",
                                   "SELECT " USER_COLUMNS ", password,"
                                   " floor(extract(epoch FROM sessions_revoked_at))::bigint"
                                   " FROM @.users WHERE email = $1",
                                   1};
/* pruning rides along: at most 100 expired rows per logout, through the expiry index */
static const tq_stmt stmt_revoke_token = {STMT_TOKEN_REVOKE, "t_revoke",
                                          "WITH pruned AS (DELETE FROM @.revoked_tokens WHERE jti IN"
                                          " (SELECT jti FROM @.revoked_tokens WHERE expires_at < now() LIMIT 100))"
                                          " INSERT INTO @.revoked_tokens (jti, user_id, expires_at)"
                                          " VALUES ($1::uuid, $2::uuid, to_timestamp($3::bigint))"
                                          " ON CONFLICT (jti) DO NOTHING",
                                          3};
static const tq_stmt stmt_revoke_sessions = {STMT_SESSIONS_REVOKE, "u_revoke_sessions",
                                             "UPDATE @.users SET sessions_revoked_at ="
                                             " GREATEST(sessions_revoked_at, to_timestamp($2::bigint))"
                                             " WHERE id = $1::uuid RETURNING id",
                                             2};
static const tq_stmt stmt_insert = {STMT_USER_INSERT, "u_insert",
                                    "INSERT INTO @.users (email, password, first_name, last_name)"
                                    " VALUES ($1, $2, $3, $4) RETURNING " USER_COLUMNS,
                                    4};
/* nullable columns need a "change it" flag beside their value; active cannot be null */
static const tq_stmt stmt_update = {STMT_USER_UPDATE, "u_update",
                                    "UPDATE @.users SET"
                                    " first_name = CASE WHEN $2::boolean THEN $3::text ELSE first_name END,"
                                    " last_name = CASE WHEN $4::boolean THEN $5::text ELSE last_name END,"
                                    " active = COALESCE($6::boolean, active), updated_at = now()"
                                    " WHERE id = $1::uuid RETURNING " USER_COLUMNS,
                                    6};

static void on_login_row(void *data, tq_db_status status, PGresult *res)
{
    user_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r) && PQntuples(res) > 0) {
        tq_arena *a = c->ds->db->arena;
        r.value = ds_user_from_row(a, res, 0, 0);
        r.extra = tq_value_list(a, 2);
        r.extra.u.list.items[0] = ds_text(a, res, 0, 7);
        r.extra.u.list.items[1] = PQgetisnull(res, 0, 8) ? tq_value_null() : tq_value_int(atoll(PQgetvalue(res, 0, 8)));
    }
    c->cb(c->data, &r);
}

void tq_user_ds_find_for_login(tq_user_ds *ds, const char *email, tq_ds_cb cb, void *data)
{
    const char *params[] = {email};
    ds_query(ds->db, &stmt_login, params, 1, on_login_row, new_call(ds, cb, data));
}

static void on_inserted(void *data, tq_db_status status, PGresult *res)
{
    user_call *c = data;
    tq_ds_result r = {0};
    if (strcmp(ds_sqlstate(status, res), "23505") == 0) {
        r.error_code = "CONFLICT";
        r.error_message = "A user with this email already exists.";
    } else if (!ds_failed(c->ds->db, status, res, &r)) {
        r.value = ds_user_from_row(c->ds->db->arena, res, 0, 0);
    }
    c->cb(c->data, &r);
}

void tq_user_ds_insert(tq_user_ds *ds, const tq_user_fields *f, tq_ds_cb cb, void *data)
{
    const char *params[] = {f->email, f->password_hash, f->first_name, f->last_name};
    ds_write(ds->db, &stmt_insert, params, 4, on_inserted, new_call(ds, cb, data));
}

static const char *flag(bool b)
{
    return b ? "true" : "false";
}

void tq_user_ds_update(tq_user_ds *ds, const char *id, const tq_user_fields *f, tq_ds_cb cb, void *data)
{
    if (!f->set_first_name && !f->set_last_name && f->active < 0) {
        const char *params[] = {id};
        ds_write(ds->db, &stmt_by_id, params, 1, on_one, new_call(ds, cb, data));
        return;
    }
    const char *params[] = {id,
                            flag(f->set_first_name),
                            f->first_name,
                            flag(f->set_last_name),
                            f->last_name,
                            f->active < 0 ? NULL : flag(f->active)};
    ds_write(ds->db, &stmt_update, params, 6, on_one, new_call(ds, cb, data));
}

/* ---- logout ---- */

static void on_revoked(void *data, tq_db_status status, PGresult *res)
{
    user_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r))
        r.value = PQntuples(res) > 0 || !c->returns_row ? tq_value_bool(true) : tq_value_null();
    c->cb(c->data, &r);
}

void tq_user_ds_revoke_token(tq_user_ds *ds, const char *user_id, const char *jti, int64_t expires_at, tq_ds_cb cb,
                             void *data)
{
    const char *params[] = {jti, user_id, tq_arena_sprintf(ds->db->arena, "%lld", (long long)expires_at)};
    ds_write(ds->db, &stmt_revoke_token, params, 3, on_revoked, new_call(ds, cb, data));
}

void tq_user_ds_revoke_sessions(tq_user_ds *ds, const char *user_id, int64_t through, tq_ds_cb cb, void *data)
{
    const char *params[] = {user_id, tq_arena_sprintf(ds->db->arena, "%lld", (long long)through)};
    user_call *c = new_call(ds, cb, data);
    c->returns_row = true;
    ds_write(ds->db, &stmt_revoke_sessions, params, 2, on_revoked, c);
}
