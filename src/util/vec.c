/*
 * vec.c - growth of the arena arrays of vec.h.
 */
#include "tenantql/vec.h"

#include <string.h>

void *tq_vec_grow(tq_arena *a, void *items, uint32_t n, uint32_t *cap, size_t size)
{
    uint32_t ncap = *cap ? *cap * 2 : 8;
    void *grown = tq_arena_alloc(a, (size_t)ncap * size);
    if (n > 0)
        memcpy(grown, items, (size_t)n * size);
    *cap = ncap;
    return grown;
}
