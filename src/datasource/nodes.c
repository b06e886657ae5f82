/*
 * nodes.c - `node`/`nodes` lookups: one round trip for any number of ids, users first,
 * then products, answered in the order asked.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* one row per found id: the kind, then the user columns or the product columns */
static const tq_stmt stmt_nodes = {STMT_NODES, "nodes",
                                   "SELECT 'U', " USER_COLUMNS ", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
                                   " FROM @.users WHERE id = ANY($1::uuid[])"
                                   " UNION ALL SELECT 'P', NULL, NULL, NULL, NULL, NULL, NULL, NULL, " PRODUCT_COLUMNS
                                   " FROM @.products WHERE id = ANY($1::uuid[])",
                                   1};

typedef struct node_call {
    tq_db *db;
    const char *const *ids;
    uint32_t n;
    tq_ds_cb cb;
    void *data;
} node_call;

static void on_nodes(void *data, tq_db_status status, PGresult *res)
{
    node_call *c = data;
    tq_ds_result r = {0};
    if (!ds_failed(c->db, status, res, &r)) {
        r.value = tq_value_list(c->db->arena, c->n);
        for (uint32_t i = 0; i < c->n; i++) {
            tq_value v = tq_value_null();
            /* users win over products when both have the id */
            for (int pass = 0; pass < 2 && v.kind == TQ_VAL_NULL; pass++) {
                for (int row = 0; row < PQntuples(res); row++) {
                    bool user = PQgetvalue(res, row, 0)[0] == 'U';
                    if (user != (pass == 0))
                        continue;
                    const char *id = PQgetvalue(res, row, user ? 1 : 8);
                    if (strcmp(id, c->ids[i]) != 0)
                        continue;
                    v = user ? ds_user_from_row(c->db->arena, res, row, 1)
                             : ds_product_from_row(c->db->arena, res, row, 8);
                    break;
                }
            }
            r.value.u.list.items[i] = v;
        }
    }
    c->cb(c->data, &r);
}

void tq_node_ds_find(tq_db *db, const char *const *ids, uint32_t n, tq_ds_cb cb, void *data)
{
    node_call *c = tq_arena_calloc(db->arena, 1, sizeof(*c));
    c->db = db;
    c->ids = ids;
    c->n = n;
    c->cb = cb;
    c->data = data;
    char *arr = tq_arena_alloc(db->arena, n * 37 + 3), *p = arr;
    *p++ = '{';
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, ids[i], 36);
        p += 36;
    }
    *p++ = '}';
    *p = '\0';
    const char *params[] = {arr};
    ds_query(db, &stmt_nodes, params, 1, on_nodes, c);
}
