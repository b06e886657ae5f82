/*
 * arena.h - bump allocator for memory that lives exactly as long as one unit of work
 * (a request, a parse, a CLI command). Nothing is freed individually; tq_arena_free
 * releases everything at once. Not thread-safe: an arena belongs to one thread.
 */
#ifndef TENANTQL_ARENA_H
#define TENANTQL_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct tq_arena_chunk tq_arena_chunk;

typedef struct tq_arena {
    tq_arena_chunk *head;   /* newest chunk; allocation happens here */
    char *cur, *end;        /* free space of head */
    size_t chunk_size;      /* size of the next ordinary chunk */
    size_t total;           /* bytes obtained from malloc, for metrics and limits */
} tq_arena;

/* Prepares an empty arena; the first allocation mallocs the first chunk. */
void tq_arena_init(tq_arena *a, size_t chunk_size);
/* Releases every chunk; the arena may be reused afterwards. */
void tq_arena_free(tq_arena *a);

/* Every pointer these return is valid until tq_arena_free(a), and no longer.
 * Returns 16-byte aligned memory; aborts on out-of-memory (like h2o's pool). */
void *tq_arena_alloc(tq_arena *a, size_t size);
void *tq_arena_calloc(tq_arena *a, size_t n, size_t size);
/* Copies len bytes and adds a NUL terminator. */
char *tq_arena_strndup(tq_arena *a, const char *s, size_t len);
char *tq_arena_strdup(tq_arena *a, const char *s);
/* printf into arena memory. */
char *tq_arena_sprintf(tq_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
