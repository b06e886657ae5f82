/*
 * lexer.c - the lexical grammar of GraphQL (spec October 2021, section 2.1).
 *
 * Error messages and positions follow graphql-js 16 so that clients see the same text
 * from us as from the reference server. Two things graphql-js never meets, because it
 * works on JavaScript strings, are decided here: bytes that are not UTF-8 are invalid
 * characters, and a surrogate encoded as UTF-8 is treated like graphql-js treats a lone
 * surrogate. Raw control characters other than tab are rejected inside strings, with
 * graphql-js 15's message (the October 2021 spec and graphql-js 16 accept them; the
 * project chose the stricter rule, and escapes such as \u0001 still work).
 */
#include "lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
    CC_NAME_START = 1,
    CC_NAME_CONTINUE = 2,
    CC_DIGIT = 4,
    CC_PLAIN = 8, /* stands for itself inside a string: tab, printable ASCII except " and \ */
};

#define CC_LETTER (CC_NAME_START | CC_NAME_CONTINUE | CC_PLAIN)

static const unsigned char char_class[256] = {
    ['\t'] = CC_PLAIN,
    [' ' ... '!'] = CC_PLAIN,
    ['#' ... '/'] = CC_PLAIN,
    ['0' ... '9'] = CC_DIGIT | CC_NAME_CONTINUE | CC_PLAIN,
    [':' ... '@'] = CC_PLAIN,
    ['A' ... 'Z'] = CC_LETTER,
    ['['] = CC_PLAIN,
    [']' ... '^'] = CC_PLAIN,
    ['_'] = CC_LETTER,
    ['`'] = CC_PLAIN,
    ['a' ... 'z'] = CC_LETTER,
    ['{' ... 0x7f] = CC_PLAIN,
};

static inline bool has_class(char c, unsigned cls)
{
    return (char_class[(unsigned char)c] & cls) != 0;
}

static inline bool is_surrogate(uint32_t cp)
{
    return cp >= 0xd800 && cp <= 0xdfff;
}

static inline bool is_scalar_value(uint32_t cp)
{
    return cp <= 0x10ffff && !is_surrogate(cp);
}

void tq_gql_lexer_init(tq_gql_lexer *lx, tq_arena *a, const char *src, size_t len)
{
    memset(lx, 0, sizeof(*lx));
    lx->src = lx->pos = lx->line_start = src;
    lx->end = src + len;
    lx->line = 1;
    lx->arena = a;
}

const char *tq_gql_token_kind_desc(tq_gql_token_kind kind)
{
    static const char *const desc[] = {
        [TQ_TOK_EOF] = "<EOF>",         [TQ_TOK_BANG] = "\"!\"",       [TQ_TOK_DOLLAR] = "\"$\"",
        [TQ_TOK_AMP] = "\"&\"",         [TQ_TOK_PAREN_L] = "\"(\"",    [TQ_TOK_PAREN_R] = "\")\"",
        [TQ_TOK_SPREAD] = "\"...\"",    [TQ_TOK_COLON] = "\":\"",      [TQ_TOK_EQUALS] = "\"=\"",
        [TQ_TOK_AT] = "\"@\"",          [TQ_TOK_BRACKET_L] = "\"[\"",  [TQ_TOK_BRACKET_R] = "\"]\"",
        [TQ_TOK_BRACE_L] = "\"{\"",     [TQ_TOK_PIPE] = "\"|\"",       [TQ_TOK_BRACE_R] = "\"}\"",
        [TQ_TOK_NAME] = "Name",         [TQ_TOK_INT] = "Int",          [TQ_TOK_FLOAT] = "Float",
        [TQ_TOK_STRING] = "String",     [TQ_TOK_BLOCK_STRING] = "BlockString",
    };
    return desc[kind];
}

/* ---- UTF-8 ---- */

/* Decodes one UTF-8 sequence; returns its length, or 0 when ill-formed. Encoded
 * surrogates are let through so that callers can report them like graphql-js reports a
 * lone surrogate. */
static size_t decode_utf8(const char *p, const char *end, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t avail = (size_t)(end - p);
    unsigned c = s[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xc2 || c > 0xf4)
        return 0;
    size_t n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (avail < n)
        return 0;
    uint32_t v = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_for_len[n] || v > 0x10ffff)
        return 0;
    *cp = v;
    return n;
}

static size_t encode_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* UTF-16 code units in s[0..e); a stray byte counts as one, like its U+FFFD would. */
static uint32_t utf16_units(const char *s, const char *e)
{
    uint32_t n = 0;
    for (; s < e; s++) {
        unsigned char c = (unsigned char)*s;
        n += (c & 0xc0) != 0x80;
        n += c >= 0xf0;
    }
    return n;
}

/* Bytes covering the first `units` UTF-16 code units at p (graphql-js slices messages by
 * code units); a character is never cut in half. */
static size_t bytes_for_units(const char *p, const char *end, size_t units)
{
    const char *q = p;
    while (units > 0 && q < end) {
        uint32_t cp;
        size_t n = decode_utf8(q, end, &cp);
        if (n == 0)
            n = 1;
        q += n;
        units -= (n == 4 && units >= 2) ? 2 : 1;
    }
    return (size_t)(q - p);
}

/* A multi-byte character of n bytes was passed: it occupies fewer columns than bytes. */
static inline void count_wide_char(tq_gql_lexer *lx, size_t n, uint32_t cp)
{
    lx->col_adjust += (uint32_t)n - (cp >= 0x10000 ? 2 : 1);
}

static inline void start_line(tq_gql_lexer *lx, const char *p)
{
    lx->line++;
    lx->line_start = p;
    lx->col_adjust = 0;
}

/* ---- errors ---- */

/* Reports an error at p, which must lie on the lexer's current line. */
__attribute__((format(printf, 3, 4))) static bool lex_error(tq_gql_lexer *lx, const char *p, const char *fmt, ...)
{
    static const char prefix[] = "Syntax Error: ";
    va_list ap;

    lx->err.loc.line = lx->line;
    lx->err.loc.column = 1 + utf16_units(lx->line_start, p);
    memcpy(lx->err.message, prefix, sizeof(prefix));
    va_start(ap, fmt);
    vsnprintf(lx->err.message + sizeof(prefix) - 1, sizeof(lx->err.message) - sizeof(prefix) + 1, fmt, ap);
    va_end(ap);
    return false;
}

/* graphql-js's printCodePointAt: "x" for printable ASCII, U+XXXX otherwise, <EOF> past
 * the end; a byte that is not UTF-8 becomes "byte 0xXX". */
static const char *describe_char(const tq_gql_lexer *lx, const char *p, char buf[static 24])
{
    if (p >= lx->end)
        return "<EOF>";
    unsigned char c = (unsigned char)*p;
    if (c == '"')
        return "'\"'";
    if (c >= 0x20 && c <= 0x7e) {
        snprintf(buf, 24, "\"%c\"", c);
        return buf;
    }
    uint32_t cp;
    if (decode_utf8(p, lx->end, &cp) == 0)
        snprintf(buf, 24, "byte 0x%02X", c);
    else
        snprintf(buf, 24, "U+%04X", (unsigned)cp);
    return buf;
}

static bool unexpected_char(tq_gql_lexer *lx, const char *p)
{
    char buf[24];
    uint32_t cp;

    if (*p == '\'')
        return lex_error(lx, p, "Unexpected single quote character ('), did you mean to use a double quote (\")?");
    size_t n = decode_utf8(p, lx->end, &cp);
    if (n == 0 || is_surrogate(cp))
        return lex_error(lx, p, "Invalid character: %s.", describe_char(lx, p, buf));
    return lex_error(lx, p, "Unexpected character: %s.", describe_char(lx, p, buf));
}

/* ---- ignored tokens ---- */

static inline bool is_bom(const char *p, const char *end)
{
    return end - p >= 3 && (unsigned char)p[0] == 0xef && (unsigned char)p[1] == 0xbb && (unsigned char)p[2] == 0xbf;
}

/* A comment runs to the end of the line. A byte that is not UTF-8 ends it as well and is
 * then reported as the next token, as graphql-js does with a lone surrogate. */
static const char *skip_comment(tq_gql_lexer *lx, const char *p)
{
    const char *end = lx->end;

    for (p++; p < end;) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n' || c == '\r')
            break;
        if (c < 0x80) {
            p++;
            continue;
        }
        uint32_t cp;
        size_t n = decode_utf8(p, end, &cp);
        if (n == 0 || is_surrogate(cp))
            break;
        count_wide_char(lx, n, cp);
        p += n;
    }
    return p;
}

static const char *skip_ignored(tq_gql_lexer *lx, const char *p)
{
    const char *end = lx->end;

    while (p < end) {
        switch ((unsigned char)*p) {
        case ' ':
        case '\t':
        case ',':
            p++;
            break;
        case '\n':
            start_line(lx, ++p);
            break;
        case '\r':
            p += (p + 1 < end && p[1] == '\n') ? 2 : 1;
            start_line(lx, p);
            break;
        case '#':
            p = skip_comment(lx, p);
            break;
        case 0xef:
            if (!is_bom(p, end))
                return p;
            p += 3;
            lx->col_adjust += 2;
            break;
        default:
            return p;
        }
    }
    return p;
}

/* ---- names and numbers ---- */

static bool read_name(tq_gql_lexer *lx, tq_gql_token *t, const char *p)
{
    const char *start = p, *end = lx->end;

    for (p++; p < end && has_class(*p, CC_NAME_CONTINUE); p++)
        ;
    t->kind = TQ_TOK_NAME;
    t->value.s = start;
    t->value.len = (uint32_t)(p - start);
    lx->pos = p;
    return true;
}

/* Returns the end of the run of digits at p, or NULL after reporting that there is none. */
static const char *read_digits(tq_gql_lexer *lx, const char *p)
{
    char buf[24];

    if (p >= lx->end || !has_class(*p, CC_DIGIT)) {
        lex_error(lx, p, "Invalid number, expected digit but got: %s.", describe_char(lx, p, buf));
        return NULL;
    }
    for (p++; p < lx->end && has_class(*p, CC_DIGIT); p++)
        ;
    return p;
}

static bool read_number(tq_gql_lexer *lx, tq_gql_token *t, const char *start)
{
    const char *p = start, *end = lx->end;
    bool is_float = false;
    char buf[24];

    if (*p == '-')
        p++;
    if (p < end && *p == '0') {
        p++;
        if (p < end && has_class(*p, CC_DIGIT))
            return lex_error(lx, p, "Invalid number, unexpected digit after 0: %s.", describe_char(lx, p, buf));
    } else if ((p = read_digits(lx, p)) == NULL) {
        return false;
    }
    if (p < end && *p == '.') {
        is_float = true;
        if ((p = read_digits(lx, p + 1)) == NULL)
            return false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_float = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if ((p = read_digits(lx, p)) == NULL)
            return false;
    }
    /* "1.5.2" and "12abc" must not lex as two tokens */
    if (p < end && (*p == '.' || has_class(*p, CC_NAME_START)))
        return lex_error(lx, p, "Invalid number, expected digit but got: %s.", describe_char(lx, p, buf));

    t->kind = is_float ? TQ_TOK_FLOAT : TQ_TOK_INT;
    t->value.s = start;
    t->value.len = (uint32_t)(p - start);
    lx->pos = p;
    return true;
}

/* ---- escape sequences ---- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Four hex digits at p, or -1 when there are not. */
static int32_t hex4(const char *p, const char *end)
{
    int32_t v = 0;

    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = (v << 4) | d;
    }
    return v;
}

static size_t bad_unicode_escape(tq_gql_lexer *lx, const char *p, size_t units)
{
    int n = (int)bytes_for_units(p, lx->end, units);
    lex_error(lx, p, "Invalid Unicode escape sequence: \"%.*s\".", n, p);
    return 0;
}

/* \u{1F600}: one to eight hex digits naming a Unicode scalar value. The bookkeeping of
 * `size` mirrors graphql-js so that the quoted part of an error message is the same. */
static size_t read_braced_unicode(tq_gql_lexer *lx, const char *p, uint32_t *cp)
{
    uint32_t point = 0;
    size_t size = 3;

    size_t avail = (size_t)(lx->end - p);

    while (size < 12) {
        size_t i = size++;
        char c = i < avail ? p[i] : '\0';
        if (c == '}') {
            if (size < 5 || !is_scalar_value(point))
                break;
            *cp = point;
            return size;
        }
        int d = hex_digit(c);
        if (d < 0)
            break;
        point = (point << 4) | (uint32_t)d;
        if (point & 0x80000000u)
            break;
    }
    return bad_unicode_escape(lx, p, size);
}

/* \uXXXX, where a leading surrogate must be followed by an escaped trailing one. */
static size_t read_fixed_unicode(tq_gql_lexer *lx, const char *p, uint32_t *cp)
{
    const char *end = lx->end;
    int32_t code = hex4(p + 2, end);

    if (code >= 0 && !is_surrogate((uint32_t)code)) {
        *cp = (uint32_t)code;
        return 6;
    }
    if (code >= 0xd800 && code <= 0xdbff && end - p >= 8 && p[6] == '\\' && p[7] == 'u') {
        int32_t low = hex4(p + 8, end);
        if (low >= 0xdc00 && low <= 0xdfff) {
            *cp = 0x10000 + (((uint32_t)code - 0xd800) << 10) + ((uint32_t)low - 0xdc00);
            return 12;
        }
    }
    return bad_unicode_escape(lx, p, 6);
}

/* Reads the escape sequence starting with the backslash at p. Returns its length in
 * bytes and the code point it stands for, or 0 after reporting an invalid one. */
static size_t read_escape(tq_gql_lexer *lx, const char *p, uint32_t *cp)
{
    const char *end = lx->end;

    if (end - p >= 2) {
        switch (p[1]) {
        case 'u':
            return (end - p >= 3 && p[2] == '{') ? read_braced_unicode(lx, p, cp) : read_fixed_unicode(lx, p, cp);
        case '"':
        case '\\':
        case '/':
            *cp = (uint32_t)p[1];
            return 2;
        case 'b':
            *cp = '\b';
            return 2;
        case 'f':
            *cp = '\f';
            return 2;
        case 'n':
            *cp = '\n';
            return 2;
        case 'r':
            *cp = '\r';
            return 2;
        case 't':
            *cp = '\t';
            return 2;
        }
    }
    int n = (int)bytes_for_units(p, end, 2);
    lex_error(lx, p, "Invalid character escape sequence: \"%.*s\".", n, p);
    return 0;
}

/* ---- strings ---- */

/* Checks the string character at *p that is neither plain ASCII, a quote, a backslash nor
 * a line terminator, and steps over it. */
static bool string_char(tq_gql_lexer *lx, const char **pp)
{
    const char *p = *pp;
    unsigned char c = (unsigned char)*p;
    char buf[24];
    uint32_t cp;

    /* an ASCII control character (other than a line terminator): the October 2021 spec
     * and graphql-js 16 accept it as a SourceCharacter */
    if (c < 0x80) {
        *pp = p + 1;
        return true;
    }
    size_t n = decode_utf8(p, lx->end, &cp);
    if (n == 0 || is_surrogate(cp))
        return lex_error(lx, p, "Invalid character within String: %s.", describe_char(lx, p, buf));
    count_wide_char(lx, n, cp);
    *pp = p + n;
    return true;
}

/* Second pass over a string known to be valid: resolves its escape sequences. The value
 * is never longer than the source text, so one allocation of that size suffices. */
static tq_str decode_string(tq_gql_lexer *lx, const char *s, const char *e)
{
    char *out = tq_arena_alloc(lx->arena, (size_t)(e - s) + 1);
    char *o = out;

    while (s < e) {
        const char *bs = memchr(s, '\\', (size_t)(e - s));
        if (bs == NULL)
            bs = e;
        memcpy(o, s, (size_t)(bs - s));
        o += bs - s;
        if (bs == e)
            break;
        uint32_t cp = 0;
        size_t n = read_escape(lx, bs, &cp);
        o += encode_utf8(cp, o);
        s = bs + n;
    }
    *o = '\0';
    return (tq_str){out, (uint32_t)(o - out)};
}

static bool read_string(tq_gql_lexer *lx, tq_gql_token *t, const char *start)
{
    const char *p = start + 1, *end = lx->end;
    bool escaped = false;

    for (;;) {
        if (p >= end)
            return lex_error(lx, p, "Unterminated string.");
        char c = *p;
        if (has_class(c, CC_PLAIN)) {
            p++;
        } else if (c == '"') {
            break;
        } else if (c == '\\') {
            uint32_t cp;
            size_t n = read_escape(lx, p, &cp);
            if (n == 0)
                return false;
            p += n;
            escaped = true;
        } else if (c == '\n' || c == '\r') {
            return lex_error(lx, p, "Unterminated string.");
        } else if (!string_char(lx, &p)) {
            return false;
        }
    }
    t->kind = TQ_TOK_STRING;
    if (escaped) {
        t->value = decode_string(lx, start + 1, p);
    } else {
        t->value.s = tq_arena_strndup(lx->arena, start + 1, (size_t)(p - start - 1));
        t->value.len = (uint32_t)(p - start - 1);
    }
    lx->pos = p + 1;
    return true;
}

/* ---- block strings ---- */

static inline bool is_triple_quote(const char *p, const char *end)
{
    return end - p >= 3 && p[0] == '"' && p[1] == '"' && p[2] == '"';
}

static const char *line_end(const char *p, const char *e)
{
    while (p < e && *p != '\n' && *p != '\r')
        p++;
    return p;
}

static const char *next_line(const char *le, const char *e)
{
    return le + ((le + 1 < e && le[0] == '\r' && le[1] == '\n') ? 2 : 1);
}

static size_t leading_white_space(const char *p, const char *e)
{
    const char *s = p;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    return (size_t)(p - s);
}

/* Copies a block string line, turning each \""" into """. */
static char *copy_block_line(char *o, const char *s, const char *e)
{
    while (s < e) {
        if (*s == '\\' && is_triple_quote(s + 1, e)) {
            memcpy(o, "\"\"\"", 3);
            o += 3;
            s += 4;
        } else {
            *o++ = *s++;
        }
    }
    return o;
}

/* The spec's BlockStringValue(): drop the indentation common to all lines but the first,
 * drop leading and trailing blank lines, and join the rest with \n. Lines of raw text
 * s[0..e) may end in \n, \r\n or \r. */
static tq_str block_string_value(tq_arena *a, const char *s, const char *e)
{
    size_t common_indent = SIZE_MAX;
    long first = -1, last = -1, i = 0;

    for (const char *line = s;; i++) {
        const char *le = line_end(line, e);
        size_t indent = leading_white_space(line, le);
        if (indent < (size_t)(le - line)) {
            if (first < 0)
                first = i;
            last = i;
            if (i != 0 && indent < common_indent)
                common_indent = indent;
        }
        if (le == e)
            break;
        line = next_line(le, e);
    }

    char *out = tq_arena_alloc(a, (size_t)(e - s) + 1), *o = out;
    i = 0;
    for (const char *line = s; i <= last; i++) {
        const char *le = line_end(line, e);
        if (i >= first) {
            const char *from = line;
            if (i != 0)
                from += (size_t)(le - line) < common_indent ? (size_t)(le - line) : common_indent;
            if (i > first)
                *o++ = '\n';
            o = copy_block_line(o, from, le);
        }
        if (le == e)
            break;
        line = next_line(le, e);
    }
    *o = '\0';
    return (tq_str){out, (uint32_t)(o - out)};
}

static bool read_block_string(tq_gql_lexer *lx, tq_gql_token *t, const char *start)
{
    const char *p = start + 3, *end = lx->end;

    for (;;) {
        if (p >= end)
            return lex_error(lx, p, "Unterminated string.");
        char c = *p;
        if (has_class(c, CC_PLAIN)) {
            p++;
        } else if (c == '"') {
            if (is_triple_quote(p, end))
                break;
            p++;
        } else if (c == '\\') {
            p += is_triple_quote(p + 1, end) ? 4 : 1;
        } else if (c == '\n') {
            start_line(lx, ++p);
        } else if (c == '\r') {
            p += (p + 1 < end && p[1] == '\n') ? 2 : 1;
            start_line(lx, p);
        } else if (!string_char(lx, &p)) {
            return false;
        }
    }
    t->kind = TQ_TOK_BLOCK_STRING;
    t->value = block_string_value(lx->arena, start + 3, p);
    lx->pos = p + 3;
    return true;
}

/* ---- tokens ---- */

static inline bool punctuator(tq_gql_lexer *lx, tq_gql_token *t, const char *p, size_t len, tq_gql_token_kind kind)
{
    t->kind = kind;
    lx->pos = p + len;
    return true;
}

bool tq_gql_lexer_next(tq_gql_lexer *lx, tq_gql_token *t)
{
    const char *p = skip_ignored(lx, lx->pos), *end = lx->end;

    t->loc.line = lx->line;
    t->loc.column = (uint32_t)(p - lx->line_start) + 1 - lx->col_adjust;
    t->value.s = NULL;
    t->value.len = 0;
    if (p >= end) {
        lx->pos = end;
        t->kind = TQ_TOK_EOF;
        return true;
    }
    switch (*p) {
    case '!': return punctuator(lx, t, p, 1, TQ_TOK_BANG);
    case '$': return punctuator(lx, t, p, 1, TQ_TOK_DOLLAR);
    case '&': return punctuator(lx, t, p, 1, TQ_TOK_AMP);
    case '(': return punctuator(lx, t, p, 1, TQ_TOK_PAREN_L);
    case ')': return punctuator(lx, t, p, 1, TQ_TOK_PAREN_R);
    case ':': return punctuator(lx, t, p, 1, TQ_TOK_COLON);
    case '=': return punctuator(lx, t, p, 1, TQ_TOK_EQUALS);
    case '@': return punctuator(lx, t, p, 1, TQ_TOK_AT);
    case '[': return punctuator(lx, t, p, 1, TQ_TOK_BRACKET_L);
    case ']': return punctuator(lx, t, p, 1, TQ_TOK_BRACKET_R);
    case '{': return punctuator(lx, t, p, 1, TQ_TOK_BRACE_L);
    case '|': return punctuator(lx, t, p, 1, TQ_TOK_PIPE);
    case '}': return punctuator(lx, t, p, 1, TQ_TOK_BRACE_R);
    case '.':
        if (end - p >= 3 && p[1] == '.' && p[2] == '.')
            return punctuator(lx, t, p, 3, TQ_TOK_SPREAD);
        return unexpected_char(lx, p);
    case '"':
        return is_triple_quote(p, end) ? read_block_string(lx, t, p) : read_string(lx, t, p);
    case '-':
        return read_number(lx, t, p);
    }
    if (has_class(*p, CC_DIGIT))
        return read_number(lx, t, p);
    if (has_class(*p, CC_NAME_START))
        return read_name(lx, t, p);
    return unexpected_char(lx, p);
}
