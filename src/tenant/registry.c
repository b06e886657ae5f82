/*
 * registry.c - tenant cache kept current by a registry thread (see registry.h).
 *
 * The thread owns one blocking libpq connection that LISTENs on tenantql_tenants. It
 * wakes on a notification (re-read those tenants), on its refresh interval (re-read all,
 * as a safety net for lost notifications) or on the stop pipe. Host names of tenant
 * databases are resolved here, so that connecting from a worker never does a blocking
 * DNS lookup (libpq gets hostaddr=).
 */
#include "tenantql/registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantql/clock.h"
#include "tenantql/log.h"
#include "tenantql/pg_admin.h"
#include "tenantql/uuid.h"

#define SELECT_TENANTS                                                                                            \
    "SELECT id::text, name, db_host, db_port::text, db_name, db_user, db_password, pool_options::text, active"   \
    " FROM tenants"
#define RECONNECT_DELAY_MS 1000
#define IDLE_SWEEP_MS 1000 /* how often pools idle past their timeout are looked for */

typedef struct tenant_node {
    tq_tenant *tenant;
    struct tenant_node *next_by_id, *next_by_name;
} tenant_node;

typedef struct pool_entry {
    uint8_t id[16];
    char *conn_key;
    tq_pool *pool;
    struct pool_entry *next;
} pool_entry;

struct tq_registry {
    char *conninfo;
    char *sslmode;
    int refresh_ms;
    PGconn *conn;
    pthread_t thread;
    bool thread_started;
    int stop_pipe[2];
    atomic_bool healthy;

    pthread_rwlock_t lock;   /* guards the two indexes */
    tenant_node **by_id, **by_name;
    size_t nbuckets, count;

    pthread_mutex_t pools_lock;
    pool_entry *pools;
};

/* ---- records ---- */

static uint64_t hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void tenant_free(tq_tenant *t)
{
    tq_pool *p = atomic_load(&t->pool);
    if (p != NULL)
        tq_pool_unref(p);
    for (int i = 0; t->keywords[i] != NULL; i++)
        free((char *)t->values[i]);
    free(t->conn_key);
    free(t->name);
    free(t);
}

void tq_tenant_release(tq_tenant *t)
{
    if (t != NULL && atomic_fetch_sub(&t->refs, 1) == 1)
        tenant_free(t);
}

static int json_int_option(json_t *opts, const char *key, int min, int max, int *out, const char *tenant)
{
    json_t *v = json_object_get(opts, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        tq_log_warn("registry", "tenant %s: pool_options.%s must be an integer in %d..%d; using the default", tenant,
                    key, min, max);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static void parse_pool_options(const char *text, const char *tenant, tq_pool_options *out)
{
    static const char *const known[] = {"max", "acquire_timeout_ms", "idle_timeout_ms", "connect_timeout_ms",
                                         "statement_timeout_ms"};
    *out = (tq_pool_options)TQ_POOL_OPTIONS_DEFAULT;
    json_error_t jerr;
    json_t *opts = json_loads(text, 0, &jerr);
    if (!json_is_object(opts)) {
        tq_log_warn("registry", "tenant %s: pool_options is not a JSON object; using defaults", tenant);
        json_decref(opts);
        return;
    }
    json_int_option(opts, "max", 1, 1000, &out->max, tenant);
    json_int_option(opts, "acquire_timeout_ms", 1, 600000, &out->acquire_timeout_ms, tenant);
    json_int_option(opts, "idle_timeout_ms", 1, 86400000, &out->idle_timeout_ms, tenant);
    json_int_option(opts, "connect_timeout_ms", 1, 600000, &out->connect_timeout_ms, tenant);
    json_int_option(opts, "statement_timeout_ms", 0, 86400000, &out->statement_timeout_ms, tenant);
    const char *key;
    json_t *value;
    json_object_foreach(opts, key, value) {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok)
            tq_log_warn("registry", "tenant %s: unknown pool option \"%s\" ignored", tenant, key);
    }
    json_decref(opts);
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

static tq_tenant *tenant_from_row(tq_registry *r, PGresult *res, int row)
{
    const char *id = PQgetvalue(res, row, 0), *name = PQgetvalue(res, row, 1);
    tq_tenant *t = calloc(1, sizeof(*t));
    atomic_init(&t->refs, 1);
    atomic_init(&t->pool, NULL);
    t->registry = r;
    if (!tq_uuid_parse(id, strlen(id), t->id)) {
        free(t);
        return NULL;
    }
    tq_uuid_format(t->id, t->id_text);
    t->name = strdup(name);
    t->active = PQgetvalue(res, row, 8)[0] == 't';
    parse_pool_options(PQgetvalue(res, row, 7), name, &t->pool_opts);

    const char *host = PQgetvalue(res, row, 2);
    char *hostaddr = resolve_hostaddr(host, name);
    char options[96], connect_timeout[16];
    snprintf(options, sizeof(options), "-c TimeZone=UTC -c DateStyle=ISO -c statement_timeout=%d",
             t->pool_opts.statement_timeout_ms);
    snprintf(connect_timeout, sizeof(connect_timeout), "%d", (t->pool_opts.connect_timeout_ms + 999) / 1000);
    int n = 0;
    add_param(t, &n, "host", host);
    if (hostaddr != NULL)
        add_param(t, &n, "hostaddr", hostaddr);
    add_param(t, &n, "port", PQgetvalue(res, row, 3));
    add_param(t, &n, "dbname", PQgetvalue(res, row, 4));
    add_param(t, &n, "user", PQgetvalue(res, row, 5));
    add_param(t, &n, "password", PQgetvalue(res, row, 6));
    add_param(t, &n, "application_name", "tenantql");
    add_param(t, &n, "client_encoding", "UTF8");
    add_param(t, &n, "connect_timeout", connect_timeout);
    add_param(t, &n, "options", options);
    add_param(t, &n, "sslmode", r->sslmode);
    add_param(t, &n, "gssencmode", "disable");
    t->keywords[n] = t->values[n] = NULL;

    size_t klen = 64;
    for (int i = 0; i < n; i++)
        klen += strlen(t->values[i]) + 1;
    t->conn_key = malloc(klen);
    size_t off = (size_t)snprintf(t->conn_key, klen, "%d|", t->pool_opts.max);
    for (int i = 0; i < n; i++)
        off += (size_t)snprintf(t->conn_key + off, klen - off, "%s\x1f", t->values[i]);
    free(hostaddr);
    return t;
}

/* ---- indexes (write lock held by callers that change them) ---- */

static size_t id_bucket(tq_registry *r, const uint8_t id[16])
{
    return hash_bytes(id, 16) & (r->nbuckets - 1);
}

static size_t name_bucket(tq_registry *r, const char *name, size_t len)
{
    return hash_bytes(name, len) & (r->nbuckets - 1);
}

static void index_insert(tq_registry *r, tenant_node *n)
{
    size_t b = id_bucket(r, n->tenant->id);
    n->next_by_id = r->by_id[b];
    r->by_id[b] = n;
    b = name_bucket(r, n->tenant->name, strlen(n->tenant->name));
    n->next_by_name = r->by_name[b];
    r->by_name[b] = n;
}

static void index_grow(tq_registry *r)
{
    size_t old = r->nbuckets;
    tenant_node **old_id = r->by_id;
    r->nbuckets = old ? old * 2 : 64;
    r->by_id = calloc(r->nbuckets, sizeof(*r->by_id));
    r->by_name = (free(r->by_name), calloc(r->nbuckets, sizeof(*r->by_name)));
    for (size_t i = 0; i < old; i++) {
        for (tenant_node *n = old_id[i], *next; n != NULL; n = next) {
            next = n->next_by_id;
            index_insert(r, n);
        }
    }
    free(old_id);
}

/* Unlinks and returns the node for id, or NULL. */
static tenant_node *index_remove(tq_registry *r, const uint8_t id[16])
{
    tenant_node **pp = &r->by_id[id_bucket(r, id)];
    while (*pp != NULL && memcmp((*pp)->tenant->id, id, 16) != 0)
        pp = &(*pp)->next_by_id;
    tenant_node *n = *pp;
    if (n == NULL)
        return NULL;
    *pp = n->next_by_id;
    const char *name = n->tenant->name;
    tenant_node **np = &r->by_name[name_bucket(r, name, strlen(name))];
    while (*np != n)
        np = &(*np)->next_by_name;
    *np = n->next_by_name;
    r->count--;
    return n;
}

/* Forgets the pool of a tenant whose connections changed or that went away; the pool
 * drains (busy connections close when released, idle ones at the next janitor run). */
static void retire_pool(tq_registry *r, const uint8_t id[16], const char *keep_key)
{
    pthread_mutex_lock(&r->pools_lock);
    for (pool_entry **pp = &r->pools; *pp != NULL; pp = &(*pp)->next) {
        pool_entry *e = *pp;
        if (memcmp(e->id, id, 16) != 0)
            continue;
        if (keep_key == NULL || strcmp(e->conn_key, keep_key) != 0) {
            *pp = e->next;
            tq_pool_unref(e->pool);
            free(e->conn_key);
            free(e);
        }
        break;
    }
    pthread_mutex_unlock(&r->pools_lock);
}

static void apply_tenant(tq_registry *r, tq_tenant *t)
{
    tenant_node *n = calloc(1, sizeof(*n));
    n->tenant = t;
    pthread_rwlock_wrlock(&r->lock);
    tenant_node *old = index_remove(r, t->id);
    if (r->count + 1 > r->nbuckets)
        index_grow(r);
    index_insert(r, n);
    r->count++;
    pthread_rwlock_unlock(&r->lock);
    if (old != NULL) {
        if (old->tenant->active != t->active || strcmp(old->tenant->name, t->name) != 0)
            tq_log_info("registry", "tenant %s (%s) is now %s", t->name, t->id_text, t->active ? "active" : "inactive");
        tq_tenant_release(old->tenant);
        free(old);
    } else {
        tq_log_debug("registry", "tenant %s (%s) loaded", t->name, t->id_text);
    }
    retire_pool(r, t->id, t->active ? t->conn_key : NULL);
}

static void drop_tenant(tq_registry *r, const uint8_t id[16])
{
    pthread_rwlock_wrlock(&r->lock);
    tenant_node *old = index_remove(r, id);
    pthread_rwlock_unlock(&r->lock);
    if (old != NULL) {
        tq_log_info("registry", "tenant %s (%s) removed", old->tenant->name, old->tenant->id_text);
        tq_tenant_release(old->tenant);
        free(old);
    }
    retire_pool(r, id, NULL);
}

/* Tears down the pools of tenants nobody has asked for a connection for their idle
 * timeout (their connections are closed by then): a thousand tenants seen once do not
 * keep a thousand pool records. Under the index's write lock no request can take a
 * tenant meanwhile; a tenant some request still holds is left alone, and its next
 * request after the teardown makes a fresh pool. */
static void tear_down_idle_pools(tq_registry *r)
{
    pthread_rwlock_wrlock(&r->lock);
    pthread_mutex_lock(&r->pools_lock);
    for (pool_entry **pp = &r->pools; *pp != NULL;) {
        pool_entry *e = *pp;
        tq_tenant *t = NULL;
        for (tenant_node *n = r->by_id[id_bucket(r, e->id)]; n != NULL && t == NULL; n = n->next_by_id)
            if (memcmp(n->tenant->id, e->id, 16) == 0)
                t = n->tenant;
        bool cached = t != NULL && atomic_load(&t->pool) == e->pool;
        /* holders: this entry, and the tenant record when it caches the pool */
        if (t == NULL || atomic_load(&t->refs) != 1 || !tq_pool_retire_if_idle(e->pool, 1 + cached)) {
            pp = &e->next;
            continue;
        }
        if (cached)
            atomic_store(&t->pool, NULL);
        tq_log_debug("registry", "tenant %s: idle pool torn down", t->name);
        *pp = e->next;
        free(e->conn_key);
        free(e);
    }
    pthread_mutex_unlock(&r->pools_lock);
    pthread_rwlock_unlock(&r->lock);
}

/* ---- loading ---- */

/* Applies every row of res; with `all`, also drops cached tenants missing from it.
 * ids/nids, when given, are the tenants asked for: those absent were deleted. */
static void apply_rows(tq_registry *r, PGresult *res, bool all, uint8_t (*ids)[16], size_t nids)
{
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        tq_tenant *t = tenant_from_row(r, res, i);
        if (t != NULL)
            apply_tenant(r, t);
    }
    for (size_t i = 0; i < nids; i++) {
        bool seen = false;
        for (int j = 0; j < rows && !seen; j++) {
            uint8_t id[16];
            seen = tq_uuid_parse(PQgetvalue(res, j, 0), 36, id) && memcmp(id, ids[i], 16) == 0;
        }
        if (!seen)
            drop_tenant(r, ids[i]);
    }
    if (!all)
        return;
    /* collect cached ids not present in the full result */
    pthread_rwlock_rdlock(&r->lock);
    size_t n = 0, cap = r->count;
    uint8_t(*gone)[16] = cap ? malloc(cap * 16) : NULL;
    for (size_t b = 0; b < r->nbuckets; b++) {
        for (tenant_node *node = r->by_id[b]; node != NULL; node = node->next_by_id) {
            bool seen = false;
            for (int j = 0; j < rows && !seen; j++)
                seen = strcmp(PQgetvalue(res, j, 0), node->tenant->id_text) == 0;
            if (!seen && n < cap)
                memcpy(gone[n++], node->tenant->id, 16);
        }
    }
    pthread_rwlock_unlock(&r->lock);
    for (size_t i = 0; i < n; i++)
        drop_tenant(r, gone[i]);
    free(gone);
}

static int load_all(tq_registry *r, char *err, size_t errlen)
{
    PGresult *res = tq_pg_query(r->conn, SELECT_TENANTS, 0, NULL, err, errlen);
    if (res == NULL)
        return -1;
    apply_rows(r, res, true, NULL, 0);
    PQclear(res);
    return 0;
}

static int load_some(tq_registry *r, uint8_t (*ids)[16], size_t n)
{
    /* '{id,id,...}' as a uuid[] literal */
    char *arr = malloc(n * 37 + 3), *p = arr;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        tq_uuid_format(ids[i], p);
        p += 36;
    }
    *p++ = '}';
    *p = '\0';
    const char *params[] = {arr};
    char err[256];
    PGresult *res = tq_pg_query(r->conn, SELECT_TENANTS " WHERE id = ANY($1::uuid[])", 1, params, err, sizeof(err));
    free(arr);
    if (res == NULL) {
        tq_log_warn("registry", "re-reading changed tenants failed: %s", err);
        return -1;
    }
    apply_rows(r, res, false, ids, n);
    PQclear(res);
    return 0;
}

static int connect_registry(tq_registry *r, char *err, size_t errlen)
{
    r->conn = tq_pg_connect(r->conninfo, err, errlen);
    if (r->conn == NULL)
        return -1;
    if (tq_pg_exec(r->conn, "SET TimeZone = 'UTC'; LISTEN tenantql_tenants", err, errlen) != 0 ||
        load_all(r, err, errlen) != 0) {
        PQfinish(r->conn);
        r->conn = NULL;
        return -1;
    }
    atomic_store(&r->healthy, true);
    return 0;
}

tq_registry *tq_registry_open(const tq_registry_options *opts, char *err, size_t errlen)
{
    tq_registry *r = calloc(1, sizeof(*r));
    r->conninfo = strdup(opts->conninfo);
    r->sslmode = strdup(opts->sslmode ? opts->sslmode : "prefer");
    r->refresh_ms = opts->refresh_ms > 0 ? opts->refresh_ms : 30000;
    r->stop_pipe[0] = r->stop_pipe[1] = -1;
    pthread_rwlock_init(&r->lock, NULL);
    pthread_mutex_init(&r->pools_lock, NULL);
    index_grow(r);
    if (connect_registry(r, err, errlen) != 0) {
        tq_registry_close(r);
        return NULL;
    }
    return r;
}

/* ---- the registry thread ---- */

static void handle_notifications(tq_registry *r)
{
    uint8_t ids[64][16];
    size_t n = 0;
    PGnotify *note;
    bool overflow = false;
    while ((note = PQnotifies(r->conn)) != NULL) {
        if (n < 64 && tq_uuid_parse(note->extra, strlen(note->extra), ids[n]))
            n++;
        else
            overflow = true;
        PQfreemem(note);
    }
    if (overflow) {
        char err[256];
        if (load_all(r, err, sizeof(err)) != 0)
            tq_log_warn("registry", "re-reading tenants failed: %s", err);
    } else if (n > 0) {
        load_some(r, ids, n);
    }
}

static void lose_connection(tq_registry *r, const char *why)
{
    tq_log_warn("registry", "registry connection lost (%s); serving cached tenants", why);
    atomic_store(&r->healthy, false);
    PQfinish(r->conn);
    r->conn = NULL;
}


/* Waits for notifications, and on its own clock re-reads the whole registry every
 * refresh_ms and sweeps idle pools every IDLE_SWEEP_MS. */
static void *registry_thread(void *arg)
{
    tq_registry *r = arg;
    uint64_t next_refresh = tq_clock_ms() + (uint64_t)r->refresh_ms, next_sweep = tq_clock_ms() + IDLE_SWEEP_MS;
    for (;;) {
        uint64_t now = tq_clock_ms();
        uint64_t next = next_refresh < next_sweep ? next_refresh : next_sweep;
        int timeout = r->conn == NULL ? RECONNECT_DELAY_MS : next > now ? (int)(next - now) : 0;
        struct pollfd fds[2] = {{r->stop_pipe[0], POLLIN, 0}, {r->conn ? PQsocket(r->conn) : -1, POLLIN, 0}};
        int rc = poll(fds, 2, timeout);
        if (rc < 0 && errno != EINTR)
            break;
        if (fds[0].revents != 0)
            break;
        now = tq_clock_ms();
        if (now >= next_sweep) {
            tear_down_idle_pools(r);
            next_sweep = now + IDLE_SWEEP_MS;
        }
        char err[256];
        if (r->conn == NULL) {
            if (connect_registry(r, err, sizeof(err)) == 0)
                tq_log_info("registry", "registry connection restored");
            continue;
        }
        if (now >= next_refresh) {
            next_refresh = now + (uint64_t)r->refresh_ms;
            if (load_all(r, err, sizeof(err)) != 0)
                lose_connection(r, err);
            continue;
        }
        if (rc == 0)
            continue;
        if (!PQconsumeInput(r->conn)) {
            lose_connection(r, PQerrorMessage(r->conn));
            continue;
        }
        handle_notifications(r);
        if (PQstatus(r->conn) != CONNECTION_OK)
            lose_connection(r, "connection closed");
    }
    return NULL;
}

int tq_registry_start(tq_registry *r)
{
    if (pipe2(r->stop_pipe, O_CLOEXEC) != 0)
        return -1;
    if (pthread_create(&r->thread, NULL, registry_thread, r) != 0)
        return -1;
    r->thread_started = true;
    return 0;
}

void tq_registry_close(tq_registry *r)
{
    if (r == NULL)
        return;
    if (r->thread_started) {
        ssize_t w = write(r->stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(r->thread, NULL);
    }
    if (r->stop_pipe[0] >= 0) {
        close(r->stop_pipe[0]);
        close(r->stop_pipe[1]);
    }
    if (r->conn != NULL)
        PQfinish(r->conn);
    for (size_t b = 0; b < r->nbuckets; b++) {
        for (tenant_node *n = r->by_id[b], *next; n != NULL; n = next) {
            next = n->next_by_id;
            tq_tenant_release(n->tenant);
            free(n);
        }
    }
    while (r->pools != NULL) {
        pool_entry *e = r->pools;
        r->pools = e->next;
        tq_pool_unref(e->pool);
        free(e->conn_key);
        free(e);
    }
    free(r->by_id);
    free(r->by_name);
    pthread_rwlock_destroy(&r->lock);
    pthread_mutex_destroy(&r->pools_lock);
    free(r->conninfo);
    free(r->sslmode);
    free(r);
}

/* ---- lookups (any thread) ---- */

tq_tenant *tq_registry_get_by_id(tq_registry *r, const uint8_t id[16])
{
    tq_tenant *t = NULL;
    pthread_rwlock_rdlock(&r->lock);
    for (tenant_node *n = r->by_id[id_bucket(r, id)]; n != NULL; n = n->next_by_id) {
        if (memcmp(n->tenant->id, id, 16) == 0) {
            t = n->tenant;
            atomic_fetch_add(&t->refs, 1);
            break;
        }
    }
    pthread_rwlock_unlock(&r->lock);
    return t;
}

tq_tenant *tq_registry_get_by_name(tq_registry *r, const char *name, size_t len)
{
    tq_tenant *t = NULL;
    pthread_rwlock_rdlock(&r->lock);
    for (tenant_node *n = r->by_name[name_bucket(r, name, len)]; n != NULL; n = n->next_by_name) {
        if (strlen(n->tenant->name) == len && memcmp(n->tenant->name, name, len) == 0) {
            t = n->tenant;
            atomic_fetch_add(&t->refs, 1);
            break;
        }
    }
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
    size_t n = r->count;
    pthread_rwlock_unlock(&r->lock);
    return n;
}

tq_pool *tq_tenant_pool(tq_tenant *t)
{
    tq_pool *p = atomic_load(&t->pool);
    if (p != NULL)
        return p;
    tq_registry *r = t->registry;
    pthread_mutex_lock(&r->pools_lock);
    p = atomic_load(&t->pool);
    if (p == NULL) {
        pool_entry *e = r->pools;
        while (e != NULL && memcmp(e->id, t->id, 16) != 0)
            e = e->next;
        if (e != NULL && strcmp(e->conn_key, t->conn_key) != 0) {
            /* a stale pool of this tenant: drop it and start afresh */
            for (pool_entry **pp = &r->pools; *pp != NULL; pp = &(*pp)->next) {
                if (*pp == e) {
                    *pp = e->next;
                    break;
                }
            }
            tq_pool_unref(e->pool);
            free(e->conn_key);
            free(e);
            e = NULL;
        }
        if (e == NULL) {
            e = calloc(1, sizeof(*e));
            memcpy(e->id, t->id, 16);
            e->conn_key = strdup(t->conn_key);
            e->pool = tq_pool_create(t->name, t->keywords, t->values, &t->pool_opts);
            e->next = r->pools;
            r->pools = e;
            tq_log_info("registry", "tenant %s: pool created (max %d)", t->name, t->pool_opts.max);
        }
        p = e->pool;
        tq_pool_ref(p);
        atomic_store(&t->pool, p);
    }
    pthread_mutex_unlock(&r->pools_lock);
    return p;
}
