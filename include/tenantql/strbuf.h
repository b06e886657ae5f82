/*
 * strbuf.h - growable byte buffer (malloc-backed) used as the response body. The HTTP
 * layer hands its memory to h2o without copying and frees it with the request.
 */
#ifndef TENANTQL_STRBUF_H
#define TENANTQL_STRBUF_H

#include <stddef.h>
#include <string.h>

typedef struct tq_strbuf {
    char *data;
    size_t len, cap;
} tq_strbuf;

#define TQ_STRBUF_INIT {NULL, 0, 0}

void tq_strbuf_grow(tq_strbuf *b, size_t extra);
void tq_strbuf_free(tq_strbuf *b);
void tq_strbuf_printf(tq_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes ownership of the data (free() it); the buffer becomes empty. */
char *tq_strbuf_detach(tq_strbuf *b, size_t *len);

static inline void tq_strbuf_reserve(tq_strbuf *b, size_t extra)
{
    if (b->cap - b->len < extra)
        tq_strbuf_grow(b, extra);
}

static inline void tq_strbuf_append(tq_strbuf *b, const char *s, size_t n)
{
    tq_strbuf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static inline void tq_strbuf_putc(tq_strbuf *b, char c)
{
    tq_strbuf_reserve(b, 1);
    b->data[b->len++] = c;
}

#define tq_strbuf_lit(b, lit) tq_strbuf_append((b), (lit), sizeof(lit) - 1)

/* Returns a NUL-terminated view (the NUL is not counted in len), valid until the next
 * change to the buffer. */
const char *tq_strbuf_cstr(tq_strbuf *b);

#endif
