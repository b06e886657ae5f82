/*
 * test_tenant_lifecycle.c - the result codes of the blocking tenant functions
 * (tenant_result.h) against a real cluster: what the admin API maps to HTTP statuses
 * (400 INVALID, 404 NOT_FOUND, 409 EXISTS and WRONG_STATE), and a whole life: create,
 * set pool options, offboard (idempotent), drop refused then forced, drop_expired.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tenantql/migrate.h"
#include "tenantql/pg_admin.h"
#include "tenantql/tenant_admin.h"
#include "tenantql/tenant_lifecycle.h"
#include "tenantql/tenant_move.h"
#include "tq_test.h"
#include "tq_test_pg.h"

static PGconn *registry;
static char err[1024];

static int create(const char *name, const char *placement, const char *schema, const char *quota)
{
    tq_tenant_spec spec = {.name = name, .placement = placement, .db_schema = schema, .quota = quota};
    char id[37];
    return tq_tenant_create(registry, &spec, false, id, err, sizeof(err));
}

static void test_create_codes(void)
{
    CHECK(create("Bad-Name", NULL, NULL, NULL) == TQ_TENANT_INVALID);
    CHECK(create("a", "cloud", NULL, NULL) == TQ_TENANT_INVALID);
    CHECK(create("a", NULL, NULL, "{\"rate\": -1}") == TQ_TENANT_INVALID);
    CHECK(create("a", NULL, "elsewhere", NULL) == TQ_TENANT_INVALID);
    CHECK(create("a", NULL, NULL, NULL) == TQ_TENANT_OK);
    CHECK(create("a", NULL, NULL, NULL) == TQ_TENANT_EXISTS);
    CHECK(create("s1", "schema", NULL, NULL) == TQ_TENANT_OK);
    CHECK(create("s2", "schema", "tenant_s1", NULL) == TQ_TENANT_EXISTS);
    PGresult *res = tq_pg_query(registry, "SELECT schema_version, migrated_at IS NOT NULL FROM tenants ORDER BY name",
                                0, NULL, err, sizeof(err));
    CHECK(res != NULL && PQntuples(res) == 2);
    char latest[16];
    snprintf(latest, sizeof(latest), "%d", tq_migrate_latest_version(TQ_MIGRATIONS_TENANT));
    for (int i = 0; res != NULL && i < PQntuples(res); i++) {
        CHECK_STR(PQgetvalue(res, i, 0), latest);
        CHECK_STR(PQgetvalue(res, i, 1), "t");
    }
    PQclear(res);
}

static void test_change_codes(void)
{
    CHECK(tq_tenant_set_active(registry, "nobody", false, err, sizeof(err)) == TQ_TENANT_NOT_FOUND);
    CHECK(tq_tenant_set_quota(registry, "a", "[]", err, sizeof(err)) == TQ_TENANT_INVALID);
    CHECK(tq_tenant_set_quota(registry, "nobody", "{}", err, sizeof(err)) == TQ_TENANT_NOT_FOUND);
    CHECK(tq_tenant_set_paused(registry, "nobody", true, err, sizeof(err)) == TQ_TENANT_NOT_FOUND);
    CHECK(tq_tenant_set_pool_options(registry, "a", "{\"max\": 2000}", err, sizeof(err)) == TQ_TENANT_INVALID);
    CHECK(tq_tenant_set_pool_options(registry, "a", "{\"idle\": 1}", err, sizeof(err)) == TQ_TENANT_INVALID);
    CHECK(tq_tenant_set_pool_options(registry, "a", "not json", err, sizeof(err)) == TQ_TENANT_INVALID);
    CHECK(tq_tenant_set_pool_options(registry, "nobody", "{}", err, sizeof(err)) == TQ_TENANT_NOT_FOUND);
    CHECK(tq_tenant_set_pool_options(registry, "a", "{\"max\": 7, \"statement_timeout_ms\": 0}", err, sizeof(err)) ==
          TQ_TENANT_OK);
}

static void test_offboarding(const char *dir)
{
    char path[PATH_MAX], again[PATH_MAX];
    CHECK(tq_tenant_drop(registry, "a", 0, true, err, sizeof(err)) == TQ_TENANT_WRONG_STATE);
    CHECK(strstr(err, "is not offboarded") != NULL);
    CHECK(tq_tenant_drop(registry, "nobody", 0, true, err, sizeof(err)) == TQ_TENANT_NOT_FOUND);
    CHECK(tq_tenant_drop(registry, "No", 0, true, err, sizeof(err)) == TQ_TENANT_INVALID);
    CHECK(tq_tenant_offboard(registry, "nobody", dir, path, sizeof(path), err, sizeof(err)) == TQ_TENANT_NOT_FOUND);

    CHECK(tq_tenant_offboard(registry, "a", dir, path, sizeof(path), err, sizeof(err)) == TQ_TENANT_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size > 0);
    CHECK(tq_tenant_offboard(registry, "a", dir, again, sizeof(again), err, sizeof(err)) == TQ_TENANT_OK);
    CHECK_STR(again, path);
    CHECK(tq_tenant_drop(registry, "a", TQ_OFFBOARD_GRACE_DEFAULT_S, false, err, sizeof(err)) == TQ_TENANT_WRONG_STATE);
    CHECK(strstr(err, "grace period until") != NULL);
    int dropped = -1;
    CHECK(tq_tenant_drop_expired(registry, NULL, TQ_OFFBOARD_GRACE_DEFAULT_S, &dropped, err, sizeof(err)) ==
          TQ_TENANT_OK);
    CHECK(dropped == 0);
    CHECK(tq_tenant_drop(registry, "a", TQ_OFFBOARD_GRACE_DEFAULT_S, true, err, sizeof(err)) == TQ_TENANT_OK);
    CHECK(tq_tenant_set_active(registry, "a", true, err, sizeof(err)) == TQ_TENANT_NOT_FOUND);

    CHECK(tq_tenant_offboard(registry, "s1", dir, path, sizeof(path), err, sizeof(err)) == TQ_TENANT_OK);
    CHECK(tq_tenant_drop_expired(registry, NULL, 0, &dropped, err, sizeof(err)) == TQ_TENANT_OK);
    CHECK(dropped == 1);
    PGresult *res = tq_pg_query(registry,
                                "SELECT (SELECT count(*) FROM tenants) || ' ' ||"
                                " (SELECT count(*) FROM pg_database WHERE datname = 'tenant_a')",
                                0, NULL, err, sizeof(err));
    CHECK(res != NULL);
    if (res != NULL)
        CHECK_STR(PQgetvalue(res, 0, 0), "0 0");
    PQclear(res);
}

int main(void)
{
    tq_test_pg pg;
    if (tq_test_pg_start(&pg, "tq-lifecycle") != 0)
        return 1;
    char conninfo[PATH_MAX + 128];
    tq_pg_cluster_conninfo(&pg.cluster, "postgres", conninfo, sizeof(conninfo));
    PGconn *admin = tq_pg_connect(conninfo, err, sizeof(err));
    CHECK(admin != NULL);
    if (admin != NULL && tq_pg_exec(admin, "CREATE DATABASE registry", err, sizeof(err)) == 0) {
        tq_pg_cluster_conninfo(&pg.cluster, "registry", conninfo, sizeof(conninfo));
        registry = tq_pg_connect(conninfo, err, sizeof(err));
    }
    CHECK(registry != NULL);
    if (registry != NULL && tq_migrate(registry, TQ_MIGRATIONS_REGISTRY, err, sizeof(err)) >= 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/exports", pg.dir);
        test_create_codes();
        test_change_codes();
        test_offboarding(dir);
    } else {
        fprintf(stderr, "no registry: %s\n", err);
        CHECK(0);
    }
    if (registry != NULL)
        PQfinish(registry);
    if (admin != NULL)
        PQfinish(admin);
    tq_test_pg_stop(&pg);
    return TQ_TEST_REPORT();
}
