/*
 * resolvers.c - resolvers of the public schema (schema/schema.graphql), following the
 * API contract: ids that are not uuids find nothing, connections page by opaque keyset
 * cursors, `first` is 0..100, and errors carry the contract's extensions.code values.
 * Each resolver asks a data source and answers when the rows arrive. The Mutation
 * fields live in login.c and mutations.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tenantql/api.h"
#include "tenantql/base64url.h"
#include "tenantql/exec.h"
#include "tenantql/scalars.h"
#include "tenantql/uuid.h"

#define MAX_PAGE 100
#define MAX_NODE_IDS 1000
#define MAX_TERM_CHARS 256 /* search and nameContains: longer terms cost the database seconds */

static tq_api_ctx *api(tq_field_ctx *fc)
{
    return fc->context;
}

/* Answers the field from a data source result. */
static void answer(void *data, tq_ds_result *r)
{
    tq_field_ctx *fc = data;
    if (r->error_code != NULL)
        tq_field_error(fc, r->error_code, "%s", r->error_message);
    else
        tq_field_resolve(fc, r->value);
}

/* The canonical text of an ID argument, or NULL when it cannot name a row. */
static const char *uuid_arg(tq_field_ctx *fc, const char *name)
{
    const tq_value *v = tq_field_arg(fc, name);
    if (v == NULL || v->kind != TQ_VAL_STRING)
        return NULL;
    char *out = tq_arena_alloc(fc->arena, TQ_UUID_TEXT_SIZE);
    return tq_uuid_canonicalize(v->u.s.s, v->u.s.len, out) ? out : NULL;
}

/* `first` of connections and search: 0..100, an explicit null is an error. */
static bool page_size_arg(tq_field_ctx *fc, int *out)
{
    const tq_value *v = tq_field_arg(fc, "first");
    if (v == NULL || v->kind != TQ_VAL_INT || v->u.i < 0 || v->u.i > MAX_PAGE) {
        tq_field_error(fc, "BAD_USER_INPUT", "Argument \"first\" must be between 0 and %d.", MAX_PAGE);
        return false;
    }
    *out = (int)v->u.i;
    return true;
}

/* ---- cursors: base64url("<field>|<uuid>|<order key>") ---- */

static const char *cursor_encode(tq_arena *a, const char *field, const tq_value *id, const tq_value *key)
{
    const char *plain = tq_arena_sprintf(a, "%s|%.*s|%.*s", field, (int)id->u.s.len, id->u.s.s,
                                         key->kind == TQ_VAL_STRING ? (int)key->u.s.len : 0,
                                         key->kind == TQ_VAL_STRING ? key->u.s.s : "");
    size_t n = strlen(plain);
    char *out = tq_arena_alloc(a, tq_base64url_encoded_len(n) + 1);
    out[tq_base64url_encode(plain, n, out)] = '\0';
    return out;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || c == 0 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

/* A search term (search, nameContains): at most MAX_TERM_CHARS code points and no NUL;
 * false after answering with an error. A term scans every row with ILIKE: a long one
 * costs the tenant's database seconds of CPU for nothing anyone needs. */
static bool term_arg(tq_field_ctx *fc, const char *name, const tq_value *v)
{
    uint32_t chars = 0;
    for (uint32_t i = 0; i < v->u.s.len; i++) {
        unsigned char c = (unsigned char)v->u.s.s[i];
        if (c == 0) {
            tq_field_error(fc, "BAD_USER_INPUT", "%s must not contain NUL characters.", name);
            return false;
        }
        chars += (c & 0xC0) != 0x80;
    }
    if (chars > MAX_TERM_CHARS) {
        tq_field_error(fc, "BAD_USER_INPUT", "%s must be at most %d characters long.", name, MAX_TERM_CHARS);
        return false;
    }
    return true;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* The order key of a products cursor has the shape this server writes for its order:
 * a price as numeric text, a creation time as PostgreSQL's ISO text in UTC. A key of
 * another shape was not made here, and must not reach the database as a cast error. */
static bool product_key_valid(int order, const char *key)
{
    size_t n = strlen(key);
    if (order == TQ_PRODUCT_PRICE_ASC || order == TQ_PRODUCT_PRICE_DESC) {
        if (strcmp(key, "NaN") == 0)
            return true;
        const char *dot = strchr(key, '.');
        const char *ip = key[0] == '-' ? key + 1 : key;
        return n <= 40 && (dot == NULL ? all_digits(ip, n - (size_t)(ip - key))
                                       : all_digits(ip, (size_t)(dot - ip)) && all_digits(dot + 1, strlen(dot + 1)));
    }
    if (order == TQ_PRODUCT_CREATED_AT_DESC) {
        /* YYYY-MM-DD HH:MM:SS[.ffffff]+00 */
        if (n < 22 || n > 32 || strcmp(key + n - 3, "+00") != 0 || !all_digits(key, 4) || key[4] != '-' ||
            !all_digits(key + 5, 2) || key[7] != '-' || !all_digits(key + 8, 2) || key[10] != ' ' ||
            !all_digits(key + 11, 2) || key[13] != ':' || !all_digits(key + 14, 2) || key[16] != ':' ||
            !all_digits(key + 17, 2))
            return false;
        return n == 22 || (key[19] == '.' && all_digits(key + 20, n - 23));
    }
    return true; /* names: any text */
}

/* Reads an `after` argument produced for `field`; false after answering with an error. */
static bool cursor_arg(tq_field_ctx *fc, const char *field, tq_page_request *page)
{
    const tq_value *v = tq_field_arg(fc, "after");
    page->after_key = page->after_id = NULL;
    if (v == NULL || v->kind == TQ_VAL_NULL)
        return true;
    size_t flen = strlen(field);
    if (v->kind == TQ_VAL_STRING && v->u.s.len <= 2048) {
        uint8_t *raw = tq_arena_alloc(fc->arena, tq_base64url_decoded_len(v->u.s.len) + 1);
        size_t n;
        if (tq_base64url_decode(v->u.s.s, v->u.s.len, raw, &n) && n > flen + 38 && memcmp(raw, field, flen) == 0 &&
            raw[flen] == '|' && raw[flen + 37] == '|' && valid_utf8(raw, n)) {
            char *id = tq_arena_alloc(fc->arena, TQ_UUID_TEXT_SIZE);
            if (tq_uuid_canonicalize((const char *)raw + flen + 1, 36, id)) {
                page->after_id = id;
                page->after_key = tq_arena_strndup(fc->arena, (const char *)raw + flen + 38, n - flen - 38);
                return true;
            }
        }
    }
    tq_field_error(fc, "BAD_USER_INPUT", "Argument \"after\" is not a cursor of this field.");
    return false;
}

/* ---- connections ---- */

typedef struct conn_state {
    tq_field_ctx *fc;
    const char *field;        /* cursor namespace: "users", "products.NAME_ASC", ... */
    tq_product_filter filter; /* products */
    bool products;
} conn_state;

static tq_value page_info(tq_arena *a, bool has_next, const char *end_cursor)
{
    tq_value pi = tq_value_object(a, NULL, 2);
    tq_value_object_set(&pi, 0, "hasNextPage", tq_value_bool(has_next));
    tq_value_object_set(&pi, 1, "endCursor",
                        end_cursor ? tq_value_string(end_cursor, (uint32_t)strlen(end_cursor)) : tq_value_null());
    return pi;
}

/* What an edge's cursor is made of; encoded only when a query asks for `cursor`. */
typedef struct edge_key {
    const char *field;
    const tq_value *id, *key;
} edge_key;

static void resolve_edge_cursor(tq_field_ctx *fc)
{
    const edge_key *k = fc->parent->u.object.native;
    const char *c = cursor_encode(fc->arena, k->field, k->id, k->key);
    tq_field_resolve(fc, tq_value_string(c, (uint32_t)strlen(c)));
}

static void on_page(void *data, tq_ds_result *r)
{
    conn_state *cs = data;
    tq_field_ctx *fc = cs->fc;
    if (r->error_code != NULL) {
        tq_field_error(fc, r->error_code, "%s", r->error_message);
        return;
    }
    uint32_t n = r->value.u.list.count;
    tq_value edges = tq_value_list(fc->arena, n);
    edge_key *keys = tq_arena_alloc(fc->arena, (n ? n : 1) * sizeof(*keys));
    for (uint32_t i = 0; i < n; i++) {
        const tq_value *node = &r->value.u.list.items[i];
        keys[i] = (edge_key){cs->field, tq_value_get(node, "id"), &r->extra.u.list.items[i]};
        tq_value edge = tq_value_object(fc->arena, NULL, 1);
        tq_value_object_set(&edge, 0, "node", *node);
        edge.u.object.native = &keys[i];
        edges.u.list.items[i] = edge;
    }
    const char *end = n ? cursor_encode(fc->arena, cs->field, keys[n - 1].id, keys[n - 1].key) : NULL;
    tq_value conn = tq_value_object(fc->arena, NULL, 2);
    tq_value_object_set(&conn, 0, "edges", edges);
    tq_value_object_set(&conn, 1, "pageInfo", page_info(fc->arena, r->has_more, end));
    conn.u.object.native = cs;
    tq_field_resolve(fc, conn);
}

static void resolve_total_count(tq_field_ctx *fc)
{
    conn_state *cs = fc->parent->u.object.native;
    if (cs->products)
        tq_product_ds_count(api(fc)->products, &cs->filter, answer, fc);
    else
        tq_user_ds_count(api(fc)->users, answer, fc);
}

static void resolve_users(tq_field_ctx *fc)
{
    tq_page_request page;
    if (!page_size_arg(fc, &page.first) || !cursor_arg(fc, "users", &page))
        return;
    conn_state *cs = tq_arena_calloc(fc->arena, 1, sizeof(*cs));
    cs->fc = fc;
    cs->field = "users";
    tq_user_ds_page(api(fc)->users, &page, on_page, cs);
}

static const char *const product_orders[] = {"NAME_ASC", "NAME_DESC", "PRICE_ASC", "PRICE_DESC", "CREATED_AT_DESC"};

/* ProductFilter -> data source filter; false after answering with an error. */
static bool product_filter_arg(tq_field_ctx *fc, tq_product_filter *f)
{
    *f = (tq_product_filter){NULL, NULL, NULL, -1, -1};
    const tq_value *in = tq_field_arg(fc, "filter");
    if (in == NULL || in->kind != TQ_VAL_OBJECT)
        return true;
    const tq_value *v;
    if ((v = tq_value_get(in, "nameContains")) != NULL && v->kind == TQ_VAL_STRING) {
        if (!term_arg(fc, "nameContains", v))
            return false;
        f->name_pattern = tq_ds_contains_pattern(fc->arena, v->u.s.s, v->u.s.len);
    }
    if ((v = tq_value_get(in, "minPrice")) != NULL && v->kind == TQ_VAL_STRING)
        f->min_price = v->u.s.s;
    if ((v = tq_value_get(in, "maxPrice")) != NULL && v->kind == TQ_VAL_STRING)
        f->max_price = v->u.s.s;
    if ((v = tq_value_get(in, "inStock")) != NULL && v->kind == TQ_VAL_BOOL)
        f->in_stock = v->u.b;
    if ((v = tq_value_get(in, "active")) != NULL && v->kind == TQ_VAL_BOOL)
        f->active = v->u.b;
    return true;
}

static void resolve_products(tq_field_ctx *fc)
{
    const tq_value *ov = tq_field_arg(fc, "orderBy");
    if (ov == NULL || ov->kind != TQ_VAL_ENUM) {
        tq_field_error(fc, "BAD_USER_INPUT", "Argument \"orderBy\" must not be null.");
        return;
    }
    int order = 0;
    while (order < 5 && strcmp(product_orders[order], ov->u.s.s) != 0)
        order++;
    conn_state *cs = tq_arena_calloc(fc->arena, 1, sizeof(*cs));
    cs->fc = fc;
    cs->products = true;
    cs->field = tq_arena_sprintf(fc->arena, "products.%s", product_orders[order]);
    tq_page_request page;
    if (!page_size_arg(fc, &page.first) || !cursor_arg(fc, cs->field, &page) || !product_filter_arg(fc, &cs->filter))
        return;
    if (page.after_key != NULL && !product_key_valid(order, page.after_key)) {
        tq_field_error(fc, "BAD_USER_INPUT", "Argument \"after\" is not a cursor of this field.");
        return;
    }
    tq_product_ds_page(api(fc)->products, &cs->filter, (tq_product_order)order, &page, on_page, cs);
}

/* ---- single objects ---- */

static void resolve_me(tq_field_ctx *fc)
{
    tq_api_ctx *ctx = api(fc);
    if (ctx->sub == NULL || ctx->header_mode) {
        tq_field_resolve(fc, tq_value_null());
        return;
    }
    tq_user_ds_find_by_id(ctx->users, ctx->sub, true, answer, fc);
}

static void resolve_user(tq_field_ctx *fc)
{
    const char *id = uuid_arg(fc, "id");
    if (id == NULL)
        tq_field_resolve(fc, tq_value_null());
    else
        tq_user_ds_find_by_id(api(fc)->users, id, false, answer, fc);
}

static void resolve_product(tq_field_ctx *fc)
{
    const char *id = uuid_arg(fc, "id");
    if (id == NULL)
        tq_field_resolve(fc, tq_value_null());
    else
        tq_product_ds_find_by_id(api(fc)->products, id, answer, fc);
}

/* ---- node, nodes ---- */

typedef struct nodes_state {
    tq_field_ctx *fc;
    uint32_t n;          /* ids asked for */
    int32_t *slot;       /* per id: its index among the valid ids sent, or -1 */
    bool single;         /* `node`: answer the only entry instead of the list */
} nodes_state;

static void on_nodes(void *data, tq_ds_result *r)
{
    nodes_state *ns = data;
    if (r->error_code != NULL) {
        tq_field_error(ns->fc, r->error_code, "%s", r->error_message);
        return;
    }
    tq_value out = tq_value_list(ns->fc->arena, ns->n);
    for (uint32_t i = 0; i < ns->n; i++)
        out.u.list.items[i] = ns->slot[i] >= 0 ? r->value.u.list.items[ns->slot[i]] : tq_value_null();
    tq_field_resolve(ns->fc, ns->single ? out.u.list.items[0] : out);
}

static void find_nodes(tq_field_ctx *fc, const tq_value *ids, uint32_t n, bool single)
{
    nodes_state *ns = tq_arena_calloc(fc->arena, 1, sizeof(*ns));
    ns->fc = fc;
    ns->n = n;
    ns->single = single;
    ns->slot = tq_arena_alloc(fc->arena, (n ? n : 1) * sizeof(int32_t));
    const char **valid = tq_arena_alloc(fc->arena, (n ? n : 1) * sizeof(char *));
    uint32_t nvalid = 0;
    for (uint32_t i = 0; i < n; i++) {
        char *id = tq_arena_alloc(fc->arena, TQ_UUID_TEXT_SIZE);
        ns->slot[i] = -1;
        if (ids[i].kind == TQ_VAL_STRING && tq_uuid_canonicalize(ids[i].u.s.s, ids[i].u.s.len, id)) {
            ns->slot[i] = (int32_t)nvalid;
            valid[nvalid++] = id;
        }
    }
    if (nvalid == 0) {
        tq_ds_result none = {.value = tq_value_list(fc->arena, 0)};
        on_nodes(ns, &none);
        return;
    }
    tq_node_ds_find(&api(fc)->db, valid, nvalid, on_nodes, ns);
}

static void resolve_node(tq_field_ctx *fc)
{
    const tq_value *id = tq_field_arg(fc, "id");
    find_nodes(fc, id, 1, true);
}

static void resolve_nodes(tq_field_ctx *fc)
{
    const tq_value *ids = tq_field_arg(fc, "ids");
    if (ids->u.list.count > MAX_NODE_IDS) {
        tq_field_error(fc, "BAD_USER_INPUT", "At most %d ids may be asked for at once.", MAX_NODE_IDS);
        return;
    }
    find_nodes(fc, ids->u.list.items, ids->u.list.count, false);
}

/* ---- search: users, then products ---- */

typedef struct search_state {
    tq_field_ctx *fc;
    tq_ds_result parts[2];
    int outstanding;
} search_state;

static void on_search_part(search_state *ss, int part, tq_ds_result *r)
{
    ss->parts[part] = *r;
    if (--ss->outstanding > 0)
        return;
    for (int i = 0; i < 2; i++) {
        if (ss->parts[i].error_code != NULL) {
            tq_field_error(ss->fc, ss->parts[i].error_code, "%s", ss->parts[i].error_message);
            return;
        }
    }
    uint32_t nu = ss->parts[0].value.u.list.count, np = ss->parts[1].value.u.list.count;
    tq_value out = tq_value_list(ss->fc->arena, nu + np);
    for (uint32_t i = 0; i < nu; i++)
        out.u.list.items[i] = ss->parts[0].value.u.list.items[i];
    for (uint32_t i = 0; i < np; i++)
        out.u.list.items[nu + i] = ss->parts[1].value.u.list.items[i];
    tq_field_resolve(ss->fc, out);
}

static void on_search_users(void *data, tq_ds_result *r)
{
    on_search_part(data, 0, r);
}

static void on_search_products(void *data, tq_ds_result *r)
{
    on_search_part(data, 1, r);
}

static void resolve_search(tq_field_ctx *fc)
{
    int first;
    if (!page_size_arg(fc, &first))
        return;
    const tq_value *term = tq_field_arg(fc, "term");
    if (!term_arg(fc, "term", term))
        return;
    search_state *ss = tq_arena_calloc(fc->arena, 1, sizeof(*ss));
    ss->fc = fc;
    if (first == 0) {
        tq_field_resolve(fc, tq_value_list(fc->arena, 0));
        return;
    }
    const char *pattern = tq_ds_contains_pattern(fc->arena, term->u.s.s, term->u.s.len);
    /* both queries run at once, on two connections of the tenant's pool */
    ss->outstanding = 2;
    tq_user_ds_search(api(fc)->users, pattern, first, on_search_users, ss);
    tq_product_ds_search(api(fc)->products, pattern, first, on_search_products, ss);
}

static const tq_resolver_binding resolvers[] = {
    {"Query.me", resolve_me},
    {"Query.user", resolve_user},
    {"Query.users", resolve_users},
    {"Query.product", resolve_product},
    {"Query.products", resolve_products},
    {"Query.node", resolve_node},
    {"Query.nodes", resolve_nodes},
    {"Query.search", resolve_search},
    {"UserConnection.totalCount", resolve_total_count},
    {"UserEdge.cursor", resolve_edge_cursor},
    {"ProductEdge.cursor", resolve_edge_cursor},
    {"ProductConnection.totalCount", resolve_total_count},
    {"Mutation.login", api_login},
    {"Mutation.createUser", api_create_user},
    {"Mutation.updateUser", api_update_user},
    {"Mutation.createProduct", api_create_product},
    {"Mutation.updateProduct", api_update_product},
    {"Mutation.adjustStock", api_adjust_stock},
    {"Mutation.deleteProduct", api_delete_product},
    {"Mutation.logout", api_logout},
    {NULL, NULL},
};

static const tq_scalar_binding scalars[] = {
    {"DateTime", &tq_scalar_datetime},
    {"Decimal", &tq_scalar_decimal},
    {NULL, NULL},
};

const tq_budget_list_size tq_api_list_sizes[] = {
    /* a connection pays for its page of edges (pageInfo and totalCount too: an
     * overestimate); its edges list then counts once */
    {"Query.users", TQ_BUDGET_SIZE_ARG, "first", 1, MAX_PAGE},
    {"Query.products", TQ_BUDGET_SIZE_ARG, "first", 1, MAX_PAGE},
    {"UserConnection.edges", TQ_BUDGET_SIZE_FIXED, NULL, 1, 1},
    {"ProductConnection.edges", TQ_BUDGET_SIZE_FIXED, NULL, 1, 1},
    /* up to `first` users, then up to `first` products */
    {"Query.search", TQ_BUDGET_SIZE_ARG, "first", 2, MAX_PAGE},
    {"Query.nodes", TQ_BUDGET_SIZE_LENGTH, "ids", 1, MAX_NODE_IDS},
    {NULL, 0, NULL, 0, 0},
};

tq_schema *tq_api_schema_build(const char *sdl, size_t len, char *err, size_t errlen)
{
    tq_schema *s = tq_schema_build(sdl, len, resolvers, scalars, err, errlen);
    if (s != NULL && tq_ds_bind_types(s) != 0) {
        snprintf(err, errlen, "schema: types User and Product are required");
        tq_schema_free(s);
        return NULL;
    }
    return s;
}

void tq_api_ctx_init(tq_api_ctx *ctx, const tq_api_ctx_params *p)
{
    ctx->arena = p->arena;
    ctx->db = (tq_db){p->pool, p->worker, p->arena, 0, p->on_idle, p->request_id};
    ctx->users = tq_user_ds_create(p->arena, &ctx->db);
    ctx->products = tq_product_ds_create(p->arena, &ctx->db);
    ctx->tenant = p->tenant;
    ctx->claims = p->claims;
    ctx->sub = p->sub;
    ctx->header_mode = p->header_mode;
    ctx->auth = p->auth;
}

void tq_api_ctx_cancel(tq_api_ctx *ctx)
{
    tq_db_cancel(&ctx->db);
}

void tq_api_ctx_dispose(tq_api_ctx *ctx)
{
    tq_pool_return(ctx->db.pool);
    ctx->db.pool = NULL;
}
