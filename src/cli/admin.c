/*
 * admin.c - `tenantql tenant ...` and `tenantql token`: short-lived commands against the
 * registry (blocking libpq is fine here). `tenantql migrate` is in migrate_cmd.c.
 */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tenantql/jwt_settings.h"
#include "tenantql/pg_admin.h"
#include "tenantql/secret.h"
#include "tenantql/server.h"
#include "tenantql/tenant_admin.h"
#include "tenantql/tenant_lifecycle.h"
#include "tenantql/tenant_move.h"
#include "tenantql/tenant_move_finish.h"
#include "tenantql/tenant_secrets.h"

/* --registry, which every command here needs, and the key ring of the tenants' sealed
 * passwords, which those that connect to tenant databases or store passwords need */
typedef struct admin_options {
    const char *registry;
    const char *secrets_key_file;
} admin_options;

static const tq_opt registry_option[] = {
    {TQ_OPT_FIELD(admin_options, registry), .name = "registry", .env = "TENANTQL_REGISTRY", .type = TQ_OPT_STRING,
     .metavar = "CONNINFO", .flags = TQ_OPTF_REQUIRED, .help = "libpq conninfo or URI of the registry database"},
    {TQ_OPT_FIELD(admin_options, secrets_key_file), .name = "secrets-key-file", .env = "TENANTQL_SECRETS_KEY_FILE",
     .type = TQ_OPT_STRING, .metavar = "FILE", .default_doc = "the keys in `TENANTQL_SECRETS_KEY`, else none",
     .help = "key ring of the tenants' sealed database passwords (see README, \"Secrets\"): the first key seals"},
    {0},
};

/* `token --platform` needs no registry: the same option, optional */
static const tq_opt optional_registry_option[] = {
    {TQ_OPT_FIELD(admin_options, registry), .name = "registry", .env = "TENANTQL_REGISTRY", .type = TQ_OPT_STRING,
     .metavar = "CONNINFO", .default_doc = "— (a tenant token needs it)",
     .help = "libpq conninfo or URI of the registry database"},
    {0},
};

/* Installs the key ring the options give, then connects to the registry; NULL after
 * printing why. */
static PGconn *connect_registry(const admin_options *ao)
{
    char err[512];
    if (tq_secret_install_from(ao->secrets_key_file, err, sizeof(err)) != 0) {
        fprintf(stderr, "tenantql: %s\n", err);
        return NULL;
    }
    PGconn *c = tq_pg_connect(ao->registry, err, sizeof(err));
    if (c == NULL)
        fprintf(stderr, "tenantql: cannot connect to the registry: %s\n", err);
    return c;
}

/* Parses a command whose only option is --registry and which takes npositional arguments
 * (then in argv[1..]); -1 to go on, else the exit code (0 after --help). */
static int parse_registry_command(const char *usage, const char *summary, admin_options *ao, int npositional, int argc,
                                  char **argv)
{
    const tq_opt_group groups[] = {{registry_option, ao, NULL}};
    const tq_opt_command cmd = {usage, summary, groups, 1};
    return tq_cli_parse(&cmd, npositional, argc, argv);
}

int tq_cli_parse(const tq_opt_command *cmd, int npositional, int argc, char **argv)
{
    int npos, rc = tq_opts_parse(cmd, argc, argv, &npos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    return npos == npositional ? -1 : tq_cli_usage(cmd);
}

int tq_cli_usage(const tq_opt_command *cmd)
{
    fprintf(stderr, "usage: %s\n", cmd->usage);
    return 2;
}

#define SPEC(member) TQ_OPT_FIELD(tq_tenant_spec, member)

static const tq_opt tenant_spec_options[] = {
    {SPEC(placement), .name = "placement", .type = TQ_OPT_STRING, .metavar = "database|schema",
     .default_doc = "`database`",
     .help = "`database`: a database of its own; `schema`: schema tenant_NAME of a shared database (`--database`), "
             "reached with the same role as its other tenants"},
    {SPEC(db_host), .name = "db-host", .type = TQ_OPT_STRING, .metavar = "HOST", .default_doc = "the registry's",
     .help = "tenant database host"},
    {SPEC(db_port), .name = "db-port", .type = TQ_OPT_STRING, .metavar = "PORT", .default_doc = "the registry's",
     .help = "tenant database port"},
    {SPEC(db_name), .name = "db-name", .type = TQ_OPT_STRING, .metavar = "NAME", .default_doc = "tenant_NAME",
     .help = "tenant database name (placement database)"},
    {SPEC(db_user), .name = "db-user", .type = TQ_OPT_STRING, .metavar = "USER", .default_doc = "the registry's",
     .help = "tenant database user"},
    {SPEC(db_password), .name = "db-password", .type = TQ_OPT_STRING, .metavar = "PASSWORD",
     .default_doc = "the registry's",
     .help = "tenant database password, sealed in the registry when a key ring is configured (`ps` shows it: "
             "prefer `--db-password-from`), or a reference `env:NAME` / `file:/PATH` kept as it is"},
    {SPEC(pool_options), .name = "pool-options", .type = TQ_OPT_STRING, .metavar = "JSON", .default_doc = "`{}`",
     .help = "pool options, e.g. '{\"max\":10}'"},
    {SPEC(quota), .name = "quota", .type = TQ_OPT_STRING, .metavar = "JSON",
     .default_doc = "`{}` (the server's defaults)",
     .help = "quota, e.g. '{\"rate\":50,\"burst\":100,\"in_flight\":20,\"db_ms_per_s\":500}'"},
    {0},
};

/* create's options of placement schema (the spec's db_name, under a name that says what it
 * is, and the tenant's role) */
typedef struct shared_options {
    const char *database;
    bool role;
    const char *role_name;
    const char *password_from;
} shared_options;

static const tq_opt shared_option_table[] = {
    {TQ_OPT_FIELD(shared_options, database), .name = "database", .type = TQ_OPT_STRING, .metavar = "SHARED_DB",
     .default_doc = "`" TQ_SHARED_DATABASE_DEFAULT "`",
     .help = "the shared database of placement schema, made when missing (owner: `--db-user`)"},
    {TQ_OPT_FIELD(shared_options, role), .name = "role", .type = TQ_OPT_FLAG,
     .help = "placement schema: a role of the tenant's own that may use its schema alone; every statement of the "
             "tenant runs as that role, so PostgreSQL refuses other tenants' schemas (see `tenant role`)"},
    {TQ_OPT_FIELD(shared_options, role_name), .name = "role-name", .type = TQ_OPT_STRING, .metavar = "ROLE",
     .default_doc = "`" TQ_TENANT_ROLE_PREFIX "NAME`", .help = "the role of `--role` (implies it)"},
    {TQ_OPT_FIELD(shared_options, password_from), .name = "db-password-from", .type = TQ_OPT_STRING,
     .metavar = "-|env:NAME|file:/PATH", .default_doc = "none",
     .help = "reads the tenant database password from standard input (`-`), a variable or a file now, instead of "
             "`--db-password` (sealed in the registry like it)"},
    {0},
};

/* A password from -, env:NAME or file:/PATH (standard input: its first line); malloc'ed
 * (tq_secret_free), NULL after printing why. */
static char *read_password_from(const char *source)
{
    char err[512];
    if (strcmp(source, "-") != 0) {
        char *pw = tq_secret_kind_of(source) == TQ_SECRET_REF ? tq_secret_resolve(source, err, sizeof(err)) : NULL;
        if (pw == NULL)
            fprintf(stderr, "tenantql: %s\n",
                    tq_secret_kind_of(source) == TQ_SECRET_REF ? err
                                                               : "the password comes from -, env:NAME or file:/PATH");
        return pw;
    }
    char *buf = calloc(1, TQ_SECRET_MAX_BYTES + 2);
    if (buf == NULL || fgets(buf, TQ_SECRET_MAX_BYTES + 2, stdin) == NULL) {
        fprintf(stderr, "tenantql: no password on standard input\n");
        free(buf);
        return NULL;
    }
    size_t n = strcspn(buf, "\r\n");
    if (n > TQ_SECRET_MAX_BYTES) {
        fprintf(stderr, "tenantql: the password is longer than %d bytes\n", TQ_SECRET_MAX_BYTES);
        tq_secret_free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* After storing a password: whether the registry keeps it sealed, to stderr when not. */
static void note_plain(void)
{
    if (tq_secret_process_ring() == NULL)
        fprintf(stderr, "tenantql: note: the password is stored in plain text: no key ring (--secrets-key-file "
                        "or " TQ_SECRET_KEY_ENV "); see README, \"Secrets\"\n");
}

/* The role named by --role-name, else the tenant's default one, into buf. */
static const char *role_name_of(const shared_options *so, const char *tenant, char *buf, size_t buflen)
{
    if (so->role_name != NULL)
        return so->role_name;
    snprintf(buf, buflen, "%s%s", TQ_TENANT_ROLE_PREFIX, tenant);
    return buf;
}

static int tenant_create(int argc, char **argv)
{
    admin_options ao;
    tq_tenant_spec spec = {0};
    shared_options so = {0};
    const tq_opt_group groups[] = {
        {tenant_spec_options, &spec, NULL}, {shared_option_table, &so, NULL}, {registry_option, &ao, NULL}};
    const tq_opt_command cmd = {
        "tenantql tenant create NAME [options]",
        "Creates the tenant's database (unless it exists), brings it to the newest migration and registers it.\n"
        "With --placement schema: creates the shared database (unless it exists) and the schema tenant_NAME in it,\n"
        "and migrates that schema instead; with --role as well, its statements run as a role of its own.",
        groups, 3};
    int rc = tq_cli_parse(&cmd, 1, argc, argv);
    if (rc >= 0)
        return rc;
    bool schema_placed = spec.placement != NULL && strcmp(spec.placement, "schema") == 0;
    if (so.database != NULL && !schema_placed) {
        fprintf(stderr, "tenantql: --database names the shared database of --placement schema; a database of the "
                        "tenant's own is --db-name\n");
        return 2;
    }
    if (spec.db_name != NULL && schema_placed) {
        fprintf(stderr, "tenantql: with --placement schema, the shared database is --database, not --db-name\n");
        return 2;
    }
    if (schema_placed)
        spec.db_name = so.database;
    spec.name = argv[1];
    char role_buf[80];
    if (so.role || so.role_name != NULL)
        spec.db_role = role_name_of(&so, spec.name, role_buf, sizeof(role_buf)); /* refused unless schema placed */
    if (so.password_from != NULL && spec.db_password != NULL) {
        fprintf(stderr, "tenantql: give --db-password or --db-password-from, not both\n");
        return 2;
    }
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char *from = so.password_from != NULL ? read_password_from(so.password_from) : NULL;
    if (so.password_from != NULL && from == NULL) {
        PQfinish(c);
        return 1;
    }
    if (from != NULL)
        spec.db_password = from;
    bool plain = spec.db_password == NULL || tq_secret_kind_of(spec.db_password) == TQ_SECRET_PLAIN;
    char id[37], err[512];
    rc = tq_tenant_create(c, &spec, false, id, err, sizeof(err));
    PQfinish(c);
    tq_secret_free(from);
    if (rc != 0) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    if (plain)
        note_plain();
    printf("%s\t%s\n", spec.name, id);
    return 0;
}

static int tenant_list(int argc, char **argv)
{
    admin_options ao;
    int rc = parse_registry_command("tenantql tenant list [options]", "Lists the registered tenants.", &ao, 0, argc,
                                    argv);
    if (rc >= 0)
        return rc;
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char err[512];
    /* quota, placement, db_schema and paused by way of to_jsonb: a registry not yet migrated
     * lists too; a paused tenant (a move under way, or one killed mid-way) says so */
    PGresult *res = tq_pg_query(c,
                                "SELECT name, id::text, CASE WHEN (to_jsonb(t) ->> 'offboarded_at') IS NOT NULL"
                                " THEN 'offboarded' WHEN NOT active THEN 'inactive'"
                                " WHEN (to_jsonb(t) ->> 'paused') = 'true' THEN 'paused' ELSE 'active' END,"
                                " db_host || ':' || db_port || '/' || db_name, pool_options::text,"
                                " coalesce((to_jsonb(t) -> 'quota')::text, '{}'),"
                                " coalesce(to_jsonb(t) ->> 'placement', 'database'),"
                                " coalesce(to_jsonb(t) ->> 'db_schema', 'public'),"
                                " coalesce(' role ' || (to_jsonb(t) ->> 'db_role'), '') FROM tenants t ORDER BY name",
                                0, NULL, err, sizeof(err));
    if (res == NULL) {
        fprintf(stderr, "tenantql: %s\n", err);
        PQfinish(c);
        return 1;
    }
    printf("%-16s %-36s %-8s %-9s %-24s %s\n", "NAME", "ID", "STATE", "PLACEMENT", "SCHEMA", "DATABASE");
    for (int i = 0; i < PQntuples(res); i++)
        printf("%-16s %-36s %-8s %-9s %-24s %s %s%s%s%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
               PQgetvalue(res, i, 2), PQgetvalue(res, i, 6), PQgetvalue(res, i, 7), PQgetvalue(res, i, 3),
               strcmp(PQgetvalue(res, i, 4), "{}") ? PQgetvalue(res, i, 4) : "",
               strcmp(PQgetvalue(res, i, 5), "{}") ? " quota " : "",
               strcmp(PQgetvalue(res, i, 5), "{}") ? PQgetvalue(res, i, 5) : "", PQgetvalue(res, i, 8));
    PQclear(res);
    PQfinish(c);
    return 0;
}

/* Closes the registry connection after a change: the exit status, with err when rc failed. */
static int finish_change(PGconn *c, int rc, const char *err)
{
    PQfinish(c);
    if (rc != 0) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    return 0;
}

static int tenant_set_active(int argc, char **argv, bool active)
{
    admin_options ao;
    int rc = parse_registry_command(active ? "tenantql tenant activate NAME [options]"
                                           : "tenantql tenant deactivate NAME [options]",
                                    active ? "Lets the tenant's requests in again."
                                           : "Refuses the tenant's requests (403) from now on; its data stays.",
                                    &ao, 1, argc, argv);
    if (rc >= 0)
        return rc;
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char err[512];
    return finish_change(c, tq_tenant_set_active(c, argv[1], active, err, sizeof(err)), err);
}

static int tenant_set_quota(int argc, char **argv)
{
    admin_options ao;
    int rc = parse_registry_command("tenantql tenant quota NAME JSON [options]",
                                    "Replaces the tenant's quota, e.g. '{\"rate\": 50, \"in_flight\": 20}' ({}: the "
                                    "server's defaults); running servers apply it within a second.",
                                    &ao, 2, argc, argv);
    if (rc >= 0)
        return rc;
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char err[512];
    return finish_change(c, tq_tenant_set_quota(c, argv[1], argv[2], err, sizeof(err)), err);
}

static int tenant_set_paused(int argc, char **argv, bool paused)
{
    admin_options ao;
    int rc = parse_registry_command(paused ? "tenantql tenant pause NAME [options]"
                                           : "tenantql tenant resume NAME [options]",
                                    paused ? "Holds the tenant's new requests (each waits up to the servers' "
                                             "--pause-max-wait-ms, then 503) until `tenant resume`; requests "
                                             "already running finish."
                                           : "Lets the tenant's held and new requests run again.",
                                    &ao, 1, argc, argv);
    if (rc >= 0)
        return rc;
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char err[512];
    return finish_change(c, tq_tenant_set_paused(c, argv[1], paused, err, sizeof(err)), err);
}

typedef struct move_options {
    const char *to;
    bool finish;
    long drain_wait_ms;
} move_options;

static const tq_opt move_option_table[] = {
    {TQ_OPT_FIELD(move_options, to), .name = "to", .type = TQ_OPT_STRING,
     .metavar = "schema[:DB]|database[:HOST:PORT]", .default_doc = "none: `--finish` instead",
     .help = "`schema`: schema tenant_NAME of DB (default `" TQ_SHARED_DATABASE_DEFAULT "`) on the registry's server; "
             "`database`: database tenant_NAME on HOST:PORT (default the registry's server); made and migrated with "
             "the registry's credentials, like `tenant create`"},
    {TQ_OPT_FIELD(move_options, finish), .name = "finish", .type = TQ_OPT_FLAG, .def = 0,
     .help = "instead of moving: drop the old copy the last move left behind, once it is unchanged since"},
    {TQ_OPT_FIELD(move_options, drain_wait_ms), .name = "drain-wait-ms", .type = TQ_OPT_INT, .metavar = "MS",
     .def = TQ_MOVE_DRAIN_WAIT_DEFAULT_MS, .min = 1000, .max = 600000,
     .help = "once paused, how long the tenant's running statements may take to finish before the move gives up"},
    {0},
};

/* Ctrl-C or SIGTERM during a move: it stops at its next step and undoes what it did (the
 * tenant must not stay paused because its mover was stopped). */
static volatile sig_atomic_t move_interrupted;

static void on_move_signal(int sig)
{
    (void)sig;
    move_interrupted = 1;
}

static int tenant_move(int argc, char **argv)
{
    admin_options ao;
    move_options mo;
    const tq_opt_group groups[] = {{move_option_table, &mo, NULL}, {registry_option, &ao, NULL}};
    const tq_opt_command cmd = {
        "tenantql tenant move NAME --to schema[:DB]|database[:HOST:PORT] [options]\n"
        "       tenantql tenant move NAME --finish [options]",
        "Moves the tenant's tables to another place while its traffic runs: copies them, pauses the tenant (its new\n"
        "requests wait), copies what changed, compares, and points the registry at the new place. The old copy\n"
        "stays until `tenant move NAME --finish` drops it. See README, \"Moving a tenant\".",
        groups, 2};
    int rc = tq_cli_parse(&cmd, 1, argc, argv);
    if (rc >= 0)
        return rc;
    if ((mo.to == NULL) == !mo.finish)
        return tq_cli_usage(&cmd);
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char err[1024];
    if (mo.finish) {
        rc = tq_tenant_move_finish(c, argv[1], stdout, err, sizeof(err));
    } else {
        struct sigaction sa = {.sa_handler = on_move_signal, .sa_flags = SA_RESTART}, old_int, old_term;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        tq_move_spec spec = {argv[1], mo.to, mo.drain_wait_ms, &move_interrupted};
        rc = tq_tenant_move(c, &spec, stdout, err, sizeof(err));
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    PQfinish(c);
    if (rc != 0) {
        fflush(stdout);
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    return 0;
}

static int tenant_set_pool(int argc, char **argv)
{
    admin_options ao;
    int rc = parse_registry_command("tenantql tenant set-pool NAME JSON [options]",
                                    "Replaces the tenant's pool options, e.g. '{\"max\": 10}' ({}: the defaults); "
                                    "unknown keys and bad values are refused. Running servers apply them within a "
                                    "second.",
                                    &ao, 2, argc, argv);
    if (rc >= 0)
        return rc;
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char err[512];
    return finish_change(c, tq_tenant_set_pool_options(c, argv[1], argv[2], err, sizeof(err)), err);
}

typedef struct delete_options {
    const char *export_dir;
    bool drop, force;
    long grace_s;
} delete_options;

static const tq_opt delete_option_table[] = {
    {TQ_OPT_FIELD(delete_options, export_dir), .name = "export-dir", .env = "TENANTQL_EXPORT_DIR",
     .type = TQ_OPT_STRING, .metavar = "DIR", .default_doc = "`" TQ_EXPORT_DIR_DEFAULT "` (in the working directory)",
     .help = "step 1: where the export goes (made 0700 when missing)"},
    {TQ_OPT_FIELD(delete_options, drop), .name = "drop", .type = TQ_OPT_FLAG, .def = 0,
     .help = "step 2: drop the offboarded tenant's database or schema and its registry row"},
    {TQ_OPT_FIELD(delete_options, force), .name = "force", .type = TQ_OPT_FLAG, .def = 0,
     .help = "with --drop: before the grace period is over"},
    {TQ_OPT_FIELD(delete_options, grace_s), .name = "grace-s", .env = "TENANTQL_OFFBOARD_GRACE_S", .type = TQ_OPT_INT,
     .metavar = "SECONDS", .def = TQ_OFFBOARD_GRACE_DEFAULT_S, .min = 0, .max = 366L * 86400,
     .help = "with --drop: how long after step 1 the tenant may be dropped (7 days: time to notice a mistake)"},
    {0},
};

static int tenant_delete(int argc, char **argv)
{
    admin_options ao;
    delete_options d;
    const tq_opt_group groups[] = {{delete_option_table, &d, NULL}, {registry_option, &ao, NULL}};
    const tq_opt_command cmd = {
        "tenantql tenant delete NAME [--export-dir DIR] [options]\n"
        "       tenantql tenant delete NAME --drop [--force] [--grace-s N] [options]",
        "Offboards the tenant in two steps. Without --drop: deactivates it and writes a pg_dump archive of its\n"
        "database or schema to DIR/NAME-<UTC time>.dump (again: prints the same file). With --drop, once the\n"
        "grace period since the first step is over (or --force): drops its database or schema and its registry\n"
        "row. See README, \"Offboarding a tenant\".",
        groups, 2};
    int rc = tq_cli_parse(&cmd, 1, argc, argv);
    if (rc >= 0)
        return rc;
    if (d.force && !d.drop)
        return tq_cli_usage(&cmd);
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char err[1024], path[4096];
    if (d.drop)
        rc = tq_tenant_drop(c, argv[1], d.grace_s, d.force, err, sizeof(err));
    else
        rc = tq_tenant_offboard(c, argv[1], d.export_dir, path, sizeof(path), err, sizeof(err));
    PQfinish(c);
    if (rc != TQ_TENANT_OK) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    if (d.drop)
        printf("%s\tdropped\n", argv[1]);
    else
        printf("%s\toffboarded\t%s\n", argv[1], path);
    return 0;
}

static const tq_opt grace_option_table[] = {
    {TQ_OPT_FIELD(delete_options, grace_s), .name = "grace-s", .env = "TENANTQL_OFFBOARD_GRACE_S", .type = TQ_OPT_INT,
     .metavar = "SECONDS", .def = TQ_OFFBOARD_GRACE_DEFAULT_S, .min = 0, .max = 366L * 86400,
     .help = "drop the tenants offboarded longer ago than this"},
    {0},
};

static int tenant_drop_expired(int argc, char **argv)
{
    admin_options ao;
    delete_options d;
    const tq_opt_group groups[] = {{grace_option_table, &d, NULL}, {registry_option, &ao, NULL}};
    const tq_opt_command cmd = {"tenantql tenant drop-expired [--grace-s N] [options]",
                                "Drops (as `tenant delete NAME --drop`) the tenants whose grace period since their "
                                "offboarding is over, oldest first, at most 16 per run (for cron).",
                                groups, 2};
    int rc = tq_cli_parse(&cmd, 0, argc, argv);
    if (rc >= 0)
        return rc;
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char err[1024];
    int dropped = 0;
    rc = tq_tenant_drop_expired(c, NULL, d.grace_s, &dropped, err, sizeof(err));
    PQfinish(c);
    printf("%d dropped\n", dropped);
    if (rc != TQ_TENANT_OK) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    return 0;
}

/* role's own option (create's --role-name) */
static const tq_opt role_option_table[] = {
    {TQ_OPT_FIELD(shared_options, role_name), .name = "role-name", .type = TQ_OPT_STRING, .metavar = "ROLE",
     .default_doc = "`" TQ_TENANT_ROLE_PREFIX "NAME`", .help = "with `on`: the role"},
    {0},
};

static int tenant_set_role(int argc, char **argv)
{
    admin_options ao;
    shared_options so = {0};
    const tq_opt_group groups[] = {{role_option_table, &so, NULL}, {registry_option, &ao, NULL}};
    const tq_opt_command cmd = {
        "tenantql tenant role NAME on|off [options]",
        "on: the tenant's statements run as a role of its own (created NOLOGIN unless it exists, granted to the\n"
        "shared login role), which may use the tenant's schema and no other, so PostgreSQL itself refuses another\n"
        "tenant's schema. off: they run as the shared login role again (the role and its grants stay).\n"
        "For placement schema only. Running servers apply it within a second.",
        groups, 2};
    int rc = tq_cli_parse(&cmd, 2, argc, argv);
    if (rc >= 0)
        return rc;
    bool on = strcmp(argv[2], "on") == 0, off = strcmp(argv[2], "off") == 0;
    if (!on && !off)
        return tq_cli_usage(&cmd);
    if (off && so.role_name != NULL) {
        fprintf(stderr, "tenantql: --role-name names the role of `on`\n");
        return 2;
    }
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char err[512], role_buf[80];
    const char *role = on ? role_name_of(&so, argv[1], role_buf, sizeof(role_buf)) : NULL;
    rc = tq_tenant_set_role(c, argv[1], role, err, sizeof(err));
    PQfinish(c);
    if (rc != 0) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    if (role != NULL)
        printf("%s\trole %s\n", argv[1], role);
    else
        printf("%s\tno role\n", argv[1]);
    return 0;
}

typedef struct password_options {
    const char *from;
    const char *reference;
} password_options;

static const tq_opt password_option_table[] = {
    {TQ_OPT_FIELD(password_options, from), .name = "from", .type = TQ_OPT_STRING, .metavar = "-|env:NAME|file:/PATH",
     .def_str = "-", .help = "where to read the new password now (`-`: the first line of standard input)"},
    {TQ_OPT_FIELD(password_options, reference), .name = "reference", .type = TQ_OPT_STRING,
     .metavar = "env:NAME|file:/PATH", .default_doc = "none",
     .help = "store this reference instead: the servers read the variable or the file themselves"},
    {0},
};

static int tenant_set_password(int argc, char **argv)
{
    admin_options ao;
    password_options po;
    const tq_opt_group groups[] = {{password_option_table, &po, NULL}, {registry_option, &ao, NULL}};
    const tq_opt_command cmd = {
        "tenantql tenant set-password NAME [--from -|env:NAME|file:/PATH | --reference env:NAME|file:/PATH] "
        "[options]",
        "Replaces the tenant's database password in the registry, sealed with the key ring's first key (plain text\n"
        "without a ring), or with --reference a reference the servers resolve. Never from the command line, which\n"
        "`ps` shows. Running servers connect with it within a second; their connections with the old one are\n"
        "drained. Change the role's password in PostgreSQL (ALTER ROLE ... PASSWORD) first.",
        groups, 2};
    int rc = tq_cli_parse(&cmd, 1, argc, argv);
    if (rc >= 0)
        return rc;
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char *pw = po.reference != NULL ? NULL : read_password_from(po.from);
    if (po.reference == NULL && pw == NULL) {
        PQfinish(c);
        return 1;
    }
    char err[512];
    bool sealed;
    int others = 0;
    rc = tq_tenant_set_password(c, argv[1], po.reference != NULL ? po.reference : pw, po.reference != NULL, &sealed,
                                &others, err, sizeof(err));
    tq_secret_free(pw);
    PQfinish(c);
    if (rc != 0) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    if (po.reference != NULL)
        printf("%s\tpassword by reference %s\n", argv[1], po.reference);
    else if (sealed)
        printf("%s\tpassword sealed with key %s\n", argv[1], tq_secret_ring_key_id(tq_secret_process_ring(), 0));
    else
        printf("%s\tpassword stored in plain text\n", argv[1]);
    if (po.reference == NULL)
        note_plain();
    if (others > 0)
        fprintf(stderr,
                "tenantql: note: %d other tenant(s) reach their database with the same role on that server; their "
                "rows keep their own password (set-password each of them)\n",
                others);
    return 0;
}

int tq_cmd_tenant(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "create") == 0)
        return tenant_create(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return tenant_list(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "deactivate") == 0)
        return tenant_set_active(argc - 1, argv + 1, false);
    if (argc >= 2 && strcmp(argv[1], "activate") == 0)
        return tenant_set_active(argc - 1, argv + 1, true);
    if (argc >= 2 && strcmp(argv[1], "quota") == 0)
        return tenant_set_quota(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "move") == 0)
        return tenant_move(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "pause") == 0)
        return tenant_set_paused(argc - 1, argv + 1, true);
    if (argc >= 2 && strcmp(argv[1], "resume") == 0)
        return tenant_set_paused(argc - 1, argv + 1, false);
    if (argc >= 2 && strcmp(argv[1], "role") == 0)
        return tenant_set_role(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "set-pool") == 0)
        return tenant_set_pool(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "delete") == 0)
        return tenant_delete(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "drop-expired") == 0)
        return tenant_drop_expired(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "set-password") == 0)
        return tenant_set_password(argc - 1, argv + 1);
    bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    fprintf(help ? stdout : stderr,
            "usage: tenantql tenant create NAME [--db-host H --db-port P --db-name D --db-user U --db-password W]\n"
            "                                   [--pool-options JSON] [--quota JSON]\n"
            "       tenantql tenant create NAME --placement schema [--database SHARED_DB] [--role [--role-name R]]\n"
            "                                   [--db-host H --db-port P --db-user U --db-password W] [...]\n"
            "       tenantql tenant list\n"
            "       tenantql tenant deactivate NAME\n"
            "       tenantql tenant activate NAME\n"
            "       tenantql tenant quota NAME JSON\n"
            "       tenantql tenant move NAME --to schema[:DB]|database[:HOST:PORT]\n"
            "       tenantql tenant move NAME --finish\n"
            "       tenantql tenant pause NAME\n"
            "       tenantql tenant resume NAME\n"
            "       tenantql tenant role NAME on|off [--role-name R]\n"
            "       tenantql tenant set-pool NAME JSON\n"
            "       tenantql tenant delete NAME [--export-dir DIR]\n"
            "       tenantql tenant delete NAME --drop [--force] [--grace-s N]\n"
            "       tenantql tenant drop-expired [--grace-s N]\n"
            "       tenantql tenant set-password NAME [--from -|env:NAME|file:/PATH | --reference REF]\n"
            "Each takes --registry CONNINFO (or TENANTQL_REGISTRY); --help on each tells more.\n");
    return help ? 0 : 2;
}

char *tq_issue_token(PGconn *registry, const tq_jwt_verifier *signer, const char *tenant, const char *sub,
                     long ttl, char *err, size_t errlen)
{
    const char *params[] = {tenant};
    PGresult *res = tq_pg_query(registry, "SELECT id::text FROM tenants WHERE name = $1", 1, params, err, errlen);
    if (res == NULL)
        return NULL;
    char *token = NULL;
    if (PQntuples(res) != 1)
        snprintf(err, errlen, "no tenant named \"%s\"", tenant);
    else
        token = tq_jwt_issue(signer, PQgetvalue(res, 0, 0), sub, (int64_t)time(NULL), ttl, err, errlen);
    PQclear(res);
    return token;
}

typedef struct token_options {
    const char *tenant, *sub;
    long ttl;
    bool platform;
} token_options;

static const tq_opt token_option_table[] = {
    {TQ_OPT_FIELD(token_options, tenant), .name = "tenant", .type = TQ_OPT_STRING, .metavar = "NAME",
     .default_doc = "none", .help = "the tenant the token is for (a tenant token needs it)"},
    {TQ_OPT_FIELD(token_options, sub), .name = "sub", .type = TQ_OPT_STRING, .metavar = "USER_ID",
     .default_doc = "none", .help = "the user (uuid) the token speaks for; with --platform, the operator's name"},
    {TQ_OPT_FIELD(token_options, platform), .name = "platform", .type = TQ_OPT_FLAG,
     .help = "a platform token for the admin API (scope platform, no tenant) instead of a tenant's"},
    {TQ_OPT_FIELD(token_options, ttl), .name = "ttl", .type = TQ_OPT_INT, .metavar = "SECONDS", .def = 3600, .min = 1,
     .max = 366 * 86400, .help = "lifetime"},
    {0},
};

/* serve's key options sign the token: the same flags, variables and defaults */
static const char *const token_key_options[] = {"jwt-secret", "jwt-alg",    "jwt-public-key", "jwt-private-key",
                                                "jwt-keys",   "jwt-issuer", "jwt-audience",   NULL};

/* A platform token needs no registry; a tenant's names its tenant by id, read there. */
static char *issue_token(const token_options *to, const admin_options *ao, tq_jwt_verifier *signer, char *err,
                         size_t errlen)
{
    if (to->platform) {
        if (to->tenant != NULL) {
            snprintf(err, errlen, "a platform token has no tenant: give --platform or --tenant, not both");
            return NULL;
        }
        return tq_jwt_issue_platform(signer, to->sub, time(NULL), to->ttl, err, errlen);
    }
    if (to->tenant == NULL) {
        snprintf(err, errlen, "--tenant NAME is required (or --platform for the admin API)");
        return NULL;
    }
    PGconn *c = ao->registry != NULL ? connect_registry(ao) : NULL;
    if (c == NULL) {
        snprintf(err, errlen, ao->registry != NULL ? "cannot reach the registry" : "--registry is required for a tenant token");
        return NULL;
    }
    char *token = tq_issue_token(c, signer, to->tenant, to->sub, to->ttl, err, errlen);
    PQfinish(c);
    return token;
}

int tq_cmd_token(int argc, char **argv)
{
    token_options to;
    admin_options ao = {0};
    tq_server_config keys;
    tq_server_config_init(&keys);
    const tq_opt_group groups[] = {
        {token_option_table, &to, NULL},
        {optional_registry_option, &ao, NULL},
        {tq_server_options, &keys, token_key_options}};
    const tq_opt_command cmd = {"tenantql token (--tenant NAME [--sub USER_ID] | --platform [--sub NAME]) [--ttl SECONDS] "
                                "[options]",
                                "Prints a signed token for a tenant, or a platform token for the admin API.", groups, 3};
    int rc = tq_cli_parse(&cmd, 0, argc, argv);
    if (rc >= 0)
        return rc;
    tq_jwt_settings js;
    tq_server_jwt_settings(&keys, &js);
    char err[512];
    tq_jwt_verifier *signer = tq_jwt_settings_load(&js, err, sizeof(err));
    if (signer == NULL) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 2;
    }
    char *token = issue_token(&to, &ao, signer, err, sizeof(err));
    tq_jwt_verifier_free(signer);
    if (token == NULL) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    printf("%s\n", token);
    free(token);
    return 0;
}

/* ---- tenantql secrets ---- */

static int secrets_rotate_key(int argc, char **argv)
{
    admin_options ao;
    int rc = parse_registry_command(
        "tenantql secrets rotate-key [options]",
        "Seals every tenant's database password (and the password of an old copy a move left) with the first key\n"
        "of the key ring, in one transaction; env:/file: references stay as they are. Servers whose rings hold the\n"
        "new key and the old keep serving throughout. See README, \"Secrets\", for the whole procedure.",
        &ao, 0, argc, argv);
    if (rc >= 0)
        return rc;
    PGconn *c = connect_registry(&ao);
    if (c == NULL)
        return 1;
    char err[512];
    tq_rotate_counts n;
    rc = tq_secrets_rotate(c, &n, err, sizeof(err));
    PQfinish(c);
    if (rc != 0) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 1;
    }
    printf("sealed with key %s: %d re-sealed, %d already, %d were plain text; %d reference(s) left as they are; %d "
           "old copy password(s) re-sealed\n",
           tq_secret_ring_key_id(tq_secret_process_ring(), 0), n.resealed, n.current, n.was_plain, n.references,
           n.moved_from);
    return 0;
}

/* Prints a new random key (base64 of 32 bytes) and its id, for a key ring. */
static int secrets_new_key(int argc, char **argv)
{
    const tq_opt_command cmd = {"tenantql secrets new-key",
                                "Prints a new random key for a key ring (base64 of 32 bytes) on standard output, and "
                                "its id on standard error.",
                                NULL, 0};
    int rc = tq_cli_parse(&cmd, 0, argc, argv);
    if (rc >= 0)
        return rc;
    if (sodium_init() < 0)
        return 2;
    unsigned char key[TQ_SECRET_KEY_BYTES];
    char b64[sodium_base64_ENCODED_LEN(TQ_SECRET_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL)], err[256];
    randombytes_buf(key, sizeof(key));
    sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof(key));
    tq_secret_ring *r = tq_secret_ring_parse(b64, err, sizeof(err));
    printf("%s\n", b64);
    fprintf(stderr, "key id %s\n", r != NULL ? tq_secret_ring_key_id(r, 0) : "?");
    tq_secret_ring_free(r);
    sodium_memzero(b64, sizeof(b64));
    return 0;
}

int tq_cmd_secrets(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "rotate-key") == 0)
        return secrets_rotate_key(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "new-key") == 0)
        return secrets_new_key(argc - 1, argv + 1);
    bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    fprintf(help ? stdout : stderr, "usage: tenantql secrets rotate-key [--secrets-key-file FILE] --registry CONNINFO\n"
                                    "       tenantql secrets new-key\n"
                                    "--help on each tells more; README, \"Secrets\", tells the rotation procedure.\n");
    return help ? 0 : 2;
}
