/*
 * strbuf.c - growable buffer (see strbuf.h).
 */
#include "tenantql/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tenantql/log.h"

void tq_strbuf_grow(tq_strbuf *b, size_t extra)
{
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        tq_log_error("util", "out of memory (buffer of %zu bytes)", cap);
        abort();
    }
    b->data = p;
    b->cap = cap;
}

void tq_strbuf_free(tq_strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void tq_strbuf_printf(tq_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        tq_strbuf_append(b, tmp, (size_t)n);
        return;
    }
    tq_strbuf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *tq_strbuf_detach(tq_strbuf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

const char *tq_strbuf_cstr(tq_strbuf *b)
{
    tq_strbuf_reserve(b, 1);
    b->data[b->len] = '\0';
    return b->data;
}
