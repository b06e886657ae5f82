/*
 * tenant_lifecycle.h - a tenant's settings changed as a whole, and its end: offboarding
 * in two steps (README, "Offboarding a tenant"). Blocking libpq on a registry session of
 * the caller's: for the command line and the admin API's own thread, never a worker loop.
 * Each function returns a tq_tenant_result and fills err when it is not TQ_TENANT_OK.
 */
#ifndef TENANTQL_TENANT_LIFECYCLE_H
#define TENANTQL_TENANT_LIFECYCLE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "tenantql/tenant_result.h"

/* Where exports go when the caller names no directory: relative to the working directory
 * of the process (the command line's, or the server's). */
#define TQ_EXPORT_DIR_DEFAULT "exports"
/* How long an offboarded tenant's database or schema is kept before it may be dropped
 * (7 days): long enough to notice a mistaken offboarding over a weekend and undo it by
 * `tenant activate` and clearing offboarded_at, without restoring from the export. */
#define TQ_OFFBOARD_GRACE_DEFAULT_S 604800L
/* tq_tenant_drop_expired drops at most this many tenants per call. */
#define TQ_DROP_EXPIRED_MAX 16

/* Replaces the tenant's pool_options with json, a JSON object of known keys
 * (tq_pool_options_check: TQ_TENANT_INVALID otherwise); running servers apply it within a
 * second. TQ_TENANT_NOT_FOUND, TQ_TENANT_FAILED. */
int tq_tenant_set_pool_options(PGconn *registry, const char *name, const char *json, char *err, size_t errlen);

/* Offboarding, step 1: deactivates the tenant (its requests get 403 within a second),
 * waits for servers to notice, then writes a pg_dump archive (custom format, `pg_dump
 * -Fc`) of its database, or of its schema of a shared database, to
 * export_dir/NAME-YYYYMMDDTHHMMSSZ.dump (mode 0600; export_dir, NULL:
 * TQ_EXPORT_DIR_DEFAULT, made 0700 when missing), and records offboarded_at and the
 * file's absolute path (export_path) in the row; the path is also copied to path_out
 * (may be NULL). Already offboarded: TQ_TENANT_OK and the recorded path, nothing done.
 * When the export fails, the tenant's active is set back as it was (TQ_TENANT_FAILED).
 * A running move: TQ_TENANT_WRONG_STATE. Takes as long as pg_dump does. */
int tq_tenant_offboard(PGconn *registry, const char *name, const char *export_dir, char *path_out, size_t path_len,
                       char *err, size_t errlen);

/* Offboarding, step 2: drops the offboarded tenant's database (DROP DATABASE ... WITH
 * (FORCE)) or schema (DROP SCHEMA ... CASCADE, and its db_role unless another tenant of
 * that server has it), then deletes its registry row; the export stays. A database or
 * schema that another tenant's row also names is left alone (the row goes). Refused with
 * TQ_TENANT_WRONG_STATE when the tenant is not offboarded, or (unless force) was
 * offboarded less than grace_s seconds ago (err says when it may be dropped). */
int tq_tenant_drop(PGconn *registry, const char *name, long grace_s, bool force, char *err, size_t errlen);

/* Drops (tq_tenant_drop, not forced) the tenants offboarded more than grace_s seconds ago,
 * oldest first, at most TQ_DROP_EXPIRED_MAX per call: for a periodic sweep. *dropped (may
 * be NULL) counts those dropped; one failing does not stop the others (TQ_TENANT_FAILED,
 * err the first failure). export_dir is unused (NULL). */
int tq_tenant_drop_expired(PGconn *registry, const char *export_dir, long grace_s, int *dropped, char *err,
                           size_t errlen);

#endif
