/*
 * test_doc_cache.c - the per-worker cache of parsed documents: hits by exact text only,
 * bounded by count and bytes with least-recently-used eviction, long texts not kept.
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

static const tq_gql_document *get(tq_doc_cache *c, const char *text)
{
    return tq_doc_cache_get(c, text, strlen(text));
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

int main(void)
{
    test_hits_by_exact_text();
    test_lru_eviction();
    test_bounds();
    return TQ_TEST_REPORT();
}
