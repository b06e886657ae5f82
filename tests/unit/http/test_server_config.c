/*
 * test_server_config.c - http/config.c: serve's option table is well formed and follows
 * the naming rule (--x-y is TENANTQL_X_Y), the defaults are the documented ones, and the
 * configuration check refuses what the server cannot run with.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "tenantql/server.h"
#include "tq_test.h"

static void test_table(void)
{
    char err[256];
    CHECK(tq_opts_table_check(tq_server_options, err, sizeof(err)) == 0);
    for (const tq_opt *o = tq_server_options; o->name != NULL; o++) {
        char want[128] = "TENANTQL_";
        for (size_t i = 0; o->name[i] != '\0' && i + 10 < sizeof(want); i++)
            want[9 + i] = o->name[i] == '-' ? '_' : (char)toupper((unsigned char)o->name[i]);
        CHECK_STR(o->env, want);
    }
}

static void test_defaults(void)
{
    tq_server_config c;
    tq_server_config_init(&c);
    CHECK_STR(c.listen, "127.0.0.1:8080");
    CHECK(c.threads >= 1 && c.threads <= 256);
    CHECK(c.registry == NULL && c.jwt_secret == NULL && c.jwt_alg == NULL && c.jwt_keys == NULL);
    CHECK_STR(c.jwt_issuer, "tenantql");
    CHECK(c.jwt_audience == NULL);
    CHECK(c.jwt_leeway == 30 && c.token_ttl == 3600);
    CHECK(!c.trust_tenant_header && c.introspection && c.graphiql);
    CHECK(c.max_body_bytes == 1048576 && c.request_timeout_ms == 30000 && c.drain_timeout_ms == 10000);
    CHECK(c.pause_max_wait_ms == 10000);
    CHECK(c.max_connections == 100 && c.doc_cache_entries == 512 && c.registry_refresh_ms == 30000);
    CHECK_STR(c.tenant_sslmode, "prefer");
    CHECK(c.log_level == TQ_LOG_INFO);
    CHECK(c.hash_threads == 2 && c.hash_opslimit == crypto_pwhash_OPSLIMIT_INTERACTIVE &&
          c.hash_memlimit == crypto_pwhash_MEMLIMIT_INTERACTIVE);
    CHECK(c.login_rate_limit == 10 && c.login_rate_window_s == 60);
    CHECK(c.anon_rate == 10 && c.anon_burst == 100 && c.anon_login_cost == 10);
    CHECK(c.tenant_rate == 0 && c.tenant_burst == 0 && c.tenant_in_flight == 256 && c.tenant_db_ms == 0);
    CHECK(c.ready_banner == NULL && c.graphiql_headers == NULL && c.graphiql_query == NULL);
}

static void test_check(void)
{
    tq_server_config c;
    char err[256];
    tq_server_config_init(&c);
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == -1);
    CHECK(strstr(err, "--registry (TENANTQL_REGISTRY) is required") == err);
    c.registry = "dbname=x";
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == 0);
    c.login_rate_window_s = 61; /* the command line used to take up to 3600 */
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == -1);
    CHECK_STR(err, "--login-rate-window-s must be between 1 and 60 (got 61)");
    c.login_rate_window_s = 60;
    c.login_rate_limit = 4;
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == -1);
    c.login_rate_limit = 0;
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == 0);
    c.hash_memlimit = (size_t)5 << 30;
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == -1);
    CHECK_STR(err, "--hash-memlimit must be between 8192 and 4294967296 (got 5368709120)");
    c.hash_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    c.threads = 0;
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == -1);
    CHECK_STR(err, "--threads must be between 1 and 256 (got 0)");
    c.threads = 1;
    /* a login must fit in an address's bucket, unless the budget is off */
    c.anon_login_cost = 101;
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == -1);
    CHECK_STR(err, "--anon-login-cost (101) must be at most --anon-burst (100), or no login could pass");
    c.anon_rate = 0;
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == 0);
    /* 0 answers a paused tenant's requests at once; ten minutes is the longest wait */
    c.pause_max_wait_ms = 0;
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == 0);
    c.pause_max_wait_ms = 600001;
    CHECK(tq_server_config_check(&c, err, sizeof(err)) == -1);
    CHECK_STR(err, "--pause-max-wait-ms must be between 0 and 600000 (got 600001)");
}

static const tq_opt *option(const char *name)
{
    for (const tq_opt *o = tq_server_options; o->name != NULL; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

/* What SIGHUP applies and what it names as needing a restart (README's "Configuration file
 * and reload" lists the same). */
static void test_reload_diff(void)
{
    CHECK(option("config") != NULL && !(option("config")->flags & TQ_OPTF_RELOAD));
    CHECK(option("jwt-secret")->flags & TQ_OPTF_SECRET);
    static const char *const reloadable[] = {"jwt-secret", "jwt-keys", "token-ttl", "max-cost", "limits",
                                             "tenant-rate", "cors-origins", "log-level", NULL};
    for (const char *const *n = reloadable; *n != NULL; n++)
        CHECK(option(*n)->flags & TQ_OPTF_RELOAD);
    static const char *const restart[] = {"listen", "threads", "registry", "anon-rate", "fair-share", NULL};
    for (const char *const *n = restart; *n != NULL; n++)
        CHECK(!(option(*n)->flags & TQ_OPTF_RELOAD));
    tq_server_config a, b;
    tq_server_config_init(&a);
    tq_server_config_init(&b);
    char same1[32] = "a.example", same2[32] = "a.example"; /* equal strings at different addresses */
    a.cors_origins = same1;
    b.cors_origins = same2;
    char reload[512], needs[512];
    tq_server_config_diff(&a, &b, reload, sizeof(reload), needs, sizeof(needs));
    CHECK_STR(reload, "");
    CHECK_STR(needs, "");
    b.jwt_secret = "0123456789abcdef0123456789abcdef";
    b.max_cost = 5;
    b.threads = a.threads + 1;
    b.listen = "0.0.0.0:1";
    tq_server_config_diff(&a, &b, reload, sizeof(reload), needs, sizeof(needs));
    CHECK_STR(reload, "jwt-secret, max-cost");
    CHECK_STR(needs, "listen, threads");
}

int main(void)
{
    test_table();
    test_defaults();
    test_check();
    test_reload_diff();
    return TQ_TEST_REPORT();
}
