/*
 * products.c - the product data source: lookups, keyset pages in five orders (ties by id
 * ascending in every order), filtered counts and search, against `products`.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FILTER                                                                                                 \
    " WHERE ($1::text IS NULL OR name ILIKE $1) AND ($2::numeric IS NULL OR price >= $2)"                        \
    " AND ($3::numeric IS NULL OR price <= $3) AND ($4::boolean IS NULL OR (stock_quantity > 0) = $4)"          \
    " AND ($5::boolean IS NULL OR active = $5)"
#define SELECT_FILTERED "SELECT " PRODUCT_COLUMNS " FROM @.products" FILTER

/* per order: ORDER BY, the keyset condition after a cursor ($K key, $I id), and the
 * column of PRODUCT_COLUMNS that is the cursor key */
#define ORDER_NAME_ASC " ORDER BY name COLLATE \"C\", id"
#define AFTER_NAME_ASC(K, I) " AND (name COLLATE \"C\", id) > ($" #K "::text COLLATE \"C\", $" #I "::uuid)"
#define ORDER_NAME_DESC " ORDER BY name COLLATE \"C\" DESC, id"
#define AFTER_NAME_DESC(K, I)                                                                                  \
    " AND (name COLLATE \"C\" < $" #K "::text COLLATE \"C\" OR (name COLLATE \"C\" = $" #K                       \
    "::text COLLATE \"C\" AND id > $" #I "::uuid))"
#define ORDER_PRICE_ASC " ORDER BY price, id"
#define AFTER_PRICE_ASC(K, I) " AND (price, id) > ($" #K "::numeric, $" #I "::uuid)"
#define ORDER_PRICE_DESC " ORDER BY price DESC, id"
#define AFTER_PRICE_DESC(K, I) " AND (price < $" #K "::numeric OR (price = $" #K "::numeric AND id > $" #I "::uuid))"
#define ORDER_CREATED_DESC " ORDER BY created_at DESC, id"
#define AFTER_CREATED_DESC(K, I)                                                                               \
    " AND (created_at < $" #K "::timestamptz OR (created_at = $" #K "::timestamptz AND id > $" #I "::uuid))"

/* With a filter: the optional conditions make the best plan depend on the values (a
 * selective price range could use the price index), so these are planned per execution
 * (plan_per_values: never prepared). */
static const tq_stmt stmt_first[5] = {
    {STMT_PRODUCTS_FIRST + 0, "p_first_0", SELECT_FILTERED ORDER_NAME_ASC " LIMIT $6::int", 6, true},
    {STMT_PRODUCTS_FIRST + 1, "p_first_1", SELECT_FILTERED ORDER_NAME_DESC " LIMIT $6::int", 6, true},
    {STMT_PRODUCTS_FIRST + 2, "p_first_2", SELECT_FILTERED ORDER_PRICE_ASC " LIMIT $6::int", 6, true},
    {STMT_PRODUCTS_FIRST + 3, "p_first_3", SELECT_FILTERED ORDER_PRICE_DESC " LIMIT $6::int", 6, true},
    {STMT_PRODUCTS_FIRST + 4, "p_first_4", SELECT_FILTERED ORDER_CREATED_DESC " LIMIT $6::int", 6, true},
};
static const tq_stmt stmt_after[5] = {
    {STMT_PRODUCTS_AFTER + 0, "p_after_0", SELECT_FILTERED AFTER_NAME_ASC(6, 7) ORDER_NAME_ASC " LIMIT $8::int", 8, true},
    {STMT_PRODUCTS_AFTER + 1, "p_after_1", SELECT_FILTERED AFTER_NAME_DESC(6, 7) ORDER_NAME_DESC " LIMIT $8::int", 8,
     true},
    {STMT_PRODUCTS_AFTER + 2, "p_after_2", SELECT_FILTERED AFTER_PRICE_ASC(6, 7) ORDER_PRICE_ASC " LIMIT $8::int", 8,
     true},
    {STMT_PRODUCTS_AFTER + 3, "p_after_3", SELECT_FILTERED AFTER_PRICE_DESC(6, 7) ORDER_PRICE_DESC " LIMIT $8::int", 8,
     true},
    {STMT_PRODUCTS_AFTER + 4, "p_after_4", SELECT_FILTERED AFTER_CREATED_DESC(6, 7) ORDER_CREATED_DESC " LIMIT $8::int",
     8, true},
};
/* Without a filter (the common case) the plan is the ordered index scan whatever the
 * values: prepared, and planned once. */
#define SELECT_ALL "SELECT " PRODUCT_COLUMNS " FROM @.products WHERE true"
static const tq_stmt stmt_first_all[5] = {
    {STMT_PRODUCTS_FIRST_ALL + 0, "p_firsta_0", SELECT_ALL ORDER_NAME_ASC " LIMIT $1::int", 1},
    {STMT_PRODUCTS_FIRST_ALL + 1, "p_firsta_1", SELECT_ALL ORDER_NAME_DESC " LIMIT $1::int", 1},
    {STMT_PRODUCTS_FIRST_ALL + 2, "p_firsta_2", SELECT_ALL ORDER_PRICE_ASC " LIMIT $1::int", 1},
    {STMT_PRODUCTS_FIRST_ALL + 3, "p_firsta_3", SELECT_ALL ORDER_PRICE_DESC " LIMIT $1::int", 1},
    {STMT_PRODUCTS_FIRST_ALL + 4, "p_firsta_4", SELECT_ALL ORDER_CREATED_DESC " LIMIT $1::int", 1},
};
static const tq_stmt stmt_after_all[5] = {
    {STMT_PRODUCTS_AFTER_ALL + 0, "p_aftera_0", SELECT_ALL AFTER_NAME_ASC(1, 2) ORDER_NAME_ASC " LIMIT $3::int", 3},
    {STMT_PRODUCTS_AFTER_ALL + 1, "p_aftera_1", SELECT_ALL AFTER_NAME_DESC(1, 2) ORDER_NAME_DESC " LIMIT $3::int", 3},
    {STMT_PRODUCTS_AFTER_ALL + 2, "p_aftera_2", SELECT_ALL AFTER_PRICE_ASC(1, 2) ORDER_PRICE_ASC " LIMIT $3::int", 3},
    {STMT_PRODUCTS_AFTER_ALL + 3, "p_aftera_3", SELECT_ALL AFTER_PRICE_DESC(1, 2) ORDER_PRICE_DESC " LIMIT $3::int", 3},
    {STMT_PRODUCTS_AFTER_ALL + 4, "p_aftera_4", SELECT_ALL AFTER_CREATED_DESC(1, 2) ORDER_CREATED_DESC " LIMIT $3::int",
     3},
};
static const int key_column[5] = {1, 1, 3, 3, 6};

static const tq_stmt stmt_by_id = {STMT_PRODUCT_BY_ID, "p_by_id",
                                   "SELECT " PRODUCT_COLUMNS " FROM @.products WHERE id = $1::uuid", 1};
static const tq_stmt stmt_by_ids = {STMT_PRODUCTS_BY_IDS, "p_by_ids",
                                    "SELECT " PRODUCT_COLUMNS " FROM @.products WHERE id = ANY($1::uuid[])", 1};
static const ds_batch_kind lookup_by_id = {&stmt_by_id, &stmt_by_ids};
static const tq_stmt stmt_count = {STMT_PRODUCTS_COUNT, "p_count", "SELECT count(*) FROM @.products" FILTER, 5, true};
static const tq_stmt stmt_count_all = {STMT_PRODUCTS_COUNT_ALL, "p_counta", "SELECT count(*) FROM @.products", 0};
static const tq_stmt stmt_search = {STMT_PRODUCTS_SEARCH, "p_search",
                                    "SELECT " PRODUCT_COLUMNS " FROM @.products WHERE name ILIKE $1"
                                    " ORDER BY name COLLATE \"C\", id LIMIT $2::int",
                                    2};

typedef struct product_call {
    tq_product_ds *ds;
    tq_ds_cb cb;
    void *data;
    int limit;
    int key_col;
    bool after;               /* a page after a client's cursor */
} product_call;

static product_call *new_call(tq_product_ds *ds, tq_ds_cb cb, void *data)
{
    product_call *c = tq_arena_calloc(ds->db->arena, 1, sizeof(*c));
    c->ds = ds;
    c->cb = cb;
    c->data = data;
    c->limit = -1;
    c->key_col = 1;
    return c;
}

tq_product_ds *tq_product_ds_create(tq_arena *a, tq_db *db)
{
    tq_product_ds *ds = tq_arena_alloc(a, sizeof(*ds));
    ds->db = db;
    return ds;
}

static void on_looked_up(void *data, tq_db_status status, PGresult *res, int row)
{
    product_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r))
        r.value = row >= 0 ? ds_product_from_row(c->ds->db->arena, res, row, 0) : tq_value_null();
    c->cb(c->data, &r);
}

void tq_product_ds_find_by_id(tq_product_ds *ds, const char *id, tq_ds_cb cb, void *data)
{
    ds_lookup_by_id(ds->db, &lookup_by_id, id, on_looked_up, new_call(ds, cb, data));
}

static void on_rows(void *data, tq_db_status status, PGresult *res)
{
    product_call *c = data;
    tq_arena *a = c->ds->db->arena;
    tq_ds_result r = {0};
    if (c->after && strncmp(ds_sqlstate(status, res), "22", 2) == 0) {
        /* a data exception from the cursor's key: a forged cursor, not a server fault */
        r.error_code = "BAD_USER_INPUT";
        r.error_message = "Argument \"after\" is not a cursor of this field.";
    } else if (!ds_failed(c->ds->db, status, res, &r)) {
        int n = PQntuples(res);
        if (c->limit >= 0 && n > c->limit) {
            r.has_more = true;
            n = c->limit;
        }
        r.value = tq_value_list(a, (uint32_t)n);
        r.extra = tq_value_list(a, (uint32_t)n);
        for (int i = 0; i < n; i++) {
            r.value.u.list.items[i] = ds_product_from_row(a, res, i, 0);
            r.extra.u.list.items[i] = ds_text(a, res, i, c->key_col);
        }
    }
    c->cb(c->data, &r);
}

static const char *tri(int v)
{
    return v < 0 ? NULL : v ? "true" : "false";
}

static bool unfiltered(const tq_product_filter *f)
{
    return f->name_pattern == NULL && f->min_price == NULL && f->max_price == NULL && f->in_stock < 0 && f->active < 0;
}

void tq_product_ds_page(tq_product_ds *ds, const tq_product_filter *f, tq_product_order order,
                        const tq_page_request *page, tq_ds_cb cb, void *data)
{
    product_call *c = new_call(ds, cb, data);
    c->limit = page->first;
    c->key_col = key_column[order];
    const char *limit = tq_arena_sprintf(ds->db->arena, "%d", page->first + 1);
    c->after = page->after_key != NULL;
    if (unfiltered(f)) {
        const char *params[3] = {page->after_key, page->after_id, limit};
        if (c->after)
            ds_query(ds->db, &stmt_after_all[order], params, 3, on_rows, c);
        else
            ds_query(ds->db, &stmt_first_all[order], &params[2], 1, on_rows, c);
        return;
    }
    const char *params[8] = {f->name_pattern, f->min_price, f->max_price, tri(f->in_stock), tri(f->active)};
    if (page->after_key == NULL) {
        params[5] = limit;
        ds_query(ds->db, &stmt_first[order], params, 6, on_rows, c);
    } else {
        params[5] = page->after_key;
        params[6] = page->after_id;
        params[7] = limit;
        ds_query(ds->db, &stmt_after[order], params, 8, on_rows, c);
    }
}

static void on_count(void *data, tq_db_status status, PGresult *res)
{
    product_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r))
        r.value = tq_value_int(atoll(PQgetvalue(res, 0, 0)));
    c->cb(c->data, &r);
}

void tq_product_ds_count(tq_product_ds *ds, const tq_product_filter *f, tq_ds_cb cb, void *data)
{
    if (unfiltered(f)) {
        ds_query(ds->db, &stmt_count_all, NULL, 0, on_count, new_call(ds, cb, data));
        return;
    }
    const char *params[5] = {f->name_pattern, f->min_price, f->max_price, tri(f->in_stock), tri(f->active)};
    ds_query(ds->db, &stmt_count, params, 5, on_count, new_call(ds, cb, data));
}

void tq_product_ds_search(tq_product_ds *ds, const char *pattern, int limit, tq_ds_cb cb, void *data)
{
    product_call *c = new_call(ds, cb, data);
    const char *params[] = {pattern, tq_arena_sprintf(ds->db->arena, "%d", limit)};
    ds_query(ds->db, &stmt_search, params, 2, on_rows, c);
}

/* ---- writes ---- */

static const tq_stmt stmt_insert = {STMT_PRODUCT_INSERT, "p_insert",
                                    "INSERT INTO @.products (name, description, price, stock_quantity)"
                                    " VALUES ($1, $2, $3::numeric, $4::int) RETURNING " PRODUCT_COLUMNS,
                                    4};
/* NULL keeps a non-null column; description, which may be cleared, has a flag */
static const tq_stmt stmt_update = {STMT_PRODUCT_UPDATE, "p_update",
                                    "UPDATE @.products SET name = COALESCE($2::text, name),"
                                    " description = CASE WHEN $3::boolean THEN $4::text ELSE description END,"
                                    " price = COALESCE($5::numeric, price),"
                                    " stock_quantity = COALESCE($6::int, stock_quantity),"
                                    " active = COALESCE($7::boolean, active), updated_at = now()"
                                    " WHERE id = $1::uuid RETURNING " PRODUCT_COLUMNS,
                                    7};
/* the range test and the change are one statement: concurrent adjustments queue on the
 * row lock and each re-checks the stock it finally sees, so nothing is ever oversold */
static const tq_stmt stmt_adjust = {
    STMT_PRODUCT_ADJUST_STOCK, "p_adjust",
    "UPDATE @.products SET stock_quantity = stock_quantity + $2::int, updated_at = now()"
    " WHERE id = $1::uuid"
    " AND stock_quantity::bigint + $2::bigint BETWEEN 0 AND 2147483647"
    " RETURNING " PRODUCT_COLUMNS,
    2};
static const tq_stmt stmt_delete = {STMT_PRODUCT_DELETE, "p_delete",
                                    "DELETE FROM @.products WHERE id = $1::uuid RETURNING id", 1};

static void on_written(void *data, tq_db_status status, PGresult *res)
{
    product_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r))
        r.value = PQntuples(res) > 0 ? ds_product_from_row(c->ds->db->arena, res, 0, 0) : tq_value_null();
    c->cb(c->data, &r);
}

static const char *flag(bool b)
{
    return b ? "true" : "false";
}

void tq_product_ds_insert(tq_product_ds *ds, const tq_product_fields *f, tq_ds_cb cb, void *data)
{
    const char *stock = tq_arena_sprintf(ds->db->arena, "%lld", (long long)f->stock_quantity);
    const char *params[] = {f->name, f->description, f->price, stock};
    ds_write(ds->db, &stmt_insert, params, 4, on_written, new_call(ds, cb, data));
}

void tq_product_ds_update(tq_product_ds *ds, const char *id, const tq_product_fields *f, tq_ds_cb cb, void *data)
{
    if (f->name == NULL && !f->set_description && f->price == NULL && !f->set_stock && f->active < 0) {
        const char *params[] = {id};
        ds_write(ds->db, &stmt_by_id, params, 1, on_written, new_call(ds, cb, data));
        return;
    }
    const char *params[] = {id,
                            f->name,
                            flag(f->set_description),
                            f->description,
                            f->price,
                            f->set_stock ? tq_arena_sprintf(ds->db->arena, "%lld", (long long)f->stock_quantity) : NULL,
                            f->active < 0 ? NULL : flag(f->active)};
    ds_write(ds->db, &stmt_update, params, 7, on_written, new_call(ds, cb, data));
}

typedef struct adjust_call {
    product_call *c;
    const char *id;
} adjust_call;

/* The adjustment changed nothing: a missing row (null) or a stock out of range. */
static void on_adjust_checked(void *data, tq_db_status status, PGresult *res)
{
    product_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r) && PQntuples(res) > 0) {
        r.error_code = "BAD_USER_INPUT";
        r.error_message = "The stock cannot go below 0 or above 2147483647; nothing was changed.";
    }
    c->cb(c->data, &r);
}

static void on_adjusted(void *data, tq_db_status status, PGresult *res)
{
    adjust_call *ac = data;
    tq_ds_result r = {0};
    if (ds_failed(ac->c->ds->db, status, res, &r)) {
        ac->c->cb(ac->c->data, &r);
    } else if (PQntuples(res) > 0) {
        r.value = ds_product_from_row(ac->c->ds->db->arena, res, 0, 0);
        ac->c->cb(ac->c->data, &r);
    } else {
        /* only on failure: one more round trip to tell the two reasons apart */
        const char *params[] = {ac->id};
        ds_write(ac->c->ds->db, &stmt_by_id, params, 1, on_adjust_checked, ac->c);
    }
}

void tq_product_ds_adjust_stock(tq_product_ds *ds, const char *id, int64_t delta, tq_ds_cb cb, void *data)
{
    adjust_call *ac = tq_arena_calloc(ds->db->arena, 1, sizeof(*ac));
    ac->c = new_call(ds, cb, data);
    ac->id = id;
    const char *params[] = {id, tq_arena_sprintf(ds->db->arena, "%lld", (long long)delta)};
    ds_write(ds->db, &stmt_adjust, params, 2, on_adjusted, ac);
}

static void on_deleted(void *data, tq_db_status status, PGresult *res)
{
    product_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->ds->db, status, res, &r))
        r.value = PQntuples(res) > 0 ? tq_value_bool(true) : tq_value_null();
    c->cb(c->data, &r);
}

void tq_product_ds_delete(tq_product_ds *ds, const char *id, tq_ds_cb cb, void *data)
{
    const char *params[] = {id};
    ds_write(ds->db, &stmt_delete, params, 1, on_deleted, new_call(ds, cb, data));
}
