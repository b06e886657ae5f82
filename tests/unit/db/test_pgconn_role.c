/*
 * test_pgconn_role.c - a scope's role (tq_stmt_scope.role) against a real PostgreSQL (a
 * private cluster this test starts and stops). Schemas s1 and s2, owned by the login role
 * tq_login like the schemas of a shared database, each hold a table t; roles r1 and r2
 * (NOLOGIN, granted to tq_login) may each read only their own schema. One tq_pgconn logged
 * in as tq_login runs statements in scopes with and without a role: a scope reads its own
 * schema under its role; a scope binding s2 with r1's role (a bug in the binding) is
 * refused by PostgreSQL (42501) on the unnamed path, the Prepare-and-execute path and the
 * prepared path; nothing of the role outlasts its query, a failed one included; a role
 * switch that fails is the query's answer and leaves the prepared statements exact; the
 * switch itself is prepared once per connection where statements are prepared, never on
 * the unnamed path; and PostgreSQL's warning about SET LOCAL never reaches the log.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
static const tq_stmt stmt_user = {2, "who", "SELECT current_user::text", 0};
static const tq_stmt stmt_count = {3, "count", "SELECT count(*) FROM pg_prepared_statements", 0};
static const tq_stmt stmt_insert = {4, "ins", "INSERT INTO @.t VALUES ($1::int) RETURNING v", 1};
static const tq_stmt stmt_warn = {5, "warn", "DO $$BEGIN RAISE WARNING 'probe of the log'; END$$", 0};
static const tq_stmt stmt_names = {
    6, "names", "SELECT string_agg(name, ',' ORDER BY name COLLATE \"C\") FROM pg_prepared_statements", 0};
static const tq_stmt stmt_forget_switch = {7, "forget", "DEALLOCATE tq_role", 0};

/* no role, never prepared: looking must not change what is looked at */
static const tq_stmt_scope meta = {100, "public", true, NULL};

static void open_conn(conn *c)
{
    open_conn_as(c, "tq_login");
}

/* The cache and the server agree on the prepared statements; returns how many. */
static int agreed_count(conn *c)
{
    int n = atoi(answer(c, &stmt_count, &meta, NULL));
    CHECK(n == tq_pgconn_cached_statements(c->pg));
    return n;
}

/* The first value of sql run by the cluster's superuser, or "?". */
static const char *admin_value(const char *sql)
{
    static char out[64];
    char err[256];
    PGresult *res = tq_pg_query(admin, sql, 0, NULL, err, sizeof(err));
    snprintf(out, sizeof(out), "%s", res != NULL && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "?");
    PQclear(res);
    return out;
}

static void check_login_role(conn *c)
{
    CHECK_STR(answer(c, &stmt_user, &meta, NULL), "tq_login");
}

static void test_own_schema_under_its_role(void)
{
    conn c;
    open_conn(&c);
    /* an unnamed scope never prepares, the role switch neither */
    const tq_stmt_scope s1r1_unnamed = {2, "s1", true, "r1"};
    for (int i = 0; i < 3; i++)
        CHECK_STR(answer(&c, &stmt_v, &s1r1_unnamed, NULL), "10");
    CHECK(agreed_count(&c) == 0);
    const tq_stmt_scope s1r1 = {1, "s1", false, "r1"};
    CHECK_STR(answer(&c, &stmt_user, &s1r1, NULL), "r1");
    CHECK(agreed_count(&c) == 1); /* the switch, prepared on its first use */
    check_login_role(&c);         /* the next query without a role: the login role again */
    /* first use unnamed, second Prepare + Execute, third Execute alone: all under r1 */
    for (int i = 0; i < 3; i++)
        CHECK_STR(answer(&c, &stmt_v, &s1r1, NULL), "10");
    CHECK(agreed_count(&c) == 2); /* v prepared under s1r1 (who ran once: unnamed), and the switch */
    CHECK_STR(answer(&c, &stmt_names, &meta, NULL), "tq_role,v_1");
    check_login_role(&c);
    for (int i = 0; i < 3; i++)
        CHECK_STR(answer(&c, &stmt_v, &s1r1_unnamed, NULL), "10");
    CHECK(agreed_count(&c) == 2);
    /* the other tenant likewise under its own role */
    const tq_stmt_scope s2r2 = {3, "s2", false, "r2"};
    for (int i = 0; i < 3; i++)
        CHECK_STR(answer(&c, &stmt_v, &s2r2, NULL), "20");
    CHECK(tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);
}

static void test_wrong_schema_is_refused(void)
{
    conn c;
    open_conn(&c);
    /* without a role the login role reaches every schema: only the binding keeps tenants apart */
    const tq_stmt_scope s2none = {10, "s2", false, NULL};
    CHECK_STR(answer(&c, &stmt_v, &s2none, NULL), "20");
    /* s2 bound with r1's role: PostgreSQL refuses, whichever way the statement runs */
    const tq_stmt_scope s2r1 = {11, "s2", false, "r1"};
    CHECK_STR(answer(&c, &stmt_v, &s2r1, NULL), "!42501"); /* unnamed: no USAGE on s2 */
    CHECK_STR(answer(&c, &stmt_v, &s2r1, NULL), "!42501"); /* prepared as the login role, executed as r1 */
    CHECK_STR(answer(&c, &stmt_v, &s2r1, NULL), "!42501"); /* the prepared statement alone */
    CHECK(agreed_count(&c) == 2); /* the Prepare itself succeeded; the switch */
    const tq_stmt_scope s2r1_unnamed = {12, "s2", true, "r1"};
    for (int i = 0; i < 3; i++)
        CHECK_STR(answer(&c, &stmt_v, &s2r1_unnamed, NULL), "!42501");
    /* writes too (r1 may not even write its own table: it has SELECT alone) */
    CHECK_STR(answer(&c, &stmt_insert, &s2r1, "5"), "!42501");
    CHECK_STR(answer(&c, &stmt_insert, &s2r1, "5"), "!42501");
    const tq_stmt_scope s1r1 = {13, "s1", false, "r1"};
    CHECK_STR(answer(&c, &stmt_insert, &s1r1, "5"), "!42501");
    CHECK_STR(admin_value("SELECT count(*) FROM s1.t, s2.t WHERE s1.t.v = 5 OR s2.t.v = 5"), "0");
    /* the refusals left nothing behind: the same connection serves the right scopes */
    check_login_role(&c);
    CHECK_STR(answer(&c, &stmt_v, &s1r1, NULL), "10");
    CHECK_STR(answer(&c, &stmt_v, &s2none, NULL), "20");
    CHECK(tq_pgconn_reusable(c.pg));
    agreed_count(&c);
    tq_pgconn_close(c.pg);
}

static void test_failures_under_a_role(void)
{
    conn c;
    open_conn(&c);
    const tq_stmt_scope s1r1 = {20, "s1", false, "r1"};
    /* a statement that fails under the role: its transaction ends at the Sync, role and all */
    CHECK_STR(answer(&c, &stmt_div, &s1r1, "0"), "!22012");
    check_login_role(&c);
    CHECK_STR(answer(&c, &stmt_div, &s1r1, "0"), "!22012"); /* Prepare ok, Execute failed */
    CHECK(agreed_count(&c) == 2);                           /* div and the switch */
    check_login_role(&c);
    CHECK_STR(answer(&c, &stmt_div, &s1r1, "2"), "5");
    CHECK_STR(answer(&c, &stmt_user, &s1r1, NULL), "r1");
    check_login_role(&c);
    /* a role that does not exist: the switch's error is the answer (first use and Prepare alike) */
    const tq_stmt_scope missing = {21, "s1", false, "r_missing"};
    CHECK_STR(answer(&c, &stmt_v, &missing, NULL), "!22023");
    CHECK_STR(answer(&c, &stmt_v, &missing, NULL), "!22023");
    CHECK(agreed_count(&c) == 3); /* div, the switch, and v/missing: its Prepare before the failed switch stands */
    CHECK_STR(answer(&c, &stmt_v, &missing, NULL), "!22023");
    check_login_role(&c);
    /* a role the login role is not a member of: refused too */
    const tq_stmt_scope foreign = {22, "s1", true, "r_foreign"};
    CHECK_STR(answer(&c, &stmt_v, &foreign, NULL), "!42501");
    check_login_role(&c);
    CHECK(tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);
}

/* Evictions under roles: a DEALLOCATE, a Prepare and the role switch in one pipeline. */
static void test_eviction_with_roles(void)
{
    conn c;
    open_conn(&c);
    tq_stmt_scope sc[6];
    for (uint32_t i = 0; i < 6; i++)
        sc[i] = (tq_stmt_scope){30 + i, i % 2 ? "s2" : "s1", false, i % 2 ? "r2" : "r1"};
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 6; i++) {
            CHECK_STR(answer(&c, &stmt_v, &sc[i], NULL), i % 2 ? "20" : "10");
            CHECK_STR(answer(&c, &stmt_v, &sc[i], NULL), i % 2 ? "20" : "10");
            CHECK(agreed_count(&c) <= CAP + 1); /* the cache's, and the switch */
        }
    check_login_role(&c);
    CHECK(tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);
}

/* The prepared switch lost on the server: the connection knows it can no longer vouch for
 * its statements. With no statement cache, the switch is never prepared. */
static void test_switch_lost_and_no_cache(void)
{
    conn c;
    open_conn(&c);
    const tq_stmt_scope s1r1 = {50, "s1", false, "r1"};
    CHECK_STR(answer(&c, &stmt_v, &s1r1, NULL), "10");
    CHECK_STR(answer(&c, &stmt_forget_switch, &meta, NULL), "?PGRES_COMMAND_OK");
    CHECK(tq_pgconn_reusable(c.pg));
    CHECK_STR(answer(&c, &stmt_v, &s1r1, NULL), "!26000");
    CHECK(!tq_pgconn_reusable(c.pg));
    tq_pgconn_close(c.pg);

    tq_pgconn_set_statement_cache(0);
    open_conn(&c);
    for (int i = 0; i < 3; i++) {
        CHECK_STR(answer(&c, &stmt_v, &s1r1, NULL), "10");
        CHECK_STR(answer(&c, &stmt_user, &s1r1, NULL), "r1");
    }
    CHECK(agreed_count(&c) == 0);
    check_login_role(&c);
    tq_pgconn_close(c.pg);
    tq_pgconn_set_statement_cache(CAP);
}

/* What the process logs while fn runs (fd 2, where the logger writes), into out. */
static void capture_log(void (*fn)(conn *), conn *c, char *out, size_t outlen)
{
    char path[] = "/tmp/tq-role-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    CHECK(fd >= 0 && saved >= 0);
    dup2(fd, 2);
    fn(c);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, out, outlen - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

static void many_role_queries(conn *c)
{
    const tq_stmt_scope s1r1 = {40, "s1", false, "r1"};
    for (int i = 0; i < 5; i++)
        answer(c, &stmt_v, &s1r1, NULL);
}

static void a_warning(conn *c)
{
    answer(c, &stmt_warn, &meta, NULL);
}

static void test_no_warning_in_the_log(void)
{
    conn c;
    open_conn(&c);
    char log[4096];
    /* the capture sees what the server warns (the notice path into the logger) */
    capture_log(a_warning, &c, log, sizeof(log));
    CHECK(strstr(log, "probe of the log") != NULL);
    capture_log(many_role_queries, &c, log, sizeof(log));
    CHECK(strstr(log, "SET LOCAL") == NULL && strstr(log, "WARNING") == NULL);
    if (log[0])
        fprintf(stderr, "logged during role queries: %s", log);
    tq_pgconn_close(c.pg);
}

static int setup(char *err, size_t errlen)
{
    /* tq_login owns both schemas, as the shared role owns a shared database's tenant
     * schemas; r1 and r2 may each read their own schema only */
    return tq_pg_exec(admin,
                      "CREATE ROLE tq_login LOGIN;"
                      " CREATE SCHEMA s1 AUTHORIZATION tq_login; CREATE SCHEMA s2 AUTHORIZATION tq_login;"
                      " CREATE TABLE s1.t(v int); INSERT INTO s1.t VALUES (10); ALTER TABLE s1.t OWNER TO tq_login;"
                      " CREATE TABLE s2.t(v int); INSERT INTO s2.t VALUES (20); ALTER TABLE s2.t OWNER TO tq_login;"
                      " CREATE ROLE r1 NOLOGIN; CREATE ROLE r2 NOLOGIN; CREATE ROLE r_foreign NOLOGIN;"
                      " GRANT USAGE ON SCHEMA s1 TO r1, r_foreign; GRANT SELECT ON s1.t TO r1, r_foreign;"
                      " GRANT USAGE ON SCHEMA s2 TO r2; GRANT SELECT ON s2.t TO r2;"
                      " GRANT r1, r2 TO tq_login",
                      err, errlen);
}

int main(void)
{
    char err[512];
    tq_test_pg pg;
    if (cluster_start(&pg, "tq-role", &admin) != 0)
        return 1;
    if (admin != NULL && setup(err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot set up the schemas and roles: %s\n", err);
        CHECK(0);
    }

    loop_start();
    tq_pgconn_set_statement_cache(CAP);

    if (admin != NULL) {
        test_own_schema_under_its_role();
        test_wrong_schema_is_refused();
        test_failures_under_a_role();
        test_eviction_with_roles();
        test_switch_lost_and_no_cache();
        test_no_warning_in_the_log();
        PQfinish(admin);
    }

    loop_stop();
    tq_test_pg_stop(&pg);
    return TQ_TEST_REPORT();
}
