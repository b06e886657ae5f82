/*
 * registry.h - the in-memory cache of the central tenant registry.
 *
 * The whole `tenants` table is loaded at start-up; afterwards a registry thread of its
 * own (the only place where blocking libpq is allowed while serving) LISTENs for the
 * trigger's notifications and re-reads changed tenants, with a full re-read now and then
 * and after a lost connection. Workers only read the cache: a lookup is a hash probe
 * under a read lock, never a database round trip, so an unknown tenant costs nothing.
 */
#ifndef TENANTQL_REGISTRY_H
#define TENANTQL_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tenantql/pool.h"
#include "tenantql/quota.h"

typedef struct tq_registry tq_registry;

/* A tenant as the registry last described it: immutable and reference-counted. A change
 * swaps in a new record; requests still holding the old one finish with it. */
typedef struct tq_tenant tq_tenant;

typedef struct tq_registry_options {
    const char *conninfo;           /* libpq conninfo or URI of the registry database */
    int refresh_ms;                 /* full re-read interval (default 30000) */
    const char *sslmode;            /* sslmode for tenant connections (default "prefer") */
    int shared_db_max;              /* connections to one shared database across the tenants
                                     * placed in its schemas (default 20) */
} tq_registry_options;

/* Connects and loads every tenant (blocking; call at start-up). NULL + err on failure. */
tq_registry *tq_registry_open(const tq_registry_options *opts, char *err, size_t errlen);
/* Starts the registry thread that keeps the cache current. */
int tq_registry_start(tq_registry *r);
/* Stops the thread and frees the cache; pools must already be closed. */
void tq_registry_close(tq_registry *r);

/* Looks a tenant up by registry id or by name; returns a reference (release it with
 * tq_tenant_release) or NULL. */
tq_tenant *tq_registry_get_by_id(tq_registry *r, const uint8_t id[16]);
tq_tenant *tq_registry_get_by_name(tq_registry *r, const char *name, size_t len);
/* False while the registry database cannot be reached (the cache may be stale). */
bool tq_registry_healthy(tq_registry *r);
size_t tq_registry_count(tq_registry *r);
/* Calls fn for every cached tenant, with the cache read-locked: fn must not call back into
 * the registry; name and usage are valid during the call. */
void tq_registry_foreach(tq_registry *r, void (*fn)(const char *name, tq_usage *usage, void *data), void *data);

/* Whether a pool_options text (the registry row's JSON) is one servers take as it is: a
 * JSON object of known keys, each of the right type and range (see README, "Adding a
 * tenant"). 0, or -1 with err filled. Servers themselves take a bad one with warnings. */
int tq_pool_options_check(const char *json_text, char *err, size_t errlen);

void tq_tenant_release(tq_tenant *t);
/* The record's fields; strings valid as long as the reference is held. */
const char *tq_tenant_name(const tq_tenant *t);
const char *tq_tenant_id_text(const tq_tenant *t);
bool tq_tenant_active(const tq_tenant *t);
/* Whether the registry row says paused (the pause migration; false on a registry without
 * the column): the tenant's new requests wait for a newer record instead of running
 * (README, "Moving a tenant"). */
bool tq_tenant_paused(const tq_tenant *t);
/* Whether the tenant's tables fit this build's statements (README, "Migrations"), from its
 * registry row: MIGRATING while `tenantql migrate` works on it (migrating = true),
 * OUT_OF_RANGE when its schema_version is below TQ_TENANT_SCHEMA_MIN or above this
 * build's newest tenant migration, SERVABLE otherwise, an unknown version (NULL)
 * included. Its requests get 503 TENANT_MIGRATING unless SERVABLE. */
typedef enum tq_schema_gate {
    TQ_SCHEMA_SERVABLE,
    TQ_SCHEMA_MIGRATING,
    TQ_SCHEMA_OUT_OF_RANGE,
} tq_schema_gate;
tq_schema_gate tq_tenant_schema_gate(const tq_tenant *t);
/* The row's schema_version, -1 when unknown (NULL). */
int tq_tenant_schema_version(const tq_tenant *t);
/* False when the row's db_password could not be opened or resolved (a key the server's
 * ring lacks, an altered box, a variable or file that is missing; logged, without the
 * secret): the tenant is then unavailable (503 TENANT_UNAVAILABLE) until a newer row or
 * the periodic re-read gives a usable one (README, "Secrets"). */
bool tq_tenant_credentials_ok(const tq_tenant *t);
/* The quota the tenant's registry row sets (TQ_QUOTA_UNSET where it sets none: the
 * server's default applies), and the tenant's counters, the same object for every
 * record of the tenant; both valid as long as the reference is held. */
const tq_quota *tq_tenant_quota(const tq_tenant *t);
tq_usage *tq_tenant_usage(const tq_tenant *t);
/* The schema that holds the tenant's tables: "public" for a tenant in a database of its
 * own (placement 'database'), its schema of a shared database for placement 'schema';
 * never NULL, always a plain lower-case identifier ([a-z_][a-z0-9_]{0,62}: rows with
 * anything else are refused), valid as long as the reference is held. */
const char *tq_tenant_schema(const tq_tenant *t);
/* Whether a schema name is one tenantql accepts: [a-z_][a-z0-9_]{0,62}, a PostgreSQL
 * identifier that never needs quoting (the registry's CHECK on db_schema). */
bool tq_schema_name_valid(const char *schema);
/* Whether a role name is one tenantql accepts as a tenant's db_role: a valid schema name
 * that does not start with pg_ (PostgreSQL's own roles; the registry's CHECK). */
bool tq_role_name_valid(const char *role);
/* Whether the tenant is placed in a schema of a shared database (placement 'schema'),
 * whose connections other tenants with the same connection settings may share. */
bool tq_tenant_schema_placed(const tq_tenant *t);
/* Borrows the tenant's pool (tq_pool_borrow): valid until tq_pool_return. The registry
 * owns the pool, one per tenant and connection settings, made on first use exactly once
 * even when many workers ask at the same moment, and retired when the tenant's
 * connection settings change, when the tenant goes, or when it has been unused for its
 * idle timeout. */
tq_pool *tq_tenant_borrow_pool(tq_tenant *t);

#endif
