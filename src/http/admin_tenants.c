/*
 * admin_tenants.c - the admin API's tenant calls, run on a job thread with a blocking
 * registry connection: the same tenant module functions the command line's `tenant`
 * commands call, with JSON in and out. Bodies are read strictly (an unknown key is a 400:
 * a typo must not pass for a setting), and no answer ever holds a password.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "tenantql/log.h"
#include "tenantql/map.h"
#include "tenantql/migrate.h"
#include "tenantql/pool.h"
#include "tenantql/registry.h"
#include "tenantql/tenant_admin.h"
#include "tenantql/tenant_move.h"
#include "tenantql/tenant_secrets.h"
#include "tenantql/tenant_lifecycle.h"

void tq_admin_error_json(tq_strbuf *b, const char *code, const char *msg)
{
    json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    b->len = 0; /* replaces an earlier answer */
    if (text != NULL)
        tq_strbuf_append(b, text, strlen(text));
    free(text);
}

static void answer(admin_job *job, int status, json_t *o)
{
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    job->status = text != NULL ? status : 500;
    job->answer.len = 0;
    if (text != NULL)
        tq_strbuf_append(&job->answer, text, strlen(text));
    else
        tq_admin_error_json(&job->answer, "INTERNAL", "Out of memory.");
    free(text);
}

static void fail(admin_job *job, int status, const char *code, const char *msg)
{
    job->status = status;
    tq_admin_error_json(&job->answer, code, msg);
}

/* A tenant module result (tenant_admin.h) as an HTTP answer. */
static void fail_with(admin_job *job, int rc, const char *err)
{
    switch (rc) {
    case TQ_TENANT_NOT_FOUND:
        fail(job, 404, "NOT_FOUND", err);
        break;
    case TQ_TENANT_EXISTS:
        fail(job, 409, "CONFLICT", err);
        break;
    case TQ_TENANT_INVALID:
        fail(job, 400, "BAD_REQUEST", err);
        break;
    case TQ_TENANT_WRONG_STATE:
        fail(job, 409, "WRONG_STATE", err);
        break;
    default:
        tq_log_warn("admin", "request %s: %s", job->id, err);
        fail(job, 500, "INTERNAL", err);
        break;
    }
}

/* ---- reading tenants ---- */

#define TENANT_COLUMNS                                                                                                \
    "SELECT name, id::text, placement, db_host, db_port, db_name, db_schema, db_user, active, paused, "               \
    "schema_version, migrating, to_char(migrated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "           \
    "migrate_error, to_char(offboarded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), export_path, "      \
    "pool_options::text, quota::text, db_role, "                                                                      \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM tenants "

enum { C_NAME, C_ID, C_PLACEMENT, C_HOST, C_PORT, C_DB, C_SCHEMA, C_USER, C_ACTIVE, C_PAUSED, C_VERSION, C_MIGRATING,
       C_MIGRATED_AT, C_MIGRATE_ERROR, C_OFFBOARDED_AT, C_EXPORT_PATH, C_POOL_OPTIONS, C_QUOTA, C_ROLE, C_CREATED_AT };

static json_t *text_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

static bool is_true(PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static const char *state_of(PGresult *r, int row)
{
    if (!PQgetisnull(r, row, C_OFFBOARDED_AT))
        return "offboarded";
    if (!is_true(r, row, C_ACTIVE))
        return "inactive";
    if (is_true(r, row, C_MIGRATING))
        return "migrating";
    if (is_true(r, row, C_PAUSED))
        return "paused";
    return "active";
}

/* This server's live figures of the pools of a page of tenants (rows of r): one walk over
 * the pools for the whole page, under their lock, whatever the page's size. A tenant
 * without a pool here (no query yet) has none. */
typedef struct page_pools {
    tq_map rows;     /* tenant name -> its row + 1 */
    json_t **figures; /* by row; NULL: no pool */
} page_pools;

static void find_pools(tq_pool *p, void *data)
{
    page_pools *pp = data;
    const char *label = tq_pool_label(p);
    uintptr_t row = (uintptr_t)tq_map_get(&pp->rows, label, strlen(label));
    if (row == 0 || pp->figures[row - 1] != NULL)
        return;
    tq_pool_stats st;
    tq_pool_get_stats(p, &st);
    pp->figures[row - 1] =
        json_pack("{s:i, s:i, s:i, s:i, s:i, s:I}", "max", st.max, "in_use", st.in_use, "waiting", st.waiting,
                  "connections", st.total, "idle", st.idle, "created", (json_int_t)st.created);
}

/* figures[i] for rows 0..n-1 of r (calloc'ed; the caller frees the array, the JSON goes
 * into the answers). */
static json_t **pools_of_rows(PGresult *r, int n)
{
    page_pools pp = {.figures = calloc((size_t)n + 1, sizeof(json_t *))};
    tq_map_init(&pp.rows, NULL);
    for (int i = 0; i < n; i++)
        tq_map_put(&pp.rows, PQgetvalue(r, i, C_NAME), (size_t)PQgetlength(r, i, C_NAME), (void *)(uintptr_t)(i + 1));
    if (n > 0)
        tq_pools_foreach(find_pools, &pp);
    tq_map_dispose(&pp.rows);
    return pp.figures;
}

/* Row row of r as the API's tenant; pool (taken) is this server's figures, NULL: none. */
static json_t *tenant_json(PGresult *r, int row, json_t *pool)
{
    json_t *pool_options = json_loads(PQgetvalue(r, row, C_POOL_OPTIONS), 0, NULL);
    json_t *quota = json_loads(PQgetvalue(r, row, C_QUOTA), 0, NULL);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
                          PQgetvalue(r, row, C_NAME), "id", PQgetvalue(r, row, C_ID), "placement",
                          PQgetvalue(r, row, C_PLACEMENT), "state", state_of(r, row), "active",
                          is_true(r, row, C_ACTIVE), "paused", is_true(r, row, C_PAUSED), "schema_version",
                          PQgetisnull(r, row, C_VERSION) ? json_null() : json_integer(atol(PQgetvalue(r, row, C_VERSION))),
                          "migrating", is_true(r, row, C_MIGRATING), "migrated_at", text_or_null(r, row, C_MIGRATED_AT),
                          "migrate_error", text_or_null(r, row, C_MIGRATE_ERROR), "offboarded_at",
                          text_or_null(r, row, C_OFFBOARDED_AT), "export_path", text_or_null(r, row, C_EXPORT_PATH),
                          "pool_options", pool_options ? pool_options : json_object(), "quota",
                          quota ? quota : json_object());
    if (o == NULL) {
        json_decref(pool);
        return NULL;
    }
    json_object_set_new(o, "server", json_pack("{s:s, s:i, s:s, s:s, s:s}", "host", PQgetvalue(r, row, C_HOST), "port",
                                               atoi(PQgetvalue(r, row, C_PORT)), "database", PQgetvalue(r, row, C_DB),
                                               "schema", PQgetvalue(r, row, C_SCHEMA), "user",
                                               PQgetvalue(r, row, C_USER)));
    json_object_set_new(o, "role", text_or_null(r, row, C_ROLE));
    json_object_set_new(o, "created_at", text_or_null(r, row, C_CREATED_AT));
    json_object_set_new(o, "pool", pool != NULL ? pool : json_null());
    return o;
}

static PGresult *query(admin_job *job, PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        tq_log_warn("admin", "request %s: registry query failed: %.*s", job->id,
                    (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
        fail(job, 500, "INTERNAL", "The registry query failed.");
        PQclear(r);
        return NULL;
    }
    return r;
}

static void get_one(admin_job *job, PGconn *c)
{
    const char *params[1] = {job->name};
    PGresult *r = query(job, c, TENANT_COLUMNS "WHERE name = $1", 1, params);
    if (r == NULL)
        return;
    if (PQntuples(r) == 0) {
        fail(job, 404, "NOT_FOUND", "No tenant of that name.");
    } else {
        json_t **pools = pools_of_rows(r, 1);
        answer(job, 200, tenant_json(r, 0, pools[0]));
        free(pools);
    }
    PQclear(r);
}

static void list(admin_job *job, PGconn *c)
{
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", job->limit + 1);
    const char *params[2] = {job->after, limit};
    PGresult *r = query(job, c, TENANT_COLUMNS "WHERE name > $1 ORDER BY name LIMIT $2::int", 2, params);
    if (r == NULL)
        return;
    int n = PQntuples(r) > job->limit ? job->limit : PQntuples(r);
    json_t *items = json_array(), **pools = pools_of_rows(r, n);
    for (int i = 0; i < n; i++)
        json_array_append_new(items, tenant_json(r, i, pools[i]));
    free(pools);
    json_t *o = json_pack("{s:o, s:o}", "tenants", items, "next",
                          PQntuples(r) > job->limit ? json_string(PQgetvalue(r, n - 1, C_NAME)) : json_null());
    PQclear(r);
    answer(job, 200, o);
}

/* ---- bodies ---- */

/* Whether every key of o is among allowed; else answers 400 naming the first other. */
static bool known_keys(admin_job *job, json_t *o, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        bool known = false;
        for (int i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            char msg[160];
            snprintf(msg, sizeof(msg), "Unknown key \"%.64s\".", key);
            fail(job, 400, "BAD_REQUEST", msg);
            return false;
        }
    }
    return true;
}

/* The body as a JSON object whose keys are all among allowed; NULL after answering 400. */
static json_t *read_body(admin_job *job, const char *const *allowed)
{
    json_error_t e;
    json_t *o = job->body != NULL ? json_loadb(job->body, job->body_len, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        fail(job, 400, "BAD_REQUEST", "The body must be a JSON object.");
        return NULL;
    }
    if (!known_keys(job, o, allowed)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A string member (NULL when absent); false after answering 400 when it is not one. */
static bool string_member(admin_job *job, json_t *o, const char *key, const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "\"%s\" must be a string.", key);
        fail(job, 400, "BAD_REQUEST", msg);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* An object member as JSON text (malloc'ed; NULL when absent). */
static bool object_member(admin_job *job, json_t *o, const char *key, char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (v == NULL)
        return true;
    if (!json_is_object(v)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "\"%s\" must be a JSON object.", key);
        fail(job, 400, "BAD_REQUEST", msg);
        return false;
    }
    *out = json_dumps(v, JSON_COMPACT);
    return true;
}

/* ---- create ---- */

/* Waits (bounded) until this server's registry cache holds the tenant: the answer then
 * means the tenant can be queried here. */
static bool wait_until_served(tq_server *s, const char *name)
{
    for (int waited = 0; waited < TQ_ADMIN_CREATE_WAIT_MS; waited += 10) {
        tq_tenant *t = tq_registry_get_by_name(s->registry, name, strlen(name));
        if (t != NULL) {
            tq_tenant_release(t);
            return true;
        }
        usleep(10000);
    }
    return false;
}

static const char *const create_keys[] = {"name", "placement", "server", "schema", "role", "pool_options", "quota",
                                          NULL};
static const char *const server_keys[] = {"host", "port", "database", "user", "password", NULL};

static void create(admin_job *job, PGconn *c)
{
    json_t *o = read_body(job, create_keys), *server = NULL;
    if (o == NULL)
        return;
    tq_tenant_spec spec = {0};
    char *pool_options = NULL, *quota = NULL, port[16], role_buf[80];
    const char *role = NULL;
    bool ok = string_member(job, o, "name", &spec.name) && string_member(job, o, "placement", &spec.placement) &&
              string_member(job, o, "schema", &spec.db_schema) && object_member(job, o, "pool_options", &pool_options) &&
              object_member(job, o, "quota", &quota);
    server = ok ? json_object_get(o, "server") : NULL;
    if (ok && server != NULL && !json_is_object(server)) {
        fail(job, 400, "BAD_REQUEST", "\"server\" must be a JSON object.");
        ok = false;
    }
    if (ok && server != NULL && known_keys(job, server, server_keys)) {
        json_t *p = json_object_get(server, "port");
        ok = string_member(job, server, "host", &spec.db_host) && string_member(job, server, "database", &spec.db_name) &&
             string_member(job, server, "user", &spec.db_user) &&
             string_member(job, server, "password", &spec.db_password);
        if (ok && p != NULL) {
            if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 65535) {
                fail(job, 400, "BAD_REQUEST", "\"server.port\" must be a port number.");
                ok = false;
            } else {
                snprintf(port, sizeof(port), "%d", (int)json_integer_value(p));
                spec.db_port = port;
            }
        }
    } else if (ok && server != NULL) {
        ok = false;
    }
    json_t *r = ok ? json_object_get(o, "role") : NULL;
    if (ok && r != NULL && !json_is_false(r) && !json_is_null(r)) {
        if (json_is_true(r) && spec.name != NULL) {
            snprintf(role_buf, sizeof(role_buf), "%s%s", TQ_TENANT_ROLE_PREFIX, spec.name);
            role = role_buf;
        } else if (json_is_string(r)) {
            role = json_string_value(r);
        } else {
            fail(job, 400, "BAD_REQUEST", "\"role\" must be true, false or a role name.");
            ok = false;
        }
    }
    if (ok && (spec.name == NULL || !tq_tenant_name_valid(spec.name))) {
        fail(job, 400, "BAD_REQUEST", "\"name\" is required: a lower-case letter, then up to 47 of a-z, 0-9, _.");
        ok = false;
    }
    if (ok && spec.placement != NULL && strcmp(spec.placement, "database") != 0 &&
        strcmp(spec.placement, "schema") != 0) {
        fail(job, 400, "BAD_REQUEST", "\"placement\" must be \"database\" or \"schema\".");
        ok = false;
    }
    char detail[256];
    if (ok && pool_options != NULL && tq_pool_options_check(pool_options, detail, sizeof(detail)) != 0) {
        fail(job, 400, "BAD_REQUEST", detail);
        ok = false;
    }
    if (ok) {
        spec.pool_options = pool_options;
        spec.quota = quota;
        spec.db_role = role;
        char id[37], err[512];
        int rc = tq_tenant_create(c, &spec, false, id, err, sizeof(err));
        if (rc != 0) {
            fail_with(job, rc, err);
        } else {
            bool served = wait_until_served(job->server, spec.name);
            tq_log_info("admin", "request %s: tenant %s created (%s)%s", job->id, spec.name,
                        spec.placement ? spec.placement : "database", served ? "" : ", not yet served here");
            job->call = ADMIN_GET;
            snprintf(job->name, sizeof(job->name), "%s", spec.name);
            get_one(job, c);
            if (job->status == 200)
                job->status = 201;
        }
    }
    free(pool_options);
    free(quota);
    json_decref(o);
}

/* ---- patch, pause, resume ---- */

static const char *const patch_keys[] = {"pool_options", "quota", "active", "password", NULL};

static bool run_sql(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

/* A new database password: env:NAME and file:/PATH are kept as references, anything else
 * is sealed with the server's key ring (stored plain without one, as the CLI does). */
static int set_password(PGconn *c, const char *name, const char *password, char *err, size_t errlen)
{
    bool reference = strncmp(password, "env:", 4) == 0 || strncmp(password, "file:", 5) == 0, sealed;
    int others;
    if (tq_tenant_set_password(c, name, password, reference, &sealed, &others, err, errlen) != 0)
        return TQ_TENANT_FAILED;
    if (!reference && !sealed)
        tq_log_warn("admin", "tenant %s: its new database password is stored in plain text (no --secrets-key-file)",
                    name);
    return TQ_TENANT_OK;
}

/* Whether the tenant exists; else answers 404 (or 500). */
static bool known_tenant(admin_job *job, PGconn *c)
{
    const char *params[1] = {job->name};
    PGresult *r = query(job, c, "SELECT 1 FROM tenants WHERE name = $1", 1, params);
    bool known = r != NULL && PQntuples(r) == 1;
    if (r != NULL && !known)
        fail(job, 404, "NOT_FOUND", "No tenant of that name.");
    PQclear(r);
    return known;
}

static void patch(admin_job *job, PGconn *c)
{
    json_t *o = read_body(job, patch_keys);
    if (o == NULL)
        return;
    if (!known_tenant(job, c)) {
        json_decref(o);
        return;
    }
    char *pool_options = NULL, *quota = NULL, err[512] = "";
    const char *password = NULL;
    json_t *active = json_object_get(o, "active");
    bool ok = object_member(job, o, "pool_options", &pool_options) && object_member(job, o, "quota", &quota) &&
              string_member(job, o, "password", &password);
    if (ok && active != NULL && !json_is_boolean(active)) {
        fail(job, 400, "BAD_REQUEST", "\"active\" must be true or false.");
        ok = false;
    }
    if (ok && pool_options == NULL && quota == NULL && active == NULL && password == NULL) {
        fail(job, 400, "BAD_REQUEST", "Nothing to change: give pool_options, quota, active or password.");
        ok = false;
    }
    /* all or nothing: one transaction around the tenant module's updates */
    int rc = 0;
    if (ok && !run_sql(c, "BEGIN")) {
        fail(job, 500, "INTERNAL", "The registry refused a transaction.");
        ok = false;
    }
    if (ok) {
        if (pool_options != NULL)
            rc = tq_tenant_set_pool_options(c, job->name, pool_options, err, sizeof(err));
        if (rc == 0 && quota != NULL)
            rc = tq_tenant_set_quota(c, job->name, quota, err, sizeof(err));
        if (rc == 0 && active != NULL)
            rc = tq_tenant_set_active(c, job->name, json_is_true(active), err, sizeof(err));
        if (rc == 0 && password != NULL)
            rc = set_password(c, job->name, password, err, sizeof(err));
        if (rc == 0 && !run_sql(c, "COMMIT")) {
            rc = TQ_TENANT_FAILED;
            snprintf(err, sizeof(err), "The registry refused the change.");
        }
        if (rc != 0) {
            run_sql(c, "ROLLBACK");
            fail_with(job, rc, err);
        } else {
            get_one(job, c);
        }
    }
    free(pool_options);
    free(quota);
    json_decref(o);
}

static void set_paused(admin_job *job, PGconn *c, bool paused)
{
    char err[512];
    int rc = tq_tenant_set_paused(c, job->name, paused, err, sizeof(err));
    if (rc != 0)
        fail_with(job, rc, err);
    else
        get_one(job, c);
}

/* ---- offboarding ---- */

/* First call: deactivate and export; a call on an offboarded tenant: drop it. */
static void delete(admin_job *job, PGconn *c)
{
    const char *params[1] = {job->name};
    PGresult *r = query(job, c, "SELECT offboarded_at IS NOT NULL FROM tenants WHERE name = $1", 1, params);
    if (r == NULL)
        return;
    bool known = PQntuples(r) == 1, offboarded = known && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!known) {
        fail(job, 404, "NOT_FOUND", "No tenant of that name.");
        return;
    }
    char err[512], path[1024];
    tq_server_config *cfg = &job->server->cfg;
    if (offboarded) {
        int rc = tq_tenant_drop(c, job->name, cfg->offboard_grace_s, true, err, sizeof(err));
        if (rc != 0)
            return fail_with(job, rc, err);
        tq_log_info("admin", "request %s: tenant %s dropped", job->id, job->name);
        answer(job, 200, json_pack("{s:s, s:s}", "name", job->name, "state", "dropped"));
        return;
    }
    int rc = tq_tenant_offboard(c, job->name, cfg->export_dir, path, sizeof(path), err, sizeof(err));
    if (rc != 0)
        return fail_with(job, rc, err);
    tq_log_info("admin", "request %s: tenant %s offboarded, exported to %s", job->id, job->name, path);
    time_t drop_at = time(NULL) + cfg->offboard_grace_s;
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&drop_at));
    answer(job, 202,
           json_pack("{s:s, s:s, s:s, s:s}", "name", job->name, "state", "offboarded", "export_path", path,
                     "drop_after", when));
}

static void sweep(admin_job *job, PGconn *c)
{
    char err[512];
    int dropped = 0;
    if (tq_tenant_drop_expired(c, NULL, job->server->cfg.offboard_grace_s, &dropped, err, sizeof(err)) != 0)
        tq_log_warn("admin", "dropping offboarded tenants: %s", err);
    else if (dropped > 0)
        tq_log_info("admin", "dropped %d tenant(s) whose offboarding grace period is over", dropped);
    job->status = 200;
}

void tq_admin_run(admin_job *job, PGconn *registry)
{
    if (job->name[0] != '\0' && !tq_tenant_name_valid(job->name)) {
        fail(job, 404, "NOT_FOUND", "No tenant of that name.");
        return;
    }
    switch (job->call) {
    case ADMIN_LIST:
        return list(job, registry);
    case ADMIN_GET:
        return get_one(job, registry);
    case ADMIN_CREATE:
        return create(job, registry);
    case ADMIN_PATCH:
        return patch(job, registry);
    case ADMIN_PAUSE:
        return set_paused(job, registry, true);
    case ADMIN_RESUME:
        return set_paused(job, registry, false);
    case ADMIN_DELETE:
        return delete(job, registry);
    case ADMIN_SWEEP:
        return sweep(job, registry);
    }
}
