/*
 * mutations.c - the Mutation fields other than login: createUser, updateUser,
 * createProduct, updateProduct, adjustStock, deleteProduct, as the API contract fixes
 * them.
 *
 * Order of checks in every field: the input (BAD_USER_INPUT), then the id (NOT_FOUND),
 * and last what only the database can tell (CONFLICT for a taken email, the stock range
 * for adjustStock). Whether the caller may write at all was decided before the
 * operation ran: the request gate (gate.c) refuses, with 401, a token whose user is no
 * longer an active user of its tenant. Absent input fields leave their column alone;
 * explicit nulls clear nullable columns and are refused for the others.
 */
#include <string.h>

#include "internal.h"
#include "tenantql/password.h"
#include "tenantql/uuid.h"

#define MIN_PASSWORD_CHARS 8
#define MAX_EMAIL_CHARS 254

static tq_api_ctx *api(tq_field_ctx *fc)
{
    return fc->context;
}

char *api_ascii_lower(tq_arena *a, const char *s, size_t len)
{
    char *out = tq_arena_strndup(a, s, len);
    for (size_t i = 0; i < len; i++)
        if (out[i] >= 'A' && out[i] <= 'Z')
            out[i] = (char)(out[i] - 'A' + 'a');
    return out;
}

/* ---- text rules ---- */

/* Next code point of UTF-8 text ending at end (the GraphQL layer only lets valid text
 * through; a truncated sequence at the end still stops at end). */
static uint32_t next_code_point(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int n = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    if (n > end - s - 1)
        n = (int)(end - s - 1);
    if (n > 0)
        c &= 0x3F >> n;
    for (int i = 1; i <= n; i++)
        c = (c << 6) | (s[i] & 0x3F);
    *p = s + n + 1;
    return c;
}

static size_t code_points(const tq_value *v)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)v->u.s.s, *end = p + v->u.s.len; p < end; n++)
        next_code_point(&p, end);
    return n;
}

/* Unicode White_Space, plus the BOM that JavaScript's trim() also removes. */
static bool is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000 || c == 0xFEFF;
}

static bool is_control(uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

static bool has_non_space(const tq_value *v)
{
    for (const unsigned char *p = (const unsigned char *)v->u.s.s, *end = p + v->u.s.len; p < end;)
        if (!is_space(next_code_point(&p, end)))
            return true;
    return false;
}

/* <local>@<domain>: one @, a non-empty local part, at least two non-empty labels, no
 * whitespace or control characters, at most 254 characters. */
static bool valid_email(const tq_value *v)
{
    const char *s = v->u.s.s;
    size_t len = v->u.s.len;
    if (code_points(v) > MAX_EMAIL_CHARS)
        return false;
    for (const unsigned char *p = (const unsigned char *)s, *end = p + len; p < end;) {
        uint32_t c = next_code_point(&p, end);
        if (is_space(c) || is_control(c))
            return false;
    }
    const char *at = memchr(s, '@', len);
    if (at == NULL || at == s || memchr(at + 1, '@', len - (size_t)(at + 1 - s)) != NULL)
        return false;
    const char *label = at + 1, *end = s + len;
    int labels = 0;
    for (const char *p = label;; p++) {
        if (p == end || *p == '.') {
            if (p == label)
                return false; /* empty label: "a@.b", "a@b.", "a@b..c", "a@" */
            labels++;
            label = p + 1;
            if (p == end)
                break;
        }
    }
    return labels >= 2;
}

/* ---- arguments ---- */

/* A present input field (possibly null), or NULL when absent. */
static const tq_value *input_field(tq_field_ctx *fc, const char *name)
{
    return tq_value_get(tq_field_arg(fc, "input"), name);
}

static bool has_nul(const tq_value *v)
{
    return v != NULL && v->kind == TQ_VAL_STRING && memchr(v->u.s.s, '\0', v->u.s.len) != NULL;
}

/* An optional text field: NULL when absent or null; false (after answering) when it
 * holds a NUL, which PostgreSQL text cannot store. */
static bool text_field(tq_field_ctx *fc, const char *name, const char **out)
{
    const tq_value *v = input_field(fc, name);
    *out = v != NULL && v->kind == TQ_VAL_STRING ? v->u.s.s : NULL;
    if (!has_nul(v))
        return true;
    tq_field_error(fc, "BAD_USER_INPUT", "\"%s\" must not contain NUL characters.", name);
    return false;
}

/* A present field that must not be null; false after answering when it is. */
static bool not_null(tq_field_ctx *fc, const char *name)
{
    const tq_value *v = input_field(fc, name);
    if (v == NULL || v->kind != TQ_VAL_NULL)
        return true;
    tq_field_error(fc, "BAD_USER_INPUT", "\"%s\" must not be null.", name);
    return false;
}

/* The id argument as a canonical uuid; NULL after answering NOT_FOUND. */
static const char *id_arg(tq_field_ctx *fc, const char *what)
{
    const tq_value *v = tq_field_arg(fc, "id");
    char *out = tq_arena_alloc(fc->arena, TQ_UUID_TEXT_SIZE);
    if (v != NULL && v->kind == TQ_VAL_STRING && tq_uuid_canonicalize(v->u.s.s, v->u.s.len, out))
        return out;
    tq_field_error(fc, "NOT_FOUND", "No %s has this id.", what);
    return NULL;
}

/* ---- answers ---- */

static void answer(tq_field_ctx *fc, tq_ds_result *r, const char *what)
{
    if (r->error_code != NULL)
        tq_field_error(fc, r->error_code, "%s", r->error_message);
    else if (r->value.kind == TQ_VAL_NULL)
        tq_field_error(fc, "NOT_FOUND", "No %s has this id.", what);
    else
        tq_field_resolve(fc, r->value);
}

static void answer_user(void *data, tq_ds_result *r)
{
    answer(data, r, "user");
}

static void answer_product(void *data, tq_ds_result *r)
{
    answer(data, r, "product");
}

/* ---- users ---- */

typedef struct create_user_call {
    tq_field_ctx *fc;
    tq_user_fields f;
} create_user_call;

static void on_password_hashed(void *data, tq_password_status st, const char *hash)
{
    create_user_call *c = data;
    if (st == TQ_PASSWORD_BUSY) {
        tq_field_error(c->fc, "TENANT_BUSY", "Too many passwords are being hashed at the moment; try again shortly.");
        return;
    }
    if (st != TQ_PASSWORD_OK) {
        tq_field_error(c->fc, "INTERNAL_SERVER_ERROR", "Internal server error.");
        return;
    }
    c->f.password_hash = tq_arena_strdup(c->fc->arena, hash);
    tq_user_ds_insert(api(c->fc)->users, &c->f, answer_user, c->fc);
}

void api_create_user(tq_field_ctx *fc)
{
    const tq_value *email = input_field(fc, "email"), *password = input_field(fc, "password");
    create_user_call *c = tq_arena_calloc(fc->arena, 1, sizeof(*c));
    c->fc = fc;
    if (!valid_email(email)) {
        tq_field_error(fc, "BAD_USER_INPUT",
                       "\"email\" must look like name@example.com: one @, a domain of at least two labels, no "
                       "spaces, at most %d characters.",
                       MAX_EMAIL_CHARS);
        return;
    }
    if (code_points(password) < MIN_PASSWORD_CHARS) {
        tq_field_error(fc, "BAD_USER_INPUT", "\"password\" must have at least %d characters.", MIN_PASSWORD_CHARS);
        return;
    }
    if (!text_field(fc, "firstName", &c->f.first_name) || !text_field(fc, "lastName", &c->f.last_name))
        return;
    c->f.email = api_ascii_lower(fc->arena, email->u.s.s, email->u.s.len);
    c->f.active = 1;
    /* the tenant's name is its share of the hashing threads, as for its logins */
    const char *share = tq_tenant_name(api(fc)->tenant);
    tq_password_hash_async(api(fc)->db.worker, (tq_password_key){share, strlen(share)}, password->u.s.s,
                           password->u.s.len, on_password_hashed, c);
}

void api_update_user(tq_field_ctx *fc)
{
    tq_user_fields f = {.active = -1};
    const tq_value *active = input_field(fc, "active");
    if (!text_field(fc, "firstName", &f.first_name) || !text_field(fc, "lastName", &f.last_name) ||
        !not_null(fc, "active"))
        return;
    f.set_first_name = input_field(fc, "firstName") != NULL;
    f.set_last_name = input_field(fc, "lastName") != NULL;
    if (active != NULL)
        f.active = active->u.b;
    const char *id = id_arg(fc, "user");
    if (id != NULL)
        tq_user_ds_update(api(fc)->users, id, &f, answer_user, fc);
}

/* ---- products ---- */

/* The value rules of createProduct and updateProduct for the fields present; false
 * after answering. */
static bool product_values(tq_field_ctx *fc, tq_product_fields *f)
{
    const tq_value *name = input_field(fc, "name"), *price = input_field(fc, "price"),
                   *stock = input_field(fc, "stockQuantity");
    if (!not_null(fc, "name") || !not_null(fc, "price") || !not_null(fc, "stockQuantity") || !not_null(fc, "active"))
        return false;
    if (name != NULL && (!has_non_space(name) || has_nul(name))) {
        tq_field_error(fc, "BAD_USER_INPUT", "\"name\" must contain a character other than whitespace (and no NUL).");
        return false;
    }
    if (price != NULL && price->u.s.s[0] == '-') {
        tq_field_error(fc, "BAD_USER_INPUT", "\"price\" must not be negative.");
        return false;
    }
    if (stock != NULL && stock->u.i < 0) {
        tq_field_error(fc, "BAD_USER_INPUT", "\"stockQuantity\" must not be negative.");
        return false;
    }
    if (!text_field(fc, "description", &f->description))
        return false;
    const tq_value *active = input_field(fc, "active");
    f->name = name != NULL ? name->u.s.s : NULL;
    f->set_description = input_field(fc, "description") != NULL;
    f->price = price != NULL ? price->u.s.s : NULL;
    f->set_stock = stock != NULL;
    f->stock_quantity = stock != NULL ? stock->u.i : 0;
    f->active = active != NULL ? active->u.b : -1;
    return true;
}

void api_create_product(tq_field_ctx *fc)
{
    tq_product_fields f;
    if (product_values(fc, &f))
        tq_product_ds_insert(api(fc)->products, &f, answer_product, fc);
}

void api_update_product(tq_field_ctx *fc)
{
    tq_product_fields f;
    if (!product_values(fc, &f))
        return;
    const char *id = id_arg(fc, "product");
    if (id != NULL)
        tq_product_ds_update(api(fc)->products, id, &f, answer_product, fc);
}

void api_adjust_stock(tq_field_ctx *fc)
{
    const char *id = id_arg(fc, "product");
    if (id != NULL)
        tq_product_ds_adjust_stock(api(fc)->products, id, tq_field_arg(fc, "delta")->u.i, answer_product, fc);
}

void api_delete_product(tq_field_ctx *fc)
{
    const char *id = id_arg(fc, "product");
    if (id != NULL)
        tq_product_ds_delete(api(fc)->products, id, answer_product, fc);
}
