/*
 * tenant_move_finish.h - `tenantql tenant move NAME --finish`: dropping the copy a move
 * (tenant_move.h) left behind. Blocking libpq, for the command line.
 */
#ifndef TENANTQL_TENANT_MOVE_FINISH_H
#define TENANTQL_TENANT_MOVE_FINISH_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

/* Drops the copy the tenant's last move left behind (the row's moved_from), then forgets
 * it; says what it dropped on out. Refuses (-1 with err, nothing dropped) when there is
 * none, when it is where the row now points, when another tenant's row names it, when any
 * table's row count or checksum differs from what the move recorded at the switch
 * (something wrote to it since), or, for a database of its own, when it holds tables
 * outside public or sessions other than this one still use it after 10 s. */
int tq_tenant_move_finish(PGconn *registry, const char *name, FILE *out, char *err, size_t errlen);

#endif
