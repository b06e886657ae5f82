/*
 * doc_cache.c - a worker's LRU of parsed, validated documents (see doc_cache.h).
 *
 * A hash table of chains for lookup and a doubly linked list for recency. Each entry
 * owns one arena holding its copy of the text and the syntax tree, so evicting it is one
 * free. The hash is seeded per cache, so texts cannot be chosen to collide in advance.
 */
#include "tenantql/doc_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef struct doc_entry doc_entry;
struct doc_entry {
    doc_entry *chain;                 /* next in the same bucket */
    doc_entry *newer, *older;         /* recency list */
    uint64_t hash;
    const char *text;                 /* in arena */
    size_t len;
    const tq_gql_document *doc;       /* in arena */
    tq_arena arena;
};

struct tq_doc_cache {
    const tq_schema *schema;
    size_t max_entries, max_bytes, max_text;
    doc_entry **buckets;
    size_t nbuckets;                  /* a power of two */
    doc_entry *newest, *oldest;
    uint64_t seed;
    tq_doc_cache_stats stats;
};

static uint64_t text_hash(uint64_t seed, const char *s, size_t len)
{
    uint64_t h = seed ^ 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

tq_doc_cache *tq_doc_cache_new(const tq_schema *schema, size_t max_entries, size_t max_bytes, size_t max_text)
{
    tq_doc_cache *c = calloc(1, sizeof(*c));
    c->schema = schema;
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    c->max_text = max_text;
    c->nbuckets = 16;
    while (c->nbuckets < max_entries)
        c->nbuckets <<= 1;
    c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
    if (getrandom(&c->seed, sizeof(c->seed), GRND_NONBLOCK) != sizeof(c->seed))
        c->seed = (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15ull;
    return c;
}

static void unlink_recency(tq_doc_cache *c, doc_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void link_newest(tq_doc_cache *c, doc_entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    c->newest = e;
    if (c->oldest == NULL)
        c->oldest = e;
}

static void drop_entry(tq_doc_cache *c, doc_entry *e)
{
    doc_entry **p = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    unlink_recency(c, e);
    c->stats.entries--;
    c->stats.bytes -= e->arena.total;
    tq_arena_free(&e->arena);
    free(e);
}

void tq_doc_cache_free(tq_doc_cache *c)
{
    if (c == NULL)
        return;
    while (c->oldest != NULL)
        drop_entry(c, c->oldest);
    free(c->buckets);
    free(c);
}

static doc_entry *find_entry(const tq_doc_cache *c, uint64_t h, const char *text, size_t len)
{
    for (doc_entry *e = c->buckets[h & (c->nbuckets - 1)]; e != NULL; e = e->chain)
        if (e->hash == h && e->len == len && memcmp(e->text, text, len) == 0)
            return e;
    return NULL;
}

const tq_gql_document *tq_doc_cache_get(tq_doc_cache *c, const char *text, size_t len)
{
    doc_entry *e = find_entry(c, text_hash(c->seed, text, len), text, len);
    if (e == NULL) {
        c->stats.misses++;
        return NULL;
    }
    unlink_recency(c, e);
    link_newest(c, e);
    c->stats.hits++;
    return e->doc;
}

void tq_doc_cache_put(tq_doc_cache *c, const char *text, size_t len, const tq_gql_parse_options *opts)
{
    uint64_t h = text_hash(c->seed, text, len);
    if (c->max_entries == 0 || len > c->max_text || find_entry(c, h, text, len) != NULL)
        return;
    doc_entry *e = calloc(1, sizeof(*e));
    tq_arena_init(&e->arena, len * 4 + 1024);
    e->text = tq_arena_strndup(&e->arena, text, len);
    e->len = len;
    e->hash = h;
    tq_gql_parse_error perr;
    e->doc = tq_gql_parse(&e->arena, e->text, len, opts, &perr);
    if (e->doc == NULL || e->arena.total > c->max_bytes) { /* cannot happen for a text that parsed before */
        tq_arena_free(&e->arena);
        free(e);
        return;
    }
    while (c->stats.entries >= c->max_entries || (c->oldest && c->stats.bytes + e->arena.total > c->max_bytes)) {
        drop_entry(c, c->oldest);
        c->stats.evictions++;
    }
    doc_entry **bucket = &c->buckets[e->hash & (c->nbuckets - 1)];
    e->chain = *bucket;
    *bucket = e;
    link_newest(c, e);
    c->stats.entries++;
    c->stats.bytes += e->arena.total;
}

void tq_doc_cache_get_stats(const tq_doc_cache *c, tq_doc_cache_stats *out)
{
    *out = c->stats;
}
