/*
 * test_doc_cache.c - the per-worker cache of parsed documents: hits by exact text only,
 * bounded by count and bytes with least-recently-used eviction, long texts not kept;
 * a pinned document outlives its eviction until its last release (run under ASan, a
 * read of a freed document fails the test).
 */
#include <stdio.h>
#include <string.h>

#include "tenantql/doc_cache.h"
#include "tq_test.h"

static const tq_gql_parse_options opts = {false, 64, 20000};

static void put(tq_doc_cache *c, const char *text)
{
    tq_doc_cache_put(c, text, strlen(text), &opts);
}

/* Whether the text is cached: looks it up and releases the pin at once. */
static const tq_gql_document *get(tq_doc_cache *c, const char *text)
{
    tq_doc_pin *p = tq_doc_cache_get(c, text, strlen(text));
    const tq_gql_document *d = p != NULL ? tq_doc_pin_document(p) : NULL;
    tq_doc_cache_release(c, p);
    return d;
}

static tq_doc_pin *pin(tq_doc_cache *c, const char *text)
{
    return tq_doc_cache_get(c, text, strlen(text));
}

/* The name of the first field of the first operation: reads into the document's tree. */
static const char *first_field(const tq_gql_document *d)
{
    if (d == NULL || d->count == 0 || d->defs[0].kind != TQ_GQL_DEF_OPERATION)
        return NULL;
    const tq_gql_selection_set *set = &d->defs[0].u.operation.selection_set;
    return set->count > 0 ? set->items[0].name.s : NULL;
}

static void test_hits_by_exact_text(void)
{
    tq_doc_cache *c = tq_doc_cache_new(NULL, 8, 1 << 20, 4096);
    CHECK(get(c, "{ a }") == NULL);
    put(c, "{ a }");
    const tq_gql_document *d = get(c, "{ a }");
    CHECK(d != NULL && d->count == 1 && d->defs[0].kind == TQ_GQL_DEF_OPERATION);
    CHECK(get(c, "{ a } ") == NULL);  /* another text, even if it means the same */
    CHECK(get(c, "{ b }") == NULL);
    put(c, "{ a }");                   /* a second put keeps the first entry */
    CHECK(get(c, "{ a }") == d);
    tq_doc_cache_stats st;
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.entries == 1 && st.hits == 2 && st.misses == 3 && st.evictions == 0 && st.bytes > 0);
    tq_doc_cache_free(c);
}

static void test_lru_eviction(void)
{
    tq_doc_cache *c = tq_doc_cache_new(NULL, 3, 1 << 20, 4096);
    put(c, "{ a }");
    put(c, "{ b }");
    put(c, "{ c }");
    CHECK(get(c, "{ a }") != NULL);   /* a is now the most recent; b the least */
    put(c, "{ d }");
    CHECK(get(c, "{ b }") == NULL);
    CHECK(get(c, "{ a }") != NULL && get(c, "{ c }") != NULL && get(c, "{ d }") != NULL);
    tq_doc_cache_stats st;
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.entries == 3 && st.evictions == 1);
    for (int i = 0; i < 100; i++) {   /* many texts through a small cache */
        char q[64];
        snprintf(q, sizeof(q), "query Q%d { f%d }", i, i);
        put(c, q);
        CHECK(get(c, q) != NULL);
    }
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.entries == 3);
    tq_doc_cache_free(c);
}

static void test_bounds(void)
{
    tq_doc_cache *c = tq_doc_cache_new(NULL, 100, 1 << 20, 16);
    put(c, "{ a_field_with_a_long_name }");  /* longer than max_text */
    CHECK(get(c, "{ a_field_with_a_long_name }") == NULL);
    tq_doc_cache_free(c);

    c = tq_doc_cache_new(NULL, 100, 6000, 4096); /* room for a few small entries by bytes */
    for (int i = 0; i < 50; i++) {
        char q[64];
        snprintf(q, sizeof(q), "{ f%d }", i);
        put(c, q);
    }
    tq_doc_cache_stats st;
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.bytes <= 6000 && st.entries > 0 && st.entries < 50);
    CHECK(get(c, "{ f49 }") != NULL);
    tq_doc_cache_free(c);

    c = tq_doc_cache_new(NULL, 0, 1 << 20, 4096); /* disabled */
    put(c, "{ a }");
    CHECK(get(c, "{ a }") == NULL);
    tq_doc_cache_free(c);
}

static void test_pinned_entry_outlives_eviction(void)
{
    tq_doc_cache *c = tq_doc_cache_new(NULL, 1, 1 << 20, 4096);
    put(c, "{ first }");
    tq_doc_pin *p = pin(c, "{ first }");
    CHECK(p != NULL);
    const tq_gql_document *d = tq_doc_pin_document(p);
    put(c, "{ second }");              /* evicts the pinned entry: retired, not freed */
    CHECK(get(c, "{ first }") == NULL);
    CHECK(get(c, "{ second }") != NULL);
    CHECK_STR(first_field(d), "first");
    CHECK(tq_doc_pin_document(p) == d);
    tq_doc_cache_stats st;
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.entries == 1 && st.evictions == 1 && st.pins == 1 && st.retired == 1 && st.retired_bytes > 0);
    CHECK(st.bytes + st.retired_bytes > st.bytes);

    put(c, "{ first }");               /* a new entry for the same text, beside the retired one */
    tq_doc_pin *q = pin(c, "{ first }");
    CHECK(q != NULL && q != p && first_field(tq_doc_pin_document(q)) != NULL);
    tq_doc_cache_release(c, p);        /* the last pin of the retired entry frees it */
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.entries == 1 && st.pins == 1 && st.retired == 0 && st.retired_bytes == 0);
    CHECK_STR(first_field(tq_doc_pin_document(q)), "first");
    tq_doc_cache_release(c, q);        /* q's entry is still cached: it stays */
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.entries == 1 && st.pins == 0 && st.retired == 0);
    CHECK(get(c, "{ first }") != NULL);
    tq_doc_cache_release(c, NULL);
    tq_doc_cache_free(c);
}

static void test_pins_are_counted(void)
{
    tq_doc_cache *c = tq_doc_cache_new(NULL, 2, 1 << 20, 4096);
    put(c, "{ a }");
    tq_doc_pin *p1 = pin(c, "{ a }"), *p2 = pin(c, "{ a }"); /* two requests on one document */
    CHECK(p1 != NULL && p1 == p2);
    put(c, "{ b }");
    put(c, "{ c }");                   /* evicts a, pinned twice */
    tq_doc_cache_stats st;
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.entries == 2 && st.pins == 2 && st.retired == 1);
    tq_doc_cache_release(c, p1);
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.retired == 1 && st.pins == 1);
    CHECK_STR(first_field(tq_doc_pin_document(p2)), "a");
    tq_doc_cache_release(c, p2);
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.retired == 0 && st.retired_bytes == 0 && st.pins == 0);

    /* a pinned entry evicted for its bytes is retired the same way */
    tq_doc_cache *small = tq_doc_cache_new(NULL, 100, 3000, 4096);
    put(small, "{ x }");
    tq_doc_pin *px = pin(small, "{ x }");
    for (int i = 0; i < 20; i++) {
        char q[32];
        snprintf(q, sizeof(q), "{ y%d }", i);
        put(small, q);
    }
    tq_doc_cache_get_stats(small, &st);
    CHECK(st.bytes <= 3000 && st.retired == 1 && get(small, "{ x }") == NULL);
    CHECK_STR(first_field(tq_doc_pin_document(px)), "x");
    tq_doc_cache_release(small, px);
    tq_doc_cache_free(small);
    tq_doc_cache_free(c);
}

static void test_free_with_pins_outstanding(void)
{
    /* a worker past its drain timeout frees its cache with requests never finished:
     * cached and retired entries both go (LSan would report a leak) */
    tq_doc_cache *c = tq_doc_cache_new(NULL, 1, 1 << 20, 4096);
    put(c, "{ a }");
    CHECK(pin(c, "{ a }") != NULL);
    put(c, "{ b }");
    CHECK(pin(c, "{ b }") != NULL);
    tq_doc_cache_stats st;
    tq_doc_cache_get_stats(c, &st);
    CHECK(st.entries == 1 && st.retired == 1 && st.pins == 2);
    tq_doc_cache_free(c);
}

int main(void)
{
    test_hits_by_exact_text();
    test_lru_eviction();
    test_bounds();
    test_pinned_entry_outlives_eviction();
    test_pins_are_counted();
    test_free_with_pins_outstanding();
    return TQ_TEST_REPORT();
}
