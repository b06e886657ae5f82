/*
 * parser.c - recursive-descent parser for GraphQL documents (spec October 2021): the
 * executable grammar always, the type system grammar when the caller asks for it.
 *
 * Productions follow graphql-js 16.8's parser.ts one for one, so that the first error we
 * meet, and the words we use for it, are the ones graphql-js would give. Errors unwind
 * with longjmp to tq_gql_parse; everything allocated by then is in the caller's arena
 * except the scratch stack, which tq_gql_parse owns and frees on both paths.
 *
 * Lists of unknown length are gathered on that scratch stack and copied into the arena
 * when they end. An item is pushed only once it is complete, and any list inside it has
 * been copied out and popped by then, so one stack serves every level of nesting.
 */
#include "tenantql/parser.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"
#include "tenantql/log.h"

/* Selection sets, values and type wrappers each count their own depth, so a deep field
 * may still take a nested list argument. Each level of recursion costs a few hundred
 * bytes of stack: a caller-chosen max_depth should stay in the hundreds. */
#define DEFAULT_MAX_DEPTH 64
#define SCRATCH_INLINE_SIZE 4096
/* Token values quoted in messages are cut to this many bytes to fit tq_gql_parse_error. */
#define MAX_QUOTED_VALUE 160

typedef struct scratch {
    char *buf;
    size_t len, cap;
    bool on_heap;
} scratch;

typedef struct parser {
    tq_gql_lexer lx;
    tq_gql_token tok; /* the current token, not yet consumed */
    tq_arena *arena;
    bool allow_type_system;
    uint32_t max_depth, max_tokens, ntokens;
    uint32_t selection_depth, value_depth, type_depth;
    scratch stack;
    tq_gql_parse_error *err;
    jmp_buf on_error;
} parser;

/* ---- errors ---- */

__attribute__((noreturn, format(printf, 3, 4))) static void fail(parser *p, tq_gql_loc loc, const char *fmt, ...)
{
    static const char prefix[] = "Syntax Error: ";
    va_list ap;

    memcpy(p->err->message, prefix, sizeof(prefix));
    va_start(ap, fmt);
    vsnprintf(p->err->message + sizeof(prefix) - 1, sizeof(p->err->message) - sizeof(prefix) + 1, fmt, ap);
    va_end(ap);
    p->err->loc = loc;
    longjmp(p->on_error, 1);
}

/* How much of s a message can quote: at most max bytes, not splitting a UTF-8 sequence,
 * and not past a U+0000 (from an escape), which would end the message early. */
static int quotable_len(tq_str s, uint32_t max)
{
    const char *nul = memchr(s.s, '\0', s.len);
    uint32_t n = nul != NULL ? (uint32_t)(nul - s.s) : s.len;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s.s[n] & 0xc0) == 0x80)
            n--;
    }
    return (int)n;
}

/* graphql-js's getTokenDesc: the kind, then the value in quotes if the token has one. */
static const char *token_desc(const tq_gql_token *t, char *buf, size_t size)
{
    const char *kind = tq_gql_token_kind_desc(t->kind);

    if (t->value.s == NULL)
        return kind;
    int n = quotable_len(t->value, MAX_QUOTED_VALUE);
    snprintf(buf, size, "%s \"%.*s%s\"", kind, n, t->value.s, (uint32_t)n < t->value.len ? "..." : "");
    return buf;
}

__attribute__((noreturn)) static void unexpected(parser *p, const tq_gql_token *t)
{
    char desc[MAX_QUOTED_VALUE + 32];
    fail(p, t->loc, "Unexpected %s.", token_desc(t, desc, sizeof(desc)));
}

__attribute__((noreturn)) static void expected(parser *p, tq_gql_token_kind kind)
{
    char desc[MAX_QUOTED_VALUE + 32];
    fail(p, p->tok.loc, "Expected %s, found %s.", tq_gql_token_kind_desc(kind),
         token_desc(&p->tok, desc, sizeof(desc)));
}

/* ---- scratch stack ---- */

static void scratch_grow(parser *p, size_t need)
{
    scratch *s = &p->stack;
    size_t cap = s->cap * 2;

    while (cap < need)
        cap *= 2;
    char *buf = s->on_heap ? realloc(s->buf, cap) : malloc(cap);
    if (buf == NULL) {
        tq_log_error("graphql", "out of memory (parser scratch of %zu bytes)", cap);
        abort();
    }
    if (!s->on_heap)
        memcpy(buf, s->buf, s->len);
    s->buf = buf;
    s->cap = cap;
    s->on_heap = true;
}

static inline void push(parser *p, const void *item, size_t size)
{
    if (p->stack.cap - p->stack.len < size)
        scratch_grow(p, p->stack.len + size);
    memcpy(p->stack.buf + p->stack.len, item, size);
    p->stack.len += size;
}

/* Moves everything pushed since mark into the arena. */
static void *take(parser *p, size_t mark, size_t size, uint32_t *count)
{
    size_t bytes = p->stack.len - mark;

    *count = (uint32_t)(bytes / size);
    if (bytes == 0)
        return NULL;
    void *items = tq_arena_alloc(p->arena, bytes);
    memcpy(items, p->stack.buf + mark, bytes);
    p->stack.len = mark;
    return items;
}

#define PUSH(p, item) push((p), &(item), sizeof(item))
#define TAKE(p, mark, type, count) ((type *)take((p), (mark), sizeof(type), (count)))

/* ---- tokens ---- */

static void advance(parser *p)
{
    if (!tq_gql_lexer_next(&p->lx, &p->tok)) {
        *p->err = p->lx.err;
        longjmp(p->on_error, 1);
    }
    if (p->max_tokens != 0 && p->tok.kind != TQ_TOK_EOF && ++p->ntokens > p->max_tokens)
        fail(p, p->tok.loc, "Document contains more than %u tokens. Parsing aborted.", (unsigned)p->max_tokens);
}

static inline bool peek(const parser *p, tq_gql_token_kind kind)
{
    return p->tok.kind == kind;
}

static bool accept(parser *p, tq_gql_token_kind kind)
{
    if (p->tok.kind != kind)
        return false;
    advance(p);
    return true;
}

static void expect(parser *p, tq_gql_token_kind kind)
{
    if (p->tok.kind != kind)
        expected(p, kind);
    advance(p);
}

/* Compares the token's value whatever its kind, as graphql-js does in a few places
 * (a fragment named "on", enum values "true", "false", "null"). */
static inline bool value_is(const tq_gql_token *t, const char *word, size_t len)
{
    return t->value.s != NULL && t->value.len == len && memcmp(t->value.s, word, len) == 0;
}
#define VALUE_IS(t, lit) value_is((t), (lit), sizeof(lit) - 1)

static inline bool is_keyword(const tq_gql_token *t, const char *word, size_t len)
{
    return t->kind == TQ_TOK_NAME && value_is(t, word, len);
}
#define IS_KEYWORD(t, lit) is_keyword((t), (lit), sizeof(lit) - 1)

static bool accept_keyword(parser *p, const char *word, size_t len)
{
    if (!is_keyword(&p->tok, word, len))
        return false;
    advance(p);
    return true;
}
#define ACCEPT_KEYWORD(p, lit) accept_keyword((p), (lit), sizeof(lit) - 1)

static void expect_keyword(parser *p, const char *word, size_t len)
{
    char desc[MAX_QUOTED_VALUE + 32];

    if (!is_keyword(&p->tok, word, len))
        fail(p, p->tok.loc, "Expected \"%s\", found %s.", word, token_desc(&p->tok, desc, sizeof(desc)));
    advance(p);
}
#define EXPECT_KEYWORD(p, lit) expect_keyword((p), (lit), sizeof(lit) - 1)

/* Called on the opening bracket of a nested construct, before consuming it. */
static void enter(parser *p, uint32_t *depth)
{
    if (++*depth > p->max_depth)
        fail(p, p->tok.loc, "Document is nested too deeply (limit %u).", (unsigned)p->max_depth);
}

static tq_str copy_str(parser *p, tq_str s)
{
    return (tq_str){tq_arena_strndup(p->arena, s.s, s.len), s.len};
}

static tq_str parse_name(parser *p)
{
    if (p->tok.kind != TQ_TOK_NAME)
        expected(p, TQ_TOK_NAME);
    tq_str name = copy_str(p, p->tok.value);
    advance(p);
    return name;
}

static tq_str parse_name_at(parser *p, tq_gql_loc *loc)
{
    *loc = p->tok.loc;
    return parse_name(p);
}

static bool operation_type_of(const tq_gql_token *t, tq_gql_operation_type *type)
{
    if (IS_KEYWORD(t, "query"))
        *type = TQ_GQL_OP_QUERY;
    else if (IS_KEYWORD(t, "mutation"))
        *type = TQ_GQL_OP_MUTATION;
    else if (IS_KEYWORD(t, "subscription"))
        *type = TQ_GQL_OP_SUBSCRIPTION;
    else
        return false;
    return true;
}

/* ---- values ---- */

static tq_gql_value *parse_value(parser *p, bool is_const);

static tq_gql_value *new_value(parser *p, tq_gql_value_kind kind, tq_gql_loc loc)
{
    tq_gql_value *v = tq_arena_alloc(p->arena, sizeof(*v));
    memset(v, 0, sizeof(*v));
    v->kind = kind;
    v->loc = loc;
    return v;
}

static tq_gql_value *parse_list_value(parser *p, bool is_const)
{
    tq_gql_value *v = new_value(p, TQ_GQL_VALUE_LIST, p->tok.loc);
    size_t mark = p->stack.len;

    enter(p, &p->value_depth);
    advance(p);
    while (!accept(p, TQ_TOK_BRACKET_R)) {
        tq_gql_value *item = parse_value(p, is_const);
        PUSH(p, item);
    }
    v->u.list.items = TAKE(p, mark, tq_gql_value *, &v->u.list.count);
    p->value_depth--;
    return v;
}

static tq_gql_value *parse_object_value(parser *p, bool is_const)
{
    tq_gql_value *v = new_value(p, TQ_GQL_VALUE_OBJECT, p->tok.loc);
    size_t mark = p->stack.len;

    enter(p, &p->value_depth);
    advance(p);
    while (!accept(p, TQ_TOK_BRACE_R)) {
        tq_gql_object_field f;
        f.name = parse_name_at(p, &f.loc);
        expect(p, TQ_TOK_COLON);
        f.value = parse_value(p, is_const);
        PUSH(p, f);
    }
    v->u.object.fields = TAKE(p, mark, tq_gql_object_field, &v->u.object.count);
    p->value_depth--;
    return v;
}

static tq_gql_value *parse_variable(parser *p)
{
    tq_gql_value *v = new_value(p, TQ_GQL_VALUE_VARIABLE, p->tok.loc);

    expect(p, TQ_TOK_DOLLAR);
    v->u.str = parse_name(p);
    return v;
}

__attribute__((noreturn)) static void reject_variable(parser *p)
{
    tq_gql_token dollar = p->tok;

    advance(p);
    if (p->tok.kind == TQ_TOK_NAME)
        fail(p, dollar.loc, "Unexpected variable \"$%.*s\" in constant value.",
             quotable_len(p->tok.value, MAX_QUOTED_VALUE), p->tok.value.s);
    unexpected(p, &dollar);
}

static tq_gql_value *name_value(parser *p, const tq_gql_token *t)
{
    tq_gql_value *v;

    if (IS_KEYWORD(t, "true") || IS_KEYWORD(t, "false")) {
        v = new_value(p, TQ_GQL_VALUE_BOOLEAN, t->loc);
        v->u.boolean = t->value.s[0] == 't';
    } else if (IS_KEYWORD(t, "null")) {
        v = new_value(p, TQ_GQL_VALUE_NULL, t->loc);
    } else {
        v = new_value(p, TQ_GQL_VALUE_ENUM, t->loc);
        v->u.str = copy_str(p, t->value);
    }
    return v;
}

static tq_gql_value *parse_value(parser *p, bool is_const)
{
    const tq_gql_token *t = &p->tok;
    tq_gql_value *v;

    switch (t->kind) {
    case TQ_TOK_BRACKET_L:
        return parse_list_value(p, is_const);
    case TQ_TOK_BRACE_L:
        return parse_object_value(p, is_const);
    case TQ_TOK_DOLLAR:
        if (is_const)
            reject_variable(p);
        return parse_variable(p);
    case TQ_TOK_INT:
    case TQ_TOK_FLOAT:
        v = new_value(p, t->kind == TQ_TOK_INT ? TQ_GQL_VALUE_INT : TQ_GQL_VALUE_FLOAT, t->loc);
        v->u.str = copy_str(p, t->value);
        break;
    case TQ_TOK_STRING:
    case TQ_TOK_BLOCK_STRING:
        v = new_value(p, TQ_GQL_VALUE_STRING, t->loc);
        v->u.str = t->value; /* already decoded into the arena */
        v->block = t->kind == TQ_TOK_BLOCK_STRING;
        break;
    case TQ_TOK_NAME:
        v = name_value(p, t);
        break;
    default:
        unexpected(p, t);
    }
    advance(p);
    return v;
}

/* ---- types, arguments, directives ---- */

static tq_gql_type *new_type(parser *p, tq_gql_type_kind kind, tq_gql_loc loc)
{
    tq_gql_type *t = tq_arena_alloc(p->arena, sizeof(*t));
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->loc = loc;
    return t;
}

static tq_gql_type *parse_type(parser *p)
{
    tq_gql_loc loc = p->tok.loc;
    tq_gql_type *t;

    if (peek(p, TQ_TOK_BRACKET_L)) {
        enter(p, &p->type_depth);
        advance(p);
        t = new_type(p, TQ_GQL_TYPE_LIST, loc);
        t->of_type = parse_type(p);
        expect(p, TQ_TOK_BRACKET_R);
        p->type_depth--;
    } else {
        t = new_type(p, TQ_GQL_TYPE_NAMED, loc);
        t->name = parse_name(p);
    }
    if (accept(p, TQ_TOK_BANG)) {
        tq_gql_type *non_null = new_type(p, TQ_GQL_TYPE_NON_NULL, loc);
        non_null->of_type = t;
        t = non_null;
    }
    return t;
}

static void parse_arguments(parser *p, bool is_const, tq_gql_argument **args, uint32_t *nargs)
{
    size_t mark = p->stack.len;

    if (!accept(p, TQ_TOK_PAREN_L))
        return;
    do {
        tq_gql_argument arg;
        arg.name = parse_name_at(p, &arg.loc);
        expect(p, TQ_TOK_COLON);
        arg.value = parse_value(p, is_const);
        PUSH(p, arg);
    } while (!accept(p, TQ_TOK_PAREN_R));
    *args = TAKE(p, mark, tq_gql_argument, nargs);
}

static void parse_directives(parser *p, bool is_const, tq_gql_directive **dirs, uint32_t *ndirs)
{
    size_t mark = p->stack.len;

    if (!peek(p, TQ_TOK_AT))
        return;
    do {
        tq_gql_directive dir;
        memset(&dir, 0, sizeof(dir));
        dir.loc = p->tok.loc;
        advance(p);
        dir.name = parse_name(p);
        parse_arguments(p, is_const, &dir.args, &dir.nargs);
        PUSH(p, dir);
    } while (peek(p, TQ_TOK_AT));
    *dirs = TAKE(p, mark, tq_gql_directive, ndirs);
}

/* ---- selections ---- */

static void parse_selection_set(parser *p, tq_gql_selection_set *set);

static void parse_field(parser *p, tq_gql_selection *s)
{
    tq_str name = parse_name_at(p, &s->name_loc);

    s->kind = TQ_GQL_SEL_FIELD;
    if (accept(p, TQ_TOK_COLON)) {
        s->alias = name;
        name = parse_name_at(p, &s->name_loc);
    }
    s->name = name;
    parse_arguments(p, false, &s->args, &s->nargs);
    parse_directives(p, false, &s->directives, &s->ndirectives);
    if (peek(p, TQ_TOK_BRACE_L))
        parse_selection_set(p, &s->selection_set);
}

/* After "...": a fragment spread if a name other than "on" follows, else an inline
 * fragment. */
static void parse_fragment_selection(parser *p, tq_gql_selection *s)
{
    advance(p);
    bool has_type_condition = ACCEPT_KEYWORD(p, "on");
    if (!has_type_condition && peek(p, TQ_TOK_NAME)) {
        s->kind = TQ_GQL_SEL_FRAGMENT_SPREAD;
        s->name = parse_name_at(p, &s->name_loc);
        parse_directives(p, false, &s->directives, &s->ndirectives);
        return;
    }
    s->kind = TQ_GQL_SEL_INLINE_FRAGMENT;
    if (has_type_condition)
        s->type_condition = parse_name_at(p, &s->type_condition_loc);
    parse_directives(p, false, &s->directives, &s->ndirectives);
    parse_selection_set(p, &s->selection_set);
}

static void parse_selection_set(parser *p, tq_gql_selection_set *set)
{
    size_t mark = p->stack.len;

    if (!peek(p, TQ_TOK_BRACE_L))
        expected(p, TQ_TOK_BRACE_L);
    set->loc = p->tok.loc;
    enter(p, &p->selection_depth);
    advance(p);
    do {
        tq_gql_selection s;
        memset(&s, 0, sizeof(s));
        s.loc = p->tok.loc;
        if (peek(p, TQ_TOK_SPREAD))
            parse_fragment_selection(p, &s);
        else
            parse_field(p, &s);
        PUSH(p, s);
    } while (!accept(p, TQ_TOK_BRACE_R));
    set->items = TAKE(p, mark, tq_gql_selection, &set->count);
    p->selection_depth--;
}

/* ---- executable definitions ---- */

static void parse_variable_definitions(parser *p, tq_gql_operation *op)
{
    size_t mark = p->stack.len;

    if (!accept(p, TQ_TOK_PAREN_L))
        return;
    do {
        tq_gql_variable_def var;
        memset(&var, 0, sizeof(var));
        var.loc = p->tok.loc;
        expect(p, TQ_TOK_DOLLAR);
        var.name = parse_name_at(p, &var.name_loc);
        expect(p, TQ_TOK_COLON);
        var.type = parse_type(p);
        if (accept(p, TQ_TOK_EQUALS))
            var.default_value = parse_value(p, true);
        parse_directives(p, true, &var.directives, &var.ndirectives);
        PUSH(p, var);
    } while (!accept(p, TQ_TOK_PAREN_R));
    op->vars = TAKE(p, mark, tq_gql_variable_def, &op->nvars);
}

/* At "{" (the query shorthand) or at the operation type keyword. */
static void parse_operation(parser *p, tq_gql_definition *d)
{
    tq_gql_operation *op = &d->u.operation;

    d->kind = TQ_GQL_DEF_OPERATION;
    d->loc = p->tok.loc;
    if (!peek(p, TQ_TOK_BRACE_L)) {
        operation_type_of(&p->tok, &op->type);
        advance(p);
        if (peek(p, TQ_TOK_NAME))
            op->name = parse_name_at(p, &op->name_loc);
        parse_variable_definitions(p, op);
        parse_directives(p, false, &op->directives, &op->ndirectives);
    }
    parse_selection_set(p, &op->selection_set);
}

static void parse_fragment_definition(parser *p, tq_gql_definition *d)
{
    tq_gql_fragment *f = &d->u.fragment;

    d->kind = TQ_GQL_DEF_FRAGMENT;
    d->loc = p->tok.loc;
    advance(p);
    if (VALUE_IS(&p->tok, "on"))
        unexpected(p, &p->tok);
    f->name = parse_name_at(p, &f->name_loc);
    EXPECT_KEYWORD(p, "on");
    f->type_condition = parse_name_at(p, &f->type_condition_loc);
    parse_directives(p, false, &f->directives, &f->ndirectives);
    parse_selection_set(p, &f->selection_set);
}

/* ---- type system definitions ---- */

static tq_str parse_description(parser *p)
{
    tq_str description = {NULL, 0};

    if (peek(p, TQ_TOK_STRING) || peek(p, TQ_TOK_BLOCK_STRING)) {
        description = p->tok.value;
        advance(p);
    }
    return description;
}

static void parse_input_value_defs(parser *p, tq_gql_token_kind open, tq_gql_token_kind close,
                                   tq_gql_input_value_def **defs, uint32_t *ndefs)
{
    size_t mark = p->stack.len;

    if (!accept(p, open))
        return;
    do {
        tq_gql_input_value_def def;
        memset(&def, 0, sizeof(def));
        def.description = parse_description(p);
        def.name = parse_name_at(p, &def.loc);
        expect(p, TQ_TOK_COLON);
        def.type = parse_type(p);
        if (accept(p, TQ_TOK_EQUALS))
            def.default_value = parse_value(p, true);
        parse_directives(p, true, &def.directives, &def.ndirectives);
        PUSH(p, def);
    } while (!accept(p, close));
    *defs = TAKE(p, mark, tq_gql_input_value_def, ndefs);
}

static void parse_field_defs(parser *p, tq_gql_type_def *td)
{
    size_t mark = p->stack.len;

    if (!accept(p, TQ_TOK_BRACE_L))
        return;
    do {
        tq_gql_field_def def;
        memset(&def, 0, sizeof(def));
        def.description = parse_description(p);
        def.name = parse_name_at(p, &def.loc);
        parse_input_value_defs(p, TQ_TOK_PAREN_L, TQ_TOK_PAREN_R, &def.args, &def.nargs);
        expect(p, TQ_TOK_COLON);
        def.type = parse_type(p);
        parse_directives(p, true, &def.directives, &def.ndirectives);
        PUSH(p, def);
    } while (!accept(p, TQ_TOK_BRACE_R));
    td->fields = TAKE(p, mark, tq_gql_field_def, &td->nfields);
}

static void parse_enum_value_defs(parser *p, tq_gql_type_def *td)
{
    size_t mark = p->stack.len;
    char desc[MAX_QUOTED_VALUE + 32];

    if (!accept(p, TQ_TOK_BRACE_L))
        return;
    do {
        tq_gql_enum_value_def def;
        memset(&def, 0, sizeof(def));
        def.description = parse_description(p);
        if (VALUE_IS(&p->tok, "true") || VALUE_IS(&p->tok, "false") || VALUE_IS(&p->tok, "null"))
            fail(p, p->tok.loc, "%s is reserved and cannot be used for an enum value.",
                 token_desc(&p->tok, desc, sizeof(desc)));
        def.name = parse_name_at(p, &def.loc);
        parse_directives(p, true, &def.directives, &def.ndirectives);
        PUSH(p, def);
    } while (!accept(p, TQ_TOK_BRACE_R));
    td->values = TAKE(p, mark, tq_gql_enum_value_def, &td->nvalues);
}

/* NamedType (delimiter NamedType)*, with an optional leading delimiter. */
static void parse_named_refs(parser *p, tq_gql_token_kind delimiter, tq_gql_named_ref **refs, uint32_t *nrefs)
{
    size_t mark = p->stack.len;

    accept(p, delimiter);
    do {
        tq_gql_named_ref ref;
        ref.name = parse_name_at(p, &ref.loc);
        PUSH(p, ref);
    } while (accept(p, delimiter));
    *refs = TAKE(p, mark, tq_gql_named_ref, nrefs);
}

static void parse_root_operations(parser *p, tq_gql_type_def *td, bool optional)
{
    size_t mark = p->stack.len;

    if (optional && !peek(p, TQ_TOK_BRACE_L))
        return;
    expect(p, TQ_TOK_BRACE_L);
    do {
        tq_gql_root_op_def op;
        tq_gql_token t = p->tok;
        expect(p, TQ_TOK_NAME);
        if (!operation_type_of(&t, &op.operation))
            unexpected(p, &t);
        expect(p, TQ_TOK_COLON);
        op.type.name = parse_name_at(p, &op.type.loc);
        PUSH(p, op);
    } while (!accept(p, TQ_TOK_BRACE_R));
    td->root_ops = TAKE(p, mark, tq_gql_root_op_def, &td->nroot_ops);
}

static bool is_directive_location(tq_str name)
{
    static const char *const locations[] = {
        /* ExecutableDirectiveLocation */
        "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD",
        "INLINE_FRAGMENT", "VARIABLE_DEFINITION",
        /* TypeSystemDirectiveLocation */
        "SCHEMA", "SCALAR", "OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE", "UNION",
        "ENUM", "ENUM_VALUE", "INPUT_OBJECT", "INPUT_FIELD_DEFINITION",
    };
    for (size_t i = 0; i < sizeof(locations) / sizeof(locations[0]); i++)
        if (strlen(locations[i]) == name.len && memcmp(locations[i], name.s, name.len) == 0)
            return true;
    return false;
}

/* After "directive": @name ArgumentsDefinition? repeatable? on Locations. */
static void parse_directive_definition(parser *p, tq_gql_directive_def *dd)
{
    size_t mark;

    expect(p, TQ_TOK_AT);
    dd->name = parse_name(p);
    parse_input_value_defs(p, TQ_TOK_PAREN_L, TQ_TOK_PAREN_R, &dd->args, &dd->nargs);
    dd->repeatable = ACCEPT_KEYWORD(p, "repeatable");
    EXPECT_KEYWORD(p, "on");
    accept(p, TQ_TOK_PIPE);
    mark = p->stack.len;
    do {
        tq_gql_token t = p->tok;
        tq_str location = parse_name(p);
        if (!is_directive_location(location))
            unexpected(p, &t);
        PUSH(p, location);
    } while (accept(p, TQ_TOK_PIPE));
    dd->locations = TAKE(p, mark, tq_str, &dd->nlocations);
}

/* Everything after the keyword of a type or schema definition or extension. */
static void parse_type_def_body(parser *p, tq_gql_definition *d)
{
    tq_gql_type_def *td = &d->u.type;

    if (d->kind != TQ_GQL_DEF_SCHEMA)
        td->name = parse_name(p);
    if (d->kind == TQ_GQL_DEF_OBJECT || d->kind == TQ_GQL_DEF_INTERFACE) {
        if (ACCEPT_KEYWORD(p, "implements"))
            parse_named_refs(p, TQ_TOK_AMP, &td->interfaces, &td->ninterfaces);
    }
    parse_directives(p, true, &td->directives, &td->ndirectives);
    switch (d->kind) {
    case TQ_GQL_DEF_SCHEMA:
        parse_root_operations(p, td, d->extension);
        break;
    case TQ_GQL_DEF_OBJECT:
    case TQ_GQL_DEF_INTERFACE:
        parse_field_defs(p, td);
        break;
    case TQ_GQL_DEF_UNION:
        if (accept(p, TQ_TOK_EQUALS))
            parse_named_refs(p, TQ_TOK_PIPE, &td->members, &td->nmembers);
        break;
    case TQ_GQL_DEF_ENUM:
        parse_enum_value_defs(p, td);
        break;
    case TQ_GQL_DEF_INPUT_OBJECT:
        parse_input_value_defs(p, TQ_TOK_BRACE_L, TQ_TOK_BRACE_R, &td->input_fields, &td->ninput_fields);
        break;
    default:
        break;
    }
    /* an extension must add something; the parts a kind lacks are all zero */
    if (d->extension && td->ndirectives + td->ninterfaces + td->nfields + td->nmembers + td->nvalues +
                                td->ninput_fields + td->nroot_ops == 0)
        unexpected(p, &p->tok);
}

static bool type_system_kind(const tq_gql_token *t, tq_gql_definition_kind *kind)
{
    static const struct {
        const char *word;
        tq_gql_definition_kind kind;
    } keywords[] = {
        {"schema", TQ_GQL_DEF_SCHEMA},       {"scalar", TQ_GQL_DEF_SCALAR}, {"type", TQ_GQL_DEF_OBJECT},
        {"interface", TQ_GQL_DEF_INTERFACE}, {"union", TQ_GQL_DEF_UNION},   {"enum", TQ_GQL_DEF_ENUM},
        {"input", TQ_GQL_DEF_INPUT_OBJECT},  {"directive", TQ_GQL_DEF_DIRECTIVE},
    };
    if (t->kind != TQ_TOK_NAME)
        return false;
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
        if (value_is(t, keywords[i].word, strlen(keywords[i].word))) {
            *kind = keywords[i].kind;
            return true;
        }
    }
    return false;
}

/* At the keyword of a type system definition; its description, if any, is consumed. */
static void parse_type_system_definition(parser *p, tq_gql_definition *d, tq_gql_definition_kind kind,
                                         tq_str description)
{
    d->kind = kind;
    d->loc = p->tok.loc;
    advance(p);
    if (kind == TQ_GQL_DEF_DIRECTIVE) {
        d->u.directive.description = description;
        parse_directive_definition(p, &d->u.directive);
    } else {
        d->u.type.description = description;
        parse_type_def_body(p, d);
    }
}

/* At "extend". Directive definitions cannot be extended. */
static void parse_extension(parser *p, tq_gql_definition *d)
{
    tq_gql_definition_kind kind;

    d->loc = p->tok.loc;
    advance(p);
    if (!type_system_kind(&p->tok, &kind) || kind == TQ_GQL_DEF_DIRECTIVE)
        unexpected(p, &p->tok);
    d->kind = kind;
    d->extension = true;
    advance(p);
    parse_type_def_body(p, d);
}

/* ---- documents ---- */

/* Without allow_type_system, a definition graphql-js would parse as type system is
 * reported as an unexpected token at its keyword. */
static void parse_definition(parser *p, tq_gql_definition *d)
{
    tq_gql_definition_kind kind;

    memset(d, 0, sizeof(*d));
    if (peek(p, TQ_TOK_BRACE_L)) {
        parse_operation(p, d);
        return;
    }
    tq_gql_token description = p->tok;
    bool has_description = peek(p, TQ_TOK_STRING) || peek(p, TQ_TOK_BLOCK_STRING);
    if (has_description)
        advance(p);
    if (type_system_kind(&p->tok, &kind)) {
        if (!p->allow_type_system)
            unexpected(p, &p->tok);
        parse_type_system_definition(p, d, kind, has_description ? description.value : (tq_str){NULL, 0});
        return;
    }
    if (p->tok.kind == TQ_TOK_NAME) {
        if (has_description)
            fail(p, description.loc, "Unexpected description, descriptions are supported only on type definitions.");
        tq_gql_operation_type op;
        if (operation_type_of(&p->tok, &op)) {
            parse_operation(p, d);
            return;
        }
        if (IS_KEYWORD(&p->tok, "fragment")) {
            parse_fragment_definition(p, d);
            return;
        }
        if (IS_KEYWORD(&p->tok, "extend") && p->allow_type_system) {
            parse_extension(p, d);
            return;
        }
    }
    unexpected(p, &p->tok);
}

static tq_gql_document *parse_document(parser *p)
{
    tq_gql_document *doc = tq_arena_alloc(p->arena, sizeof(*doc));
    size_t mark = p->stack.len;

    advance(p);
    do {
        tq_gql_definition d;
        parse_definition(p, &d);
        PUSH(p, d);
    } while (!accept(p, TQ_TOK_EOF));
    doc->defs = TAKE(p, mark, tq_gql_definition, &doc->count);
    return doc;
}

/* setjmp lives here rather than in tq_gql_parse so that no local of the function that
 * calls it is modified before a longjmp. */
static tq_gql_document *run(parser *p)
{
    if (setjmp(p->on_error))
        return NULL;
    return parse_document(p);
}

tq_gql_document *tq_gql_parse(tq_arena *a, const char *src, size_t len, const tq_gql_parse_options *opts,
                              tq_gql_parse_error *err)
{
    static const tq_gql_parse_options defaults = {false, 0, 0};
    _Alignas(16) char inline_scratch[SCRATCH_INLINE_SIZE];
    tq_gql_parse_error ignored;
    parser p;

    if (opts == NULL)
        opts = &defaults;
    if (err == NULL)
        err = &ignored;
    err->message[0] = '\0';
    err->loc.line = err->loc.column = 0;
    if (len >= UINT32_MAX) {
        snprintf(err->message, sizeof(err->message), "Syntax Error: Document is too large.");
        err->loc.line = err->loc.column = 1;
        return NULL;
    }

    memset(&p, 0, sizeof(p));
    tq_gql_lexer_init(&p.lx, a, src != NULL ? src : "", len);
    p.arena = a;
    p.allow_type_system = opts->allow_type_system;
    p.max_depth = opts->max_depth != 0 ? opts->max_depth : DEFAULT_MAX_DEPTH;
    p.max_tokens = opts->max_tokens;
    p.stack.buf = inline_scratch;
    p.stack.cap = sizeof(inline_scratch);
    p.err = err;

    tq_gql_document *doc = run(&p);
    if (p.stack.on_heap)
        free(p.stack.buf);
    return doc;
}
