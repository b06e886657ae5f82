/*
 * db.c - a request's queries to its tenant pool, and the conversion of rows to values.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tenantql/gql_scalars.h"
#include "tenantql/log.h"

static tq_ds_types bound_types; /* written once at start-up, read-only while serving */

int tq_ds_bind_types(const tq_schema *schema)
{
    bound_types.user = tq_schema_find_type(schema, "User", 4);
    bound_types.product = tq_schema_find_type(schema, "Product", 7);
    return bound_types.user && bound_types.product ? 0 : -1;
}

const tq_ds_types *tq_ds_types_get(void)
{
    return &bound_types;
}

typedef struct ds_call {
    tq_db_query q;
    tq_db *db;
    ds_result_fn fn;
    void *data;
} ds_call;

static void on_query_done(tq_db_query *q, tq_db_status status, PGresult *res)
{
    ds_call *call = (ds_call *)q;
    tq_db *db = call->db;
    call->fn(call->data, status, res);
    PQclear(res);
    if (--db->inflight == 0 && db->on_idle != NULL)
        db->on_idle(db);
}

void ds_query(tq_db *db, const tq_stmt *stmt, const char *const *params, int nparams, ds_result_fn fn, void *data)
{
    ds_call *call = tq_arena_calloc(db->arena, 1, sizeof(*call));
    call->q.stmt = stmt;
    for (int i = 0; i < nparams; i++)
        call->q.params[i] = params[i];
    call->q.cb = on_query_done;
    call->db = db;
    call->fn = fn;
    call->data = data;
    db->inflight++;
    tq_pool_query(db->pool, db->worker, &call->q);
}

bool ds_failed(tq_db_status status, PGresult *res, tq_ds_result *out)
{
    switch (status) {
    case TQ_DB_OK:
        return false;
    case TQ_DB_BUSY:
        out->error_code = "TENANT_BUSY";
        out->error_message = "The tenant's database is busy; try again shortly.";
        return true;
    case TQ_DB_UNAVAILABLE:
        out->error_code = "TENANT_UNAVAILABLE";
        out->error_message = "The tenant's database is unavailable.";
        return true;
    case TQ_DB_SQL_ERROR:
    default: {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res ? PQresultErrorMessage(res) : "";
        tq_log_error("datasource", "query failed: %s %.*s", state ? state : "", (int)strcspn(msg, "\n"), msg);
        if (state != NULL && strcmp(state, "57014") == 0) {
            out->error_code = "TENANT_BUSY";
            out->error_message = "The query took too long and was cancelled.";
        } else {
            out->error_code = "INTERNAL_SERVER_ERROR";
            out->error_message = "Internal server error.";
        }
        return true;
    }
    }
}

tq_value ds_text(tq_arena *a, PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return tq_value_null();
    int len = PQgetlength(res, row, col);
    return tq_value_string(tq_arena_strndup(a, PQgetvalue(res, row, col), (size_t)len), (uint32_t)len);
}

static tq_value ds_bool(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? tq_value_null() : tq_value_bool(PQgetvalue(res, row, col)[0] == 't');
}

static tq_value ds_datetime(tq_arena *a, PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return tq_value_null();
    char out[32];
    if (!tq_datetime_from_pg(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), out))
        return tq_value_null(); /* not representable (year > 9999, infinity): a non-null field error follows */
    return tq_value_string(tq_arena_strndup(a, out, 24), 24);
}

tq_value ds_user_from_row(tq_arena *a, PGresult *res, int row, int c)
{
    tq_value u = tq_value_object(a, bound_types.user, 7);
    tq_value_object_set(&u, 0, "id", ds_text(a, res, row, c));
    tq_value_object_set(&u, 1, "email", ds_text(a, res, row, c + 1));
    tq_value_object_set(&u, 2, "firstName", ds_text(a, res, row, c + 2));
    tq_value_object_set(&u, 3, "lastName", ds_text(a, res, row, c + 3));
    tq_value_object_set(&u, 4, "active", ds_bool(res, row, c + 4));
    tq_value_object_set(&u, 5, "createdAt", ds_datetime(a, res, row, c + 5));
    tq_value_object_set(&u, 6, "updatedAt", ds_datetime(a, res, row, c + 6));
    return u;
}

tq_value ds_product_from_row(tq_arena *a, PGresult *res, int row, int c)
{
    tq_value p = tq_value_object(a, bound_types.product, 8);
    tq_value_object_set(&p, 0, "id", ds_text(a, res, row, c));
    tq_value_object_set(&p, 1, "name", ds_text(a, res, row, c + 1));
    tq_value_object_set(&p, 2, "description", ds_text(a, res, row, c + 2));
    tq_value_object_set(&p, 3, "price", ds_text(a, res, row, c + 3));
    tq_value stock = PQgetisnull(res, row, c + 4) ? tq_value_null() : tq_value_int(atoll(PQgetvalue(res, row, c + 4)));
    tq_value_object_set(&p, 4, "stockQuantity", stock);
    tq_value_object_set(&p, 5, "active", ds_bool(res, row, c + 5));
    tq_value_object_set(&p, 6, "createdAt", ds_datetime(a, res, row, c + 6));
    tq_value_object_set(&p, 7, "updatedAt", ds_datetime(a, res, row, c + 7));
    return p;
}

char *tq_ds_contains_pattern(tq_arena *a, const char *text, size_t len)
{
    char *p = tq_arena_alloc(a, len * 2 + 3), *o = p;
    *o++ = '%';
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '%' || text[i] == '_' || text[i] == '\\')
            *o++ = '\\';
        *o++ = text[i];
    }
    *o++ = '%';
    *o = '\0';
    return p;
}
