/*
 * tenant_move.c - `tenantql tenant move`, `pause` and `resume` (see tenant_move.h and
 * README "Moving a tenant"). Blocking libpq: the command line's.
 *
 * Why the steps are what they are:
 * - The first copy runs with traffic and the second (with the tenant paused) copies
 *   everything again: copying only what changed would need a change marker on every
 *   table, and revoked_tokens has none, nor would a deleted row leave one. The first copy
 *   proves before the pause that the target takes the data, and tells how long the
 *   pause will last (about as long as it took).
 * - Servers learn of the pause through the registry's NOTIFY, applied within a second,
 *   so the move trusts it only after 1.5 s, and then only once the source shows no
 *   statement of the tenant running three samples in a row (pg_stat_activity seen with
 *   the servers' own role): a request admitted before the pause may still be running.
 * - The second copy reads the source under LOCK TABLE ... IN SHARE MODE, taken before
 *   its snapshot: it waits for a write still running and keeps new ones out while it
 *   reads, so the snapshot holds every write that was ever answered.
 * - Each table's row count and checksum (a sum over rows of 64 bits of md5 of the row's
 *   text, the columns named in order, so it does not depend on their physical order or
 *   on the byte order of either server) are compared after the copy; the source's are
 *   kept in moved_from, so that --finish can tell whether anything wrote to the old copy
 *   after the switch (a server that never saw the move) before it drops it.
 * - Anything that fails before the switch resumes the tenant where it was and drops what
 *   the move made at the target (a failed target is of no use, and a retry needs an
 *   empty place); what failed and the row counts are in the message.
 */
#include "tenantql/tenant_move.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "move_internal.h"
#include "tenantql/clock.h"
#include "tenantql/migrate.h"
#include "tenantql/pg_admin.h"
#include "tenantql/registry.h"
#include "tenantql/secret.h"
#include "tenantql/strbuf.h"
#include "tenantql/tenant_admin.h"

/* moves (and pause/resume) of one tenant exclude each other: a session advisory lock on
 * the registry keyed by this and hashtext(name); an arbitrary constant, next to migrate's */
#define MOVE_LOCK "836826876, hashtext($1)"
#define PAUSE_SEEN_MS 1500 /* servers apply a registry change within a second */
#define QUIET_SAMPLES 3    /* samples in a row without a statement of the tenant */
#define SAMPLE_MS 100

/* ---- places ---- */

void move_place_free(move_place *p)
{
    free(p->host);
    free(p->port);
    free(p->db);
    free(p->schema);
    free(p->user);
    tq_secret_free(p->password);
    tq_secret_free(p->stored);
    memset(p, 0, sizeof(*p));
}

/* A malloc'ed copy of s ("" for NULL: libpq's PQpass may have none); the caller frees it. */
static char *dup_or_empty(const char *s)
{
    return strdup(s != NULL ? s : "");
}

void move_place_set(move_place *p, bool schema_placed, const char *host, const char *port, const char *db,
                    const char *schema, const char *user, const char *password)
{
    move_place_free(p);
    p->schema_placed = schema_placed;
    p->host = dup_or_empty(host);
    p->port = dup_or_empty(port);
    p->db = dup_or_empty(db);
    p->schema = dup_or_empty(schema);
    p->user = dup_or_empty(user);
    p->stored = dup_or_empty(password);
    p->password = tq_secret_reveal(p->stored, p->password_err, sizeof(p->password_err));
}

char *move_place_stored_password(const move_place *p, char *err, size_t errlen)
{
    bool sealed;
    if (tq_secret_kind_of(p->stored) != TQ_SECRET_PLAIN)
        return strdup(p->stored);
    return tq_secret_store(p->stored, &sealed, err, errlen);
}

static bool same_database(const move_place *a, const move_place *b)
{
    return strcmp(a->host, b->host) == 0 && strcmp(a->port, b->port) == 0 && strcmp(a->db, b->db) == 0;
}

/* "schema tenant_acme of tenantql_shared on HOST:PORT" or "database tenant_acme on HOST:PORT" */
const char *move_place_text(const move_place *p, char *buf, size_t len)
{
    if (p->schema_placed)
        snprintf(buf, len, "schema %s of %s on %s:%s", p->schema, p->db, p->host, p->port);
    else
        snprintf(buf, len, "database %s on %s:%s", p->db, p->host, p->port);
    return buf;
}

/* A session with p's credentials on database db (p's own when NULL), set up so that text
 * COPY and the checksums read every value the same way on both sides. */
PGconn *move_connect(const move_place *p, const char *db, char *err, size_t errlen)
{
    if (p->password == NULL) {
        snprintf(err, errlen, "the database password of %s:%s cannot be used: %s", p->host, p->port, p->password_err);
        return NULL;
    }
    const char *k[] = {
        "host", "port", "dbname", "user", "password", "application_name", "connect_timeout", "client_encoding", NULL};
    const char *v[] = {p->host, p->port, db != NULL ? db : p->db, p->user, p->password, MOVE_APPLICATION, "10",
                       "UTF8",  NULL};
    PGconn *c = tq_pg_connect_params(k, v, err, errlen);
    if (c != NULL && tq_pg_exec(c,
                                "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres;"
                                " SET extra_float_digits = 3",
                                err, errlen) != 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* ---- the move's state ---- */

typedef struct move {
    PGconn *registry;
    const tq_move_spec *spec;
    FILE *out;
    move_place src, dst;
    PGconn *s, *d;   /* sessions on the source and the target */
    bool created_db; /* what the clean-up undoes at the target */
    bool created_schema;
    bool migrated;
    bool paused;         /* the move set paused and has not cleared it */
    bool switch_unknown; /* the switch's answer was lost: the target may be live */
    move_table *tables;
    int ntables;
    char *err;
    size_t errlen;
} move;

static int fail(move *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(move *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, m->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Adds a clean-up problem to the message of the failure that caused the clean-up. */
static void add_note(move *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(move *m, const char *fmt, ...)
{
    size_t n = strlen(m->err);
    if (n + 3 >= m->errlen)
        return;
    memcpy(m->err + n, "; ", 3);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err + n + 2, m->errlen - n - 2, fmt, ap);
    va_end(ap);
}

static bool interrupted(move *m)
{
    if (m->spec->interrupted == NULL || !*m->spec->interrupted)
        return false;
    fail(m, "interrupted");
    return true;
}

/* Sleeps ms, in steps, unless interrupted (then false). */
static bool nap(move *m, uint64_t ms)
{
    uint64_t until = tq_clock_ms() + ms;
    for (uint64_t now = tq_clock_ms(); now < until; now = tq_clock_ms()) {
        if (interrupted(m))
            return false;
        uint64_t step = until - now < 50 ? until - now : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
    }
    return !interrupted(m);
}

static void close_sessions(move *m)
{
    if (m->s != NULL)
        PQfinish(m->s);
    if (m->d != NULL)
        PQfinish(m->d);
    m->s = m->d = NULL;
}

static void fmt_ms(uint64_t ms, char *buf, size_t len)
{
    if (ms >= 1000)
        snprintf(buf, len, "%.2f s", (double)ms / 1000.0);
    else
        snprintf(buf, len, "%llu ms", (unsigned long long)ms);
}

/* "schema"."table", quoted for c; malloc'ed */
char *move_qualified(PGconn *c, const char *schema, const char *relation)
{
    char *qs = PQescapeIdentifier(c, schema, strlen(schema)), *qt = PQescapeIdentifier(c, relation, strlen(relation));
    char *out = NULL;
    if (qs != NULL && qt != NULL) {
        size_t n = strlen(qs) + strlen(qt) + 2;
        out = malloc(n);
        snprintf(out, n, "%s.%s", qs, qt);
    }
    PQfreemem(qs);
    PQfreemem(qt);
    return out;
}

/* ---- the registry: lock, row, pause ---- */

/* 1 when this session now holds the tenant's move lock, 0 when another one does, -1 on
 * error (err filled). */
static int move_lock(PGconn *registry, const char *name, char *err, size_t errlen)
{
    const char *params[] = {name};
    PGresult *res = tq_pg_query(registry, "SELECT pg_try_advisory_lock(" MOVE_LOCK ")", 1, params, err, errlen);
    if (res == NULL)
        return -1;
    int got = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return got;
}

void move_unlock(PGconn *registry, const char *name)
{
    const char *params[] = {name};
    PQclear(tq_pg_query(registry, "SELECT pg_advisory_unlock(" MOVE_LOCK ")", 1, params, NULL, 0));
}

/* Takes the tenant's move lock, or says why not (err filled): TQ_TENANT_WRONG_STATE when
 * another session holds it, -1 when the registry failed. */
int move_lock_tenant(PGconn *registry, const char *name, char *err, size_t errlen)
{
    int got = move_lock(registry, name, err, errlen);
    if (got == 0)
        snprintf(err, errlen, "a move of tenant \"%s\" is running (it pauses and resumes the tenant itself)", name);
    return got == 1 ? TQ_TENANT_OK : got == 0 ? TQ_TENANT_WRONG_STATE : TQ_TENANT_FAILED;
}

/* Whether the registry has the pause migration's columns; -1 with err when it cannot tell
 * or has not. */
int move_check_registry(PGconn *registry, char *err, size_t errlen)
{
    PGresult *res = tq_pg_query(registry,
                                "SELECT count(*) FROM pg_attribute WHERE attrelid = 'tenants'::regclass"
                                " AND attname IN ('paused', 'moved_from') AND NOT attisdropped",
                                0, NULL, err, errlen);
    if (res == NULL)
        return -1;
    bool ok = atoi(PQgetvalue(res, 0, 0)) == 2;
    PQclear(res);
    if (!ok)
        snprintf(err, errlen, "the registry has no paused and moved_from columns yet: run `tenantql migrate` first");
    return ok ? 0 : -1;
}

static int update_paused(PGconn *registry, const char *name, bool paused, char *err, size_t errlen)
{
    const char *params[] = {name, paused ? "true" : "false"};
    PGresult *res = tq_pg_query(registry, "UPDATE tenants SET paused = $2::boolean WHERE name = $1", 2, params, err,
                                errlen);
    if (res == NULL)
        return -1;
    int n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n != 1)
        snprintf(err, errlen, "no tenant named \"%s\"", name);
    return n == 1 ? TQ_TENANT_OK : TQ_TENANT_NOT_FOUND;
}

int tq_tenant_set_paused(PGconn *registry, const char *name, bool paused, char *err, size_t errlen)
{
    if (move_check_registry(registry, err, errlen) != 0)
        return TQ_TENANT_FAILED;
    int locked = move_lock_tenant(registry, name, err, errlen);
    if (locked != TQ_TENANT_OK)
        return locked;
    int rc = update_paused(registry, name, paused, err, errlen);
    move_unlock(registry, name);
    return rc;
}

/* The move is over or failed: resume the tenant if this move paused it, also over a
 * registry connection that broke meanwhile (one reconnection). */
static void resume(move *m)
{
    if (!m->paused)
        return;
    char err[512];
    int rc = update_paused(m->registry, m->spec->name, false, err, sizeof(err));
    if (rc != 0 && PQstatus(m->registry) != CONNECTION_OK) {
        PQreset(m->registry);
        if (PQstatus(m->registry) == CONNECTION_OK)
            rc = update_paused(m->registry, m->spec->name, false, err, sizeof(err));
    }
    if (rc == 0)
        m->paused = false;
    else
        add_note(m, "the tenant is STILL PAUSED (%s): run `tenantql tenant resume %s`", err, m->spec->name);
}

#define SELECT_MOVE_ROW                                                                                                \
    "SELECT db_host, db_port::text, db_name, db_user, db_password, placement, db_schema, paused,"                      \
    " moved_from IS NOT NULL, active FROM tenants WHERE name = $1"

/* The tenant's row: its place (m->src); refuses a tenant that is paused or has an old
 * copy still to drop. */
static int read_source(move *m)
{
    const char *params[] = {m->spec->name};
    PGresult *res = tq_pg_query(m->registry, SELECT_MOVE_ROW, 1, params, m->err, m->errlen);
    if (res == NULL)
        return -1;
    int rc = 0;
    if (PQntuples(res) != 1)
        rc = fail(m, "no tenant named \"%s\"", m->spec->name);
    else if (PQgetvalue(res, 0, 7)[0] == 't')
        rc = fail(m, "tenant \"%s\" is paused: `tenantql tenant resume %s` first (a move pauses it itself)",
                  m->spec->name, m->spec->name);
    else if (PQgetvalue(res, 0, 8)[0] == 't')
        rc = fail(m,
                  "tenant \"%s\" still has the old copy of its last move: `tenantql tenant move %s --finish` drops "
                  "it (a move remembers one old copy)",
                  m->spec->name, m->spec->name);
    else
        move_place_set(&m->src, strcmp(PQgetvalue(res, 0, 5), "schema") == 0, PQgetvalue(res, 0, 0),
                       PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 3),
                       PQgetvalue(res, 0, 4));
    PQclear(res);
    return rc;
}

/* ---- the target ---- */

/* The role of the other tenants of a shared database, when they all have one: tenants of a
 * database share connections only when they reach it with the same role. */
static void shared_role(move *m, const char **user, const char **password, PGresult **keep)
{
    const char *params[] = {m->dst.host, m->dst.port, m->dst.db, m->spec->name};
    PGresult *res = tq_pg_query(m->registry,
                                "SELECT DISTINCT db_user, db_password FROM tenants WHERE placement = 'schema'"
                                " AND db_host = $1 AND db_port = $2::int AND db_name = $3 AND name <> $4",
                                4, params, NULL, 0);
    if (res != NULL && PQntuples(res) == 1) {
        *user = PQgetvalue(res, 0, 0);
        *password = PQgetvalue(res, 0, 1);
        *keep = res;
        return;
    }
    PQclear(res);
}

/* m->dst from --to: schema[:DB] (schema tenant_NAME of DB, default tenantql_shared, on the
 * registry's server) or database[:HOST:PORT] (database tenant_NAME on HOST:PORT, default
 * the registry's server), with the registry's credentials like `tenant create`. */
static int resolve_target(move *m)
{
    const char *to = m->spec->to, *name = m->spec->name;
    char own[80];
    snprintf(own, sizeof(own), "tenant_%s", name);
    const char *rhost = PQhost(m->registry), *rport = PQport(m->registry), *ruser = PQuser(m->registry),
               *rpass = PQpass(m->registry);
    if (strncmp(to, "schema", 6) == 0 && (to[6] == '\0' || to[6] == ':')) {
        const char *db = to[6] == ':' ? to + 7 : TQ_SHARED_DATABASE_DEFAULT;
        if (*db == '\0' || strlen(db) > 63)
            return fail(m, "--to schema:DB needs a database name (at most 63 bytes)");
        move_place_set(&m->dst, true, rhost, rport, db, own, ruser, rpass);
        const char *user = ruser, *password = rpass;
        PGresult *keep = NULL;
        shared_role(m, &user, &password, &keep);
        move_place_set(&m->dst, true, rhost, rport, db, own, user, password);
        PQclear(keep);
        return 0;
    }
    if (strncmp(to, "database", 8) == 0 && (to[8] == '\0' || to[8] == ':')) {
        char host[256];
        const char *port = rport;
        snprintf(host, sizeof(host), "%s", rhost != NULL ? rhost : "");
        if (to[8] == ':') {
            const char *hp = to + 9, *colon = strrchr(hp, ':');
            char *end;
            long p = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
            if (colon == NULL || colon == hp || (size_t)(colon - hp) >= sizeof(host) || *end != '\0' || p < 1 ||
                p > 65535)
                return fail(m, "--to database:HOST:PORT needs a host and a port (1-65535), not \"%s\"", hp);
            snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
            port = colon + 1;
        }
        move_place_set(&m->dst, false, host, port, own, "public", ruser, rpass);
        return 0;
    }
    return fail(m, "--to must be schema, schema:DB, database or database:HOST:PORT, not \"%s\"", to);
}

/* Refuses a target that is the source, or that another tenant's row names. */
static int check_target(move *m)
{
    char a[400];
    if (same_database(&m->src, &m->dst) && strcmp(m->src.schema, m->dst.schema) == 0)
        return fail(m, "tenant \"%s\" is already in %s", m->spec->name, move_place_text(&m->src, a, sizeof(a)));
    if (same_database(&m->src, &m->dst) && !m->src.schema_placed)
        return fail(m, "%s is the tenant's own database: a move needs another place",
                    move_place_text(&m->dst, a, sizeof(a)));
    const char *params[] = {m->dst.host, m->dst.port, m->dst.db, m->dst.schema, m->spec->name};
    /* a schema of a shared database is taken by a row naming it; a database of its own by
     * any row naming the database */
    PGresult *res = tq_pg_query(m->registry,
                                "SELECT name FROM tenants WHERE db_host = $1 AND db_port = $2::int AND db_name = $3"
                                " AND name <> $5 AND (placement = 'database' OR db_schema = $4"
                                " OR $4 = 'public') LIMIT 1",
                                5, params, m->err, m->errlen);
    if (res == NULL)
        return -1;
    int rc = 0;
    if (PQntuples(res) > 0)
        rc = fail(m, "%s belongs to tenant \"%s\"", move_place_text(&m->dst, a, sizeof(a)), PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

/* Relations in a schema of c's database: -1 on error. */
static int relations_in(PGconn *c, const char *schema, char *err, size_t errlen)
{
    const char *params[] = {schema};
    PGresult *res = tq_pg_query(c,
                                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
                                1, params, err, errlen);
    if (res == NULL)
        return -1;
    int n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

static int schema_exists(PGconn *c, const char *schema, char *err, size_t errlen)
{
    const char *params[] = {schema};
    PGresult *res = tq_pg_query(c, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, params, err, errlen);
    if (res == NULL)
        return -1;
    int n = PQntuples(res);
    PQclear(res);
    return n > 0;
}

/* A session on the target's server with the registry's credentials (for CREATE and DROP
 * DATABASE): the registry's own when it is that server. *own says whether to PQfinish it. */
static PGconn *target_server(move *m, bool *own, char *err, size_t errlen)
{
    *own = !(strcmp(m->dst.host, PQhost(m->registry)) == 0 && strcmp(m->dst.port, PQport(m->registry)) == 0);
    if (!*own)
        return m->registry;
    move_place reg = {0};
    move_place_set(&reg, false, m->dst.host, m->dst.port, "postgres", "public", PQuser(m->registry),
                   PQpass(m->registry));
    PGconn *c = move_connect(&reg, NULL, err, errlen);
    move_place_free(&reg);
    return c;
}

/* Makes the target's database when it is missing, refuses one that holds anything in the
 * tenant's schema, and migrates that schema (m->d stays open on it). */
static int prepare_target(move *m)
{
    bool own;
    PGconn *server = target_server(m, &own, m->err, m->errlen);
    if (server == NULL)
        return -1;
    const char *params[] = {m->dst.db};
    PGresult *res = tq_pg_query(server, "SELECT 1 FROM pg_database WHERE datname = $1", 1, params, m->err, m->errlen);
    int rc = res != NULL ? 0 : -1;
    if (res != NULL && PQntuples(res) == 0) {
        rc = tq_tenant_create_database(server, m->dst.db, m->dst.user, m->err, m->errlen);
        m->created_db = rc == 0;
    }
    PQclear(res);
    if (own)
        PQfinish(server);
    if (rc != 0 || (m->d = move_connect(&m->dst, NULL, m->err, m->errlen)) == NULL)
        return -1;
    char a[400];
    int n = relations_in(m->d, m->dst.schema, m->err, m->errlen);
    if (n != 0)
        return n < 0 ? -1
                     : fail(m, "%s already holds tables: a move only fills an empty place",
                            move_place_text(&m->dst, a, sizeof(a)));
    int exists = schema_exists(m->d, m->dst.schema, m->err, m->errlen);
    if (exists < 0)
        return -1;
    m->created_schema = m->dst.schema_placed && !exists;
    m->migrated = true; /* from here on the schema may hold tables of this move's */
    char detail[512];
    int applied = m->dst.schema_placed
                      ? tq_migrate_schema(m->d, TQ_MIGRATIONS_TENANT, m->dst.schema, detail, sizeof(detail))
                      : tq_migrate(m->d, TQ_MIGRATIONS_TENANT, detail, sizeof(detail));
    return applied < 0 ? fail(m, "migrating %s: %s", move_place_text(&m->dst, a, sizeof(a)), detail) : 0;
}

/* Drops every table of a schema (one that held none before this move). */
static int drop_tables(PGconn *c, const char *schema, char *err, size_t errlen)
{
    const char *params[] = {schema};
    PGresult *res = tq_pg_query(c,
                                "SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ') FROM pg_class c"
                                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1"
                                " AND c.relkind IN ('r', 'p')",
                                1, params, err, errlen);
    if (res == NULL)
        return -1;
    int rc = 0;
    if (!PQgetisnull(res, 0, 0)) {
        tq_strbuf sql = TQ_STRBUF_INIT;
        tq_strbuf_printf(&sql, "DROP TABLE %s CASCADE", PQgetvalue(res, 0, 0));
        rc = tq_pg_exec(c, tq_strbuf_cstr(&sql), err, errlen);
        tq_strbuf_free(&sql);
    }
    PQclear(res);
    return rc;
}

/* Undoes what the move made at the target: its database, else its schema, else the
 * tables it migrated into an empty one. */
static void drop_target(move *m)
{
    close_sessions(m);
    char err[512] = "", a[400];
    if (m->switch_unknown) {
        add_note(m, "%s is left as it is: the registry row may name it (see `tenantql tenant list`)",
                 move_place_text(&m->dst, a, sizeof(a)));
        return;
    }
    if (!m->created_db && !m->created_schema && !m->migrated)
        return;
    int rc = -1;
    if (m->created_db) {
        bool own;
        PGconn *server = target_server(m, &own, err, sizeof(err));
        if (server != NULL) {
            char *q = PQescapeIdentifier(server, m->dst.db, strlen(m->dst.db));
            tq_strbuf sql = TQ_STRBUF_INIT;
            tq_strbuf_printf(&sql, "DROP DATABASE IF EXISTS %s", q);
            rc = tq_pg_exec(server, tq_strbuf_cstr(&sql), err, sizeof(err));
            tq_strbuf_free(&sql);
            PQfreemem(q);
            if (own)
                PQfinish(server);
        }
    } else {
        PGconn *c = move_connect(&m->dst, NULL, err, sizeof(err));
        if (c != NULL && m->created_schema) {
            char *q = PQescapeIdentifier(c, m->dst.schema, strlen(m->dst.schema));
            tq_strbuf sql = TQ_STRBUF_INIT;
            tq_strbuf_printf(&sql, "SET lock_timeout = " LOCK_TIMEOUT "; DROP SCHEMA IF EXISTS %s CASCADE", q);
            rc = tq_pg_exec(c, tq_strbuf_cstr(&sql), err, sizeof(err));
            tq_strbuf_free(&sql);
            PQfreemem(q);
        } else if (c != NULL) {
            rc = drop_tables(c, m->dst.schema, err, sizeof(err));
        }
        if (c != NULL)
            PQfinish(c);
    }
    if (rc != 0)
        add_note(m, "what the move made at %s could not be dropped: %s", move_place_text(&m->dst, a, sizeof(a)), err);
    else
        fprintf(m->out, "  dropped what the move made at %s\n", move_place_text(&m->dst, a, sizeof(a)));
}

/* ---- the source's tables ---- */

void move_tables_free(move_table *tables, int n)
{
    for (int i = 0; i < n; i++) {
        free(tables[i].name);
        free(tables[i].columns);
        free(tables[i].sum);
    }
    free(tables);
}

/* The tables of a schema but tenantql_migrations (the target's own migrations write
 * that), each after the tables its foreign keys name, with their columns in order
 * (generated ones left out: COPY cannot write them). */
#define SELECT_TABLES                                                                                                  \
    "WITH RECURSIVE tbl AS ("                                                                                          \
    "  SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"                          \
    "  WHERE n.nspname = $1 AND c.relkind = 'r' AND NOT c.relispartition AND c.relname <> 'tenantql_migrations'),"     \
    " dep(oid, depth) AS ("                                                                                            \
    "  SELECT oid, 0 FROM tbl"                                                                                         \
    "  UNION ALL SELECT con.conrelid, d.depth + 1 FROM dep d JOIN pg_constraint con ON con.contype = 'f'"              \
    "  AND con.confrelid = d.oid AND con.conrelid <> d.oid AND con.conrelid IN (SELECT oid FROM tbl)"                  \
    "  WHERE d.depth < 32)"                                                                                            \
    " SELECT t.relname, (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a"        \
    "  WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')"                      \
    " FROM tbl t JOIN (SELECT oid, max(depth) AS depth FROM dep GROUP BY oid) d USING (oid)"                           \
    " ORDER BY d.depth, t.relname"

int move_load_tables(PGconn *c, const char *schema, move_table **out, int *n, char *err, size_t errlen)
{
    const char *params[] = {schema};
    PGresult *res = tq_pg_query(c, SELECT_TABLES, 1, params, err, errlen);
    if (res == NULL)
        return -1;
    *n = PQntuples(res);
    *out = calloc((size_t)(*n > 0 ? *n : 1), sizeof(move_table));
    for (int i = 0; i < *n; i++) {
        (*out)[i].name = strdup(PQgetvalue(res, i, 0));
        (*out)[i].columns = strdup(PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return 0;
}

/* Opens the source and reads its tables; refuses a source behind this build's
 * migrations (the target gets the newest tables) and one with sequences (a copy would
 * not carry their positions on). */
static int open_source(move *m)
{
    char a[400];
    if ((m->s = move_connect(&m->src, NULL, m->err, m->errlen)) == NULL)
        return -1;
    char *q = move_qualified(m->s, m->src.schema, "tenantql_migrations");
    tq_strbuf sql = TQ_STRBUF_INIT;
    tq_strbuf_printf(&sql, "SELECT coalesce(max(version), 0) FROM %s", q);
    free(q);
    PGresult *res = tq_pg_query(m->s, tq_strbuf_cstr(&sql), 0, NULL, m->err, m->errlen);
    tq_strbuf_free(&sql);
    if (res == NULL)
        return -1;
    int version = atoi(PQgetvalue(res, 0, 0)), latest = tq_migrate_latest_version(TQ_MIGRATIONS_TENANT);
    PQclear(res);
    if (version != latest)
        return fail(m,
                    "the tenant's tables in %s are at migration %d and this build's newest is %d: run `tenantql "
                    "migrate` first (the target gets the newest)",
                    move_place_text(&m->src, a, sizeof(a)), version, latest);
    const char *params[] = {m->src.schema};
    res = tq_pg_query(m->s,
                      "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                      " WHERE n.nspname = $1 AND c.relkind = 'S'",
                      1, params, m->err, m->errlen);
    if (res == NULL)
        return -1;
    int sequences = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (sequences > 0)
        return fail(m, "%s has sequences, whose positions a move does not carry over",
                    move_place_text(&m->src, a, sizeof(a)));
    return move_load_tables(m->s, m->src.schema, &m->tables, &m->ntables, m->err, m->errlen);
}

/* ---- copying ---- */

/* Copies one table from m->s to m->d, both already in their transactions: COPY TO STDOUT
 * on one, each row handed to COPY FROM STDIN on the other. Rows copied, or -1 (the
 * sessions are then in the middle of a COPY: the caller closes them). */
static long long copy_table(move *m, const move_table *t)
{
    char *from = move_qualified(m->s, m->src.schema, t->name), *to = move_qualified(m->d, m->dst.schema, t->name);
    tq_strbuf out = TQ_STRBUF_INIT, in = TQ_STRBUF_INIT;
    tq_strbuf_printf(&out, "COPY %s (%s) TO STDOUT", from, t->columns);
    tq_strbuf_printf(&in, "COPY %s (%s) FROM STDIN", to, t->columns);
    free(from);
    free(to);
    long long rows = -1;
    PGresult *res = PQexec(m->s, tq_strbuf_cstr(&out));
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        fail(m, "reading %s: %s", t->name, PQresultErrorMessage(res));
        goto done;
    }
    PQclear(res);
    res = PQexec(m->d, tq_strbuf_cstr(&in));
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        fail(m, "writing %s: %s", t->name, PQresultErrorMessage(res));
        goto done;
    }
    long long n = 0;
    for (;;) {
        char *buf;
        int len = PQgetCopyData(m->s, &buf, 0);
        if (len == -1)
            break;
        if (len < 0) {
            fail(m, "reading %s: %s", t->name, PQerrorMessage(m->s));
            goto done;
        }
        int put = PQputCopyData(m->d, buf, len);
        PQfreemem(buf);
        if (put != 1) {
            fail(m, "writing %s: %s", t->name, PQerrorMessage(m->d));
            goto done;
        }
        if (++n % 4096 == 0 && interrupted(m))
            goto done;
    }
    PQclear(res);
    res = PQgetResult(m->s);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fail(m, "reading %s: %s", t->name, PQresultErrorMessage(res));
        goto done;
    }
    PQclear(res);
    res = NULL;
    while ((res = PQgetResult(m->s)) != NULL)
        PQclear(res);
    if (PQputCopyEnd(m->d, NULL) != 1 || PQresultStatus(res = PQgetResult(m->d)) != PGRES_COMMAND_OK) {
        fail(m, "writing %s: %s", t->name, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(m->d));
        goto done;
    }
    PQclear(res);
    res = NULL;
    while ((res = PQgetResult(m->d)) != NULL)
        PQclear(res);
    rows = n;
done:
    PQclear(res);
    tq_strbuf_free(&out);
    tq_strbuf_free(&in);
    /* a message from libpq ends in a newline */
    size_t len = strlen(m->err);
    while (rows < 0 && len > 0 && (m->err[len - 1] == '\n' || m->err[len - 1] == ' '))
        m->err[--len] = '\0';
    return rows;
}

/* A list of the tables, qualified in schema, for LOCK and TRUNCATE; malloc'ed. */
static char *table_list(move *m, PGconn *c, const char *schema)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    for (int i = 0; i < m->ntables; i++) {
        char *q = move_qualified(c, schema, m->tables[i].name);
        tq_strbuf_printf(&b, "%s%s", i ? ", " : "", q);
        free(q);
    }
    size_t len;
    tq_strbuf_cstr(&b); /* the NUL goes with the data */
    return tq_strbuf_detach(&b, &len);
}

/* Copies every table in one transaction on the target from one snapshot of the source.
 * The second copy (paused) first empties the target's tables, and reads the source
 * under SHARE locks taken before its snapshot. Prints what it copied. */
static int copy_all(move *m, bool second, uint64_t *ms)
{
    uint64_t t0 = tq_clock_ms();
    if (m->ntables == 0) {
        *ms = 0;
        return 0;
    }
    char *src_list = table_list(m, m->s, m->src.schema), *dst_list = table_list(m, m->d, m->dst.schema);
    tq_strbuf sql = TQ_STRBUF_INIT, counts = TQ_STRBUF_INIT;
    int rc = -1;
    if (tq_pg_exec(m->d, "BEGIN", m->err, m->errlen) != 0)
        goto done;
    if (second) {
        tq_strbuf_printf(&sql, "TRUNCATE %s", dst_list);
        if (tq_pg_exec(m->d, tq_strbuf_cstr(&sql), m->err, m->errlen) != 0)
            goto done;
        sql.len = 0;
        tq_strbuf_printf(&sql,
                         "BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL lock_timeout = " LOCK_TIMEOUT
                         "; LOCK TABLE %s IN SHARE MODE",
                         src_list);
    } else {
        tq_strbuf_printf(&sql, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    }
    if (tq_pg_exec(m->s, tq_strbuf_cstr(&sql), m->err, m->errlen) != 0)
        goto done;
    long long total = 0;
    for (int i = 0; i < m->ntables; i++) {
        long long rows = copy_table(m, &m->tables[i]);
        if (rows < 0)
            goto done;
        total += rows;
        tq_strbuf_printf(&counts, "%s%s %lld", i ? ", " : "", m->tables[i].name, rows);
    }
    if (tq_pg_exec(m->s, "COMMIT", m->err, m->errlen) != 0 || tq_pg_exec(m->d, "COMMIT", m->err, m->errlen) != 0)
        goto done;
    *ms = tq_clock_ms() - t0;
    char took[32];
    fmt_ms(*ms, took, sizeof(took));
    fprintf(m->out, "  %s copy: %lld rows (%s) in %s%s\n", second ? "second" : "first", total, tq_strbuf_cstr(&counts),
            took, second ? ", paused" : ", traffic running");
    rc = 0;
done:
    if (rc != 0)
        close_sessions(m); /* mid-COPY or mid-transaction: nothing of it is kept */
    free(src_list);
    free(dst_list);
    tq_strbuf_free(&sql);
    tq_strbuf_free(&counts);
    return rc;
}

/* A table's row count and checksum (see the top of the file); -1 on error. */
int move_checksum(PGconn *c, const char *schema, const move_table *t, long long *rows, char **sum, char *err,
                  size_t errlen)
{
    char *q = move_qualified(c, schema, t->name);
    tq_strbuf sql = TQ_STRBUF_INIT;
    tq_strbuf_printf(&sql,
                     "SELECT count(*), coalesce(sum(('x' || left(md5(ROW(%s)::text), 16))::bit(64)::bigint), 0)"
                     " FROM %s",
                     t->columns, q);
    free(q);
    PGresult *res = tq_pg_query(c, tq_strbuf_cstr(&sql), 0, NULL, err, errlen);
    tq_strbuf_free(&sql);
    if (res == NULL)
        return -1;
    *rows = atoll(PQgetvalue(res, 0, 0));
    *sum = strdup(PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

/* Compares every table of the source and the target; the source's figures stay in
 * m->tables for moved_from. */
static int compare(move *m)
{
    for (int i = 0; i < m->ntables; i++) {
        move_table *t = &m->tables[i];
        long long target_rows;
        char *target_sum = NULL;
        free(t->sum);
        t->sum = NULL;
        if (move_checksum(m->s, m->src.schema, t, &t->rows, &t->sum, m->err, m->errlen) != 0 ||
            move_checksum(m->d, m->dst.schema, t, &target_rows, &target_sum, m->err, m->errlen) != 0)
            return -1;
        bool same = t->rows == target_rows && strcmp(t->sum, target_sum) == 0;
        free(target_sum);
        if (!same)
            return fail(m,
                        "after the second copy, table %s differs: %lld rows at the source, %lld at the target%s (a "
                        "write the pause did not hold?)",
                        t->name, t->rows, target_rows, t->rows == target_rows ? ", checksums differ" : "");
    }
    fprintf(m->out, "  compared: every table has the same rows and checksum at both places\n");
    return 0;
}

/* ---- pausing ---- */

/* After the pause: 1.5 s for every server to apply it, then until the source shows no
 * statement of the tenant running QUIET_SAMPLES times in a row, at most drain_wait_ms
 * from the pause. For a schema of a shared database a statement is the tenant's when it
 * names the schema (servers name it in every statement); in a database of its own, any
 * statement of a server (application_name tenantql). Servers reach the tenant with its
 * row's role, the one this session has: their sessions' state and text are visible to
 * it, and sessions of other roles (whose state PostgreSQL hides) are not the tenant's. */
static int wait_drained(move *m, uint64_t paused_at)
{
    long limit = m->spec->drain_wait_ms > 0 ? m->spec->drain_wait_ms : TQ_MOVE_DRAIN_WAIT_DEFAULT_MS;
    if (!nap(m, PAUSE_SEEN_MS))
        return -1;
    char needle[80];
    snprintf(needle, sizeof(needle), "\"%s\".", m->src.schema);
    const char *params[] = {m->src.schema_placed ? "schema" : "database", needle};
    int quiet = 0, running = 0;
    while (quiet < QUIET_SAMPLES) {
        if (tq_clock_ms() - paused_at > (uint64_t)limit)
            return fail(m,
                        "the tenant still had %d statement(s) running at its place %ld ms after the pause (a long "
                        "statement, or a server that did not see the pause)",
                        running, limit);
        PGresult *res = tq_pg_query(m->s,
                                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                    " AND pid <> pg_backend_pid() AND usename = current_user AND state = 'active'"
                                    " AND CASE WHEN $1 = 'schema'"
                                    " THEN strpos(query, $2) > 0 ELSE application_name = 'tenantql' END",
                                    2, params, m->err, m->errlen);
        if (res == NULL)
            return -1;
        running = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        quiet = running == 0 ? quiet + 1 : 0;
        if (quiet < QUIET_SAMPLES && !nap(m, SAMPLE_MS))
            return -1;
    }
    char took[32];
    fmt_ms(tq_clock_ms() - paused_at, took, sizeof(took));
    fprintf(m->out, "  paused; servers hold its new requests; no statement of it running after %s\n", took);
    return 0;
}

/* ---- the switch ---- */

/* moved_from's JSON (without moved_at, which the registry adds), its password in the
 * form a row keeps (move_place_stored_password); malloc'ed, NULL with err filled. */
static char *moved_from_json(move *m, char *err, size_t errlen)
{
    const move_place *p = &m->src;
    char *password = move_place_stored_password(p, err, errlen);
    if (password == NULL)
        return NULL;
    json_t *tables = json_object();
    for (int i = 0; i < m->ntables; i++)
        json_object_set_new(tables, m->tables[i].name,
                            json_pack("{s:I, s:s}", "rows", (json_int_t)m->tables[i].rows, "sum", m->tables[i].sum));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "placement",
                          p->schema_placed ? "schema" : "database", "host", p->host, "port", p->port, "db", p->db,
                          "schema", p->schema, "user", p->user, "password", password, "tables", tables);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    tq_secret_free(password);
    return text;
}

/* 1 when the row names the target (and is no longer paused), 0 when it does not, -1 when
 * the registry cannot say. For a switch whose answer was lost. */
static int row_at_target(move *m)
{
    const char *params[] = {m->spec->name, m->dst.host, m->dst.port, m->dst.db, m->dst.schema};
    PGresult *res = tq_pg_query(m->registry,
                                "SELECT 1 FROM tenants WHERE name = $1 AND db_host = $2 AND db_port = $3::int"
                                " AND db_name = $4 AND db_schema = $5 AND NOT paused",
                                5, params, NULL, 0);
    int rc = res == NULL ? -1 : PQntuples(res) == 1;
    PQclear(res);
    return rc;
}

/* Points the row at the target, ends the pause and remembers the old copy, in one
 * UPDATE: servers go from "paused" straight to the new place. Only if the row is still
 * paused and at the source (nobody resumed or edited it meanwhile). */
static int switch_row(move *m)
{
    char err[512];
    char *from = moved_from_json(m, err, sizeof(err));
    char *dst_password = from != NULL ? move_place_stored_password(&m->dst, err, sizeof(err)) : NULL;
    if (dst_password == NULL) {
        tq_secret_free(from);
        return fail(m, "sealing the tenant's password: %s", err);
    }
    const char *params[] = {m->spec->name,
                            m->dst.host,
                            m->dst.port,
                            m->dst.db,
                            m->dst.user,
                            dst_password,
                            m->dst.schema_placed ? "schema" : "database",
                            m->dst.schema,
                            from,
                            m->src.host,
                            m->src.port,
                            m->src.db,
                            m->src.schema};
    PGresult *res = tq_pg_query(m->registry,
                                "UPDATE tenants SET db_host = $2, db_port = $3::int, db_name = $4, db_user = $5,"
                                " db_password = $6, placement = $7, db_schema = $8, paused = false,"
                                " moved_from = $9::jsonb || jsonb_build_object('moved_at', now())"
                                " WHERE name = $1 AND paused AND db_host = $10 AND db_port = $11::int"
                                " AND db_name = $12 AND db_schema = $13",
                                13, params, err, sizeof(err));
    tq_secret_scrub_error(err); /* a DETAIL may quote the row */
    tq_secret_free(from);
    tq_secret_free(dst_password);
    if (res != NULL) {
        int n = atoi(PQcmdTuples(res));
        PQclear(res);
        if (n == 1) {
            m->paused = false;
            return 0;
        }
        return fail(m, "the tenant's row changed during the move (resumed or edited by hand): nothing switched");
    }
    if (PQstatus(m->registry) != CONNECTION_OK) {
        /* the answer was lost: the registry says whether the UPDATE committed */
        PQreset(m->registry);
        int at = PQstatus(m->registry) == CONNECTION_OK ? row_at_target(m) : -1;
        if (at == 1) {
            m->paused = false;
            return 0;
        }
        m->switch_unknown = at < 0; /* then the target is never dropped */
    }
    return fail(m, "switching the registry row: %s", err);
}

/* ---- the move ---- */

static int run_move(move *m)
{
    char a[400], b[400], took[32];
    if (resolve_target(m) != 0 || check_target(m) != 0)
        return -1;
    fprintf(m->out, "tenant %s: from %s to %s\n", m->spec->name, move_place_text(&m->src, a, sizeof(a)),
            move_place_text(&m->dst, b, sizeof(b)));
    uint64_t t0 = tq_clock_ms();
    if (open_source(m) != 0 || prepare_target(m) != 0)
        return -1;
    fmt_ms(tq_clock_ms() - t0, took, sizeof(took));
    fprintf(m->out, "  target ready (%s, migrated) in %s\n",
            m->created_db       ? "database created"
            : m->created_schema ? "schema created"
                                : "empty schema",
            took);
    uint64_t first_ms, second_ms;
    if (interrupted(m) || copy_all(m, false, &first_ms) != 0 || interrupted(m))
        return -1;

    if (update_paused(m->registry, m->spec->name, true, m->err, m->errlen) != 0)
        return -1;
    m->paused = true;
    uint64_t paused_at = tq_clock_ms();
    if (wait_drained(m, paused_at) != 0 || copy_all(m, true, &second_ms) != 0 || compare(m) != 0 || interrupted(m) ||
        switch_row(m) != 0)
        return -1;
    fmt_ms(tq_clock_ms() - paused_at, took, sizeof(took));
    fprintf(m->out, "  switched: tenant %s is served from %s; it was paused for %s\n", m->spec->name,
            move_place_text(&m->dst, b, sizeof(b)), took);
    fmt_ms(tq_clock_ms() - t0, took, sizeof(took));
    fprintf(m->out, "  done in %s; the old copy stays in %s: `tenantql tenant move %s --finish` drops it\n", took,
            move_place_text(&m->src, a, sizeof(a)), m->spec->name);
    return 0;
}

int tq_tenant_move(PGconn *registry, const tq_move_spec *spec, FILE *out, char *err, size_t errlen)
{
    move m = {.registry = registry, .spec = spec, .out = out, .err = err, .errlen = errlen};
    err[0] = '\0';
    if (!tq_tenant_name_valid(spec->name)) {
        snprintf(err, errlen, "invalid tenant name \"%s\"", spec->name);
        return -1;
    }
    if (move_check_registry(registry, err, errlen) != 0 || move_lock_tenant(registry, spec->name, err, errlen) != 0)
        return -1;
    int rc = read_source(&m);
    if (rc == 0 && (rc = run_move(&m)) != 0) {
        /* the tenant first, its requests are waiting; then the target */
        resume(&m);
        drop_target(&m);
        fprintf(out, "  the move failed; tenant %s stays where it was%s\n", spec->name,
                m.paused ? " but is STILL PAUSED" : " and is not paused");
    }
    close_sessions(&m);
    move_tables_free(m.tables, m.ntables);
    move_place_free(&m.src);
    move_place_free(&m.dst);
    move_unlock(registry, spec->name);
    return rc;
}
