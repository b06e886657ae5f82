/*
 * tenant_move.h - moving a tenant to another place while its traffic runs (`tenantql
 * tenant move`, README "Moving a tenant"), and pausing it by hand (`tenant pause`,
 * `tenant resume`). Blocking libpq, for the command line; never used on a worker loop.
 *
 * A move copies the tenant's tables to the new place with traffic running, pauses the
 * tenant in the registry (servers hold its new requests), waits until servers have seen
 * the pause and its running statements are done, copies everything again, compares, and
 * points the registry row at the new place in the same UPDATE that ends the pause. The
 * old copy stays, remembered in the row's moved_from, until `move --finish` drops it
 * (tenant_move_finish.h).
 */
#ifndef TENANTQL_TENANT_MOVE_H
#define TENANTQL_TENANT_MOVE_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tenantql/tenant_result.h"

/* How long a move waits, once the tenant is paused, for the statements its servers were
 * running to finish (then it gives up, resumes the tenant and fails). */
#define TQ_MOVE_DRAIN_WAIT_DEFAULT_MS 30000

typedef struct tq_move_spec {
    const char *name;                   /* the tenant */
    const char *to;                     /* "schema", "schema:DB", "database" or "database:HOST:PORT" */
    long drain_wait_ms;                 /* see TQ_MOVE_DRAIN_WAIT_DEFAULT_MS; 0: the default */
    volatile sig_atomic_t *interrupted; /* set by a signal handler: the move stops at its next
                                         * step and undoes what it did; NULL: never */
} tq_move_spec;

/* Moves the tenant as described above, reporting each step and its time on out. 0 once
 * the registry row names the new place (and the tenant is no longer paused). -1 with err
 * filled otherwise: the tenant is then served where it was, not paused, and what the move
 * made at the new place is dropped - unless err says the registry could not be reached
 * to resume the tenant (then `tenantql tenant resume NAME`). */
int tq_tenant_move(PGconn *registry, const tq_move_spec *spec, FILE *out, char *err, size_t errlen);

/* Sets the row's paused (`tenant pause` / `tenant resume`); running servers hold (or
 * release) the tenant's new requests within a second. Refused while a move of the tenant
 * runs, since the move pauses and resumes it itself (TQ_TENANT_WRONG_STATE);
 * TQ_TENANT_NOT_FOUND, TQ_TENANT_FAILED; err filled. */
int tq_tenant_set_paused(PGconn *registry, const char *name, bool paused, char *err, size_t errlen);

#endif
