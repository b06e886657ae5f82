/*
 * vec.h - growable arrays in an arena: `items`, `n` and `cap` are the caller's own
 * fields, so an array can sit inside any struct without a wrapper type. Growing copies
 * into a new arena block twice the size; the old block stays until the arena is freed
 * (amortised, the array costs at most twice its final size).
 */
#ifndef TENANTQL_VEC_H
#define TENANTQL_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "tenantql/arena.h"

/* Returns a block of twice *cap elements (8 at first) holding the first n items. */
void *tq_vec_grow(tq_arena *a, void *items, uint32_t n, uint32_t *cap, size_t size);

#define TQ_VEC_PUSH(arena, items, n, cap, item)                                                             \
    do {                                                                                                    \
        if ((n) == (cap))                                                                                   \
            (items) = tq_vec_grow((arena), (items), (n), &(cap), sizeof(*(items)));                         \
        (items)[(n)++] = (item);                                                                            \
    } while (0)

#endif
