/*
 * internal.h - what the db module's files share.
 */
#ifndef TENANTQL_DB_INTERNAL_H
#define TENANTQL_DB_INTERNAL_H

#include <libpq-fe.h>

/* Queues a cancel request for the cancel thread, which sends and frees it (pgconn_cancel.c). */
void pgconn_cancel_submit(PGcancel *cancel);

#endif
