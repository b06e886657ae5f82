/*
 * embedded.h - files compiled into the binary (tools/embed.py): the GraphQL SDL and the
 * SQL migrations of the registry and of tenant databases.
 */
#ifndef TENANTQL_EMBEDDED_H
#define TENANTQL_EMBEDDED_H

#include <stddef.h>

typedef struct tq_embedded_file {
    const char *name; /* e.g. "schema/tenant/001_users.sql" */
    const char *data; /* NUL-terminated */
    size_t len;
} tq_embedded_file;

/* terminated by an entry whose name is NULL; in the order given to the build */
extern const tq_embedded_file tq_embedded_files[];

/* Returns the file of that name (compiled in: valid for the life of the process), or NULL. */
const tq_embedded_file *tq_embedded_find(const char *name);

#endif
