/*
 * registry.h - the in-memory cache of the central tenant registry.
 *
 * The whole `tenants` table is loaded at start-up; afterwards a registry thread of its
 * own (the only place where blocking libpq is allowed while serving) LISTENs for the
 * trigger's notifications and re-reads changed tenants, with a full re-read now and then
 * and after a lost connection. Workers only read the cache: a lookup is a hash probe
 * under a read lock, never a database round trip, so an unknown tenant costs nothing.
 *
 * Tenant records are immutable and reference-counted: a change swaps in a new record,
 * and requests still holding the old one finish with it.
 */
#ifndef TENANTQL_REGISTRY_H
#define TENANTQL_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tenantql/pool.h"

typedef struct tq_registry tq_registry;

typedef struct tq_tenant {
    atomic_int refs;
    uint8_t id[16];
    char id_text[37];
    char *name;
    bool active;
    tq_pool_options pool_opts;
    char *conn_key;                 /* everything that defines the connections, for change detection */
    const char *keywords[16];       /* libpq connection parameters for the pool */
    const char *values[16];
    _Atomic(tq_pool *) pool;        /* created on first use, see tq_tenant_pool */
    tq_registry *registry;
} tq_tenant;

typedef struct tq_registry_options {
    const char *conninfo;           /* libpq conninfo or URI of the registry database */
    int refresh_ms;                 /* full re-read interval (default 30000) */
    const char *sslmode;            /* sslmode for tenant connections (default "prefer") */
} tq_registry_options;

/* Connects and loads every tenant (blocking; call at start-up). NULL + err on failure. */
tq_registry *tq_registry_open(const tq_registry_options *opts, char *err, size_t errlen);
/* Starts the registry thread that keeps the cache current. */
int tq_registry_start(tq_registry *r);
/* Stops the thread and frees the cache; pools must already be closed. */
void tq_registry_close(tq_registry *r);

/* Looks a tenant up by registry id or by name; returns a reference or NULL. */
tq_tenant *tq_registry_get_by_id(tq_registry *r, const uint8_t id[16]);
tq_tenant *tq_registry_get_by_name(tq_registry *r, const char *name, size_t len);
/* False while the registry database cannot be reached (the cache may be stale). */
bool tq_registry_healthy(tq_registry *r);
size_t tq_registry_count(tq_registry *r);

void tq_tenant_release(tq_tenant *t);
/* The tenant's pool, created exactly once per tenant and connection settings, even when
 * many workers ask at the same moment. */
tq_pool *tq_tenant_pool(tq_tenant *t);

#endif
