/*
 * json_writer.c - escaping and number formatting for the append-only JSON writer.
 */
#include "tenantql/json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* 1 for bytes that cannot appear raw inside a JSON string */
static const uint8_t needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

void tq_json_write_string(tq_strbuf *b, const char *s, size_t len)
{
    /* worst case every byte becomes \u00XX */
    tq_strbuf_reserve(b, len + 2);
    tq_strbuf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_escape[c])
            continue;
        tq_strbuf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': tq_strbuf_lit(b, "\\\""); break;
        case '\\': tq_strbuf_lit(b, "\\\\"); break;
        case '\n': tq_strbuf_lit(b, "\\n"); break;
        case '\r': tq_strbuf_lit(b, "\\r"); break;
        case '\t': tq_strbuf_lit(b, "\\t"); break;
        case '\b': tq_strbuf_lit(b, "\\b"); break;
        case '\f': tq_strbuf_lit(b, "\\f"); break;
        default: {
            static const char hex[] = "0123456789abcdef";
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            tq_strbuf_append(b, esc, 6);
        }
        }
    }
    tq_strbuf_append(b, s + run, len - run);
    tq_strbuf_putc(b, '"');
}

size_t tq_json_string_length(const char *s, size_t len)
{
    size_t n = len + 2;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_escape[c])
            continue;
        /* two bytes for the short escapes, six for \u00XX */
        n += c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f' ? 1 : 5;
    }
    return n;
}

void tq_json_write_int(tq_strbuf *b, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    tq_strbuf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void tq_json_write_double(tq_strbuf *b, double v)
{
    if (!isfinite(v)) {
        tq_strbuf_lit(b, "null");
        return;
    }
    if (v == (double)(int64_t)v && fabs(v) < 1e15) {
        tq_json_write_int(b, (int64_t)v);
        return;
    }
    char tmp[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    tq_strbuf_append(b, tmp, strlen(tmp));
}
