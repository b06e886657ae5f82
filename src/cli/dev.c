/*
 * dev.c - `tenantql dev`: the newcomer's one command. It starts a private PostgreSQL
 * cluster under .tenantql/, creates the registry and the demo tenants acme and globex
 * (each in its own database, reached through its own login role; or, with
 * --demo-placement schema, each in its own schema of one shared database, reached through
 * one role), fills them with deterministic demo data, prints tokens and curl examples,
 * serves until Ctrl-C and stops the cluster. A second run finds everything in place and
 * reuses it.
 */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "tenantql/log.h"
#include "tenantql/migrate.h"
#include "tenantql/pg_admin.h"
#include "tenantql/pg_cluster.h"
#include "tenantql/secret.h"
#include "tenantql/server.h"
#include "tenantql/strbuf.h"
#include "tenantql/tenant_admin.h"

#define REGISTRY_DB "tenantql"
#define DEMO_USERS 1000
#define DEMO_PRODUCTS 1000
#define DEV_TOKEN_TTL (24 * 3600)

static const char *const demo_tenants[] = {"acme", "globex"};

/* --demo-placement schema: the database the demo tenants share, and the one role that
 * all of them connect with (so that the server may share connections among them) */
#define SHARED_DB "tenant_shared"
#define SHARED_ROLE "tq_shared"

enum { PLACEMENT_DATABASE, PLACEMENT_SCHEMA };
static const char *const placements[] = {"database", "schema", NULL};

/* ---- small files in the dev directory ---- */

static void random_hex(char *out, size_t nbytes)
{
    unsigned char buf[64];
    randombytes_buf(buf, nbytes);
    sodium_bin2hex(out, nbytes * 2 + 1, buf, nbytes);
}

/* Reads dir/name, or creates it with fresh random hex: secrets survive restarts so that
 * printed tokens and stored passwords stay valid. */
static int secret_file(const char *dir, const char *name, char *out, size_t outlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        bool ok = fgets(out, (int)outlen, f) != NULL;
        fclose(f);
        out[strcspn(out, "\r\n")] = '\0';
        if (ok && strlen(out) >= 32)
            return 0;
    }
    random_hex(out, 32);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, out, strlen(out)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* ---- registry and tenants ---- */

static PGconn *open_registry(const tq_pg_cluster *c, char *conninfo, size_t len, char *err, size_t errlen)
{
    char admin[PATH_MAX + 128];
    tq_pg_cluster_conninfo(c, "postgres", admin, sizeof(admin));
    PGconn *pg = tq_pg_connect(admin, err, errlen);
    if (pg == NULL)
        return NULL;
    PGresult *res = tq_pg_query(pg, "SELECT 1 FROM pg_database WHERE datname = '" REGISTRY_DB "'", 0, NULL, err, errlen);
    int exists = res != NULL && PQntuples(res) > 0;
    PQclear(res);
    if (!exists && tq_pg_exec(pg, "CREATE DATABASE " REGISTRY_DB, err, errlen) != 0) {
        PQfinish(pg);
        return NULL;
    }
    PQfinish(pg);
    tq_pg_cluster_conninfo(c, REGISTRY_DB, conninfo, len);
    PGconn *reg = tq_pg_connect(conninfo, err, errlen);
    if (reg != NULL && tq_migrate(reg, TQ_MIGRATIONS_REGISTRY, err, errlen) < 0) {
        PQfinish(reg);
        return NULL;
    }
    return reg;
}

/* A login role per tenant: a tenant's credentials open its own database and no other
 * (with --demo-placement schema, one role for the shared database). */
static int ensure_role(PGconn *reg, const char *role, const char *password, char *err, size_t errlen)
{
    const char *params[] = {role};
    PGresult *res = tq_pg_query(reg, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, params, err, errlen);
    if (res == NULL)
        return -1;
    int exists = PQntuples(res) > 0;
    PQclear(res);
    char *qrole = PQescapeIdentifier(reg, role, strlen(role));
    char *qpass = PQescapeLiteral(reg, password, strlen(password));
    char sql[512];
    snprintf(sql, sizeof(sql), "%s ROLE %s LOGIN PASSWORD %s", exists ? "ALTER" : "CREATE", qrole, qpass);
    PQfreemem(qrole);
    PQfreemem(qpass);
    return tq_pg_exec(reg, sql, err, errlen);
}

static const char demo_users_sql[] =
    "INSERT INTO users (id, email, password, first_name, last_name, active, created_at, updated_at)"
    " SELECT md5($1 || ':user:' || i)::uuid,"
    "        format('user%s@%s.example', lpad(i::text, 4, '0'), $1),"
    "        $2,"
    "        (ARRAY['Ada','Alan','Grace','Edsger','Barbara','Donald','Ken','Dennis',"
    "               'Linus','Margaret','Niklaus','John','Frances','Leslie','Tony','Radia'])[1 + i % 16],"
    "        CASE WHEN i % 9 = 0 THEN NULL ELSE"
    "        (ARRAY['Lovelace','Turing','Hopper','Dijkstra','Liskov','Knuth','Thompson','Ritchie',"
    "               'Torvalds','Hamilton','Wirth','Backus','Allen','Lamport','Hoare','Perlman'])[1 + (i * 7) % 16] END,"
    "        i % 10 <> 0,"
    "        timestamptz '2026-01-01 00:00:00+00' + i * interval '1 hour 1.234567 second',"
    "        timestamptz '2026-01-01 00:00:00+00' + i * interval '1 hour 1.234567 second' + interval '1 day'"
    " FROM generate_series(1, $3::int) AS i"
    " UNION ALL SELECT md5($1 || ':admin')::uuid, format('admin@%s.example', $1), $4, initcap($1), 'Admin', true,"
    "        timestamptz '2025-12-31 23:00:00+00', timestamptz '2025-12-31 23:00:00+00'";

static const char demo_products_sql[] =
    "INSERT INTO products (id, name, description, price, stock_quantity, active, created_at, updated_at)"
    " SELECT md5($1 || ':product:' || i)::uuid,"
    "        initcap($1) || ' ' ||"
    "        (ARRAY['Rocket','Anvil','Widget','Gadget','Sprocket','Gizmo','Doohickey','Contraption'])[1 + i % 8]"
    "        || ' ' || (ARRAY['Mk I','Mk II','Pro','Lite','Max','Mini','Plus','XL','Classic','Turbo'])[1 + (i / 8) % 10]"
    "        || ' #' || i,"
    "        CASE WHEN i % 5 = 0 THEN NULL ELSE 'Demo product ' || i || ' of ' || initcap($1) END,"
    "        ((i * 7919) % 100000) / 100.0,"
    "        CASE WHEN i % 11 = 0 THEN 0 ELSE (i * 37) % 250 END,"
    "        i % 17 <> 0,"
    "        timestamptz '2025-06-01 00:00:00+00' + i * interval '37 minutes 0.000123 second',"
    "        timestamptz '2025-06-01 00:00:00+00' + i * interval '37 minutes 0.000123 second'"
    " FROM generate_series(1, $2::int) AS i";

static int hash_password(const char *password, char out[crypto_pwhash_STRBYTES])
{
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

static int fill_demo_data(PGconn *reg, const char *tenant, char *err, size_t errlen)
{
    PGconn *t = tq_tenant_connect(reg, tenant, err, errlen);
    if (t == NULL)
        return -1;
    PGresult *res = tq_pg_query(t, "SELECT count(*) FROM users", 0, NULL, err, errlen);
    int rc = res == NULL ? -1 : 0;
    bool empty = res != NULL && strcmp(PQgetvalue(res, 0, 0), "0") == 0;
    PQclear(res);
    if (rc == 0 && empty) {
        /* the demo users other than admin share one hash of a password nobody knows */
        char unknown[65], shared[crypto_pwhash_STRBYTES], admin[crypto_pwhash_STRBYTES], password[64];
        random_hex(unknown, 32);
        snprintf(password, sizeof(password), "%s-demo-password", tenant);
        char users[16], products[16];
        snprintf(users, sizeof(users), "%d", DEMO_USERS);
        snprintf(products, sizeof(products), "%d", DEMO_PRODUCTS);
        if (hash_password(unknown, shared) != 0 || hash_password(password, admin) != 0) {
            snprintf(err, errlen, "out of memory hashing passwords");
            rc = -1;
        } else {
            const char *up[] = {tenant, shared, users, admin};
            const char *pp[] = {tenant, products};
            res = tq_pg_query(t, demo_users_sql, 4, up, err, errlen);
            rc = res ? 0 : -1;
            PQclear(res);
            if (rc == 0) {
                res = tq_pg_query(t, demo_products_sql, 2, pp, err, errlen);
                rc = res ? 0 : -1;
                PQclear(res);
            }
        }
    }
    PQfinish(t);
    return rc;
}

/* The password the registry already has for the tenant's role, so that a second run
 * changes nothing; a fresh one (out, 49 bytes) when it has none. With the shared role,
 * any demo tenant's row has it. Returns whether the tenant itself is registered, or -1. */
static int demo_password(PGconn *reg, const char *name, const char *shared_role, char *out, size_t outlen, char *err,
                         size_t errlen)
{
    const char *params[] = {name, shared_role ? shared_role : ""};
    PGresult *res = tq_pg_query(reg,
                                "SELECT db_password, name = $1 FROM tenants"
                                " WHERE name = $1 OR (db_user = $2 AND db_name = '" SHARED_DB "')"
                                " ORDER BY name = $1 DESC LIMIT 1",
                                2, params, err, errlen);
    if (res == NULL)
        return -1;
    int known = PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] == 't';
    /* the row's password in whatever form it is stored (sealed with --secrets-key-file's ring) */
    char *stored = PQntuples(res) == 1 ? tq_secret_reveal(PQgetvalue(res, 0, 0), err, errlen) : NULL;
    if (stored != NULL)
        snprintf(out, outlen, "%s", stored);
    else if (PQntuples(res) == 1)
        known = -1;
    else
        random_hex(out, 24);
    tq_secret_free(stored);
    PQclear(res);
    return known;
}

/* Refuses a --dir whose demo tenants were made with the other placement: moving them
 * (data and all) is not something dev does behind its user's back. */
static int check_demo_placement(PGconn *reg, const char *dir, int placement, char *err, size_t errlen)
{
    const char *params[] = {placements[placement]};
    PGresult *res = tq_pg_query(reg,
                                "SELECT name, placement FROM tenants"
                                " WHERE name IN ('acme', 'globex') AND placement <> $1 ORDER BY name LIMIT 1",
                                1, params, err, errlen);
    if (res == NULL)
        return -1;
    int other = PQntuples(res) > 0;
    if (other)
        snprintf(err, errlen,
                 "the demo tenants of %s have placement %s (tenant %s), not %s; switching placement of an existing "
                 "--dir is not supported: start with --demo-placement %s, or use another --dir",
                 dir, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0), placements[placement], PQgetvalue(res, 0, 1));
    PQclear(res);
    return other ? -1 : 0;
}

static int ensure_demo_tenant(PGconn *reg, const tq_pg_cluster *c, const char *name, int placement, char *err,
                              size_t errlen)
{
    bool shared = placement == PLACEMENT_SCHEMA;
    char role[64], password[80], port[16], db[64], schema[64];
    if (shared) {
        snprintf(role, sizeof(role), "%s", SHARED_ROLE);
        snprintf(db, sizeof(db), "%s", SHARED_DB);
    } else {
        snprintf(role, sizeof(role), "tq_%s", name);
        snprintf(db, sizeof(db), "tenant_%s", name);
    }
    snprintf(port, sizeof(port), "%d", c->port);
    snprintf(schema, sizeof(schema), "tenant_%s", name);
    int known = demo_password(reg, name, shared ? SHARED_ROLE : NULL, password, sizeof(password), err, errlen);
    if (known < 0)
        return -1;
    if (known) {
        /* --pg-port may differ from the last run: point the tenant at this cluster */
        const char *moved[] = {name, port};
        PGresult *res = tq_pg_query(reg,
                                    "UPDATE tenants SET db_host = '127.0.0.1', db_port = $2::int"
                                    " WHERE name = $1 AND (db_host, db_port) IS DISTINCT FROM ('127.0.0.1', $2::int)",
                                    2, moved, err, errlen);
        if (res == NULL)
            return -1;
        PQclear(res);
    }
    if (ensure_role(reg, role, password, err, errlen) != 0)
        return -1;
    /* the tenant's role may not create databases: the cluster's superuser does it */
    if (tq_tenant_create_database(reg, db, role, err, errlen) != 0)
        return -1;
    tq_tenant_spec spec = {name, "127.0.0.1", port, db, role, password, NULL};
    spec.placement = placements[placement];
    spec.db_schema = shared ? schema : NULL;
    char id[37];
    if (tq_tenant_create(reg, &spec, true, id, err, errlen) != 0)
        return -1;
    char *qdb = PQescapeIdentifier(reg, db, strlen(db));
    char sql[256];
    snprintf(sql, sizeof(sql), "REVOKE CONNECT ON DATABASE %s FROM PUBLIC", qdb);
    PQfreemem(qdb);
    if (tq_pg_exec(reg, sql, err, errlen) != 0)
        return -1;
    return fill_demo_data(reg, name, err, errlen);
}

/* ---- the banner ---- */

/* What GraphiQL shows first in dev: run it as is with the token in the headers tab. */
static const char graphiql_sample_query[] =
    "# Welcome to tenantql. The headers tab below holds a token of acme's admin:\n"
    "# press the run button (or Ctrl-Enter) to ask acme's database.\n"
    "{\n"
    "  me {\n"
    "    email\n"
    "  }\n"
    "  users(first: 3) {\n"
    "    totalCount\n"
    "    edges {\n"
    "      node {\n"
    "        email\n"
    "        firstName\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n";

/* The banner printed once serving; *graphiql_headers gets the headers tab for GraphiQL
 * (the first demo tenant's token, malloc'ed) or stays NULL. */
static char *demo_banner(PGconn *reg, const tq_server_config *cfg, const char *dir, char **graphiql_headers)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    char err[256];
    tq_strbuf_printf(&b, "\n  tenantql is running.\n\n  GraphQL endpoint:  http://%s/graphql\n", cfg->listen);
    if (cfg->graphiql)
        tq_strbuf_printf(&b, "  GraphiQL:          http://%s/graphql in a browser (signed in as %s's admin)\n",
                         cfg->listen, demo_tenants[0]);
    tq_strbuf_printf(&b, "  Registry:          %s\n", cfg->registry);
    if (cfg->jwt_secret != NULL && cfg->jwt_keys == NULL && cfg->jwt_alg == NULL)
        tq_strbuf_printf(&b, "  JWT secret:        in %s/jwt-secret\n", dir);
    tq_strbuf_printf(&b, "\n");
    tq_jwt_settings js;
    tq_server_jwt_settings(cfg, &js);
    tq_jwt_verifier *signer = tq_jwt_settings_load(&js, err, sizeof(err)); /* the server repeats any error */
    for (size_t i = 0; i < sizeof(demo_tenants) / sizeof(demo_tenants[0]); i++) {
        const char *name = demo_tenants[i];
        char sub_query[160];
        snprintf(sub_query, sizeof(sub_query),
                 "SELECT md5('%s:admin')::uuid::text", name);
        PGresult *res = tq_pg_query(reg, sub_query, 0, NULL, err, sizeof(err));
        const char *sub = res ? PQgetvalue(res, 0, 0) : NULL;
        char *token = signer ? tq_issue_token(reg, signer, name, sub, DEV_TOKEN_TTL, err, sizeof(err)) : NULL;
        PQclear(res);
        tq_strbuf_printf(&b, "  Tenant %s (login admin@%s.example / %s-demo-password), token valid 24 h:\n", name, name,
                         name);
        tq_strbuf_printf(&b, "    export %s_TOKEN='%s'\n\n", name, token ? token : err);
        if (i == 0 && token != NULL) {
            /* a JWT is base64url and dots: nothing in it needs JSON escaping */
            tq_strbuf h = TQ_STRBUF_INIT;
            tq_strbuf_printf(&h, "{\"Authorization\": \"Bearer %s\"}", token);
            tq_strbuf_cstr(&h); /* detach does not terminate */
            *graphiql_headers = tq_strbuf_detach(&h, NULL);
        }
        free(token);
    }
    if (strcmp(cfg->admin_listen, "off") != 0) {
        char *platform = signer ? tq_jwt_issue_platform(signer, "dev", time(NULL), DEV_TOKEN_TTL, err, sizeof(err)) : NULL;
        tq_strbuf_printf(&b,
                         "  Admin API:         http://%s/tenants (OpenAPI at /openapi.json; also /metrics, /healthz),\n"
                         "  platform token valid 24 h:\n"
                         "    export PLATFORM_TOKEN='%s'\n"
                         "    curl -s http://%s/tenants -H \"Authorization: Bearer $PLATFORM_TOKEN\"\n\n",
                         cfg->admin_listen, platform ? platform : err, cfg->admin_listen);
        free(platform);
    }
    tq_jwt_verifier_free(signer);
    tq_strbuf_printf(&b,
                     "  Try it:\n"
                     "    curl -s http://%s/graphql -H \"Authorization: Bearer $acme_TOKEN\" \\\n"
                     "      -H 'Content-Type: application/json' \\\n"
                     "      -d '{\"query\":\"{ me { email } users(first: 3) { totalCount edges { node { email firstName } } } }\"}'\n\n"
                     "    curl -s http://%s/graphql -H \"Authorization: Bearer $globex_TOKEN\" \\\n"
                     "      -H 'Content-Type: application/json' \\\n"
                     "      -d '{\"query\":\"{ products(first: 3, orderBy: PRICE_DESC) { edges { node { name price } } } }\"}'\n\n"
                     "  Ctrl-C stops the server and the database.\n\n",
                     cfg->listen, cfg->listen);
    tq_strbuf_cstr(&b); /* fputs needs the NUL that detach does not add */
    return tq_strbuf_detach(&b, NULL);
}

/* dev's own options; serve's follow them */
typedef struct dev_options {
    const char *dir;
    int pg_port;
    int demo_placement; /* PLACEMENT_* */
} dev_options;

static const tq_opt dev_option_table[] = {
    {TQ_OPT_FIELD(dev_options, dir), .name = "dir", .env = "TENANTQL_DEV_DIR", .type = TQ_OPT_STRING, .metavar = "DIR",
     .def_str = ".tenantql", .help = "where the cluster and secrets live"},
    {TQ_OPT_FIELD(dev_options, pg_port), .name = "pg-port", .env = "TENANTQL_DEV_PG_PORT", .type = TQ_OPT_INT,
     .metavar = "PORT", .def = 54329, .min = 1, .max = 65535, .help = "PostgreSQL's port"},
    {TQ_OPT_FIELD(dev_options, demo_placement), .name = "demo-placement", .env = "TENANTQL_DEV_PLACEMENT",
     .type = TQ_OPT_CHOICE, .metavar = "PLACEMENT", .choices = placements, .def = PLACEMENT_DATABASE,
     .help = "where acme and globex live, fixed when `--dir` is first made: `database`, each a database of its own; "
             "`schema`, schemas `tenant_acme` and `tenant_globex` of the shared database `" SHARED_DB
             "`, reached with one role, `" SHARED_ROLE "` (see [Placement](#placement))"},
    {0},
};

typedef struct dev_parsed {
    dev_options dev;
    tq_server_config cfg;
} dev_parsed;

static int parse_dev(int argc, char **argv, void *target, char **text, int *npos, char *err, size_t errlen)
{
    dev_parsed *p = target;
    tq_server_config_init(&p->cfg);
    const tq_opt_group groups[] = {{dev_option_table, &p->dev, NULL}, {tq_server_options, &p->cfg, NULL}};
    const tq_opt_command cmd = {
        "tenantql dev [options]",
        "Starts a private PostgreSQL cluster under --dir, creates the registry and the demo tenants acme and globex\n"
        "(each in a database of its own, or with --demo-placement schema in schemas of one shared database),\n"
        "prints a token for each and serves until Ctrl-C, then stops the cluster. Takes every option of serve;\n"
        "--registry and --jwt-secret default to the private cluster and a secret kept in --dir.",
        groups, 2, "config", text};
    return tq_opts_parse_quiet(&cmd, argc, argv, npos, err, errlen);
}

/* What SIGHUP needs to read dev's configuration again: the command line, and what dev
 * filled in at start (the private registry, its JWT secret, the banner). */
typedef struct dev_reload {
    tq_cli_saved saved;
    const tq_server_config *start;
    const char *secret; /* dev's own JWT secret, or NULL when another key was configured */
} dev_reload;

static int reparse_dev(void *arg, tq_server_config *out, char **text, char *err, size_t errlen)
{
    dev_reload *r = arg;
    dev_parsed p;
    if (tq_cli_parse_again(&r->saved, parse_dev, &p, text, err, errlen) != 0)
        return -1;
    *out = p.cfg;
    if (out->registry == NULL)
        out->registry = r->start->registry;
    if (r->secret != NULL && out->jwt_secret == NULL && out->jwt_keys == NULL &&
        (out->jwt_alg == NULL || strcmp(out->jwt_alg, "HS256") == 0))
        out->jwt_secret = r->secret;
    out->ready_banner = r->start->ready_banner;
    out->graphiql_headers = r->start->graphiql_headers;
    out->graphiql_query = r->start->graphiql_query;
    out->reparse = r->start->reparse;
    out->reparse_arg = r->start->reparse_arg;
    return 0;
}

int tq_cmd_dev(int argc, char **argv)
{
    char **saved_argv = calloc((size_t)argc + 1, sizeof(char *));
    if (saved_argv == NULL)
        return 1;
    memcpy(saved_argv, argv, (size_t)argc * sizeof(char *));
    dev_parsed parsed;
    char *text = NULL, perr[4608];
    int npos, rc = parse_dev(argc, argv, &parsed, &text, &npos, perr, sizeof(perr));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "tenantql: %s\n", perr);
        free(text);
        free(saved_argv);
        return rc > 0 ? 0 : 2;
    }
    dev_options dev = parsed.dev;
    tq_server_config cfg = parsed.cfg;
    dev_reload reload = {{argc, saved_argv}, &cfg, NULL};
    tq_log_set_level(cfg.log_level);

    char err[1024] = "libsodium cannot start";
    tq_pg_cluster cluster;
    if (sodium_init() < 0 || tq_pg_cluster_prepare(&cluster, dev.dir, dev.pg_port, err, sizeof(err)) != 0 ||
        tq_pg_cluster_init(&cluster, err, sizeof(err)) < 0 || tq_pg_cluster_start(&cluster, err, sizeof(err)) != 0) {
        fprintf(stderr, "tenantql dev: %s\n", err);
        free(text);
        free(saved_argv);
        return 1;
    }
    tq_log_info("dev", "PostgreSQL %s on port %d (data in %s)", cluster.bindir, cluster.port, cluster.datadir);

    char secret[130], registry[PATH_MAX + 128];
    PGconn *reg = open_registry(&cluster, registry, sizeof(registry), err, sizeof(err));
    rc = reg == NULL ? 1 : 0;
    /* a secret of its own only when no other kind of key was configured */
    if (rc == 0 && cfg.jwt_secret == NULL && cfg.jwt_keys == NULL && (cfg.jwt_alg == NULL || strcmp(cfg.jwt_alg, "HS256") == 0)) {
        if (secret_file(cluster.dir, "jwt-secret", secret, sizeof(secret)) != 0) {
            snprintf(err, sizeof(err), "cannot keep the JWT secret in %s", cluster.dir);
            rc = 1;
        }
        cfg.jwt_secret = secret;
        reload.secret = secret;
    }
    if (rc == 0 && check_demo_placement(reg, dev.dir, dev.demo_placement, err, sizeof(err)) != 0)
        rc = 1;
    /* the demo tenants' passwords are sealed when a key ring is configured, as serve opens them */
    if (rc == 0 && tq_secret_install_from(cfg.secrets_key_file, err, sizeof(err)) != 0)
        rc = 1;
    for (size_t i = 0; rc == 0 && i < sizeof(demo_tenants) / sizeof(demo_tenants[0]); i++)
        if (ensure_demo_tenant(reg, &cluster, demo_tenants[i], dev.demo_placement, err, sizeof(err)) != 0)
            rc = 1;
    if (rc == 0) {
        if (cfg.registry == NULL)
            cfg.registry = registry;
        char *graphiql_headers = NULL;
        char *banner = demo_banner(reg, &cfg, cluster.dir, &graphiql_headers);
        cfg.ready_banner = banner;
        cfg.graphiql_headers = graphiql_headers;
        cfg.graphiql_query = graphiql_sample_query;
        cfg.reparse = reparse_dev;
        cfg.reparse_arg = &reload;
        PQfinish(reg);
        reg = NULL;
        rc = tq_server_run(&cfg);
        free(banner);
        free(graphiql_headers);
    } else {
        fprintf(stderr, "tenantql dev: %s\n", err);
    }
    if (reg != NULL)
        PQfinish(reg);
    if (tq_pg_cluster_stop(&cluster) != 0)
        tq_log_warn("dev", "PostgreSQL did not stop cleanly; see %s", cluster.logfile);
    else
        tq_log_info("dev", "PostgreSQL stopped");
    free(text);
    free(saved_argv);
    return rc;
}
