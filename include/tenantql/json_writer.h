/*
 * json_writer.h - append-only JSON output straight into a tq_strbuf. There is no tree:
 * callers emit tokens in order and place their own commas, which is what makes writing a
 * response several times faster than building a DOM and dumping it.
 */
#ifndef TENANTQL_JSON_WRITER_H
#define TENANTQL_JSON_WRITER_H

#include <stdint.h>

#include "tenantql/strbuf.h"

/* Writes s[0..len) as a quoted JSON string. s must be valid UTF-8 (it is not re-validated). */
void tq_json_write_string(tq_strbuf *b, const char *s, size_t len);
static inline void tq_json_write_cstr(tq_strbuf *b, const char *s)
{
    tq_json_write_string(b, s, strlen(s));
}
/* The bytes tq_json_write_string writes for s[0..len), quotes and escapes included. */
size_t tq_json_string_length(const char *s, size_t len);
void tq_json_write_int(tq_strbuf *b, int64_t v);
/* Shortest representation that round-trips; non-finite values are written as null. */
void tq_json_write_double(tq_strbuf *b, double v);

#endif
