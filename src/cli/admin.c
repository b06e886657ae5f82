/*
 * admin.c - `tenantql migrate`, `tenantql tenant ...` and `tenantql token`: short-lived
 * commands against the registry (blocking libpq is fine here).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tenantql/jwt_settings.h"
#include "tenantql/pg_admin.h"
#include "tenantql/tenant_admin.h"

static PGconn *connect_registry(const char *conninfo)
{
    if (conninfo == NULL || *conninfo == '\0') {
        fprintf(stderr, "tenantql: --registry (TENANTQL_REGISTRY) is required\n");
        return NULL;
    }
    char err[512];
    PGconn *c = tq_pg_connect(conninfo, err, sizeof(err));
    if (c == NULL)
        fprintf(stderr, "tenantql: cannot connect to the registry: %s\n", err);
    return c;
}

int tq_cmd_migrate(int argc, char **argv)
{
    const char *registry = NULL;
    tq_option opts[] = {
        {"registry", "TENANTQL_REGISTRY", TQ_OPT_STRING, &registry, "CONNINFO", "registry database"},
        {0},
    };
    static const tq_command_help help = {"tenantql migrate [options]",
                                         "Applies missing migrations to the registry, then to every tenant database."};
    int npos, rc = tq_options_parse(&help, opts, argc, argv, &npos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    PGconn *c = connect_registry(registry);
    if (c == NULL)
        return 1;
    int failed = tq_migrate_all(c, stdout);
    PQfinish(c);
    return failed == 0 ? 0 : 1;
}

static int tenant_create(const char *registry, int argc, char **argv)
{
    tq_tenant_spec spec = {0};
    tq_option opts[] = {
        {"registry", "TENANTQL_REGISTRY", TQ_OPT_STRING, &registry, "CONNINFO", "registry database"},
        {"db-host", NULL, TQ_OPT_STRING, &spec.db_host, "HOST", "tenant database host (default: the registry's)"},
        {"db-port", NULL, TQ_OPT_STRING, &spec.db_port, "PORT", "tenant database port (default: the registry's)"},
        {"db-name", NULL, TQ_OPT_STRING, &spec.db_name, "NAME", "tenant database name (default tenant_NAME)"},
        {"db-user", NULL, TQ_OPT_STRING, &spec.db_user, "USER", "tenant database user (default: the registry's)"},
        {"db-password", NULL, TQ_OPT_STRING, &spec.db_password, "PASSWORD",
         "tenant database password (default: the registry's)"},
        {"pool-options", NULL, TQ_OPT_STRING, &spec.pool_options, "JSON", "pool options, e.g. '{\"max\":10}'"},
        {0},
    };
    static const tq_command_help help = {
        "tenantql tenant create NAME [options]",
        "Creates the tenant's database (unless it exists), brings it to the newest migration and registers it."};
    int npos, rc = tq_options_parse(&help, opts, argc, argv, &npos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (npos != 1) {
        fprintf(stderr, "usage: %s\n", help.usage);
        return 2;
    }
    spec.name = argv[1];
    PGconn *c = connect_registry(registry);
    if (c == NULL)
        return 1;
    char id[37], err[512];
    rc = tq_tenant_create(c, &spec, false, id, err, sizeof(err));
    PQfinish(c);
    if (rc != 0) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    printf("%s\t%s\n", spec.name, id);
    return 0;
}

static int tenant_list(const char *registry, int argc, char **argv)
{
    tq_option opts[] = {
        {"registry", "TENANTQL_REGISTRY", TQ_OPT_STRING, &registry, "CONNINFO", "registry database"},
        {0},
    };
    static const tq_command_help help = {"tenantql tenant list [options]", "Lists the registered tenants."};
    int npos, rc = tq_options_parse(&help, opts, argc, argv, &npos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    PGconn *c = connect_registry(registry);
    if (c == NULL)
        return 1;
    char err[512];
    PGresult *res = tq_pg_query(c,
                                "SELECT name, id::text, CASE WHEN active THEN 'active' ELSE 'inactive' END,"
                                " db_host || ':' || db_port || '/' || db_name, pool_options::text"
                                " FROM tenants ORDER BY name",
                                0, NULL, err, sizeof(err));
    if (res == NULL) {
        fprintf(stderr, "tenantql: %s\n", err);
        PQfinish(c);
        return 1;
    }
    printf("%-16s %-36s %-8s %s\n", "NAME", "ID", "STATE", "DATABASE");
    for (int i = 0; i < PQntuples(res); i++)
        printf("%-16s %-36s %-8s %s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
               PQgetvalue(res, i, 3), strcmp(PQgetvalue(res, i, 4), "{}") ? PQgetvalue(res, i, 4) : "");
    PQclear(res);
    PQfinish(c);
    return 0;
}

static int tenant_set_active(const char *registry, int argc, char **argv, bool active)
{
    tq_option opts[] = {
        {"registry", "TENANTQL_REGISTRY", TQ_OPT_STRING, &registry, "CONNINFO", "registry database"},
        {0},
    };
    tq_command_help help = {active ? "tenantql tenant activate NAME [options]" : "tenantql tenant deactivate NAME [options]",
                            active ? "Lets the tenant's requests in again."
                                   : "Refuses the tenant's requests (403) from now on; its data stays."};
    int npos, rc = tq_options_parse(&help, opts, argc, argv, &npos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (npos != 1) {
        fprintf(stderr, "usage: %s\n", help.usage);
        return 2;
    }
    PGconn *c = connect_registry(registry);
    if (c == NULL)
        return 1;
    char err[512];
    rc = tq_tenant_set_active(c, argv[1], active, err, sizeof(err));
    PQfinish(c);
    if (rc != 0) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    return 0;
}

int tq_cmd_tenant(int argc, char **argv)
{
    const char *registry = NULL;
    if (argc >= 2 && strcmp(argv[1], "create") == 0)
        return tenant_create(registry, argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return tenant_list(registry, argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "deactivate") == 0)
        return tenant_set_active(registry, argc - 1, argv + 1, false);
    if (argc >= 2 && strcmp(argv[1], "activate") == 0)
        return tenant_set_active(registry, argc - 1, argv + 1, true);
    bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    fprintf(help ? stdout : stderr,
            "usage: tenantql tenant create NAME [--db-host H --db-port P --db-name D --db-user U --db-password W]\n"
            "       tenantql tenant list\n"
            "       tenantql tenant deactivate NAME\n"
            "       tenantql tenant activate NAME\n"
            "Each takes --registry CONNINFO (or TENANTQL_REGISTRY); --help on each tells more.\n");
    return help ? 0 : 2;
}

char *tq_issue_token(PGconn *registry, const tq_jwt_verifier *signer, const char *tenant, const char *sub,
                     long ttl, char *err, size_t errlen)
{
    if (!tq_jwt_can_sign(signer)) {
        snprintf(err, errlen, "no signing key: RS256/ES256 need --jwt-private-key (or signing_kid in --jwt-keys)");
        return NULL;
    }
    const char *params[] = {tenant};
    PGresult *res = tq_pg_query(registry, "SELECT id::text FROM tenants WHERE name = $1", 1, params, err, errlen);
    if (res == NULL)
        return NULL;
    if (PQntuples(res) != 1) {
        snprintf(err, errlen, "no tenant named \"%s\"", tenant);
        PQclear(res);
        return NULL;
    }
    tq_jwt_claims claims = {0};
    snprintf(claims.tenant_id, sizeof(claims.tenant_id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (sub != NULL) {
        if (!tq_uuid_canonicalize(sub, strlen(sub), claims.sub)) {
            snprintf(err, errlen, "--sub must be a user id (uuid)");
            return NULL;
        }
        claims.has_sub = true;
    }
    claims.iat = (int64_t)time(NULL);
    claims.has_iat = true;
    claims.exp = claims.iat + ttl;
    char *token = tq_jwt_sign(signer, &claims);
    if (token == NULL)
        snprintf(err, errlen, "signing failed");
    return token;
}

int tq_cmd_token(int argc, char **argv)
{
    const char *registry = NULL, *tenant = NULL, *sub = NULL;
    long ttl = 3600;
    tq_jwt_settings js;
    tq_jwt_settings_init(&js);
    tq_option opts[] = {
        {"tenant", NULL, TQ_OPT_STRING, &tenant, "NAME", "the tenant the token is for (required)"},
        {"sub", NULL, TQ_OPT_STRING, &sub, "USER_ID", "the user the token speaks for (optional)"},
        {"ttl", NULL, TQ_OPT_INT, &ttl, "SECONDS", "lifetime (default 3600)"},
        {"registry", "TENANTQL_REGISTRY", TQ_OPT_STRING, &registry, "CONNINFO", "registry database"},
        {"jwt-secret", "TENANTQL_JWT_SECRET", TQ_OPT_STRING, &js.secret, "SECRET", "HS256 key (at least 32 bytes)"},
        {"jwt-issuer", "TENANTQL_JWT_ISSUER", TQ_OPT_STRING, &js.issuer, "ISS", "issuer claim (default tenantql)"},
        {"jwt-alg", "TENANTQL_JWT_ALG", TQ_OPT_STRING, &js.alg, "ALG", "HS256 (default), RS256 or ES256"},
        {"jwt-public-key", "TENANTQL_JWT_PUBLIC_KEY", TQ_OPT_STRING, &js.public_key_file, "FILE",
         "PEM public key (RS256/ES256)"},
        {"jwt-private-key", "TENANTQL_JWT_PRIVATE_KEY", TQ_OPT_STRING, &js.private_key_file, "FILE",
         "PEM private key that signs (RS256/ES256)"},
        {"jwt-keys", "TENANTQL_JWT_KEYS", TQ_OPT_STRING, &js.keys_file, "FILE",
         "JSON key set; its signing_kid signs"},
        {"jwt-audience", "TENANTQL_JWT_AUDIENCE", TQ_OPT_STRING, &js.audience, "AUD", "aud claim (default none)"},
        {0},
    };
    static const tq_command_help help = {"tenantql token --tenant NAME [--sub USER_ID] [--ttl SECONDS] [options]",
                                         "Prints a signed token for a tenant, for development and scripts."};
    int npos, rc = tq_options_parse(&help, opts, argc, argv, &npos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (tenant == NULL || ttl <= 0) {
        fprintf(stderr, "usage: %s\n", help.usage);
        return 2;
    }
    char err[512];
    tq_jwt_verifier *signer = tq_jwt_settings_load(&js, err, sizeof(err));
    if (signer == NULL) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 2;
    }
    PGconn *c = connect_registry(registry);
    if (c == NULL) {
        tq_jwt_verifier_free(signer);
        return 1;
    }
    char *token = tq_issue_token(c, signer, tenant, sub, ttl, err, sizeof(err));
    PQfinish(c);
    tq_jwt_verifier_free(signer);
    if (token == NULL) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    printf("%s\n", token);
    free(token);
    return 0;
}
