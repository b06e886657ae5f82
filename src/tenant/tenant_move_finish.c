/*
 * tenant_move_finish.c - `tenantql tenant move NAME --finish` (see tenant_move_finish.h):
 * drops the copy a move left behind, the registry row's moved_from.
 *
 * The old copy is dropped only when that cannot lose anything: it must be where the row
 * no longer points and no other tenant's row names, each of its tables must still have
 * the row count and checksum the move recorded at the switch (a server that never saw
 * the move would have written there: those rows exist nowhere else), and a database of
 * its own must hold nothing but its public tables and have no session left (servers
 * close a retired pool's connections within a second or two).
 */
#include "tenantql/tenant_move_finish.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "move_internal.h"
#include "tenantql/clock.h"
#include "tenantql/pg_admin.h"
#include "tenantql/strbuf.h"

#define FINISH_SESSIONS_MS 10000 /* how long sessions on the old database may take to go */

/* The old copy's place and recorded tables from moved_from's JSON; -1 when it is not what
 * a move writes. */
static int parse_moved_from(const char *text, move_place *p, json_t **tables)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    const char *placement, *host, *port, *db, *schema, *user, *password;
    json_t *t;
    if (o == NULL ||
        json_unpack(o, "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "placement", &placement, "host", &host, "port",
                    &port, "db", &db, "schema", &schema, "user", &user, "password", &password, "tables", &t) != 0 ||
        !json_is_object(t)) {
        json_decref(o);
        return -1;
    }
    move_place_set(p, strcmp(placement, "schema") == 0, host, port, db, schema, user, password);
    *tables = json_incref(t);
    json_decref(o);
    return 0;
}

/* Whether the old copy's tables still hold exactly what the move recorded at the switch;
 * -1 with err naming the first that does not (or a failure). */
static int verify_untouched(PGconn *c, const move_place *old, json_t *recorded, char *err, size_t errlen)
{
    move_table *tables;
    int n;
    if (move_load_tables(c, old->schema, &tables, &n, err, errlen) != 0)
        return -1;
    int rc = 0;
    if ((size_t)n != json_object_size(recorded)) {
        snprintf(err, errlen, "the old copy has %d table(s), the move recorded %zu", n, json_object_size(recorded));
        rc = -1;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        json_t *r = json_object_get(recorded, tables[i].name);
        long long rows;
        char *sum = NULL;
        if (move_checksum(c, old->schema, &tables[i], &rows, &sum, err, errlen) != 0) {
            rc = -1;
        } else if (r == NULL || json_integer_value(json_object_get(r, "rows")) != rows ||
                   json_string_value(json_object_get(r, "sum")) == NULL ||
                   strcmp(json_string_value(json_object_get(r, "sum")), sum) != 0) {
            snprintf(err, errlen,
                     "table %s of the old copy changed after the move (%lld rows now, %lld then): something wrote "
                     "to it - a server that did not see the move? Carry those rows over by hand, then clear "
                     "moved_from in the registry",
                     tables[i].name, rows, r != NULL ? (long long)json_integer_value(json_object_get(r, "rows")) : 0LL);
            rc = -1;
        }
        free(sum);
    }
    move_tables_free(tables, n);
    return rc;
}

/* Waits (bounded) until the old database has no session but c, which servers' retired
 * pools close within a second or two; -1 with err when some stay. */
static int wait_sessions_gone(PGconn *c, char *err, size_t errlen)
{
    uint64_t until = tq_clock_ms() + FINISH_SESSIONS_MS;
    for (;;) {
        PGresult *res = tq_pg_query(c,
                                    "SELECT count(*), string_agg(DISTINCT coalesce(nullif(application_name, ''), '?')"
                                    " || coalesce(' from ' || host(client_addr), ''), ', ') FROM pg_stat_activity"
                                    " WHERE datname = current_database() AND pid <> pg_backend_pid()",
                                    0, NULL, err, errlen);
        if (res == NULL)
            return -1;
        int n = atoi(PQgetvalue(res, 0, 0));
        if (n > 0 && tq_clock_ms() >= until)
            snprintf(err, errlen,
                     "%d session(s) still use the old copy (%s): a server that has not seen the move? Every server "
                     "must be connected to the registry",
                     n, PQgetvalue(res, 0, 1));
        PQclear(res);
        if (n == 0)
            return 0;
        if (tq_clock_ms() >= until)
            return -1;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Refuses to drop an old database that holds tables outside public: those are not the old
 * copy's (the tenant's live schema reached by another address, another tenant's). */
static int only_public(PGconn *c, char *err, size_t errlen)
{
    PGresult *res = tq_pg_query(c,
                                "SELECT count(*), string_agg(DISTINCT n.nspname, ', ') FROM pg_class c"
                                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
                                " AND n.nspname NOT IN ('public', 'pg_catalog', 'information_schema')"
                                " AND n.nspname NOT LIKE 'pg\\_%'",
                                0, NULL, err, errlen);
    if (res == NULL)
        return -1;
    int n = atoi(PQgetvalue(res, 0, 0));
    if (n > 0)
        snprintf(err, errlen,
                 "the old database also holds tables in schema(s) %s, which are not the old copy's: "
                 "nothing dropped",
                 PQgetvalue(res, 0, 1));
    PQclear(res);
    return n > 0 ? -1 : 0;
}

/* DROP DATABASE of the old copy, from its server's maintenance database: with the old
 * row's role (the database's owner when `tenant create` made it), else, on the
 * registry's server, with the registry's session. */
static int drop_old_database(PGconn *registry, const move_place *old, char *err, size_t errlen)
{
    PGconn *c = move_connect(old, "postgres", err, errlen);
    int rc = -1;
    if (c != NULL) {
        char *q = PQescapeIdentifier(c, old->db, strlen(old->db));
        tq_strbuf sql = TQ_STRBUF_INIT;
        tq_strbuf_printf(&sql, "DROP DATABASE %s", q);
        rc = tq_pg_exec(c, tq_strbuf_cstr(&sql), err, errlen);
        if (rc != 0 && strcmp(old->host, PQhost(registry)) == 0 && strcmp(old->port, PQport(registry)) == 0)
            rc = tq_pg_exec(registry, tq_strbuf_cstr(&sql), err, errlen);
        tq_strbuf_free(&sql);
        PQfreemem(q);
        PQfinish(c);
    }
    return rc;
}

static int finish(PGconn *registry, const char *name, FILE *out, move_place *old, json_t **tables, char *err,
                  size_t errlen)
{
    const char *params[] = {name};
    PGresult *res = tq_pg_query(registry,
                                "SELECT db_host, db_port::text, db_name, db_schema, moved_from::text FROM tenants"
                                " WHERE name = $1",
                                1, params, err, errlen);
    if (res == NULL)
        return -1;
    char a[400];
    bool refused = true;
    if (PQntuples(res) != 1)
        snprintf(err, errlen, "no tenant named \"%s\"", name);
    else if (PQgetisnull(res, 0, 4))
        snprintf(err, errlen, "tenant \"%s\" has no old copy to drop: there is no move to finish", name);
    else if (parse_moved_from(PQgetvalue(res, 0, 4), old, tables) != 0)
        snprintf(err, errlen, "tenant \"%s\": moved_from is not what a move writes; nothing dropped", name);
    else if (strcmp(old->host, PQgetvalue(res, 0, 0)) == 0 && strcmp(old->port, PQgetvalue(res, 0, 1)) == 0 &&
             strcmp(old->db, PQgetvalue(res, 0, 2)) == 0 &&
             (!old->schema_placed || strcmp(old->schema, PQgetvalue(res, 0, 3)) == 0))
        /* a database of its own that now holds the tenant's schema too is also where it is served */
        snprintf(err, errlen, "the old copy (%s) is where the tenant is served from now: nothing dropped",
                 move_place_text(old, a, sizeof(a)));
    else
        refused = false;
    PQclear(res);
    if (refused)
        return -1;

    /* another tenant's tables there, or the registry itself: never dropped */
    const char *p2[] = {old->host, old->port, old->db, old->schema, name};
    res = tq_pg_query(registry,
                      "SELECT name FROM tenants WHERE db_host = $1 AND db_port = $2::int AND db_name = $3"
                      " AND name <> $5 AND ($4 = 'public' OR db_schema = $4) LIMIT 1",
                      5, p2, err, errlen);
    if (res == NULL)
        return -1;
    refused = PQntuples(res) > 0;
    if (refused)
        snprintf(err, errlen, "%s is used by tenant \"%s\": nothing dropped", move_place_text(old, a, sizeof(a)),
                 PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!refused && !old->schema_placed && strcmp(old->db, PQdb(registry)) == 0 &&
        strcmp(old->host, PQhost(registry)) == 0 && strcmp(old->port, PQport(registry)) == 0) {
        refused = true;
        snprintf(err, errlen, "%s is the registry's database: nothing dropped", move_place_text(old, a, sizeof(a)));
    }
    if (refused)
        return -1;
    int rc;

    PGconn *c = move_connect(old, NULL, err, errlen);
    if (c == NULL)
        return -1;
    if (verify_untouched(c, old, *tables, err, errlen) != 0 ||
        (!old->schema_placed && (only_public(c, err, errlen) != 0 || wait_sessions_gone(c, err, errlen) != 0))) {
        PQfinish(c);
        return -1;
    }
    if (old->schema_placed) {
        char *q = PQescapeIdentifier(c, old->schema, strlen(old->schema));
        tq_strbuf sql = TQ_STRBUF_INIT;
        tq_strbuf_printf(&sql, "SET lock_timeout = " LOCK_TIMEOUT "; DROP SCHEMA %s CASCADE", q);
        rc = tq_pg_exec(c, tq_strbuf_cstr(&sql), err, errlen);
        tq_strbuf_free(&sql);
        PQfreemem(q);
        PQfinish(c);
    } else {
        PQfinish(c);
        rc = drop_old_database(registry, old, err, errlen);
    }
    if (rc != 0)
        return -1;
    res = tq_pg_query(registry, "UPDATE tenants SET moved_from = NULL WHERE name = $1", 1, params, err, errlen);
    if (res == NULL)
        return -1;
    PQclear(res);
    fprintf(out, "tenant %s: dropped its old copy, %s (unchanged since the move)\n", name,
            move_place_text(old, a, sizeof(a)));
    return 0;
}

int tq_tenant_move_finish(PGconn *registry, const char *name, FILE *out, char *err, size_t errlen)
{
    if (move_check_registry(registry, err, errlen) != 0 || move_lock_tenant(registry, name, err, errlen) != 0)
        return -1;
    move_place old = {0};
    json_t *tables = NULL;
    int rc = finish(registry, name, out, &old, &tables, err, errlen);
    json_decref(tables);
    move_place_free(&old);
    move_unlock(registry, name);
    return rc;
}
