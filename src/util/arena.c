/*
 * arena.c - chunked bump allocator (see arena.h). Large requests get a chunk of their
 * own so that a single big string does not waste the rest of an ordinary chunk.
 */
#include "tenantql/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/log.h"

#define ARENA_ALIGN 16

struct tq_arena_chunk {
    tq_arena_chunk *next;
    size_t size;
    _Alignas(ARENA_ALIGN) char data[];
};

void tq_arena_init(tq_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->cur = a->end = NULL;
    a->chunk_size = chunk_size ? chunk_size : 4096;
    a->total = 0;
}

void tq_arena_free(tq_arena *a)
{
    tq_arena_chunk *c = a->head;
    while (c != NULL) {
        tq_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->total = 0;
}

static void *alloc_slow(tq_arena *a, size_t size)
{
    size_t data_size = size > a->chunk_size / 4 ? size : a->chunk_size;
    tq_arena_chunk *c = malloc(sizeof(*c) + data_size);
    if (c == NULL) {
        tq_log_error("util", "out of memory (arena chunk of %zu bytes)", data_size);
        abort();
    }
    c->size = data_size;
    a->total += data_size;
    if (data_size != a->chunk_size && a->head != NULL) {
        /* oversized: keep the current chunk as the allocation target */
        c->next = a->head->next;
        a->head->next = c;
        return c->data;
    }
    c->next = a->head;
    a->head = c;
    a->cur = c->data + size;
    a->end = c->data + data_size;
    return c->data;
}

void *tq_arena_alloc(tq_arena *a, size_t size)
{
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size == 0)
        size = ARENA_ALIGN;
    if ((size_t)(a->end - a->cur) >= size) {
        void *p = a->cur;
        a->cur += size;
        return p;
    }
    return alloc_slow(a, size);
}

void *tq_arena_calloc(tq_arena *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        tq_log_error("util", "arena calloc overflow");
        abort();
    }
    void *p = tq_arena_alloc(a, n * size);
    memset(p, 0, n * size);
    return p;
}

char *tq_arena_strndup(tq_arena *a, const char *s, size_t len)
{
    char *p = tq_arena_alloc(a, len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *tq_arena_strdup(tq_arena *a, const char *s)
{
    return tq_arena_strndup(a, s, strlen(s));
}

char *tq_arena_sprintf(tq_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = tq_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
