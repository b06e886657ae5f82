/*
 * embedded.c - lookup in the table of files compiled into the binary.
 */
#include "tenantql/embedded.h"

#include <string.h>

const tq_embedded_file *tq_embedded_find(const char *name)
{
    for (const tq_embedded_file *f = tq_embedded_files; f->name != NULL; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}
