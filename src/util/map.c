/*
 * map.c - open-addressing hash map with keyed SipHash (see map.h). The table is kept at
 * most half full (deleted slots included), so a probe sequence is short and always ends
 * at an empty slot.
 */
#include "tenantql/map.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_EMPTY 0u
#define SLOT_DELETED 1u

/* One random key per thread, drawn on its first map: a getrandom call per map would cost
 * more than most maps' whole use (the validator makes several per document). */
static _Thread_local uint8_t thread_seed[16];
static _Thread_local bool thread_seeded;

void tq_map_init(tq_map *m, tq_arena *arena)
{
    memset(m, 0, sizeof(*m));
    m->arena = arena;
    if (!thread_seeded) {
        randombytes_buf(thread_seed, sizeof(thread_seed));
        thread_seeded = true;
    }
    memcpy(m->seed, thread_seed, sizeof(m->seed));
}

void tq_map_dispose(tq_map *m)
{
    if (m->arena == NULL)
        free(m->slots);
    m->slots = NULL;
    m->cap = m->count = m->used = 0;
}

static uint32_t key_hash(const tq_map *m, const void *key, size_t len)
{
    unsigned char out[crypto_shorthash_siphash24_BYTES];
    crypto_shorthash_siphash24(out, key, len, m->seed);
    uint32_t h;
    memcpy(&h, out, sizeof(h));
    return h > SLOT_DELETED ? h : h + 2;
}

static bool slot_matches(const tq_map_slot *s, uint32_t h, const void *key, size_t len)
{
    return s->hash == h && s->len == len && memcmp(s->key, key, len) == 0;
}

/* The slot holding key, or NULL. */
static tq_map_slot *find(const tq_map *m, uint32_t h, const void *key, size_t len)
{
    if (m->cap == 0)
        return NULL;
    uint32_t mask = m->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        tq_map_slot *s = &m->slots[i];
        if (s->hash == SLOT_EMPTY)
            return NULL;
        if (slot_matches(s, h, key, len))
            return s;
    }
}

static tq_map_slot *alloc_slots(tq_map *m, uint32_t cap)
{
    if (m->arena != NULL)
        return tq_arena_calloc(m->arena, cap, sizeof(tq_map_slot));
    tq_map_slot *s = calloc(cap, sizeof(tq_map_slot));
    if (s == NULL)
        abort(); /* as the arenas: no way to go on without memory */
    return s;
}

/* Rebuilds the table without deleted slots, twice as large when it is more than a
 * quarter full of live entries. */
static void rebuild(tq_map *m)
{
    tq_map_slot *old = m->slots;
    uint32_t old_cap = m->cap, cap = old_cap ? old_cap : 16;
    while ((m->count + 1) * 4 > cap)
        cap *= 2;
    m->slots = alloc_slots(m, cap);
    m->cap = cap;
    m->used = m->count;
    for (uint32_t i = 0; i < old_cap; i++) {
        if (old[i].hash <= SLOT_DELETED)
            continue;
        uint32_t j = old[i].hash & (cap - 1);
        while (m->slots[j].hash != SLOT_EMPTY)
            j = (j + 1) & (cap - 1);
        m->slots[j] = old[i];
    }
    if (m->arena == NULL)
        free(old);
}

void *tq_map_get(const tq_map *m, const void *key, size_t len)
{
    if (m->count == 0)
        return NULL;
    tq_map_slot *s = find(m, key_hash(m, key, len), key, len);
    return s != NULL ? s->value : NULL;
}

/* The slot of key, inserted (value NULL) when absent. */
static tq_map_slot *slot_for(tq_map *m, const void *key, size_t len, bool *existed)
{
    uint32_t h = key_hash(m, key, len);
    tq_map_slot *s = find(m, h, key, len);
    if (s != NULL) {
        *existed = true;
        return s;
    }
    if ((m->used + 1) * 2 > m->cap)
        rebuild(m);
    uint32_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].hash > SLOT_DELETED)
        i = (i + 1) & mask;
    if (m->slots[i].hash == SLOT_EMPTY)
        m->used++;
    m->slots[i] = (tq_map_slot){key, (uint32_t)len, h, NULL};
    m->count++;
    *existed = false;
    return &m->slots[i];
}

void **tq_map_slot_for(tq_map *m, const void *key, size_t len, bool *existed)
{
    return &slot_for(m, key, len, existed)->value;
}

void *tq_map_put(tq_map *m, const void *key, size_t len, void *value)
{
    bool existed;
    tq_map_slot *s = slot_for(m, key, len, &existed);
    void *old = existed ? s->value : NULL;
    s->key = key; /* the new value's key: the old one may go with the old value */
    s->value = value;
    return old;
}

void *tq_map_remove(tq_map *m, const void *key, size_t len)
{
    if (m->count == 0)
        return NULL;
    tq_map_slot *s = find(m, key_hash(m, key, len), key, len);
    if (s == NULL)
        return NULL;
    void *value = s->value;
    *s = (tq_map_slot){NULL, 0, SLOT_DELETED, NULL};
    m->count--;
    return value;
}

bool tq_map_next(const tq_map *m, uint32_t *pos, const void **key, size_t *len, void **value)
{
    for (; *pos < m->cap; (*pos)++) {
        const tq_map_slot *s = &m->slots[*pos];
        if (s->hash <= SLOT_DELETED)
            continue;
        if (key != NULL)
            *key = s->key;
        if (len != NULL)
            *len = s->len;
        if (value != NULL)
            *value = s->value;
        (*pos)++;
        return true;
    }
    return false;
}
