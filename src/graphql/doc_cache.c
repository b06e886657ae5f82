/*
 * doc_cache.c - a worker's LRU of parsed, validated documents, lent out under pins (see
 * doc_cache.h).
 *
 * A tq_map from text to entry for lookup (keyed SipHash, so texts cannot be chosen to
 * collide) and a doubly linked list for recency. Each entry owns one arena holding its
 * copy of the text, which is also its key in the map, and the syntax tree, so freeing it
 * is one arena free. A pin is the entry itself with its count raised. An entry evicted
 * while pinned moves from the recency list to the retired list, from which its last
 * release (or the cache's end) frees it.
 */
#include "tenantql/doc_cache.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "tenantql/map.h"

struct tq_doc_pin {
    tq_doc_pin *newer, *older;        /* recency list; the retired list once retired */
    const char *text;                 /* in arena; the entry's key in the index */
    size_t len;
    const tq_gql_document *doc;       /* in arena */
    uint32_t pins;
    bool retired;                     /* evicted while pinned: no longer in the index */
    tq_arena arena;
};

typedef struct tq_doc_pin doc_entry;

/* A doubly linked list: newest first. */
typedef struct entry_list {
    doc_entry *newest, *oldest;
} entry_list;

struct tq_doc_cache {
    const tq_schema *schema;
    size_t max_entries, max_bytes, max_text;
    tq_map index;                     /* text -> entry, for the entries in the cache */
    entry_list recency;               /* the entries in the cache */
    entry_list retired;               /* evicted but pinned */
    tq_doc_cache_stats stats;
};

tq_doc_cache *tq_doc_cache_new(const tq_schema *schema, size_t max_entries, size_t max_bytes, size_t max_text)
{
    tq_doc_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->schema = schema;
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    c->max_text = max_text;
    tq_map_init(&c->index, NULL);
    return c;
}

static void list_unlink(entry_list *l, doc_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        l->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        l->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void list_push_newest(entry_list *l, doc_entry *e)
{
    e->older = l->newest;
    e->newer = NULL;
    if (l->newest)
        l->newest->newer = e;
    l->newest = e;
    if (l->oldest == NULL)
        l->oldest = e;
}

static void entry_free(doc_entry *e)
{
    tq_arena_free(&e->arena);
    free(e);
}

/* Takes e out of the cache: freed at once when unpinned, else retired until its last
 * release. */
static void evict(tq_doc_cache *c, doc_entry *e)
{
    tq_map_remove(&c->index, e->text, e->len);
    list_unlink(&c->recency, e);
    c->stats.entries--;
    c->stats.bytes -= e->arena.total;
    c->stats.evictions++;
    if (e->pins == 0) {
        entry_free(e);
        return;
    }
    e->retired = true;
    list_push_newest(&c->retired, e);
    c->stats.retired++;
    c->stats.retired_bytes += e->arena.total;
}

static void free_list(entry_list *l)
{
    while (l->oldest != NULL) {
        doc_entry *e = l->oldest;
        list_unlink(l, e);
        entry_free(e);
    }
}

void tq_doc_cache_free(tq_doc_cache *c)
{
    if (c == NULL)
        return;
    free_list(&c->recency);
    free_list(&c->retired);
    tq_map_dispose(&c->index);
    free(c);
}

tq_doc_pin *tq_doc_cache_get(tq_doc_cache *c, const char *text, size_t len)
{
    doc_entry *e = tq_map_get(&c->index, text, len);
    if (e == NULL) {
        c->stats.misses++;
        return NULL;
    }
    list_unlink(&c->recency, e);
    list_push_newest(&c->recency, e);
    e->pins++;
    c->stats.pins++;
    c->stats.hits++;
    return e;
}

const tq_gql_document *tq_doc_pin_document(const tq_doc_pin *p)
{
    return p->doc;
}

void tq_doc_cache_release(tq_doc_cache *c, tq_doc_pin *p)
{
    if (p == NULL)
        return;
    p->pins--;
    c->stats.pins--;
    if (p->pins > 0 || !p->retired)
        return;
    list_unlink(&c->retired, p);
    c->stats.retired--;
    c->stats.retired_bytes -= p->arena.total;
    entry_free(p);
}

void tq_doc_cache_put(tq_doc_cache *c, const char *text, size_t len, const tq_gql_parse_options *opts)
{
    if (c->max_entries == 0 || len > c->max_text || tq_map_get(&c->index, text, len) != NULL)
        return;
    doc_entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        abort();
    tq_arena_init(&e->arena, len * 4 + 1024);
    e->text = tq_arena_strndup(&e->arena, text, len);
    e->len = len;
    tq_gql_parse_error perr;
    e->doc = tq_gql_parse(&e->arena, e->text, len, opts, &perr);
    if (e->doc == NULL || e->arena.total > c->max_bytes) { /* cannot happen for a text that parsed before */
        entry_free(e);
        return;
    }
    while (c->stats.entries >= c->max_entries ||
           (c->recency.oldest && c->stats.bytes + e->arena.total > c->max_bytes))
        evict(c, c->recency.oldest);
    tq_map_put(&c->index, e->text, e->len, e);
    list_push_newest(&c->recency, e);
    c->stats.entries++;
    c->stats.bytes += e->arena.total;
}

void tq_doc_cache_get_stats(const tq_doc_cache *c, tq_doc_cache_stats *out)
{
    *out = c->stats;
}
