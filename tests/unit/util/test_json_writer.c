/* test_json_writer.c - escaping and number output of the append-only JSON writer, and
 * the length it writes (which the executor's answer cap counts). */
#include "tenantql/json_writer.h"
#include "tq_test.h"

static const char *w_str(tq_strbuf *b, const char *s, size_t n)
{
    b->len = 0;
    tq_json_write_string(b, s, n);
    return tq_strbuf_cstr(b);
}

/* tq_json_string_length is the length tq_json_write_string writes. */
static void check_length(tq_strbuf *b, const char *s, size_t n)
{
    CHECK(tq_json_string_length(s, n) == strlen(w_str(b, s, n)));
}

int main(void)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    check_length(&b, "", 0);
    check_length(&b, "plain", 5);
    check_length(&b, "a\"b\\c", 5);
    check_length(&b, "\n\t\r\b\f\x01\x1f\x7f", 8);
    check_length(&b, "\0x", 2);
    check_length(&b, "h\xc3\xa9", 3);
    CHECK_STR(w_str(&b, "plain", 5), "\"plain\"");
    CHECK_STR(w_str(&b, "a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    CHECK_STR(w_str(&b, "\n\t\x01", 3), "\"\\n\\t\\u0001\"");
    CHECK_STR(w_str(&b, "\0x", 2), "\"\\u0000x\"");
    CHECK_STR(w_str(&b, "h\xc3\xa9", 3), "\"h\xc3\xa9\"");
    b.len = 0;
    tq_json_write_int(&b, -9223372036854775807LL - 1);
    CHECK_STR(tq_strbuf_cstr(&b), "-9223372036854775808");
    b.len = 0;
    tq_json_write_double(&b, 0.1);
    CHECK_STR(tq_strbuf_cstr(&b), "0.1");
    b.len = 0;
    tq_json_write_double(&b, 3.0);
    CHECK_STR(tq_strbuf_cstr(&b), "3");
    tq_strbuf_free(&b);
    return TQ_TEST_REPORT();
}
