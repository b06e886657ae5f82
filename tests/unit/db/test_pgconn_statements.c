/*
 * test_pgconn_statements.c - statements bound to a schema and the per-connection cache of
 * prepared statements, against a real PostgreSQL (a private cluster this test starts and
 * stops). Schemas s1..s6 each hold a table t with one distinct value; one tq_pgconn on a
 * bare h2o loop runs `SELECT v FROM @.t` in their scopes: every answer comes from its own
 * schema, a pair is prepared on its second use only, the server never holds more than the
 * capacity (pg_prepared_statements, read on the same connection, agrees with the cache),
 * eviction deallocates, a failed Prepare or execution leaves the other statements alone,
 * and unnamed scopes and a cache of 0 never prepare; an execution with an SQL comment (a
 * traced request's) runs unnamed with the comment first and leaves the cache alone.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tenantql/pg_admin.h"
#include "tenantql/pg_cluster.h"
#include "tenantql/pgconn.h"
#include "tq_test.h"
#include "tq_test_pg.h"
#include "pgconn_harness.h"

#define CAP 4

static PGconn *admin;

static const tq_stmt stmt_v = {0, "v", "SELECT v FROM @.t", 0};
static const tq_stmt stmt_div = {1, "div", "SELECT v / $1::int FROM @.t", 1};
/* run in the meta scope (unnamed): looking must not change what is looked at */
static const tq_stmt stmt_count = {2, "count", "SELECT count(*) FROM pg_prepared_statements", 0};
static const tq_stmt stmt_names = {
    3, "names", "SELECT string_agg(name, ',' ORDER BY name COLLATE \"C\") FROM pg_prepared_statements", 0};
static const tq_stmt stmt_forget = {4, "forget", "DEALLOCATE v_1", 0};
static const tq_stmt stmt_text = {5, "text", "SELECT current_query() FROM @.t", 0};
static const tq_stmt stmt_plain = {6, "plain", "SELECT current_query()", 0};

static const tq_stmt_scope meta = {100, "public", true};
static tq_stmt_scope scope[7]; /* 1..6: s1..s6 */
static const tq_stmt_scope missing = {7, "s_missing", false};
static const tq_stmt_scope odd = {8, "Odd\"Name", false};

static void open_conn(conn *c)
{
    open_conn_as(c, "tenantql");
}

static int server_count(conn *c)
{
    return atoi(answer(c, &stmt_count, &meta, NULL));
}

static const char *value_of(int i)
{
    static char v[8];
    snprintf(v, sizeof(v), "%d", i * 10);
    return v;
}

static void check_v(conn *c, int i)
{
    CHECK_STR(answer(c, &stmt_v, &scope[i], NULL), value_of(i));
}

/* The cache and the server agree, within the capacity. */
static void check_agree(conn *c)
{
    int n = server_count(c);
    CHECK(n <= CAP);
    CHECK(n == tq_pgconn_cached_statements(c->pg));
}

static void test_isolation_interleaved(void)
{
    conn c;
    open_conn(&c);
    static const int order[] = {1, 2, 1, 3, 2, 4, 1, 5, 6, 3, 1, 2, 6, 6, 5, 4,
                                3, 2, 1, 1, 2, 3, 4, 5, 6, 2, 4, 6, 1, 3, 5};
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        check_v(&c, order[k]);
        check_agree(&c);
    }
    /* the quoted schema name, with a double quote in it */
    CHECK_STR(answer(&c, &stmt_v, &odd, NULL), "70");
    CHECK_STR(answer(&c, &stmt_v, &odd, NULL), "70");
    check_agree(&c);
    CHECK(tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);
}

static void test_second_use_prepares_and_eviction_deallocates(void)
{
    conn c;
    open_conn(&c);
    check_v(&c, 1);
    CHECK(server_count(&c) == 0 && tq_pgconn_cached_statements(c.pg) == 0); /* first use: unnamed */
    check_v(&c, 1);
    CHECK(server_count(&c) == 1 && tq_pgconn_cached_statements(c.pg) == 1); /* second: prepared */
    CHECK_STR(answer(&c, &stmt_names, &meta, NULL), "v_1");
    check_v(&c, 1);
    CHECK(server_count(&c) == 1);
    /* s2..s4 seen once: the cache is full (s1 prepared, the oldest) */
    for (int i = 2; i <= 4; i++)
        check_v(&c, i);
    CHECK(server_count(&c) == 1);
    check_v(&c, 5); /* evicts s1 */
    CHECK(server_count(&c) == 0 && tq_pgconn_cached_statements(c.pg) == 0);
    /* s2..s5 used again: all four prepared */
    for (int i = 2; i <= 5; i++)
        check_v(&c, i);
    CHECK(server_count(&c) == 4 && tq_pgconn_cached_statements(c.pg) == 4);
    CHECK_STR(answer(&c, &stmt_names, &meta, NULL), "v_2,v_3,v_4,v_5");
    check_v(&c, 6); /* evicts s2, prepared: deallocated in the same pipeline */
    CHECK(server_count(&c) == 3 && tq_pgconn_cached_statements(c.pg) == 3);
    check_v(&c, 6);
    CHECK_STR(answer(&c, &stmt_names, &meta, NULL), "v_3,v_4,v_5,v_6");
    check_v(&c, 1); /* evicts s3; s1 was forgotten, so this is a first use again */
    CHECK_STR(answer(&c, &stmt_names, &meta, NULL), "v_4,v_5,v_6");
    check_agree(&c);
    CHECK(tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);
}

static void test_failed_prepare(void)
{
    conn c;
    open_conn(&c);
    check_v(&c, 1);
    check_v(&c, 1); /* s1 prepared */
    /* no such schema: "relation does not exist" */
    CHECK_STR(answer(&c, &stmt_v, &missing, NULL), "!42P01"); /* first use, unnamed */
    CHECK_STR(answer(&c, &stmt_v, &missing, NULL), "!42P01"); /* second: the Prepare fails */
    CHECK(server_count(&c) == 1 && tq_pgconn_cached_statements(c.pg) == 1);
    /* the other statements are still prepared and used as such (no "already exists") */
    check_v(&c, 1);
    check_v(&c, 2);
    check_v(&c, 2);
    CHECK(server_count(&c) == 2);
    CHECK(tq_pgconn_reusable(c.pg));
    /* the schema exists, its table does not: 42P01 */
    char err[256];
    CHECK(tq_pg_exec(admin, "CREATE SCHEMA s_missing", err, sizeof(err)) == 0);
    CHECK_STR(answer(&c, &stmt_v, &missing, NULL), "!42P01");
    CHECK_STR(answer(&c, &stmt_v, &missing, NULL), "!42P01");
    CHECK(server_count(&c) == 2 && tq_pgconn_cached_statements(c.pg) == 2);
    /* once the table is there, the same statement works and is prepared in its turn */
    CHECK(tq_pg_exec(admin, "CREATE TABLE s_missing.t(v int); INSERT INTO s_missing.t VALUES (77)", err, sizeof(err)) ==
          0);
    CHECK_STR(answer(&c, &stmt_v, &missing, NULL), "77");
    CHECK_STR(answer(&c, &stmt_v, &missing, NULL), "77");
    CHECK(server_count(&c) == 3 && tq_pgconn_cached_statements(c.pg) == 3);
    CHECK_STR(answer(&c, &stmt_names, &meta, NULL), "v_1,v_2,v_7");
    CHECK(tq_pg_exec(admin, "DROP SCHEMA s_missing CASCADE", err, sizeof(err)) == 0);
    CHECK(tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);
}

static void test_execution_error_keeps_statements(void)
{
    conn c;
    open_conn(&c);
    CHECK_STR(answer(&c, &stmt_div, &scope[1], "1"), "10");
    CHECK_STR(answer(&c, &stmt_div, &scope[1], "1"), "10");
    CHECK(server_count(&c) == 1);
    CHECK_STR(answer(&c, &stmt_div, &scope[1], "0"), "!22012");
    CHECK(server_count(&c) == 1 && tq_pgconn_cached_statements(c.pg) == 1);
    CHECK_STR(answer(&c, &stmt_div, &scope[1], "2"), "5");
    CHECK(server_count(&c) == 1);
    /* the Prepare succeeds and its Execute fails in the same pipeline: prepared all the same */
    CHECK_STR(answer(&c, &stmt_div, &scope[2], "0"), "!22012");
    CHECK_STR(answer(&c, &stmt_div, &scope[2], "0"), "!22012");
    CHECK(server_count(&c) == 2 && tq_pgconn_cached_statements(c.pg) == 2);
    CHECK_STR(answer(&c, &stmt_div, &scope[2], "4"), "5");
    CHECK(server_count(&c) == 2);
    /* an eviction's DEALLOCATE stays done when the statement after it fails */
    check_v(&c, 3);
    check_v(&c, 4); /* full: div/s1 (oldest, prepared), div/s2, v/s3, v/s4 */
    CHECK_STR(answer(&c, &stmt_div, &scope[5], "0"), "!22012");
    CHECK(server_count(&c) == 1 && tq_pgconn_cached_statements(c.pg) == 1);
    CHECK_STR(answer(&c, &stmt_names, &meta, NULL), "div_2");
    CHECK(tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);
}

static void test_unnamed_scope_and_no_cache(void)
{
    conn c;
    open_conn(&c);
    tq_stmt_scope unnamed = scope[1];
    unnamed.unnamed = true;
    for (int i = 0; i < 3; i++)
        CHECK_STR(answer(&c, &stmt_v, &unnamed, NULL), "10");
    CHECK(server_count(&c) == 0 && tq_pgconn_cached_statements(c.pg) == 0);
    tq_pgconn_close(c.pg);

    tq_pgconn_set_statement_cache(0);
    open_conn(&c);
    for (int k = 0; k < 3; k++)
        for (int i = 1; i <= 6; i++)
            check_v(&c, i);
    CHECK(server_count(&c) == 0 && tq_pgconn_cached_statements(c.pg) == 0);
    CHECK(tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);
    tq_pgconn_set_statement_cache(CAP);
}

static void test_unknown_state_is_not_reusable(void)
{
    conn c;
    open_conn(&c);
    check_v(&c, 1);
    check_v(&c, 1);
    /* someone deallocates v_1 behind the cache's back; evicting it then fails */
    CHECK_STR(answer(&c, &stmt_forget, &meta, NULL), "?PGRES_COMMAND_OK");
    CHECK(tq_pgconn_reusable(c.pg));
    for (int i = 2; i <= 4; i++)
        check_v(&c, i);
    CHECK_STR(answer(&c, &stmt_v, &scope[5], NULL), "!26000");
    CHECK(!tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);

    /* a prepared statement the server lost: executing it fails the same way */
    open_conn(&c);
    check_v(&c, 1);
    check_v(&c, 1);
    CHECK_STR(answer(&c, &stmt_forget, &meta, NULL), "?PGRES_COMMAND_OK");
    CHECK_STR(answer(&c, &stmt_v, &scope[1], NULL), "!26000");
    CHECK(!tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);
}

/* Many scopes through a larger cache in a pseudo-random order (the table grows, entries
 * are evicted from every position of it), against a model LRU: after every query the
 * server's prepared statements are exactly the model's. All scopes use schema s1. */
#define BIG 40
#define BIG_SCOPES 60

typedef struct model_entry {
    uint32_t scope;
    bool prepared;
} model_entry;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_against_model(void)
{
    tq_pgconn_set_statement_cache(BIG);
    conn c;
    open_conn(&c);
    model_entry m[BIG]; /* m[0] the most recently used */
    int mn = 0;
    tq_stmt_scope sc[BIG_SCOPES + 1];
    for (uint32_t i = 1; i <= BIG_SCOPES; i++)
        sc[i] = (tq_stmt_scope){1000 + i, "s1", false};
    uint32_t rnd = 12345;
    int mismatches = 0;
    for (int step = 0; step < 400; step++) {
        rnd = rnd * 1103515245u + 12345u;
        /* a skewed choice: low scopes come back often, high ones rarely */
        uint32_t r = (rnd >> 8) % BIG_SCOPES, i = 1 + (step % 3 == 0 ? r : r % 25);
        if (strcmp(answer(&c, &stmt_v, &sc[i], NULL), "10") != 0)
            mismatches++;
        int at = 0;
        while (at < mn && m[at].scope != sc[i].id)
            at++;
        model_entry e = {sc[i].id, false};
        if (at < mn)
            e.prepared = true; /* seen before (maybe prepared already) */
        else if (mn == BIG)
            at = --mn; /* the oldest goes */
        else
            at = mn;
        memmove(&m[1], &m[0], (size_t)at * sizeof(m[0]));
        m[0] = e;
        if (at == mn)
            mn++;
        char want[2048] = "", names[BIG][16];
        const char *sorted[BIG];
        int np = 0;
        for (int k = 0; k < mn; k++)
            if (m[k].prepared) {
                snprintf(names[np], sizeof(names[np]), "v_%u", m[k].scope);
                sorted[np] = names[np];
                np++;
            }
        qsort(sorted, (size_t)np, sizeof(sorted[0]), cmp_str);
        for (int k = 0; k < np; k++)
            snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s", k ? "," : "", sorted[k]);
        if (strcmp(answer(&c, &stmt_names, &meta, NULL), want) != 0 || tq_pgconn_cached_statements(c.pg) != np)
            mismatches++;
    }
    CHECK(mismatches == 0);
    CHECK(tq_pgconn_cached_statements(c.pg) > BIG / 2); /* the test did reach a full cache */
    CHECK(tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);
    tq_pgconn_set_statement_cache(CAP);
}

static int create_schemas(char *err, size_t errlen)
{
    static char names[7][8];
    char sql[256];
    for (int i = 1; i <= 6; i++) {
        snprintf(names[i], sizeof(names[i]), "s%d", i);
        scope[i] = (tq_stmt_scope){(uint32_t)i, names[i], false};
        snprintf(sql, sizeof(sql), "CREATE SCHEMA s%d; CREATE TABLE s%d.t(v int); INSERT INTO s%d.t VALUES (%d)", i, i,
                 i, i * 10);
        if (tq_pg_exec(admin, sql, err, errlen) != 0)
            return -1;
    }
    return tq_pg_exec(admin,
                      "CREATE SCHEMA \"Odd\"\"Name\"; CREATE TABLE \"Odd\"\"Name\".t(v int);"
                      " INSERT INTO \"Odd\"\"Name\".t VALUES (70)",
                      err, errlen);
}

/* The first column of a commented execution's one row (as answer()). */
static const char *answer_commented(conn *c, const tq_stmt *stmt, const tq_stmt_scope *sc, const char *comment)
{
    static char out[2048];
    const char *params[1] = {NULL};
    int before = c->results;
    c->res = NULL;
    snprintf(out, sizeof(out), "!broken");
    if (tq_pgconn_send_commented(c->pg, stmt, sc, params, comment) != 0)
        return out;
    run_until(&c->results, before + 1);
    if (c->res != NULL && PQresultStatus(c->res) == PGRES_TUPLES_OK && PQntuples(c->res) == 1)
        snprintf(out, sizeof(out), "%s", PQgetvalue(c->res, 0, 0));
    PQclear(c->res);
    return out;
}

/* A commented execution (a traced request's) runs unnamed with the comment first in its
 * text, and leaves the prepared statements and the cache as they were. */
static void test_commented(void)
{
    static const char comment[] = "/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/";
    conn c;
    open_conn(&c);
    check_v(&c, 1);
    check_v(&c, 1); /* prepared now */
    int cached = tq_pgconn_cached_statements(c.pg);
    CHECK(cached >= 1);
    for (int i = 0; i < 3; i++) {
        CHECK_STR(answer_commented(&c, &stmt_text, &scope[2], comment),
                  "/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/ SELECT current_query() "
                  "FROM \"s2\".t");
        CHECK_STR(answer_commented(&c, &stmt_v, &scope[1], comment), value_of(1));
    }
    CHECK(tq_pgconn_cached_statements(c.pg) == cached);
    CHECK(!tq_pgconn_knows(c.pg, &stmt_text, &scope[2]));
    check_agree(&c);
    check_v(&c, 1); /* the prepared one still runs */
    /* quoting, and a text without `@.` (not copied by the expansion) */
    CHECK_STR(answer_commented(&c, &stmt_text, &odd, comment),
              "/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/ SELECT current_query() "
              "FROM \"Odd\"\"Name\".t");
    CHECK_STR(answer_commented(&c, &stmt_plain, &meta, comment),
              "/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/ SELECT current_query()");
    tq_pgconn_close(c.pg);
}

int main(void)
{
    char err[512];
    tq_test_pg pg;
    if (cluster_start(&pg, "tq-stmt", &admin) != 0)
        return 1;
    if (admin != NULL && create_schemas(err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot create the schemas: %s\n", err);
        CHECK(0);
    }

    loop_start();
    tq_pgconn_set_statement_cache(CAP);

    if (admin != NULL) {
        test_isolation_interleaved();
        test_second_use_prepares_and_eviction_deallocates();
        test_failed_prepare();
        test_execution_error_keeps_statements();
        test_unnamed_scope_and_no_cache();
        test_unknown_state_is_not_reusable();
        test_against_model();
        test_commented();
        PQfinish(admin);
    }

    loop_stop();
    tq_test_pg_stop(&pg);
    return TQ_TEST_REPORT();
}
