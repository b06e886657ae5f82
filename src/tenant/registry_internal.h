/*
 * registry_internal.h - what the registry's two files share: the cache and its records
 * (registry.c) and the thread that keeps them current (registry_sync.c).
 */
#ifndef TENANTQL_REGISTRY_INTERNAL_H
#define TENANTQL_REGISTRY_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

#include "tenantql/map.h"
#include "tenantql/registry.h"

struct tq_tenant {
    atomic_int refs;
    uint8_t id[16];
    char id_text[37];
    char *name;
    char *schema;                   /* where its tables are: "public" unless schema_placed */
    bool schema_placed;             /* placement 'schema': a schema of a shared database */
    char *role;                     /* db_role: every statement runs SET LOCAL ROLE to it; NULL: none */
    bool active;
    bool paused;                    /* its requests wait (tenant move, tenant pause) */
    int schema_version;             /* as the row records it; -1: unknown (NULL) */
    bool migrating;                 /* a migrator works on it (`tenantql migrate`) */
    tq_schema_gate gate;            /* the two above against this build's range, decided once */
    bool no_password;               /* its db_password could not be opened or resolved: unavailable */
    tq_pool_options pool_opts;
    tq_quota quota;                 /* as the row sets it: TQ_QUOTA_UNSET where it does not */
    tq_usage *usage;                /* the tenant's counters, shared with its other records and its pool */
    char *conn_key;                 /* everything that defines its pool share, for change detection */
    const char *keywords[16];       /* libpq connection parameters for the pool */
    const char *values[16];
    tq_registry *registry;
};

/* The registry's pool for one tenant: the pool's owner. */
typedef struct pool_entry {
    uint8_t id[16];                 /* the tenant's; the key in tq_registry.pools */
    char *conn_key;                 /* the settings the pool was made with */
    tq_pool *pool;
} pool_entry;

struct tq_registry {
    char *conninfo;
    char *sslmode;
    int refresh_ms;
    int shared_db_max;              /* connections to one shared database across its tenants */
    PGconn *conn;                   /* the registry thread's */
    pthread_t thread;
    bool thread_started;
    int stop_pipe[2];
    atomic_bool healthy;

    pthread_rwlock_t lock;          /* guards the two indexes */
    tq_map by_id;                   /* id (16 bytes) -> tq_tenant, the index's reference */
    tq_map by_name;                 /* name -> the same tq_tenant */
    tq_map usages;                  /* id -> tq_usage (a reference): counters outlive a changed record */

    pthread_mutex_t pools_lock;
    tq_map pools;                   /* tenant id -> pool_entry */
};

/* ---- registry.c, for registry_sync.c ---- */

/* A record from a row of SELECT_TENANTS, or NULL for a row without a valid id or with a
 * placement or schema the server cannot use safely (logged). */
tq_tenant *registry_tenant_from_row(tq_registry *r, PGresult *res, int row);
/* Puts t in the cache (taking its reference), replacing the record of the same id. */
void registry_apply_tenant(tq_registry *r, tq_tenant *t);
/* Forgets a tenant that is no longer in the registry. */
void registry_drop_tenant(tq_registry *r, const uint8_t id[16]);
/* The ids of every cached tenant (malloc'ed, *n of them). */
uint8_t (*registry_cached_ids(tq_registry *r, size_t *n))[16];
/* Retires the pools of tenants unused for their idle timeout. */
void registry_tear_down_idle_pools(tq_registry *r);

/* ---- registry_sync.c, for registry.c ---- */

/* quota, placement, db_schema, paused, db_role, schema_version and migrating by way of
 * to_jsonb: a registry not yet migrated to those columns (a server upgraded before
 * `tenantql migrate` ran) reads as "no quota", database/public, not paused, no role,
 * version unknown and not migrating instead of failing (columns 9 to 15, NULL then) */
#define SELECT_TENANTS                                                                                            \
    "SELECT id::text, name, db_host, db_port::text, db_name, db_user, db_password, pool_options::text, active,"  \
    " (to_jsonb(t) -> 'quota')::text, (to_jsonb(t) ->> 'placement'), (to_jsonb(t) ->> 'db_schema'),"           \
    " (to_jsonb(t) ->> 'paused'), (to_jsonb(t) ->> 'db_role'),"                                                  \
    " (to_jsonb(t) ->> 'schema_version'), (to_jsonb(t) ->> 'migrating')"                                        \
    " FROM tenants t"

/* Connects the registry thread's connection, LISTENs and loads every tenant. */
int registry_connect(tq_registry *r, char *err, size_t errlen);
/* Stops the registry thread, if it runs. */
void registry_stop_thread(tq_registry *r);

#endif
