/*
 * doc_cache.h - parsed and validated documents, remembered by their text.
 *
 * Clients send the same few query texts again and again; lexing, parsing and validating
 * them each time is wasted work. A worker keeps the documents it has seen valid, keyed
 * by their exact text, bounded in count and bytes and evicting the least recently used.
 * Only documents that parsed and passed validation against this cache's schema are kept,
 * so a hit can go straight to execution. Executions only read a document, never write it.
 *
 * A hit is lent, not given: the request holds a pin on the entry while it executes (it
 * may wait for the database meanwhile, and other requests fill the cache). Eviction
 * never frees a pinned entry: it takes the entry out of the cache, so that no later get
 * finds it, and leaves it to its last pin, whose release frees it. Such retired entries
 * are outside the cache's bounds; each request holds at most one pin, so at most one
 * retired entry per request in flight outlives its eviction, and the stats count them.
 *
 * One cache per worker thread, used only by that thread: no locks.
 */
#ifndef TENANTQL_DOC_CACHE_H
#define TENANTQL_DOC_CACHE_H

#include <stddef.h>

#include "tenantql/ast.h"
#include "tenantql/parser.h"
#include "tenantql/schema.h"

typedef struct tq_doc_cache tq_doc_cache;
/* A counted hold on one cached document: it stays valid until released. */
typedef struct tq_doc_pin tq_doc_pin;

typedef struct tq_doc_cache_stats {
    unsigned long hits, misses, evictions;
    size_t entries, bytes;              /* in the cache: what max_entries and max_bytes bound */
    size_t pins;                        /* pins not yet released */
    size_t retired, retired_bytes;      /* evicted while pinned, waiting for their last release */
} tq_doc_cache_stats;

/* max_entries 0 makes a cache that remembers nothing. max_text: longer texts are not kept. */
tq_doc_cache *tq_doc_cache_new(const tq_schema *schema, size_t max_entries, size_t max_bytes, size_t max_text);
/* Frees every entry, pinned and retired ones included: call it only when no pin will be
 * used or released any more (a worker frees its cache after its event loop, and with it
 * every request that could release a pin, is gone). */
void tq_doc_cache_free(tq_doc_cache *c);

/* A pin on the document for this exact text, or NULL on a miss. A hit becomes the most
 * recently used. Release the pin with tq_doc_cache_release when done with the document. */
tq_doc_pin *tq_doc_cache_get(tq_doc_cache *c, const char *text, size_t len);
/* The pinned document: valid until the pin is released. */
const tq_gql_document *tq_doc_pin_document(const tq_doc_pin *p);
/* Gives the pin back (NULL does nothing); a retired entry is freed by its last release. */
void tq_doc_cache_release(tq_doc_cache *c, tq_doc_pin *p);

/* Parses text again into memory of the cache's own and keeps it; call only for a text
 * that parsed and validated (with the same options) in the request. The request goes on
 * with its own parse: nothing is pinned. */
void tq_doc_cache_put(tq_doc_cache *c, const char *text, size_t len, const tq_gql_parse_options *opts);

void tq_doc_cache_get_stats(const tq_doc_cache *c, tq_doc_cache_stats *out);

#endif
