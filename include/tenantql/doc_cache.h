/*
 * doc_cache.h - parsed and validated documents, remembered by their text.
 *
 * Clients send the same few query texts again and again; lexing, parsing and validating
 * them each time is wasted work. A worker keeps the documents it has seen valid, keyed
 * by their exact text, bounded in count and bytes and evicting the least recently used.
 * Only documents that parsed and passed validation against this cache's schema are kept,
 * so a hit can go straight to execution. Executions only read a document, never write it.
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

typedef struct tq_doc_cache_stats {
    unsigned long hits, misses, evictions;
    size_t entries, bytes;
} tq_doc_cache_stats;

/* max_entries 0 makes a cache that remembers nothing. max_text: longer texts are not kept. */
tq_doc_cache *tq_doc_cache_new(const tq_schema *schema, size_t max_entries, size_t max_bytes, size_t max_text);
void tq_doc_cache_free(tq_doc_cache *c);

/* The document for this exact text, or NULL. A hit becomes the most recently used. */
const tq_gql_document *tq_doc_cache_get(tq_doc_cache *c, const char *text, size_t len);

/* Parses text again into memory of the cache's own and keeps it; call only for a text
 * that parsed and validated (with the same options) in the request. */
void tq_doc_cache_put(tq_doc_cache *c, const char *text, size_t len, const tq_gql_parse_options *opts);

void tq_doc_cache_get_stats(const tq_doc_cache *c, tq_doc_cache_stats *out);

#endif
