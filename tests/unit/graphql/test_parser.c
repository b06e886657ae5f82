/*
 * test_parser.c - the GraphQL lexer and parser: decoded literals, the shape and
 * locations of every kind of definition and selection, the type system grammar (with
 * the server's real schema), graphql-js-compatible syntax errors, and the depth and
 * token limits that protect the server from hostile documents.
 */
#include <stdlib.h>
#include <time.h>

#include "tenantql/arena.h"
#include "tenantql/embedded.h"
#include "tenantql/parser.h"
#include "tq_test.h"

/* ---- helpers ---- */

static void check_tq_str(const char *file, int line, tq_str got, const char *want, size_t want_len)
{
    if (got.s != NULL && got.len == want_len && memcmp(got.s, want, want_len) == 0 && got.s[got.len] == '\0') {
        tq_test_passed++;
    } else {
        tq_test_failed++;
        fprintf(stderr, "%s:%d: got \"%.*s\" (len %u), want \"%s\" (len %zu)\n", file, line, got.s ? (int)got.len : 6,
                got.s ? got.s : "(null)", got.len, want, want_len);
    }
}
/* compares a tq_str with a string literal, NUL bytes and terminator included */
#define CHECK_TQ(got, lit) check_tq_str(__FILE__, __LINE__, (got), (lit), sizeof(lit) - 1)
#define CHECK_LOC(l, ln, col) CHECK((l).line == (ln) && (l).column == (col))

static tq_gql_document *parse_with(tq_arena *a, const char *src, size_t len, const tq_gql_parse_options *o)
{
    tq_gql_parse_error e;
    tq_gql_document *d = tq_gql_parse(a, src, len, o, &e);
    if (d == NULL)
        fprintf(stderr, "unexpected error parsing \"%.60s\": %s (%u:%u)\n", src, e.message, e.loc.line, e.loc.column);
    CHECK(d != NULL);
    return d;
}

static tq_gql_document *parse_exec(tq_arena *a, const char *src)
{
    tq_gql_parse_options o = {.allow_type_system = false};
    return parse_with(a, src, strlen(src), &o);
}

static tq_gql_document *parse_sdl(tq_arena *a, const char *src)
{
    tq_gql_parse_options o = {.allow_type_system = true};
    return parse_with(a, src, strlen(src), &o);
}

/* Expects a syntax error with exactly this message and location. */
static void check_error(const char *file, int line, const char *src, size_t len, const tq_gql_parse_options *o,
                        const char *msg, uint32_t eline, uint32_t ecol)
{
    tq_arena a;
    tq_gql_parse_error e;

    tq_arena_init(&a, 0);
    tq_gql_document *d = tq_gql_parse(&a, src, len, o, &e);
    if (d == NULL && strcmp(e.message, msg) == 0 && e.loc.line == eline && e.loc.column == ecol) {
        tq_test_passed++;
    } else {
        tq_test_failed++;
        fprintf(stderr, "%s:%d: parsing \"%.80s\"\n  got  %s (%u:%u)\n  want %s (%u:%u)\n", file, line, src,
                d ? "success" : e.message, d ? 0 : e.loc.line, d ? 0 : e.loc.column, msg, eline, ecol);
    }
    tq_arena_free(&a);
}
#define CHECK_ERROR_OPTS(src, opts, msg, ln, col)                                                            \
    check_error(__FILE__, __LINE__, (src), sizeof(src) - 1, (opts), (msg), (ln), (col))
#define CHECK_EXEC_ERROR(src, msg, ln, col) CHECK_ERROR_OPTS(src, &exec_opts, msg, ln, col)
#define CHECK_SDL_ERROR(src, msg, ln, col) CHECK_ERROR_OPTS(src, &sdl_opts, msg, ln, col)

static const tq_gql_parse_options exec_opts = {.allow_type_system = false};
static const tq_gql_parse_options sdl_opts = {.allow_type_system = true};

/* The first field of the first operation: most value tests put their literal there. */
static const tq_gql_selection *first_field(const tq_gql_document *d)
{
    return &d->defs[0].u.operation.selection_set.items[0];
}

static const tq_gql_value *arg_value(const tq_gql_selection *field, const char *name)
{
    for (uint32_t i = 0; i < field->nargs; i++)
        if (strcmp(field->args[i].name.s, name) == 0)
            return field->args[i].value;
    fprintf(stderr, "no argument %s\n", name);
    return NULL;
}

/* Parses "{ f(v: <literal>) }" and returns the value of v. */
static const tq_gql_value *literal(tq_arena *a, const char *lit)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "{ f(v: %s) }", lit);
    tq_gql_document *d = parse_exec(a, buf);
    return d ? arg_value(first_field(d), "v") : NULL;
}

static const tq_gql_type_def *find_type(const tq_gql_document *d, const char *name, bool extension, int nth)
{
    for (uint32_t i = 0; i < d->count; i++) {
        const tq_gql_definition *def = &d->defs[i];
        if (def->kind == TQ_GQL_DEF_OPERATION || def->kind == TQ_GQL_DEF_FRAGMENT ||
            def->kind == TQ_GQL_DEF_DIRECTIVE || def->kind == TQ_GQL_DEF_SCHEMA)
            continue;
        if (def->extension == extension && strcmp(def->u.type.name.s, name) == 0 && nth-- == 0)
            return &def->u.type;
    }
    fprintf(stderr, "no %s%s\n", extension ? "extension of " : "type ", name);
    return NULL;
}

static const tq_gql_field_def *find_field(const tq_gql_type_def *t, const char *name)
{
    for (uint32_t i = 0; t != NULL && i < t->nfields; i++)
        if (strcmp(t->fields[i].name.s, name) == 0)
            return &t->fields[i];
    fprintf(stderr, "no field %s\n", name);
    return NULL;
}

static bool is_named(const tq_gql_type *t, const char *name)
{
    return t != NULL && t->kind == TQ_GQL_TYPE_NAMED && strcmp(t->name.s, name) == 0;
}

/* [Name!]! and friends: true when t has exactly the shape written as `shape`. */
static bool type_is(const tq_gql_type *t, const char *shape)
{
    size_t n = strlen(shape);
    while (t != NULL && n > 0) {
        if (shape[n - 1] == '!') {
            if (t->kind != TQ_GQL_TYPE_NON_NULL)
                return false;
            t = t->of_type;
            n--;
        } else if (shape[n - 1] == ']') {
            if (t->kind != TQ_GQL_TYPE_LIST || shape[0] != '[')
                return false;
            t = t->of_type;
            shape++;
            n -= 2;
        } else {
            return t->kind == TQ_GQL_TYPE_NAMED && t->name.len == n && memcmp(t->name.s, shape, n) == 0;
        }
    }
    return false;
}

/* src = prefix + open*n + middle + close*n + suffix, on the heap */
static char *nested(const char *prefix, const char *open, size_t n, const char *middle, const char *close,
                    const char *suffix, size_t *len)
{
    size_t lo = strlen(open), lc = strlen(close), lp = strlen(prefix), lm = strlen(middle), ls = strlen(suffix);
    char *s = malloc(lp + n * (lo + lc) + lm + ls + 1), *o = s;
    memcpy(o, prefix, lp);
    o += lp;
    for (size_t i = 0; i < n; i++, o += lo)
        memcpy(o, open, lo);
    memcpy(o, middle, lm);
    o += lm;
    for (size_t i = 0; i < n; i++, o += lc)
        memcpy(o, close, lc);
    memcpy(o, suffix, ls);
    o += ls;
    *o = '\0';
    *len = (size_t)(o - s);
    return s;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- literals ---- */

static void test_numbers(void)
{
    tq_arena a;
    tq_arena_init(&a, 0);
    static const struct {
        const char *src;
        tq_gql_value_kind kind;
    } cases[] = {
        {"0", TQ_GQL_VALUE_INT},           {"-0", TQ_GQL_VALUE_INT},          {"123", TQ_GQL_VALUE_INT},
        {"-45", TQ_GQL_VALUE_INT},         {"9007199254740993", TQ_GQL_VALUE_INT},
        {"1.5", TQ_GQL_VALUE_FLOAT},       {"-0.0", TQ_GQL_VALUE_FLOAT},      {"1e10", TQ_GQL_VALUE_FLOAT},
        {"6.0221413E23", TQ_GQL_VALUE_FLOAT}, {"1.5e+3", TQ_GQL_VALUE_FLOAT}, {"-1.23E-4", TQ_GQL_VALUE_FLOAT},
        {"0e0", TQ_GQL_VALUE_FLOAT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const tq_gql_value *v = literal(&a, cases[i].src);
        CHECK(v != NULL && v->kind == cases[i].kind);
        if (v != NULL)
            CHECK_STR(v->u.str.s, cases[i].src);
    }
    tq_arena_free(&a);
}

static void test_strings(void)
{
    tq_arena a;
    tq_arena_init(&a, 0);
    const tq_gql_value *v;

    v = literal(&a, "\"plain text\"");
    CHECK(v && v->kind == TQ_GQL_VALUE_STRING && !v->block);
    CHECK_TQ(v->u.str, "plain text");
    CHECK_TQ(literal(&a, "\"\"")->u.str, "");
    CHECK_TQ(literal(&a, "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"")->u.str, "\" \\ / \b \f \n \r \t");
    CHECK_TQ(literal(&a, "\"caf\\u00e9 \\u00E9\"")->u.str, "caf\xc3\xa9 \xc3\xa9");
    CHECK_TQ(literal(&a, "\"\\u0041\\u{42}\\u{0000043}\"")->u.str, "ABC");
    CHECK_TQ(literal(&a, "\"\\u{1F600}\"")->u.str, "\xf0\x9f\x98\x80");
    CHECK_TQ(literal(&a, "\"\\u{1f600}\"")->u.str, "\xf0\x9f\x98\x80");
    CHECK_TQ(literal(&a, "\"\\uD83D\\uDE00\"")->u.str, "\xf0\x9f\x98\x80");   /* surrogate pair */
    CHECK_TQ(literal(&a, "\"\\ud83d\\ude00!\"")->u.str, "\xf0\x9f\x98\x80!");
    CHECK_TQ(literal(&a, "\"\\u{10FFFF}\"")->u.str, "\xf4\x8f\xbf\xbf");
    CHECK_TQ(literal(&a, "\"\\uFFFF\"")->u.str, "\xef\xbf\xbf");
    CHECK_TQ(literal(&a, "\"a\\u0000b\"")->u.str, "a\0b");                     /* U+0000 only via escape */
    CHECK_TQ(literal(&a, "\"\\u{0}\"")->u.str, "\0");
    CHECK_TQ(literal(&a, "\"h\xc3\xa9 \xf0\x9f\x98\x80\"")->u.str, "h\xc3\xa9 \xf0\x9f\x98\x80"); /* raw UTF-8 */
    CHECK_TQ(literal(&a, "\"tab\there\"")->u.str, "tab\there");
    CHECK_TQ(literal(&a, "\"# not a comment, \\\\u0041\"")->u.str, "# not a comment, \\u0041");
    tq_arena_free(&a);
}

static void test_block_strings(void)
{
    /* expected values produced by graphql-js 16 */
    static const struct {
        const char *src, *want;
    } cases[] = {
        {"\"\"\"\n    Hello,\n      World!\n\n    Yours,\n      GraphQL.\n  \"\"\"", "Hello,\n  World!\n\nYours,\n  GraphQL."},
        {"\"\"\"  first\n    second\n      third\n  \"\"\"", "  first\nsecond\n  third"},
        {"\"\"\"\n\n    \n  x\n    \n    \"\"\"", "x"},
        {"\"\"\"   \"\"\"", ""},
        {"\"\"\"\"\"\"", ""},
        {"\"\"\"\n  a\n \n  b\n\"\"\"", "a\n\nb"},
        {"\"\"\"\ttab\n\t  x\"\"\"", "\ttab\nx"},
        {"\"\"\"x\r\ny\rz\n\r\n  w\"\"\"", "x\ny\nz\n\n  w"},
        {"\"\"\"\n  \\\"\"\"quoted\\\"\"\"\n    x\n\"\"\"", "\"\"\"quoted\"\"\"\n  x"},
        {"\"\"\"a \\\\n b \\u0041 \" \"\"  \"\"\"", "a \\\\n b \\u0041 \" \"\"  "},
        {"\"\"\"\r\n  a\r\n    b\r\n  \"\"\"", "a\n  b"},
        {"\"\"\"a\n  \n    \n  b\"\"\"", "a\n\n  \nb"},
        {"\"\"\"\n   line1\n\n   line3\n\"\"\"", "line1\n\nline3"},
        {"\"\"\"\n \303\251\n   \360\237\230\200\"\"\"", "\303\251\n  \360\237\230\200"},
    };
    tq_arena a;
    tq_arena_init(&a, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const tq_gql_value *v = literal(&a, cases[i].src);
        CHECK(v != NULL && v->kind == TQ_GQL_VALUE_STRING && v->block);
        if (v != NULL) {
            CHECK_STR(v->u.str.s, cases[i].want);
            CHECK(v->u.str.len == strlen(cases[i].want));
        }
    }
    tq_arena_free(&a);
}

static void test_other_values(void)
{
    tq_arena a;
    tq_arena_init(&a, 0);
    tq_gql_document *d = parse_exec(&a, "{ f(t: true, f: false, n: null, e: ENUM_VALUE, e2: True, v: $var,\n"
                                        "     l: [1, \"two\", [3.0, []], {x: null}], o: {a: 1, b: {c: [$w]}}, eo: {}) }");
    if (d == NULL)
        goto out;
    const tq_gql_selection *f = first_field(d);
    CHECK(f->nargs == 9);
    CHECK(arg_value(f, "t")->kind == TQ_GQL_VALUE_BOOLEAN && arg_value(f, "t")->u.boolean);
    CHECK(arg_value(f, "f")->kind == TQ_GQL_VALUE_BOOLEAN && !arg_value(f, "f")->u.boolean);
    CHECK(arg_value(f, "n")->kind == TQ_GQL_VALUE_NULL);
    CHECK(arg_value(f, "e")->kind == TQ_GQL_VALUE_ENUM);
    CHECK_TQ(arg_value(f, "e")->u.str, "ENUM_VALUE");
    CHECK(arg_value(f, "e2")->kind == TQ_GQL_VALUE_ENUM); /* keywords are case-sensitive */
    CHECK(arg_value(f, "v")->kind == TQ_GQL_VALUE_VARIABLE);
    CHECK_TQ(arg_value(f, "v")->u.str, "var");
    CHECK_LOC(arg_value(f, "v")->loc, 1, 61);

    const tq_gql_value *l = arg_value(f, "l");
    CHECK(l->kind == TQ_GQL_VALUE_LIST && l->u.list.count == 4);
    CHECK_LOC(l->loc, 2, 9);
    CHECK(l->u.list.items[0]->kind == TQ_GQL_VALUE_INT);
    CHECK_TQ(l->u.list.items[1]->u.str, "two");
    CHECK_LOC(l->u.list.items[1]->loc, 2, 13);
    const tq_gql_value *inner = l->u.list.items[2];
    CHECK(inner->kind == TQ_GQL_VALUE_LIST && inner->u.list.count == 2);
    CHECK(inner->u.list.items[0]->kind == TQ_GQL_VALUE_FLOAT);
    CHECK(inner->u.list.items[1]->kind == TQ_GQL_VALUE_LIST && inner->u.list.items[1]->u.list.count == 0 &&
          inner->u.list.items[1]->u.list.items == NULL);
    CHECK(l->u.list.items[3]->kind == TQ_GQL_VALUE_OBJECT && l->u.list.items[3]->u.object.count == 1);

    const tq_gql_value *o = arg_value(f, "o");
    CHECK(o->kind == TQ_GQL_VALUE_OBJECT && o->u.object.count == 2);
    CHECK_TQ(o->u.object.fields[0].name, "a");
    CHECK_LOC(o->u.object.fields[0].loc, 2, 47);
    CHECK_TQ(o->u.object.fields[0].value->u.str, "1");
    const tq_gql_value *b = o->u.object.fields[1].value;
    CHECK(b->kind == TQ_GQL_VALUE_OBJECT && b->u.object.count == 1);
    const tq_gql_value *c = b->u.object.fields[0].value;
    CHECK(c->kind == TQ_GQL_VALUE_LIST && c->u.list.count == 1 && c->u.list.items[0]->kind == TQ_GQL_VALUE_VARIABLE);
    CHECK_TQ(c->u.list.items[0]->u.str, "w");
    CHECK(arg_value(f, "eo")->kind == TQ_GQL_VALUE_OBJECT && arg_value(f, "eo")->u.object.count == 0);
out:
    tq_arena_free(&a);
}

/* ---- executable definitions ---- */

static const char query_doc[] =
    "query Q($id: ID!, $ids: [[Int!]]! = [[1]] @v, $s: String = \"x\") @op(a: 1) {\n"
    "  alias: field(id: $id, n: 2) @skip(if: false) @include(if: true) {\n"
    "    leaf\n"
    "    ...Frag @d\n"
    "    ... on User @i { name }\n"
    "    ... @include(if: $b) { email }\n"
    "    ... { bare }\n"
    "  }\n"
    "  other\n"
    "}\n"
    "mutation { m }\n"
    "subscription S { s }\n"
    "query { q }\n"
    "{ shorthand }\n"
    "fragment Frag on User @fd { id, on: on }";

static void check_variables(const tq_gql_operation *op)
{
    CHECK(op->nvars == 3);
    const tq_gql_variable_def *v = op->vars;
    CHECK_TQ(v[0].name, "id");
    CHECK_LOC(v[0].loc, 1, 9);
    CHECK(type_is(v[0].type, "ID!"));
    CHECK_LOC(v[0].type->loc, 1, 14);
    CHECK(v[0].default_value == NULL && v[0].ndirectives == 0 && v[0].directives == NULL);

    CHECK_TQ(v[1].name, "ids");
    CHECK(type_is(v[1].type, "[[Int!]]!"));
    CHECK_LOC(v[1].type->loc, 1, 25);                     /* the non-null starts where its list does */
    CHECK_LOC(v[1].type->of_type->of_type->loc, 1, 26);   /* the inner list */
    CHECK_LOC(v[1].type->of_type->of_type->of_type->of_type->loc, 1, 27); /* Int */
    CHECK(v[1].default_value != NULL && v[1].default_value->kind == TQ_GQL_VALUE_LIST);
    CHECK(v[1].ndirectives == 1);
    CHECK_TQ(v[1].directives[0].name, "v");
    CHECK_LOC(v[1].directives[0].loc, 1, 43);

    CHECK(is_named(v[2].type, "String"));
    CHECK(v[2].default_value != NULL);
    CHECK_TQ(v[2].default_value->u.str, "x");
    CHECK_LOC(v[2].default_value->loc, 1, 60);
}

static void check_field_selection(const tq_gql_selection *f)
{
    CHECK(f->kind == TQ_GQL_SEL_FIELD);
    CHECK_TQ(f->alias, "alias");
    CHECK_TQ(f->name, "field");
    CHECK_LOC(f->loc, 2, 3);
    CHECK(f->nargs == 2);
    CHECK_TQ(f->args[0].name, "id");
    CHECK_LOC(f->args[0].loc, 2, 16);
    CHECK(f->args[0].value->kind == TQ_GQL_VALUE_VARIABLE);
    CHECK_LOC(f->args[0].value->loc, 2, 20);
    CHECK_TQ(f->args[1].value->u.str, "2");
    CHECK(f->ndirectives == 2);
    CHECK_TQ(f->directives[0].name, "skip");
    CHECK_LOC(f->directives[0].loc, 2, 31);
    CHECK(f->directives[0].nargs == 1 && f->directives[0].args[0].value->kind == TQ_GQL_VALUE_BOOLEAN);
    CHECK_TQ(f->directives[1].name, "include");
    CHECK_LOC(f->directives[1].args[0].loc, 2, 57);
    CHECK(f->selection_set.count == 5);
    CHECK_LOC(f->selection_set.loc, 2, 67);
}

static void check_fragment_selections(const tq_gql_selection *s)
{
    /* leaf */
    CHECK(s[0].kind == TQ_GQL_SEL_FIELD && s[0].alias.len == 0 && s[0].nargs == 0 && s[0].args == NULL);
    CHECK_TQ(s[0].name, "leaf");
    CHECK(s[0].selection_set.count == 0 && s[0].selection_set.items == NULL);
    /* ...Frag @d */
    CHECK(s[1].kind == TQ_GQL_SEL_FRAGMENT_SPREAD);
    CHECK_TQ(s[1].name, "Frag");
    CHECK_LOC(s[1].loc, 4, 5);
    CHECK(s[1].ndirectives == 1);
    CHECK_TQ(s[1].directives[0].name, "d");
    /* ... on User @i { name } */
    CHECK(s[2].kind == TQ_GQL_SEL_INLINE_FRAGMENT);
    CHECK_TQ(s[2].type_condition, "User");
    CHECK_LOC(s[2].loc, 5, 5);
    CHECK_LOC(s[2].type_condition_loc, 5, 12);
    CHECK(s[2].ndirectives == 1 && s[2].selection_set.count == 1);
    CHECK_TQ(s[2].selection_set.items[0].name, "name");
    CHECK_LOC(s[2].selection_set.loc, 5, 20);
    /* ... @include(if: $b) { email } */
    CHECK(s[3].kind == TQ_GQL_SEL_INLINE_FRAGMENT && s[3].type_condition.len == 0);
    CHECK(s[3].ndirectives == 1);
    CHECK_TQ(s[3].directives[0].name, "include");
    CHECK_TQ(s[3].directives[0].args[0].value->u.str, "b");
    /* ... { bare } */
    CHECK(s[4].kind == TQ_GQL_SEL_INLINE_FRAGMENT && s[4].type_condition.len == 0 && s[4].ndirectives == 0);
    CHECK_TQ(s[4].selection_set.items[0].name, "bare");
}

static void test_executable_definitions(void)
{
    tq_arena a;
    tq_arena_init(&a, 0);
    tq_gql_document *d = parse_exec(&a, query_doc);
    if (d == NULL)
        goto out;
    CHECK(d->count == 6);

    const tq_gql_definition *def = &d->defs[0];
    const tq_gql_operation *op = &def->u.operation;
    CHECK(def->kind == TQ_GQL_DEF_OPERATION && !def->extension && op->type == TQ_GQL_OP_QUERY);
    CHECK_LOC(def->loc, 1, 1);
    CHECK_TQ(op->name, "Q");
    check_variables(op);
    CHECK(op->ndirectives == 1);
    CHECK_TQ(op->directives[0].name, "op");
    CHECK_LOC(op->directives[0].loc, 1, 65);
    CHECK(op->selection_set.count == 2);
    CHECK_LOC(op->selection_set.loc, 1, 75);
    check_field_selection(&op->selection_set.items[0]);
    check_fragment_selections(op->selection_set.items[0].selection_set.items);
    CHECK_TQ(op->selection_set.items[1].name, "other");
    CHECK_LOC(op->selection_set.items[1].loc, 9, 3);

    op = &d->defs[1].u.operation;
    CHECK(op->type == TQ_GQL_OP_MUTATION && op->name.len == 0 && op->nvars == 0 && op->vars == NULL);
    CHECK_LOC(d->defs[1].loc, 11, 1);
    op = &d->defs[2].u.operation;
    CHECK(op->type == TQ_GQL_OP_SUBSCRIPTION);
    CHECK_TQ(op->name, "S");
    op = &d->defs[3].u.operation;
    CHECK(op->type == TQ_GQL_OP_QUERY && op->name.len == 0);
    CHECK_LOC(op->selection_set.loc, 13, 7);
    op = &d->defs[4].u.operation;
    CHECK(d->defs[4].kind == TQ_GQL_DEF_OPERATION && op->type == TQ_GQL_OP_QUERY && op->name.len == 0);
    CHECK_LOC(d->defs[4].loc, 14, 1);
    CHECK_LOC(op->selection_set.loc, 14, 1);
    CHECK_TQ(op->selection_set.items[0].name, "shorthand");

    const tq_gql_fragment *fr = &d->defs[5].u.fragment;
    CHECK(d->defs[5].kind == TQ_GQL_DEF_FRAGMENT);
    CHECK_LOC(d->defs[5].loc, 15, 1);
    CHECK_TQ(fr->name, "Frag");
    CHECK_TQ(fr->type_condition, "User");
    CHECK_LOC(fr->type_condition_loc, 15, 18);
    CHECK(fr->ndirectives == 1);
    CHECK_TQ(fr->directives[0].name, "fd");
    CHECK(fr->selection_set.count == 2);
    CHECK_TQ(fr->selection_set.items[1].alias, "on"); /* "on" is only reserved as a fragment name */
    CHECK_TQ(fr->selection_set.items[1].name, "on");
out:
    tq_arena_free(&a);
}

/* Ignored tokens, and columns counted in UTF-16 code units as graphql-js does. */
static void test_ignored_and_locations(void)
{
    tq_arena a;
    tq_arena_init(&a, 0);
    tq_gql_document *d = parse_exec(&a, "\xef\xbb\xbf# comment \xc3\xa9\r\n"
                                        "{ a(x: \"\xc3\xa9\xf0\x9f\x98\x80\") b ,,, c # trailing\r"
                                        "  d(s: \"\"\"\n \xf0\x9f\x98\x80\n\"\"\" ) \xef\xbb\xbf e }\n");
    if (d == NULL)
        goto out;
    const tq_gql_selection *s = d->defs[0].u.operation.selection_set.items;
    CHECK(d->defs[0].u.operation.selection_set.count == 5);
    CHECK_LOC(d->defs[0].loc, 2, 1);
    CHECK_LOC(s[0].loc, 2, 3);
    CHECK_LOC(s[1].loc, 2, 15);  /* after "é😀": 1 + 2 code units, not 6 bytes */
    CHECK_LOC(s[2].loc, 2, 21);
    CHECK_LOC(s[3].loc, 3, 3);   /* \r alone ends a line */
    CHECK_TQ(s[3].args[0].value->u.str, "\xf0\x9f\x98\x80");
    CHECK_LOC(s[4].loc, 5, 9);   /* a block string's lines count; a BOM is one code unit */

    d = parse_exec(&a, "{a{b}c{d}}query($a:Int){a}");
    CHECK(d != NULL && d->count == 2);
    d = parse_exec(&a, "query query { query }");  /* keywords are ordinary names elsewhere */
    CHECK(d != NULL && d->defs[0].u.operation.name.len == 5);
out:
    tq_arena_free(&a);
}

/* ---- type system ---- */

static const char sdl_doc[] =
    "\"\"\"\n  The root\n    schema.\n\"\"\"\n"
    "schema @a { query: Q mutation: M }\n"
    "extend schema @b { subscription: S }\n"
    "\"Scalar desc\" scalar Date @specifiedBy(url: \"https://x\")\n"
    "extend scalar Date @c\n"
    "interface Node { id: ID! }\n"
    "interface Resource implements Node { id: ID! url: String }\n"
    "type Q implements & Node & Resource @key(f: \"id\") {\n"
    "  \"The id\"\n"
    "  id: ID!\n"
    "  url: String @deprecated(reason: \"no\")\n"
    "  things(first: Int = 10, \"\"\"Filter\"\"\" filter: F = {a: [1, 2]}, order: Order = ASC @x): [Thing!]!\n"
    "}\n"
    "extend type Q implements Other\n"
    "extend type Q @d\n"
    "extend type Q { more: Int }\n"
    "union U = | A | B\n"
    "extend union U = C\n"
    "extend union U @d\n"
    "enum Order { \"up\" ASC @x DESC }\n"
    "extend enum Order { RANDOM }\n"
    "input F { a: [Int!] = [] \"b\" b: String @d }\n"
    "extend input F { c: Int }\n"
    "extend interface Node @d\n"
    "directive @key(f: String!) repeatable on OBJECT | INTERFACE\n"
    "\"dd\" directive @x on | FIELD | ENUM_VALUE | VARIABLE_DEFINITION\n"
    "type Empty\n"
    "union NoMembers\n";

static void check_schema_and_scalar(const tq_gql_document *d)
{
    const tq_gql_definition *def = &d->defs[0];
    CHECK(def->kind == TQ_GQL_DEF_SCHEMA && !def->extension);
    CHECK_LOC(def->loc, 5, 1); /* the keyword, not the description */
    CHECK_TQ(def->u.type.description, "The root\n  schema.");
    CHECK(def->u.type.name.len == 0 && def->u.type.ndirectives == 1 && def->u.type.nroot_ops == 2);
    CHECK(def->u.type.root_ops[0].operation == TQ_GQL_OP_QUERY);
    CHECK_TQ(def->u.type.root_ops[0].type.name, "Q");
    CHECK_LOC(def->u.type.root_ops[0].type.loc, 5, 20);
    CHECK(def->u.type.root_ops[1].operation == TQ_GQL_OP_MUTATION);

    def = &d->defs[1];
    CHECK(def->kind == TQ_GQL_DEF_SCHEMA && def->extension && def->u.type.description.s == NULL);
    CHECK(def->u.type.nroot_ops == 1 && def->u.type.root_ops[0].operation == TQ_GQL_OP_SUBSCRIPTION);
    CHECK_LOC(def->loc, 6, 1);

    def = &d->defs[2];
    CHECK(def->kind == TQ_GQL_DEF_SCALAR && !def->extension);
    CHECK_TQ(def->u.type.description, "Scalar desc");
    CHECK_TQ(def->u.type.name, "Date");
    CHECK_LOC(def->loc, 7, 15);
    CHECK(def->u.type.ndirectives == 1);
    CHECK_TQ(def->u.type.directives[0].args[0].value->u.str, "https://x");
    CHECK(d->defs[3].kind == TQ_GQL_DEF_SCALAR && d->defs[3].extension && d->defs[3].u.type.ndirectives == 1);
}

static void check_object_type(const tq_gql_document *d)
{
    const tq_gql_type_def *res = find_type(d, "Resource", false, 0);
    CHECK(res != NULL && d->defs[5].kind == TQ_GQL_DEF_INTERFACE && res->ninterfaces == 1);
    CHECK_TQ(res->interfaces[0].name, "Node");

    const tq_gql_type_def *q = find_type(d, "Q", false, 0);
    if (q == NULL)
        return;
    CHECK(d->defs[6].kind == TQ_GQL_DEF_OBJECT && q->description.s == NULL);
    CHECK(q->ninterfaces == 2);
    CHECK_TQ(q->interfaces[0].name, "Node");
    CHECK_TQ(q->interfaces[1].name, "Resource");
    CHECK_LOC(q->interfaces[1].loc, 11, 28);
    CHECK(q->ndirectives == 1 && q->nfields == 3);
    CHECK_TQ(q->fields[0].description, "The id");
    CHECK_TQ(q->fields[0].name, "id");
    CHECK_LOC(q->fields[0].loc, 13, 3);
    CHECK(type_is(q->fields[0].type, "ID!") && q->fields[0].nargs == 0);
    CHECK(q->fields[1].ndirectives == 1);
    CHECK_TQ(q->fields[1].directives[0].name, "deprecated");

    const tq_gql_field_def *things = &q->fields[2];
    CHECK(things->nargs == 3 && type_is(things->type, "[Thing!]!"));
    CHECK_TQ(things->args[0].name, "first");
    CHECK(things->args[0].description.s == NULL && is_named(things->args[0].type, "Int"));
    CHECK(things->args[0].default_value->kind == TQ_GQL_VALUE_INT);
    CHECK_TQ(things->args[0].default_value->u.str, "10");
    CHECK_TQ(things->args[1].description, "Filter");
    CHECK_LOC(things->args[1].loc, 15, 40);
    CHECK(things->args[1].default_value->kind == TQ_GQL_VALUE_OBJECT);
    CHECK(things->args[2].default_value->kind == TQ_GQL_VALUE_ENUM && things->args[2].ndirectives == 1);

    const tq_gql_type_def *ext = find_type(d, "Q", true, 0);
    CHECK(ext != NULL && ext->ninterfaces == 1 && ext->nfields == 0 && ext->fields == NULL);
    ext = find_type(d, "Q", true, 1);
    CHECK(ext != NULL && ext->ndirectives == 1 && ext->ninterfaces == 0);
    ext = find_type(d, "Q", true, 2);
    CHECK(ext != NULL && ext->nfields == 1);
}

static void check_union_enum_input(const tq_gql_document *d)
{
    const tq_gql_type_def *u = find_type(d, "U", false, 0);
    CHECK(u != NULL && u->nmembers == 2);
    CHECK_TQ(u->members[0].name, "A");
    CHECK_TQ(u->members[1].name, "B");
    CHECK_LOC(u->members[1].loc, 20, 17);
    const tq_gql_type_def *ue = find_type(d, "U", true, 0);
    CHECK(ue != NULL && ue->nmembers == 1);
    ue = find_type(d, "U", true, 1);
    CHECK(ue != NULL && ue->nmembers == 0 && ue->ndirectives == 1);

    const tq_gql_type_def *e = find_type(d, "Order", false, 0);
    CHECK(e != NULL && e->nvalues == 2);
    CHECK_TQ(e->values[0].description, "up");
    CHECK_TQ(e->values[0].name, "ASC");
    CHECK_LOC(e->values[0].loc, 23, 19);
    CHECK(e->values[0].ndirectives == 1 && e->values[1].description.s == NULL);
    CHECK(find_type(d, "Order", true, 0) != NULL && find_type(d, "Order", true, 0)->nvalues == 1);

    const tq_gql_type_def *in = find_type(d, "F", false, 0);
    CHECK(in != NULL && in->ninput_fields == 2 && in->nfields == 0);
    CHECK(type_is(in->input_fields[0].type, "[Int!]"));
    CHECK(in->input_fields[0].default_value->kind == TQ_GQL_VALUE_LIST);
    CHECK_TQ(in->input_fields[1].description, "b");
    CHECK(in->input_fields[1].ndirectives == 1);
    CHECK(find_type(d, "F", true, 0) != NULL && find_type(d, "F", true, 0)->ninput_fields == 1);
    CHECK(find_type(d, "Node", true, 0) != NULL);
}

static void check_directive_defs(const tq_gql_document *d)
{
    const tq_gql_definition *def = &d->defs[d->count - 4];
    CHECK(def->kind == TQ_GQL_DEF_DIRECTIVE);
    const tq_gql_directive_def *dd = &def->u.directive;
    CHECK_TQ(dd->name, "key");
    CHECK(dd->repeatable && dd->nargs == 1 && type_is(dd->args[0].type, "String!"));
    CHECK(dd->nlocations == 2);
    CHECK_TQ(dd->locations[0], "OBJECT");
    CHECK_TQ(dd->locations[1], "INTERFACE");

    def = &d->defs[d->count - 3];
    dd = &def->u.directive;
    CHECK(def->kind == TQ_GQL_DEF_DIRECTIVE && !dd->repeatable && dd->nargs == 0);
    CHECK_LOC(def->loc, 29, 6);
    CHECK_TQ(dd->description, "dd");
    CHECK(dd->nlocations == 3);
    CHECK_TQ(dd->locations[2], "VARIABLE_DEFINITION");

    CHECK(d->defs[d->count - 2].kind == TQ_GQL_DEF_OBJECT && d->defs[d->count - 2].u.type.nfields == 0);
    CHECK(d->defs[d->count - 1].kind == TQ_GQL_DEF_UNION && d->defs[d->count - 1].u.type.nmembers == 0);
}

static void test_type_system(void)
{
    tq_arena a;
    tq_arena_init(&a, 0);
    tq_gql_document *d = parse_sdl(&a, sdl_doc);
    if (d != NULL) {
        CHECK(d->count == 22);
        check_schema_and_scalar(d);
        check_object_type(d);
        check_union_enum_input(d);
        check_directive_defs(d);
    }
    /* executable and type system definitions may share a document */
    d = parse_sdl(&a, "type T { a: Int } { a } fragment F on T { a }");
    CHECK(d != NULL && d->count == 3 && d->defs[1].kind == TQ_GQL_DEF_OPERATION);
    tq_arena_free(&a);
}

/* The schema the server loads at startup. */
static void test_real_schema(void)
{
    tq_arena a;
    tq_arena_init(&a, 0);
    const tq_embedded_file *f = tq_embedded_find("schema/schema.graphql");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    tq_gql_parse_options o = {.allow_type_system = true};
    tq_gql_document *d = parse_with(&a, f->data, f->len, &o);
    if (d == NULL)
        goto out;
    CHECK(d->count >= 20);
    const tq_gql_type_def *t = find_type(d, "DateTime", false, 0);
    CHECK(t != NULL && t->description.len > 0 && d->defs[0].kind == TQ_GQL_DEF_SCALAR);
    CHECK(t != NULL && strstr(t->description.s, "\"2026-11-24T10:00:00Z\"") != NULL); /* \" decoded */

    t = find_type(d, "User", false, 0);
    CHECK(t != NULL && t->ninterfaces == 1 && find_field(t, "email") && type_is(find_field(t, "email")->type, "String!"));
    CHECK(t != NULL && t->interfaces[0].name.len == 4);

    t = find_type(d, "Query", false, 0);
    const tq_gql_field_def *me = find_field(t, "me"), *nodes = find_field(t, "nodes"), *products = find_field(t, "products");
    CHECK(me != NULL && me->description.len > 0 && is_named(me->type, "User"));
    CHECK(nodes != NULL && type_is(nodes->type, "[Node]!") && nodes->nargs == 1 && type_is(nodes->args[0].type, "[ID!]!"));
    CHECK(products != NULL && products->nargs == 4);
    if (products != NULL && products->nargs == 4) {
        CHECK_TQ(products->args[0].default_value->u.str, "20");
        CHECK(products->args[2].default_value == NULL && is_named(products->args[2].type, "ProductFilter"));
        CHECK(products->args[3].default_value->kind == TQ_GQL_VALUE_ENUM);
        CHECK_TQ(products->args[3].default_value->u.str, "NAME_ASC");
    }

    t = find_type(d, "SearchResult", false, 0);
    CHECK(t != NULL && t->nmembers == 2);
    t = find_type(d, "ProductOrder", false, 0);
    CHECK(t != NULL && t->nvalues >= 5);
    t = find_type(d, "CreateProductInput", false, 0);
    CHECK(t != NULL && t->ninput_fields >= 4);
    t = find_type(d, "Mutation", false, 0);
    CHECK(find_field(t, "login") != NULL && find_field(t, "login")->nargs == 3);

    /* a request may not smuggle in type definitions */
    tq_gql_parse_error e;
    CHECK(tq_gql_parse(&a, f->data, f->len, &exec_opts, &e) == NULL);
    CHECK_STR(e.message, "Syntax Error: Unexpected Name \"scalar\".");
out:
    tq_arena_free(&a);
}

static void test_type_system_rejected_in_requests(void)
{
    CHECK_EXEC_ERROR("type T { a: Int }", "Syntax Error: Unexpected Name \"type\".", 1, 1);
    CHECK_EXEC_ERROR("{ a } scalar S", "Syntax Error: Unexpected Name \"scalar\".", 1, 7);
    CHECK_EXEC_ERROR("\"desc\" type T { a: Int }", "Syntax Error: Unexpected Name \"type\".", 1, 8);
    CHECK_EXEC_ERROR("schema { query: Q }", "Syntax Error: Unexpected Name \"schema\".", 1, 1);
    CHECK_EXEC_ERROR("interface I { a: Int }", "Syntax Error: Unexpected Name \"interface\".", 1, 1);
    CHECK_EXEC_ERROR("union U = A", "Syntax Error: Unexpected Name \"union\".", 1, 1);
    CHECK_EXEC_ERROR("enum E { A }", "Syntax Error: Unexpected Name \"enum\".", 1, 1);
    CHECK_EXEC_ERROR("input I { a: Int }", "Syntax Error: Unexpected Name \"input\".", 1, 1);
    CHECK_EXEC_ERROR("directive @d on FIELD", "Syntax Error: Unexpected Name \"directive\".", 1, 1);
    CHECK_EXEC_ERROR("extend type T @d", "Syntax Error: Unexpected Name \"extend\".", 1, 1);
    CHECK_EXEC_ERROR("\"d\" query { a }",
                     "Syntax Error: Unexpected description, descriptions are supported only on type definitions.", 1, 1);
    CHECK_EXEC_ERROR("\"d\" { a }", "Syntax Error: Unexpected \"{\".", 1, 5);
}

/* ---- syntax errors ---- */

/* Messages and locations generated with graphql-js 16.8 (parse(), whose grammar is the
 * executable plus the type system one, hence allow_type_system). */
static void test_syntax_errors_match_graphql_js(void)
{
#define E(src, msg, line, col) {src, sizeof(src) - 1, msg, line, col}
    static const struct {
        const char *src;
        size_t len;
        const char *msg;
        uint32_t line, column;
    } cases[] = {
    E("", "Syntax Error: Unexpected <EOF>.", 1, 1),
    E("   ", "Syntax Error: Unexpected <EOF>.", 1, 4),
    E("# only a comment", "Syntax Error: Unexpected <EOF>.", 1, 17),
    E("{}", "Syntax Error: Expected Name, found \"}\".", 1, 2),
    E("{ a }}", "Syntax Error: Unexpected \"}\".", 1, 6),
    E("query", "Syntax Error: Expected \"{\", found <EOF>.", 1, 6),
    E("query Q(", "Syntax Error: Expected \"$\", found <EOF>.", 1, 9),
    E("query Q() { a }", "Syntax Error: Expected \"$\", found \")\".", 1, 9),
    E("query Q($a) { a }", "Syntax Error: Expected \":\", found \")\".", 1, 11),
    E("query Q($a: Int = $b) { a }", "Syntax Error: Unexpected variable \"$b\" in constant value.", 1, 19),
    E("query Q($a: Int = [1, $b]) { a }", "Syntax Error: Unexpected variable \"$b\" in constant value.", 1, 23),
    E("query Q($a: Int = $) { a }", "Syntax Error: Unexpected \"$\".", 1, 19),
    E("query Q($a: [Int) { a }", "Syntax Error: Expected \"]\", found \")\".", 1, 17),
    E("query Q($a: Int!!) { a }", "Syntax Error: Expected \"$\", found \"!\".", 1, 17),
    E("{ a(x: ) }", "Syntax Error: Unexpected \")\".", 1, 8),
    E("{ a() }", "Syntax Error: Expected Name, found \")\".", 1, 5),
    E("{ a(x: {b}) }", "Syntax Error: Expected \":\", found \"}\".", 1, 10),
    E("{ a @ }", "Syntax Error: Expected Name, found \"}\".", 1, 7),
    E("{ ... }", "Syntax Error: Expected \"{\", found \"}\".", 1, 7),
    E("{ ... on { a } }", "Syntax Error: Expected Name, found \"{\".", 1, 10),
    E("fragment on on T { a }", "Syntax Error: Unexpected Name \"on\".", 1, 10),
    E("fragment F T { a }", "Syntax Error: Expected \"on\", found Name \"T\".", 1, 12),
    E("fragment F on T", "Syntax Error: Expected \"{\", found <EOF>.", 1, 16),
    E("fragment \"on\" on T { a }", "Syntax Error: Unexpected String \"on\".", 1, 10),
    E("{ a: }", "Syntax Error: Expected Name, found \"}\".", 1, 6),
    E("{ a: b: c }", "Syntax Error: Expected Name, found \":\".", 1, 7),
    E("\"desc\" { a }", "Syntax Error: Unexpected \"{\".", 1, 8),
    E("\"desc\" query { a }", "Syntax Error: Unexpected description, descriptions are supported only on type definitions.", 1, 1),
    E("\"desc\" extend type T @d", "Syntax Error: Unexpected description, descriptions are supported only on type definitions.", 1, 1),
    E("extend foo", "Syntax Error: Unexpected Name \"foo\".", 1, 8),
    E("extend directive @d on FIELD", "Syntax Error: Unexpected Name \"directive\".", 1, 8),
    E("extend schema", "Syntax Error: Unexpected <EOF>.", 1, 14),
    E("extend type T", "Syntax Error: Unexpected <EOF>.", 1, 14),
    E("extend union U =", "Syntax Error: Expected Name, found <EOF>.", 1, 17),
    E("schema { query Q }", "Syntax Error: Expected \":\", found Name \"Q\".", 1, 16),
    E("schema { foo: Q }", "Syntax Error: Unexpected Name \"foo\".", 1, 10),
    E("type T {}", "Syntax Error: Expected Name, found \"}\".", 1, 9),
    E("type T implements A B { a: Int }", "Syntax Error: Unexpected Name \"B\".", 1, 21),
    E("union U = A |", "Syntax Error: Expected Name, found <EOF>.", 1, 14),
    E("enum E { true }", "Syntax Error: Name \"true\" is reserved and cannot be used for an enum value.", 1, 10),
    E("enum E { \"d\" \"null\" }", "Syntax Error: String \"null\" is reserved and cannot be used for an enum value.", 1, 14),
    E("input I { a: Int = $x }", "Syntax Error: Unexpected variable \"$x\" in constant value.", 1, 20),
    E("directive @d on", "Syntax Error: Expected Name, found <EOF>.", 1, 16),
    E("directive @d on FIELD | FOO", "Syntax Error: Unexpected Name \"FOO\".", 1, 25),
    E("directive @d(a: Int) repeatable", "Syntax Error: Expected \"on\", found <EOF>.", 1, 32),
    E("directive d on FIELD", "Syntax Error: Expected \"@\", found Name \"d\".", 1, 11),
    E("{ a(x: 1.) }", "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 10),
    E("{ a(x: .5) }", "Syntax Error: Unexpected character: \".\".", 1, 8),
    E("{ a(x: 1.2.3) }", "Syntax Error: Invalid number, expected digit but got: \".\".", 1, 11),
    E("{ a(x: 01) }", "Syntax Error: Invalid number, unexpected digit after 0: \"1\".", 1, 9),
    E("{ a(x: -a) }", "Syntax Error: Invalid number, expected digit but got: \"a\".", 1, 9),
    E("{ a(x: 1e+) }", "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 11),
    E("{ a(x: 1a) }", "Syntax Error: Invalid number, expected digit but got: \"a\".", 1, 9),
    E("{ a(x: 0x10) }", "Syntax Error: Invalid number, expected digit but got: \"x\".", 1, 9),
    E("{ a(x: -", "Syntax Error: Invalid number, expected digit but got: <EOF>.", 1, 9),
    E("{ a(x: \"", "Syntax Error: Unterminated string.", 1, 9),
    E("{ a(x: \"abc\n\") }", "Syntax Error: Unterminated string.", 1, 12),
    E("{ a(x: \"\\x\") }", "Syntax Error: Invalid character escape sequence: \"\\x\".", 1, 9),
    E("{ a(x: \"\\u12G4\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u12G4\".", 1, 9),
    E("{ a(x: \"\\uD800\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\uD800\".", 1, 9),
    E("{ a(x: \"\\uDC00\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\uDC00\".", 1, 9),
    E("{ a(x: \"\\uD800\\u0041\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\uD800\".", 1, 9),
    E("{ a(x: \"\\u{}\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u{}\".", 1, 9),
    E("{ a(x: \"\\u{1F600\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u{1F600\"\".", 1, 9),
    E("{ a(x: \"\\u{110000}\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u{110000}\".", 1, 9),
    E("{ a(x: \"\\u{D800}\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u{D800}\".", 1, 9),
    E("{ a(x: \"\\u{000000041}\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u{000000041\".", 1, 9),
    E("{ a(x: \"\\u{FFFFFFFF}\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u{FFFFFFFF\".", 1, 9),
    E("{ a(x: \"\\u{\303\251}\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u{é\".", 1, 9),
    E("{ a(x: \"\\\303\251\") }", "Syntax Error: Invalid character escape sequence: \"\\é\".", 1, 9),
    E("{ a(x: \"\"\"abc", "Syntax Error: Unterminated string.", 1, 14),
    E("{ a(x: 'x') }", "Syntax Error: Unexpected single quote character ('), did you mean to use a double quote (\")?", 1, 8),
    E("{ a ? }", "Syntax Error: Unexpected character: \"?\".", 1, 5),
    E("{ a . }", "Syntax Error: Unexpected character: \".\".", 1, 5),
    E("{ a .. }", "Syntax Error: Unexpected character: \".\".", 1, 5),
    E("{ a \303\251 }", "Syntax Error: Unexpected character: U+00E9.", 1, 5),
    E("{ a \360\237\230\200 }", "Syntax Error: Unexpected character: U+1F600.", 1, 5),
    E("{ a \013 }", "Syntax Error: Unexpected character: U+000B.", 1, 5),
    E("{ a \000 }", "Syntax Error: Unexpected character: U+0000.", 1, 5),
    E("\360\237\230\200{ a }", "Syntax Error: Unexpected character: U+1F600.", 1, 1),
    E("{ a(x: \"\303\251\360\237\230\200\", y: ?) }", "Syntax Error: Unexpected character: \"?\".", 1, 18),
    E("\357\273\277{ a ? }", "Syntax Error: Unexpected character: \"?\".", 1, 6),
    E("{ a } 1.5", "Syntax Error: Unexpected Float \"1.5\".", 1, 7),
    E("{ a } query", "Syntax Error: Expected \"{\", found <EOF>.", 1, 12),
    E("{ a }\n?", "Syntax Error: Unexpected character: \"?\".", 2, 1),
    E("{ a\r\n}\r\n?", "Syntax Error: Unexpected character: \"?\".", 3, 1),
    E("{ a\r }\r?", "Syntax Error: Unexpected character: \"?\".", 3, 1),
    E("{ a(x: \"\"\"\n \303\251 \"\"\", y: \"\360\237\230\200\", z: ?) }", "Syntax Error: Unexpected character: \"?\".", 2, 21),
    E("\"\"\"\n\360\237\230\200\n   \"\"\" ?", "Syntax Error: Unexpected character: \"?\".", 3, 8),
    E("# \303\251 \360\237\230\200\n  ?", "Syntax Error: Unexpected character: \"?\".", 2, 3),
    E("{ a(x: \"\"\"x\r\ny\rz\n\r\n  w\"\"\", y: $) }", "Syntax Error: Expected Name, found \")\".", 5, 13),
    E("{ a(x: \"\\uD83D\\uDE00x\", y: $) }", "Syntax Error: Expected Name, found \")\".", 1, 29),
    E("{ f(a: \"x\") { g } h(b: [1, 2, {c: $d}]) @i(j: ENUM) ...", "Syntax Error: Expected \"{\", found <EOF>.", 1, 56),
    E("subscription S($v: [[Int!]]! = [[1]] @d { a }", "Syntax Error: Expected \"$\", found \"{\".", 1, 41),
    };
#undef E
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_error(__FILE__, __LINE__, cases[i].src, cases[i].len, &sdl_opts, cases[i].msg, cases[i].line,
                    cases[i].column);
}

/* Cases graphql-js never meets: its input is already a JavaScript string. ASCII control
 * characters inside strings are SourceCharacters (October 2021) and are kept as they are. */
static void test_encoding_errors(void)
{
    {
        tq_arena a;
        tq_arena_init(&a, 0);
        static const char src[] = "{ a(x: \"a\001b\\u0041\" y: \"\"\"\n\037\"\"\") }";
        tq_gql_parse_options o = {.allow_type_system = false};
        tq_gql_document *d = parse_with(&a, src, sizeof(src) - 1, &o);
        if (d != NULL) {
            const tq_gql_selection *f = &d->defs[0].u.operation.selection_set.items[0];
            CHECK_TQ(f->args[0].value->u.str, "a\001bA");
            CHECK_TQ(f->args[1].value->u.str, "\037");
        }
        tq_arena_free(&a);
    }
    CHECK_EXEC_ERROR("{ a(x: \"\xff\") }", "Syntax Error: Invalid character within String: byte 0xFF.", 1, 9);
    CHECK_EXEC_ERROR("{ a(x: \"\xc3\") }", "Syntax Error: Invalid character within String: byte 0xC3.", 1, 9);
    CHECK_EXEC_ERROR("{ a(x: \"\xc0\xaf\") }", "Syntax Error: Invalid character within String: byte 0xC0.", 1, 9);
    CHECK_EXEC_ERROR("{ a(x: \"\xed\xa0\x80\") }", "Syntax Error: Invalid character within String: U+D800.", 1, 9);
    CHECK_EXEC_ERROR("{ a(x: \"\xf4\x90\x80\x80\") }", "Syntax Error: Invalid character within String: byte 0xF4.", 1, 9);
    CHECK_EXEC_ERROR("{ a(x: \"\"\"\xf0\x9f\x98\") }", "Syntax Error: Invalid character within String: byte 0xF0.", 1, 11);
    CHECK_EXEC_ERROR("{ a \xff }", "Syntax Error: Invalid character: byte 0xFF.", 1, 5);
    CHECK_EXEC_ERROR("{ a \xed\xbf\xbf }", "Syntax Error: Invalid character: U+DFFF.", 1, 5);
    CHECK_EXEC_ERROR("# \xc3\xa9\xfe\n{ a }", "Syntax Error: Invalid character: byte 0xFE.", 1, 4);
    CHECK_EXEC_ERROR("{ a(x: -\x80) }", "Syntax Error: Invalid number, expected digit but got: byte 0x80.", 1, 9);
    /* a message is a C string: a quoted value stops before a U+0000 and says it was cut */
    CHECK_EXEC_ERROR("{ \"a\\u0000b\" }", "Syntax Error: Expected Name, found String \"a...\".", 1, 3);
}

/* ---- limits ---- */

static void check_nested(const char *what, const char *prefix, const char *open, size_t n, const char *middle,
                         const char *close, const char *suffix, uint32_t max_depth, const char *want_msg,
                         uint32_t want_col)
{
    tq_arena a;
    tq_gql_parse_error e;
    tq_gql_parse_options o = {.allow_type_system = false, .max_depth = max_depth};
    size_t len;
    char *src = nested(prefix, open, n, middle, close, suffix, &len);

    tq_arena_init(&a, 0);
    tq_gql_document *d = tq_gql_parse(&a, src, len, &o, &e);
    if (want_msg == NULL) {
        if (d == NULL)
            fprintf(stderr, "%s, depth %zu: %s\n", what, n, e.message);
        CHECK(d != NULL);
    } else {
        if (d != NULL || strcmp(e.message, want_msg) != 0 || e.loc.line != 1 || e.loc.column != want_col)
            fprintf(stderr, "%s, depth %zu: got %s (%u:%u), want %s (1:%u)\n", what, n, d ? "success" : e.message,
                    d ? 0 : e.loc.line, d ? 0 : e.loc.column, want_msg, want_col);
        CHECK(d == NULL && strcmp(e.message, want_msg) == 0 && e.loc.line == 1 && e.loc.column == want_col);
    }
    tq_arena_free(&a);
    free(src);
}

static void test_depth_limit(void)
{
    static const char too_deep[] = "Syntax Error: Document is nested too deeply (limit 64).";
    /* selection sets: "{a" * n; the k-th "{" is at column 2k-1 */
    check_nested("selections", "", "{a", 64, "", "}", "", 0, NULL, 0);
    check_nested("selections", "", "{a", 65, "", "}", "", 0, too_deep, 129);
    check_nested("fragments", "", "{...", 64, "a", "}", "", 0, NULL, 0);
    check_nested("fragments", "", "{...", 65, "a", "}", "", 0, too_deep, 257);
    /* list and object values share one count */
    check_nested("lists", "{f(x:", "[", 64, "1", "]", ")}", 0, NULL, 0);
    check_nested("lists", "{f(x:", "[", 65, "1", "]", ")}", 0, too_deep, 70);
    check_nested("objects", "{f(x:", "{a:", 64, "1", "}", ")}", 0, NULL, 0);
    check_nested("objects", "{f(x:", "{a:", 65, "1", "}", ")}", 0, too_deep, 198);
    check_nested("mixed values", "{f(x:", "[{a:", 32, "1", "}]", ")}", 0, NULL, 0);
    check_nested("mixed values", "{f(x:", "[{a:", 33, "1", "}]", ")}", 0, too_deep, 134);
    check_nested("default values", "query($v:T=", "[", 65, "1", "]", "){a}", 0, too_deep, 76);
    /* type wrappers */
    check_nested("types", "query($v:", "[", 64, "Int!", "]!", "){a}", 0, NULL, 0);
    check_nested("types", "query($v:", "[", 65, "Int!", "]!", "){a}", 0, too_deep, 74);
    /* an explicit limit */
    check_nested("limit 3", "", "{a", 3, "", "}", "", 3, NULL, 0);
    check_nested("limit 3", "", "{a", 4, "", "}", "", 3, "Syntax Error: Document is nested too deeply (limit 3).", 7);
    check_nested("limit 1000", "{f(x:", "[", 1000, "", "]", ")}", 1000, NULL, 0);
}

/* A megabyte of nesting must fail fast and without deep recursion (ASan would catch a
 * stack overflow). */
static void test_hostile_documents(void)
{
    static const struct {
        const char *prefix, *open;
        const char *msg;
        uint32_t col;
    } cases[] = {
        {"", "{", "Syntax Error: Expected Name, found \"{\".", 2},
        {"", "[", "Syntax Error: Unexpected \"[\".", 1},
        {"", "{a", "Syntax Error: Document is nested too deeply (limit 64).", 129},
        {"", "{...", "Syntax Error: Document is nested too deeply (limit 64).", 257},
        {"{f(x:", "[", "Syntax Error: Document is nested too deeply (limit 64).", 70},
        {"{f(x:", "{a:", "Syntax Error: Document is nested too deeply (limit 64).", 198},
        {"query($v:", "[", "Syntax Error: Document is nested too deeply (limit 64).", 74},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = (1 << 20) / strlen(cases[i].open);
        double t0 = now_seconds();
        check_nested("hostile", cases[i].prefix, cases[i].open, n, "", "", "", 0, cases[i].msg, cases[i].col);
        CHECK(now_seconds() - t0 < 1.0);
    }
}

static void test_token_limit(void)
{
    tq_gql_parse_options o = {.max_tokens = 5};
    CHECK_ERROR_OPTS("{ a b c d }", &o, "Syntax Error: Document contains more than 5 tokens. Parsing aborted.", 1, 11);
    o.max_tokens = 4;
    CHECK_ERROR_OPTS("{ a b c }", &o, "Syntax Error: Document contains more than 4 tokens. Parsing aborted.", 1, 9);

    tq_arena a;
    tq_arena_init(&a, 0);
    o.max_tokens = 5;
    CHECK(parse_with(&a, "{ a b c }", 9, &o) != NULL);  /* exactly at the limit */
    const char *ignored = "\xef\xbb\xbf{ a,,, # comment\n b c }";  /* ignored tokens do not count */
    CHECK(parse_with(&a, ignored, strlen(ignored), &o) != NULL);
    o.max_tokens = 0;  /* unlimited */
    size_t len;
    char *big = nested("{", "a ", 100000, "", "", "}", &len);
    tq_gql_document *d = parse_with(&a, big, len, &o);
    CHECK(d != NULL && d->defs[0].u.operation.selection_set.count == 100000);
    o.max_tokens = 1000;
    tq_gql_parse_error e;
    CHECK(tq_gql_parse(&a, big, len, &o, &e) == NULL);
    CHECK_STR(e.message, "Syntax Error: Document contains more than 1000 tokens. Parsing aborted.");
    CHECK_LOC(e.loc, 1, 2000);
    free(big);
    tq_arena_free(&a);
}

/* ---- robustness ---- */

static void test_api_edges(void)
{
    tq_arena a;
    tq_arena_init(&a, 0);
    /* not NUL-terminated: only len bytes are read */
    const char src[] = "{ a }garbage";
    tq_gql_document *d = tq_gql_parse(&a, src, 5, NULL, NULL);
    CHECK(d != NULL && d->count == 1);
    CHECK(tq_gql_parse(&a, NULL, 0, NULL, NULL) == NULL);
    tq_gql_parse_error e;
    CHECK(tq_gql_parse(&a, "{ a", 3, NULL, &e) == NULL);
    CHECK_STR(e.message, "Syntax Error: Expected Name, found <EOF>.");
    CHECK_LOC(e.loc, 1, 4);
    /* a name at the very end of the input */
    d = tq_gql_parse(&a, "query Q { a } fragment F on T { b }", 35, NULL, &e);
    CHECK(d != NULL && d->count == 2);
    /* many wide selections make the scratch stack spill to the heap; errors after that
     * must not leak it (LSan) */
    size_t len;
    char *wide = nested("{", "f(a: [1, 2, {b: \"x\"}]) @d(e: 1) { g h } ", 2000, "", "", "", &len);
    CHECK(tq_gql_parse(&a, wide, len, NULL, &e) == NULL);
    CHECK_STR(e.message, "Syntax Error: Expected Name, found <EOF>.");
    wide[len - 1] = '}';
    d = tq_gql_parse(&a, wide, len, NULL, &e);
    CHECK(d != NULL && d->defs[0].u.operation.selection_set.count == 2000);
    if (d != NULL) {
        const tq_gql_selection *last = &d->defs[0].u.operation.selection_set.items[1999];
        CHECK(last->nargs == 1 && last->ndirectives == 1 && last->selection_set.count == 2);
        CHECK_TQ(last->args[0].value->u.list.items[2]->u.object.fields[0].value->u.str, "x");
    }
    free(wide);
    tq_arena_free(&a);
}

int main(void)
{
    test_numbers();
    test_strings();
    test_block_strings();
    test_other_values();
    test_executable_definitions();
    test_ignored_and_locations();
    test_type_system();
    test_real_schema();
    test_type_system_rejected_in_requests();
    test_syntax_errors_match_graphql_js();
    test_encoding_errors();
    test_depth_limit();
    test_hostile_documents();
    test_token_limit();
    test_api_edges();
    return TQ_TEST_REPORT();
}
