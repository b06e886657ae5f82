/*
 * map.h - a hash map from byte-string keys to pointers (open addressing, linear probing).
 *
 * Keys are not copied: a key's bytes must stay valid and unchanged as long as its entry
 * is in the map (keep them in the value the entry points to). Slots come from malloc, or
 * from an arena when one is given (then nothing is freed before the arena is). Hashes are
 * SipHash-2-4 under a key drawn at random per thread (a map keeps the key of the thread
 * that made it), so that no one can choose keys that collide in advance: lookups stay O(1) for keys a client picks (names, query texts).
 *
 * Not thread-safe: the owner of a map locks around it if threads share it.
 */
#ifndef TENANTQL_MAP_H
#define TENANTQL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tenantql/arena.h"

typedef struct tq_map_slot {
    const void *key;
    uint32_t len;
    uint32_t hash;           /* 0: empty, 1: deleted, else the key's hash (never 0 or 1) */
    void *value;
} tq_map_slot;

typedef struct tq_map {
    tq_map_slot *slots;
    uint32_t cap;            /* a power of two, or 0 before the first insertion */
    uint32_t count;          /* entries */
    uint32_t used;           /* entries and deleted slots */
    tq_arena *arena;         /* NULL: malloc */
    uint8_t seed[16];
} tq_map;

/* An empty map; arena NULL takes its memory from malloc (then tq_map_dispose frees it). */
void tq_map_init(tq_map *m, tq_arena *arena);
void tq_map_dispose(tq_map *m);

/* The value stored under key, or NULL. */
void *tq_map_get(const tq_map *m, const void *key, size_t len);
/* Stores value under key (the map keeps the key pointer); returns the value it replaced,
 * or NULL. */
void *tq_map_put(tq_map *m, const void *key, size_t len, void *value);
/* The slot for key, inserted with a NULL value when absent (*existed says which). The
 * pointer is valid until the next insertion or removal. */
void **tq_map_slot_for(tq_map *m, const void *key, size_t len, bool *existed);
/* Removes key; returns its value, or NULL when it was absent. */
void *tq_map_remove(tq_map *m, const void *key, size_t len);

/* Iteration: start with *pos = 0; each call gives the next entry until it returns false.
 * The map must not change during the walk, except through tq_map_remove of the entry
 * just returned. */
bool tq_map_next(const tq_map *m, uint32_t *pos, const void **key, size_t *len, void **value);

static inline uint32_t tq_map_count(const tq_map *m)
{
    return m->count;
}

#endif
