/*
 * registry.c - the tenant cache (see registry.h): records made from registry rows, the
 * indexes by id and by name, and the tenants' pools, which the registry owns. The thread
 * that keeps the cache current is in registry_sync.c.
 *
 * Locks: the indexes have a read-write lock (lookups read, the registry thread writes);
 * the pools have a mutex. Tearing down an idle pool holds both, so no request can take
 * the tenant's pool meanwhile.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netdb.h>
#include <stddef.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_internal.h"
#include "tenantql/log.h"
#include "tenantql/migrate.h"
#include "tenantql/secret.h"
#include "tenantql/uuid.h"

/* ---- records ---- */

static void tenant_free(tq_tenant *t)
{
    for (int i = 0; t->keywords[i] != NULL; i++) {
        if (strcmp(t->keywords[i], "password") == 0)
            tq_secret_free((char *)t->values[i]); /* zeroed */
        else
            free((char *)t->values[i]);
    }
    free(t->conn_key);
    free(t->schema);
    free(t->role);
    free(t->name);
    tq_usage_release(t->usage);
    free(t);
}

void tq_tenant_release(tq_tenant *t)
{
    if (t != NULL && atomic_fetch_sub(&t->refs, 1) == 1)
        tenant_free(t);
}

const char *tq_tenant_name(const tq_tenant *t)
{
    return t->name;
}

const char *tq_tenant_id_text(const tq_tenant *t)
{
    return t->id_text;
}

bool tq_tenant_active(const tq_tenant *t)
{
    return t->active;
}

bool tq_tenant_paused(const tq_tenant *t)
{
    return t->paused;
}

int tq_tenant_schema_version(const tq_tenant *t)
{
    return t->schema_version;
}

tq_schema_gate tq_tenant_schema_gate(const tq_tenant *t)
{
    return t->gate;
}

/* The gate of a record, once, on the registry thread (the newest version is a walk over
 * the embedded files: not for every request). */
static tq_schema_gate decide_gate(int version, bool migrating)
{
    if (migrating)
        return TQ_SCHEMA_MIGRATING;
    if (version < 0) /* unknown (a row no migrator has recorded yet): served, as before versions were recorded */
        return TQ_SCHEMA_SERVABLE;
    if (version < TQ_TENANT_SCHEMA_MIN || version > tq_migrate_latest_version(TQ_MIGRATIONS_TENANT))
        return TQ_SCHEMA_OUT_OF_RANGE;
    return TQ_SCHEMA_SERVABLE;
}

bool tq_tenant_credentials_ok(const tq_tenant *t)
{
    return !t->no_password;
}

const tq_quota *tq_tenant_quota(const tq_tenant *t)
{
    return &t->quota;
}

const char *tq_tenant_schema(const tq_tenant *t)
{
    return t->schema;
}

bool tq_tenant_schema_placed(const tq_tenant *t)
{
    return t->schema_placed;
}

tq_usage *tq_tenant_usage(const tq_tenant *t)
{
    return t->usage;
}

/* pool_options' integer keys and their ranges: what servers read (parse_pool_options) and
 * what tq_pool_options_check accepts are the same table */
static const struct pool_int_option {
    const char *key;
    int min, max;
    size_t offset;
} pool_int_options[] = {
    {"max", 1, 1000, offsetof(tq_pool_options, max)},
    {"acquire_timeout_ms", 1, 600000, offsetof(tq_pool_options, acquire_timeout_ms)},
    {"idle_timeout_ms", 1, 86400000, offsetof(tq_pool_options, idle_timeout_ms)},
    {"connect_timeout_ms", 1, 600000, offsetof(tq_pool_options, connect_timeout_ms)},
    {"statement_timeout_ms", 0, 86400000, offsetof(tq_pool_options, statement_timeout_ms)},
};
#define POOL_INT_OPTIONS (sizeof(pool_int_options) / sizeof(pool_int_options[0]))

/* The integer option i of opts, when it is there and in range: 1 with *out set, 0 when
 * absent, -1 when bad. */
static int json_int_option(json_t *opts, size_t i, int *out)
{
    json_t *v = json_object_get(opts, pool_int_options[i].key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < pool_int_options[i].min ||
        json_integer_value(v) > pool_int_options[i].max)
        return -1;
    *out = (int)json_integer_value(v);
    return 1;
}

/* "statements": 1 "unnamed", 0 "prepared" or absent, -1 anything else. */
static int statements_option(json_t *opts)
{
    json_t *statements = json_object_get(opts, "statements");
    if (statements == NULL)
        return 0;
    const char *v = json_string_value(statements);
    if (v != NULL && strcmp(v, "unnamed") == 0)
        return 1;
    return v != NULL && strcmp(v, "prepared") == 0 ? 0 : -1;
}

static bool known_pool_option(const char *key)
{
    for (size_t i = 0; i < POOL_INT_OPTIONS; i++)
        if (strcmp(key, pool_int_options[i].key) == 0)
            return true;
    return strcmp(key, "statements") == 0;
}

static void parse_pool_options(const char *text, const char *tenant, tq_pool_options *out)
{
    *out = (tq_pool_options)TQ_POOL_OPTIONS_DEFAULT;
    json_error_t jerr;
    json_t *opts = json_loads(text, 0, &jerr);
    if (!json_is_object(opts)) {
        tq_log_warn("registry", "tenant %s: pool_options is not a JSON object; using defaults", tenant);
        json_decref(opts);
        return;
    }
    for (size_t i = 0; i < POOL_INT_OPTIONS; i++)
        if (json_int_option(opts, i, (int *)((char *)out + pool_int_options[i].offset)) < 0)
            tq_log_warn("registry", "tenant %s: pool_options.%s must be an integer in %d..%d; using the default",
                        tenant, pool_int_options[i].key, pool_int_options[i].min, pool_int_options[i].max);
    int unnamed = statements_option(opts);
    out->unnamed_statements = unnamed == 1;
    if (unnamed < 0)
        tq_log_warn("registry",
                    "tenant %s: pool_options.statements must be \"prepared\" or \"unnamed\"; using "
                    "\"prepared\"",
                    tenant);
    const char *key;
    json_t *value;
    json_object_foreach(opts, key, value) {
        if (!known_pool_option(key))
            tq_log_warn("registry", "tenant %s: unknown pool option \"%s\" ignored", tenant, key);
    }
    json_decref(opts);
}

int tq_pool_options_check(const char *json_text, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *opts = json_loads(json_text, 0, &jerr);
    int rc = 0;
    if (!json_is_object(opts)) {
        snprintf(err, errlen, "pool options must be a JSON object, e.g. '{\"max\": 10}'");
        rc = -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach (opts, key, value) {
        if (rc == 0 && !known_pool_option(key)) {
            snprintf(err, errlen,
                     "unknown pool option \"%s\" (known: max, acquire_timeout_ms, idle_timeout_ms, "
                     "connect_timeout_ms, statement_timeout_ms, statements)",
                     key);
            rc = -1;
        }
    }
    int scratch;
    for (size_t i = 0; rc == 0 && i < POOL_INT_OPTIONS; i++)
        if (json_int_option(opts, i, &scratch) < 0) {
            snprintf(err, errlen, "pool_options.%s must be an integer in %d..%d", pool_int_options[i].key,
                     pool_int_options[i].min, pool_int_options[i].max);
            rc = -1;
        }
    if (rc == 0 && statements_option(opts) < 0) {
        snprintf(err, errlen, "pool_options.statements must be \"prepared\" or \"unnamed\"");
        rc = -1;
    }
    json_decref(opts);
    return rc;
}

/* Turns a host name into an address here, on the registry thread, so that libpq never
 * resolves names on a worker loop. Unix socket directories and literals pass through. */
static char *resolve_hostaddr(const char *host, const char *tenant)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (host[0] == '/' || host[0] == '@')
        return NULL;
    if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1)
        return strdup(host);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        tq_log_warn("registry", "tenant %s: cannot resolve db_host \"%s\": %s", tenant, host, gai_strerror(rc));
        return NULL;
    }
    char text[INET6_ADDRSTRLEN];
    getnameinfo(res->ai_addr, res->ai_addrlen, text, sizeof(text), NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    return strdup(text);
}

static void add_param(tq_tenant *t, int *n, const char *k, const char *v)
{
    t->keywords[*n] = k;
    t->values[*n] = strdup(v);
    (*n)++;
}

/* The row's password, opened or resolved (tq_secret_reveal), as the record's password
 * parameter; a row whose password cannot be had leaves the tenant without one, and
 * unavailable (tq_tenant_credentials_ok), instead of trying its database without it.
 * The log says why, never the secret. */
static void add_password(tq_tenant *t, int *n, const char *stored)
{
    char err[256];
    char *plain = tq_secret_reveal(stored, err, sizeof(err));
    if (plain == NULL) {
        tq_log_warn("registry", "tenant %s: its database password cannot be used (%s); the tenant is unavailable",
                    t->name, err);
        t->no_password = true;
        return;
    }
    t->keywords[*n] = "password";
    t->values[*n] = plain;
    (*n)++;
}

/* What stands for the password in the record's conn_key: a hash of it (a changed password
 * changes the key, and so replaces the pool) rather than another copy of it. */
static void password_digest(const tq_tenant *t, char out[33])
{
    const char *pw = NULL;
    for (int i = 0; t->keywords[i] != NULL; i++)
        if (strcmp(t->keywords[i], "password") == 0)
            pw = t->values[i];
    if (pw == NULL) {
        snprintf(out, 33, "none");
        return;
    }
    unsigned char h[16];
    crypto_generichash(h, sizeof(h), (const unsigned char *)pw, strlen(pw), NULL, 0);
    sodium_bin2hex(out, 33, h, sizeof(h));
}

bool tq_role_name_valid(const char *s)
{
    /* pg_ names are PostgreSQL's own roles (pg_read_all_data...): never a tenant's */
    return tq_schema_name_valid(s) && strncmp(s, "pg_", 3) != 0;
}

bool tq_schema_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

tq_tenant *registry_tenant_from_row(tq_registry *r, PGresult *res, int row)
{
    const char *id = PQgetvalue(res, row, 0), *name = PQgetvalue(res, row, 1);
    /* NULL: a registry from before placement (migration 3), where every tenant has a database of its own */
    const char *placement = PQgetisnull(res, row, 10) ? "database" : PQgetvalue(res, row, 10);
    const char *schema = PQgetisnull(res, row, 11) ? "public" : PQgetvalue(res, row, 11);
    bool schema_placed = strcmp(placement, "schema") == 0;
    if (!schema_placed && strcmp(placement, "database") != 0) {
        tq_log_warn("registry", "tenant %s: placement is neither 'database' nor 'schema'; tenant ignored", name);
        return NULL;
    }
    if (!tq_schema_name_valid(schema)) {
        /* checked although the registry's CHECK holds it: the name goes into every
         * statement's text, and a registry edited by hand (or older, or another
         * program's) might hold anything; not echoed, as it is no name and may be long */
        tq_log_warn("registry", "tenant %s: db_schema is not a plain lower-case identifier; tenant ignored", name);
        return NULL;
    }
    /* NULL: no role, or a registry from before migration 5. A role that cannot be used is
     * not dropped silently: the operator asked PostgreSQL to check this tenant's
     * statements, and serving them unchecked would be less than that */
    const char *role = PQgetisnull(res, row, 13) ? NULL : PQgetvalue(res, row, 13);
    if (role != NULL && !tq_role_name_valid(role)) {
        tq_log_warn("registry", "tenant %s: db_role is not a plain lower-case identifier; tenant ignored", name);
        return NULL;
    }
    if (role != NULL && !schema_placed) {
        tq_log_warn("registry", "tenant %s: db_role is for placement 'schema' only; tenant ignored", name);
        return NULL;
    }
    tq_tenant *t = calloc(1, sizeof(*t));
    atomic_init(&t->refs, 1);
    t->registry = r;
    if (!tq_uuid_parse(id, strlen(id), t->id)) {
        free(t);
        return NULL;
    }
    tq_uuid_format(t->id, t->id_text);
    t->name = strdup(name);
    t->schema = strdup(schema);
    t->schema_placed = schema_placed;
    t->role = role != NULL ? strdup(role) : NULL;
    t->active = PQgetvalue(res, row, 8)[0] == 't';
    /* ->> gives JSON's "true"; NULL: a registry from before the column, nothing paused */
    t->paused = !PQgetisnull(res, row, 12) && strcmp(PQgetvalue(res, row, 12), "true") == 0;
    /* NULL: unknown (a registry from before migration 6, or a row no migrator recorded) */
    t->schema_version = PQgetisnull(res, row, 14) ? -1 : atoi(PQgetvalue(res, row, 14));
    t->migrating = !PQgetisnull(res, row, 15) && strcmp(PQgetvalue(res, row, 15), "true") == 0;
    t->gate = decide_gate(t->schema_version, t->migrating);
    parse_pool_options(PQgetvalue(res, row, 7), name, &t->pool_opts);
    tq_quota_parse(PQgetisnull(res, row, 9) ? NULL : PQgetvalue(res, row, 9), name, &t->quota);

    const char *host = PQgetvalue(res, row, 2);
    char *hostaddr = resolve_hostaddr(host, name);
    char options[160], connect_timeout[16];
    /* generic plans: prepared statements are planned once (tq_stmt says which never are) */
    snprintf(options, sizeof(options),
             "-c TimeZone=UTC -c DateStyle=ISO -c statement_timeout=%d -c plan_cache_mode=force_generic_plan",
             t->pool_opts.statement_timeout_ms);
    snprintf(connect_timeout, sizeof(connect_timeout), "%d", (t->pool_opts.connect_timeout_ms + 999) / 1000);
    int n = 0;
    add_param(t, &n, "host", host);
    if (hostaddr != NULL)
        add_param(t, &n, "hostaddr", hostaddr);
    add_param(t, &n, "port", PQgetvalue(res, row, 3));
    add_param(t, &n, "dbname", PQgetvalue(res, row, 4));
    add_param(t, &n, "user", PQgetvalue(res, row, 5));
    add_password(t, &n, PQgetvalue(res, row, 6));
    add_param(t, &n, "application_name", "tenantql");
    add_param(t, &n, "client_encoding", "UTF8");
    add_param(t, &n, "connect_timeout", connect_timeout);
    add_param(t, &n, "options", options);
    add_param(t, &n, "sslmode", r->sslmode);
    add_param(t, &n, "gssencmode", "disable");
    t->keywords[n] = t->values[n] = NULL;

    char digest[33];
    password_digest(t, digest);
    size_t klen = 64 + sizeof(digest);
    for (int i = 0; i < n; i++)
        klen += strlen(t->values[i]) + 1;
    klen += strlen(t->schema) + (t->role != NULL ? strlen(t->role) : 0);
    t->conn_key = malloc(klen);
    /* the role is part of the share's scope: turning it on or off replaces the share ("" is no role name) */
    size_t off = (size_t)snprintf(t->conn_key, klen, "%d|%d|%s|%s|%s|", t->pool_opts.max,
                                  t->pool_opts.unnamed_statements, t->schema, t->role != NULL ? t->role : "", digest);
    for (int i = 0; i < n; i++)
        if (strcmp(t->keywords[i], "password") != 0)
            off += (size_t)snprintf(t->conn_key + off, klen - off, "%s\x1f", t->values[i]);
    free(hostaddr);
    return t;
}

/* ---- pools (the registry owns them) ---- */

static void entry_free(pool_entry *e)
{
    tq_pool_retire(e->pool);
    free(e->conn_key);
    free(e);
}

/* Retires the pool of a tenant whose connections changed or that went away, unless it
 * was made with keep_key; the pool drains (busy connections close when released, idle
 * ones at the next janitor run). */
static void retire_pool(tq_registry *r, const uint8_t id[16], const char *keep_key)
{
    pthread_mutex_lock(&r->pools_lock);
    pool_entry *e = tq_map_get(&r->pools, id, 16);
    if (e != NULL && (keep_key == NULL || strcmp(e->conn_key, keep_key) != 0)) {
        tq_map_remove(&r->pools, id, 16);
        entry_free(e);
    }
    pthread_mutex_unlock(&r->pools_lock);
}

/* A connection parameter of the tenant's record, or "". */
static const char *tenant_param(const tq_tenant *t, const char *keyword)
{
    for (int i = 0; t->keywords[i] != NULL; i++)
        if (strcmp(t->keywords[i], keyword) == 0)
            return t->values[i];
    return "";
}

tq_pool *tq_tenant_borrow_pool(tq_tenant *t)
{
    tq_registry *r = t->registry;
    pthread_mutex_lock(&r->pools_lock);
    pool_entry *e = tq_map_get(&r->pools, t->id, 16);
    if (e != NULL && strcmp(e->conn_key, t->conn_key) != 0) {
        /* a pool made with other settings: this record is newer (or the pool's is) */
        tq_map_remove(&r->pools, t->id, 16);
        entry_free(e);
        e = NULL;
    }
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        memcpy(e->id, t->id, 16);
        e->conn_key = strdup(t->conn_key);
        /* a tenant with a database of its own names its connections in logs, as before */
        const char *database = t->schema_placed ? tenant_param(t, "dbname") : t->name;
        e->pool = tq_pool_create(t->name, &(tq_pool_target){t->keywords, t->values, database,
                                                            t->schema_placed ? r->shared_db_max : t->pool_opts.max,
                                                            t->schema, t->role},
                                 &t->pool_opts);
        tq_pool_meter(e->pool, t->usage);
        tq_map_put(&r->pools, e->id, 16, e);
        tq_log_info("registry", "tenant %s: pool created (max %d%s%s)", t->name, t->pool_opts.max,
                    t->schema_placed ? ", shared database " : "", t->schema_placed ? database : "");
    }
    tq_pool *p = e->pool;
    tq_pool_borrow(p);
    pthread_mutex_unlock(&r->pools_lock);
    return p;
}

/* Retires the pools of tenants nobody has asked for a connection for their idle timeout
 * (their connections are closed by then): a thousand tenants seen once do not keep a
 * thousand pool records. The tenant's next request makes a fresh pool. */
void registry_tear_down_idle_pools(tq_registry *r)
{
    pthread_mutex_lock(&r->pools_lock);
    uint32_t pos = 0;
    void *value;
    while (tq_map_next(&r->pools, &pos, NULL, NULL, &value)) {
        pool_entry *e = value;
        if (!tq_pool_retire_if_idle(e->pool))
            continue;
        tq_log_debug("registry", "tenant %s: idle pool torn down", tq_pool_label(e->pool));
        tq_map_remove(&r->pools, e->id, 16);
        free(e->conn_key);
        free(e);
    }
    pthread_mutex_unlock(&r->pools_lock);
}

/* ---- the indexes ---- */

/* The registry's hold on a tenant's counters; the map's key is the id inside. */
typedef struct usage_entry {
    uint8_t id[16];
    tq_usage *usage;
} usage_entry;

/* With the indexes write-locked: the tenant's counters, made with its first record. */
static tq_usage *usage_of_locked(tq_registry *r, const uint8_t id[16])
{
    usage_entry *e = tq_map_get(&r->usages, id, 16);
    if (e == NULL) {
        e = malloc(sizeof(*e));
        if (e == NULL)
            abort();
        memcpy(e->id, id, 16);
        e->usage = tq_usage_new();
        tq_map_put(&r->usages, e->id, 16, e);
    }
    return e->usage;
}

static void usage_entry_free(usage_entry *e)
{
    if (e == NULL)
        return;
    tq_usage_release(e->usage);
    free(e);
}

void registry_apply_tenant(tq_registry *r, tq_tenant *t)
{
    pthread_rwlock_wrlock(&r->lock);
    t->usage = tq_usage_ref(usage_of_locked(r, t->id));
    tq_tenant *old = tq_map_remove(&r->by_id, t->id, 16);
    if (old != NULL)
        tq_map_remove(&r->by_name, old->name, strlen(old->name));
    tq_map_put(&r->by_id, t->id, 16, t);
    tq_map_put(&r->by_name, t->name, strlen(t->name), t);
    pthread_rwlock_unlock(&r->lock);
    if (old != NULL) {
        if (old->active != t->active || strcmp(old->name, t->name) != 0)
            tq_log_info("registry", "tenant %s (%s) is now %s", t->name, t->id_text, t->active ? "active" : "inactive");
        if (old->paused != t->paused)
            tq_log_info("registry", "tenant %s (%s) is %s", t->name, t->id_text,
                        t->paused ? "paused: its new requests wait" : "no longer paused");
        tq_tenant_release(old);
    } else {
        tq_log_debug("registry", "tenant %s (%s) loaded", t->name, t->id_text);
    }
    retire_pool(r, t->id, t->active && !t->no_password ? t->conn_key : NULL);
}

void registry_drop_tenant(tq_registry *r, const uint8_t id[16])
{
    pthread_rwlock_wrlock(&r->lock);
    tq_tenant *old = tq_map_remove(&r->by_id, id, 16);
    if (old != NULL)
        tq_map_remove(&r->by_name, old->name, strlen(old->name));
    /* records and pools still in use keep their own references */
    usage_entry_free(tq_map_remove(&r->usages, id, 16));
    pthread_rwlock_unlock(&r->lock);
    if (old != NULL) {
        tq_log_info("registry", "tenant %s (%s) removed", old->name, old->id_text);
        tq_tenant_release(old);
    }
    retire_pool(r, id, NULL);
}

uint8_t (*registry_cached_ids(tq_registry *r, size_t *n))[16]
{
    pthread_rwlock_rdlock(&r->lock);
    size_t cap = tq_map_count(&r->by_id);
    uint8_t(*ids)[16] = malloc((cap ? cap : 1) * 16);
    *n = 0;
    uint32_t pos = 0;
    void *value;
    while (tq_map_next(&r->by_id, &pos, NULL, NULL, &value) && *n < cap)
        memcpy(ids[(*n)++], ((tq_tenant *)value)->id, 16);
    pthread_rwlock_unlock(&r->lock);
    return ids;
}

/* ---- life ---- */

tq_registry *tq_registry_open(const tq_registry_options *opts, char *err, size_t errlen)
{
    tq_registry *r = calloc(1, sizeof(*r));
    r->conninfo = strdup(opts->conninfo);
    r->sslmode = strdup(opts->sslmode ? opts->sslmode : "prefer");
    r->refresh_ms = opts->refresh_ms > 0 ? opts->refresh_ms : 30000;
    r->shared_db_max = opts->shared_db_max > 0 ? opts->shared_db_max : 20;
    r->stop_pipe[0] = r->stop_pipe[1] = -1;
    pthread_rwlock_init(&r->lock, NULL);
    pthread_mutex_init(&r->pools_lock, NULL);
    tq_map_init(&r->by_id, NULL);
    tq_map_init(&r->by_name, NULL);
    tq_map_init(&r->usages, NULL);
    tq_map_init(&r->pools, NULL);
    if (registry_connect(r, err, errlen) != 0) {
        tq_registry_close(r);
        return NULL;
    }
    return r;
}

static void free_cache(tq_registry *r)
{
    uint32_t pos = 0;
    void *value;
    while (tq_map_next(&r->by_id, &pos, NULL, NULL, &value))
        tq_tenant_release(value);
    pos = 0;
    while (tq_map_next(&r->pools, &pos, NULL, NULL, &value))
        entry_free(value);
    pos = 0;
    while (tq_map_next(&r->usages, &pos, NULL, NULL, &value))
        usage_entry_free(value);
    tq_map_dispose(&r->by_id);
    tq_map_dispose(&r->by_name);
    tq_map_dispose(&r->usages);
    tq_map_dispose(&r->pools);
}

void tq_registry_close(tq_registry *r)
{
    if (r == NULL)
        return;
    registry_stop_thread(r);
    if (r->conn != NULL)
        PQfinish(r->conn);
    free_cache(r);
    pthread_rwlock_destroy(&r->lock);
    pthread_mutex_destroy(&r->pools_lock);
    free(r->conninfo);
    free(r->sslmode);
    free(r);
}

/* ---- lookups (any thread) ---- */

static tq_tenant *take_ref(tq_tenant *t)
{
    if (t != NULL)
        atomic_fetch_add(&t->refs, 1);
    return t;
}

tq_tenant *tq_registry_get_by_id(tq_registry *r, const uint8_t id[16])
{
    pthread_rwlock_rdlock(&r->lock);
    tq_tenant *t = take_ref(tq_map_get(&r->by_id, id, 16));
    pthread_rwlock_unlock(&r->lock);
    return t;
}

tq_tenant *tq_registry_get_by_name(tq_registry *r, const char *name, size_t len)
{
    pthread_rwlock_rdlock(&r->lock);
    tq_tenant *t = take_ref(tq_map_get(&r->by_name, name, len));
    pthread_rwlock_unlock(&r->lock);
    return t;
}

bool tq_registry_healthy(tq_registry *r)
{
    return atomic_load(&r->healthy);
}

size_t tq_registry_count(tq_registry *r)
{
    pthread_rwlock_rdlock(&r->lock);
    size_t n = tq_map_count(&r->by_id);
    pthread_rwlock_unlock(&r->lock);
    return n;
}

void tq_registry_foreach(tq_registry *r, void (*fn)(const char *name, tq_usage *usage, void *data), void *data)
{
    pthread_rwlock_rdlock(&r->lock);
    uint32_t pos = 0;
    void *value;
    while (tq_map_next(&r->by_id, &pos, NULL, NULL, &value)) {
        tq_tenant *t = value;
        fn(t->name, t->usage, data);
    }
    pthread_rwlock_unlock(&r->lock);
}
