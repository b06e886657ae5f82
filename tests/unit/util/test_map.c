/*
 * test_map.c - util/map.c against a plain array model: insert, replace, remove and
 * iterate in random order, with the arena and the malloc backing.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "tenantql/map.h"
#include "tenantql/vec.h"
#include "tq_test.h"

#define KEYS 5000

static void run(tq_arena *arena)
{
    static char keys[KEYS][16];
    static int model[KEYS]; /* 0 absent, else the value stored */
    tq_map m;
    tq_map_init(&m, arena);
    CHECK(tq_map_get(&m, "x", 1) == NULL);
    CHECK(tq_map_remove(&m, "x", 1) == NULL);
    for (int i = 0; i < KEYS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        model[i] = 0;
    }
    int bad = 0;
    for (int step = 0; step < 60000; step++) {
        int i = (int)randombytes_uniform(KEYS), op = (int)randombytes_uniform(3);
        size_t len = strlen(keys[i]);
        if (op < 2) {
            void *old = tq_map_put(&m, keys[i], len, (void *)(intptr_t)(step + 1));
            bad += (intptr_t)old != model[i];
            model[i] = step + 1;
        } else {
            void *old = tq_map_remove(&m, keys[i], len);
            bad += (intptr_t)old != model[i];
            model[i] = 0;
        }
    }
    uint32_t live = 0;
    for (int i = 0; i < KEYS; i++) {
        bad += (intptr_t)tq_map_get(&m, keys[i], strlen(keys[i])) != model[i];
        live += model[i] != 0;
    }
    CHECK(bad == 0);
    CHECK(tq_map_count(&m) == live);
    uint32_t pos = 0, seen = 0;
    const void *k;
    size_t len;
    void *v;
    while (tq_map_next(&m, &pos, &k, &len, &v)) {
        int i = atoi((const char *)k + 1);
        bad += model[i] != (intptr_t)v || len != strlen(keys[i]);
        seen++;
    }
    CHECK(bad == 0);
    CHECK(seen == live);
    /* the table stays at most half full, so it never grows past 4x the live keys seen */
    CHECK(m.cap <= 4u * KEYS * 2);
    bool existed;
    void **slot = tq_map_slot_for(&m, "new", 3, &existed);
    CHECK(!existed && *slot == NULL);
    *slot = &m;
    CHECK(tq_map_get(&m, "new", 3) == &m);
    tq_map_dispose(&m);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    run(NULL);
    tq_arena a;
    tq_arena_init(&a, 4096);
    run(&a);
    uint32_t *items = NULL, n = 0, cap = 0;
    for (uint32_t i = 0; i < 1000; i++)
        TQ_VEC_PUSH(&a, items, n, cap, i * 3);
    int bad = 0;
    for (uint32_t i = 0; i < 1000; i++)
        bad += items[i] != i * 3;
    CHECK(bad == 0 && n == 1000 && cap >= 1000);
    tq_arena_free(&a);
    return TQ_TEST_REPORT();
}
