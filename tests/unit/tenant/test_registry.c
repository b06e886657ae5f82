/*
 * test_registry.c - tenant/registry.c: a record from a registry row, built here as libpq
 * would hand it over: placement and schema (a registry from before migration 3, whose
 * columns read NULL, is database/public; an unsafe schema or an unknown placement makes
 * the row be skipped), the "statements" pool option, paused (NULL on a registry from
 * before the column: not paused) and db_role (migration 5: valid names of schema-placed
 * tenants only, part of the connection key), and db_password in each of its forms (opened
 * or resolved; one that cannot be makes the tenant unavailable; a hash of it, not it, in
 * the connection key).
 */

#include <libpq-fe.h>
#include <stdlib.h>

/* the record's layout is private to src/tenant; this test reads it through the accessors
 * and the pool options only */
#include "../../../src/tenant/registry_internal.h"
#include <sodium.h>

#include "tenantql/log.h"
#include "tenantql/secret.h"
#include "tq_test.h"

#define NCOLS 14

/* the db_password of the rows made below */
static const char *row_password = "secret";

/* One row of SELECT_TENANTS; a NULL placement, schema, paused or role is SQL NULL (an old
 * registry). */
static PGresult *row_full(const char *pool_options, const char *placement, const char *schema, const char *paused,
                          const char *role)
{
    static const char *const names[NCOLS] = {"id",        "name",        "db_host",      "db_port", "db_name",
                                             "db_user",   "db_password", "pool_options", "active",  "quota",
                                             "placement", "db_schema",   "paused",       "db_role"};
    PGresAttDesc attrs[NCOLS];
    memset(attrs, 0, sizeof(attrs));
    for (int i = 0; i < NCOLS; i++)
        attrs[i].name = (char *)names[i];
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PQsetResultAttrs(res, NCOLS, attrs);
    const char *values[NCOLS] = {"0b7e5a52-8a3f-4a4e-9d0b-3f1f5c2a7d11",
                                 "acme",
                                 "/tmp",
                                 "5432",
                                 "tenant_shared",
                                 "tq_shared",
                                 row_password,
                                 pool_options,
                                 "t",
                                 "{}",
                                 placement,
                                 schema,
                                 paused,
                                 role};
    for (int i = 0; i < NCOLS; i++)
        PQsetvalue(res, 0, i, (char *)values[i], values[i] ? (int)strlen(values[i]) : -1);
    return res;
}

static PGresult *row_paused(const char *pool_options, const char *placement, const char *schema, const char *paused)
{
    return row_full(pool_options, placement, schema, paused, NULL);
}

static PGresult *row(const char *pool_options, const char *placement, const char *schema, const char *role)
{
    return row_full(pool_options, placement, schema, NULL, role);
}

static tq_tenant *record_role(tq_registry *r, const char *placement, const char *schema, const char *role)
{
    PGresult *res = row("{}", placement, schema, role);
    tq_tenant *t = registry_tenant_from_row(r, res, 0);
    PQclear(res);
    return t;
}

static tq_tenant *record(tq_registry *r, const char *pool_options, const char *placement, const char *schema)
{
    PGresult *res = row(pool_options, placement, schema, NULL);
    tq_tenant *t = registry_tenant_from_row(r, res, 0);
    PQclear(res);
    return t;
}

static void test_placement(tq_registry *r)
{
    tq_tenant *t = record(r, "{}", NULL, NULL);
    CHECK(t != NULL && !tq_tenant_schema_placed(t));
    CHECK_STR(t ? tq_tenant_schema(t) : NULL, "public");
    tq_tenant_release(t);

    t = record(r, "{}", "database", "public");
    CHECK(t != NULL && !tq_tenant_schema_placed(t));
    tq_tenant_release(t);

    t = record(r, "{}", "schema", "tenant_acme");
    CHECK(t != NULL && tq_tenant_schema_placed(t));
    CHECK_STR(t ? tq_tenant_schema(t) : NULL, "tenant_acme");
    tq_tenant_release(t);

    t = record(r, "{}", "schema", "_x9");
    CHECK(t != NULL);
    tq_tenant_release(t);

    /* 63 characters is PostgreSQL's longest identifier; 64 would be cut short by the server */
    char longest[65];
    memset(longest, 'a', 64);
    longest[63] = '\0';
    t = record(r, "{}", "schema", longest);
    CHECK(t != NULL);
    tq_tenant_release(t);
    longest[63] = 'a';
    longest[64] = '\0';
    CHECK(record(r, "{}", "schema", longest) == NULL);

    /* anything that would need quoting, or could end an option or a statement */
    static const char *const unsafe[] = {"",    "Tenant", "9lives", "a-b",      "a b", "a\"b",
                                         "a;b", "a,b",    "a\\b",   "tenant_é", "a\nb"};
    for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++)
        CHECK(record(r, "{}", "schema", unsafe[i]) == NULL);
    CHECK(record(r, "{}", "cluster", "tenant_acme") == NULL);
    CHECK(record(r, "{}", "", "public") == NULL);
}

static void test_statements(tq_registry *r)
{
    tq_tenant *t = record(r, "{}", NULL, NULL);
    CHECK(t != NULL && !t->pool_opts.unnamed_statements && t->pool_opts.max == 5);
    tq_tenant_release(t);
    t = record(r, "{\"statements\": \"unnamed\", \"max\": 7}", NULL, NULL);
    CHECK(t != NULL && t->pool_opts.unnamed_statements && t->pool_opts.max == 7);
    tq_tenant_release(t);
    t = record(r, "{\"statements\": \"prepared\"}", NULL, NULL);
    CHECK(t != NULL && !t->pool_opts.unnamed_statements);
    tq_tenant_release(t);
    /* a bad value is the default, and the tenant stays */
    t = record(r, "{\"statements\": true}", NULL, NULL);
    CHECK(t != NULL && !t->pool_opts.unnamed_statements);
    tq_tenant_release(t);
    t = record(r, "{\"statements\": \"UNNAMED\"}", NULL, NULL);
    CHECK(t != NULL && !t->pool_opts.unnamed_statements);
    tq_tenant_release(t);
}

/* paused is read through to_jsonb (->>), which gives JSON's true and false */
static void test_paused(tq_registry *r)
{
    static const struct {
        const char *text;
        bool paused;
    } cases[] = {{NULL, false}, {"false", false}, {"true", true}, {"t", false}, {"", false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        PGresult *res = row_paused("{}", "database", "public", cases[i].text);
        tq_tenant *t = registry_tenant_from_row(r, res, 0);
        PQclear(res);
        CHECK(t != NULL && tq_tenant_paused(t) == cases[i].paused);
        tq_tenant_release(t);
    }
}

static void test_role(tq_registry *r)
{
    tq_tenant *none = record_role(r, "schema", "tenant_acme", NULL);
    CHECK(none != NULL && none->role == NULL);
    tq_tenant *t = record_role(r, "schema", "tenant_acme", "tq_t_acme");
    CHECK(t != NULL);
    CHECK_STR(t ? t->role : NULL, "tq_t_acme");
    /* turning the role on or off changes the key: the tenant's share is replaced */
    CHECK(none != NULL && t != NULL && strcmp(none->conn_key, t->conn_key) != 0);
    tq_tenant *other = record_role(r, "schema", "tenant_acme", "tq_t_other");
    CHECK(other != NULL && t != NULL && strcmp(other->conn_key, t->conn_key) != 0);
    tq_tenant_release(other);
    tq_tenant_release(t);
    tq_tenant_release(none);
    /* refused rows: a role of a database-placed tenant, PostgreSQL's own roles, names that need quoting */
    CHECK(record_role(r, "database", "public", "tq_t_acme") == NULL);
    CHECK(record_role(r, NULL, NULL, "tq_t_acme") == NULL);
    static const char *const bad[] = {"", "pg_read_all_data", "pg_x", "Role", "a-b", "a\"b", "a;b", "9r"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(record_role(r, "schema", "tenant_acme", bad[i]) == NULL);
    CHECK(tq_role_name_valid("pgx") && tq_role_name_valid("_pg_x") && !tq_role_name_valid("pg_"));
}

/* The record's password parameter, or NULL. */
static const char *password_of(const tq_tenant *t)
{
    for (int i = 0; t->keywords[i] != NULL; i++)
        if (strcmp(t->keywords[i], "password") == 0)
            return t->values[i];
    return NULL;
}

static tq_tenant *record_password(tq_registry *r, const char *stored)
{
    row_password = stored;
    tq_tenant *t = record(r, "{}", "database", "public");
    row_password = "secret";
    return t;
}

static void test_password(tq_registry *r)
{
    const char *pw = "Unit-Registry-Pw-4c1e";
    char err[256], key[65], other[65];
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(key, sizeof(key), raw, sizeof(raw));
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(other, sizeof(other), raw, sizeof(raw));
    tq_secret_ring *ring = tq_secret_ring_parse(key, err, sizeof(err)),
                   *wrong = tq_secret_ring_parse(other, err, sizeof(err));
    char *sealed = tq_secret_seal(ring, pw, err, sizeof(err)),
         *sealed_wrong = tq_secret_seal(wrong, pw, err, sizeof(err));
    tq_secret_ring_free(wrong);
    tq_secret_install_ring(ring);

    tq_tenant *plain = record_password(r, pw);
    CHECK(plain != NULL && tq_tenant_credentials_ok(plain));
    CHECK_STR(plain ? password_of(plain) : NULL, pw);
    CHECK(plain != NULL && strstr(plain->conn_key, pw) == NULL); /* a hash stands for it */
    tq_tenant *opened = record_password(r, sealed);
    CHECK(opened != NULL && tq_tenant_credentials_ok(opened));
    CHECK_STR(opened ? password_of(opened) : NULL, pw);
    /* one password, whatever its form: one connection key */
    CHECK(plain != NULL && opened != NULL && strcmp(plain->conn_key, opened->conn_key) == 0);
    tq_tenant *changed = record_password(r, "Unit-Registry-Pw-other");
    CHECK(changed != NULL && plain != NULL && strcmp(changed->conn_key, plain->conn_key) != 0);
    setenv("TQ_UNIT_REGISTRY_PW", pw, 1);
    tq_tenant *by_env = record_password(r, "env:TQ_UNIT_REGISTRY_PW");
    CHECK_STR(by_env ? password_of(by_env) : NULL, pw);
    /* unusable: kept as a record (the tenant is known) without a password, unavailable */
    const char *bad[] = {sealed_wrong, "env:TQ_UNIT_REGISTRY_UNSET", "file:/nonexistent/tq-pw", "secretbox:v1:zz"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tq_tenant *t = record_password(r, bad[i]);
        CHECK(t != NULL && !tq_tenant_credentials_ok(t) && password_of(t) == NULL);
        tq_tenant_release(t);
    }
    tq_tenant_release(plain);
    tq_tenant_release(opened);
    tq_tenant_release(changed);
    tq_tenant_release(by_env);
    free(sealed);
    free(sealed_wrong);
    tq_secret_install_ring(NULL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    tq_log_set_level(TQ_LOG_ERROR); /* the refused rows' warnings are expected */
    tq_registry r;
    memset(&r, 0, sizeof(r));
    r.sslmode = (char *)"prefer";
    test_placement(&r);
    test_statements(&r);
    test_paused(&r);
    test_role(&r);
    test_password(&r);
    return TQ_TEST_REPORT();
}
