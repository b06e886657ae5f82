/*
 * validate_util.c - the validator's plumbing: maps made on first use, strings, error
 * reporting with graphql-js's error limit, and the type questions the rules ask
 * (typeFromAST, field definitions with the meta-fields, sub-typing).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "validate_internal.h"

/* ---- hash maps ---- */

void **tq_vmap_slot(tq_arena *ar, tq_map *m, const void *key, size_t len, bool *existed)
{
    if (m->arena == NULL) /* still zero: never inserted into */
        tq_map_init(m, ar);
    return tq_map_slot_for(m, key, len, existed);
}

bool tq_vset_add(tq_arena *ar, tq_map *set, tq_str name)
{
    bool existed;
    void **slot = tq_vmap_slot(ar, set, name.s, name.len, &existed);
    *slot = (void *)name.s; /* any value but NULL */
    return !existed;
}

/* ---- strings ---- */

void tq_vbuf_put(tq_vbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        uint32_t ncap = b->cap ? b->cap : 64;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *grown = tq_arena_alloc(b->ar, ncap);
        if (b->len > 0)
            memcpy(grown, b->s, b->len);
        b->s = grown;
        b->cap = ncap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += (uint32_t)n;
}

void tq_vbuf_puts(tq_vbuf *b, const char *s)
{
    tq_vbuf_put(b, s, strlen(s));
}

const char *tq_vbuf_str(tq_vbuf *b)
{
    tq_vbuf_put(b, "", 0);
    b->s[b->len] = '\0';
    return b->s;
}

/* ---- errors ---- */

static void push_error(tq_vctx *v, const char *message, const tq_gql_loc *locs, uint32_t nlocs)
{
    tq_validation_error e = {message, NULL, nlocs};
    if (nlocs > 0) {
        tq_gql_loc *copy = tq_arena_alloc(v->ar, nlocs * sizeof(*copy));
        memcpy(copy, locs, nlocs * sizeof(*copy));
        e.locations = copy;
    }
    TQ_VEC_PUSH(v->ar, v->errors, v->nerrors, v->caperrors, e);
}

void tq_vreport(tq_vctx *v, const char *message, const tq_gql_loc *locs, uint32_t nlocs)
{
    if (v->stopped)
        return;
    if (v->nerrors >= TQ_VALIDATE_MAX_ERRORS) {
        /* graphql-js gives up here, so the errors after this one are never looked for */
        push_error(v, "Too many validation errors, error limit reached. Validation aborted.", NULL, 0);
        v->stopped = true;
        return;
    }
    push_error(v, message, locs, nlocs);
}

bool tq_vspend(tq_vctx *v, uint64_t n)
{
    if (v->exhausted)
        return false;
    v->steps += n;
    if (v->steps <= TQ_VALIDATE_MAX_STEPS)
        return true;
    v->exhausted = true;
    if (!v->stopped)
        push_error(v,
                   tq_arena_sprintf(v->ar,
                                    "The document is too complex to validate (more than %d steps). Validation "
                                    "aborted.",
                                    TQ_VALIDATE_MAX_STEPS),
                   NULL, 0);
    v->stopped = true;
    return false;
}

void tq_vreport1(tq_vctx *v, tq_gql_loc loc, const char *fmt, ...)
{
    if (v->stopped)
        return;
    va_list ap;
    va_start(ap, fmt);
    char small[1];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    char *msg = tq_arena_alloc(v->ar, (size_t)(n > 0 ? n : 0) + 1);
    vsnprintf(msg, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
    va_end(ap);
    tq_vreport(v, msg, &loc, 1);
}

/* ---- types ---- */

const tq_schema_type *tq_vnamed(const tq_type_ref *t)
{
    while (t != NULL && t->kind != TQ_GQL_TYPE_NAMED)
        t = t->of;
    return t != NULL ? t->named : NULL;
}

static bool refers_to(const tq_type_ref *r, const tq_schema_type *t)
{
    return tq_vnamed(r) == t;
}

/* Whether anything in the schema refers to the built-in scalar t. */
static bool scalar_referenced(const tq_schema *s, const tq_schema_type *t)
{
    for (uint32_t i = 0; i < s->ntypes; i++) {
        const tq_schema_type *u = s->types[i];
        for (uint32_t j = 0; j < u->nfields; j++) {
            if (refers_to(u->fields[j].type, t))
                return true;
            for (uint32_t k = 0; k < u->fields[j].nargs; k++)
                if (refers_to(u->fields[j].args[k].type, t))
                    return true;
        }
        for (uint32_t j = 0; j < u->ninput_fields; j++)
            if (refers_to(u->input_fields[j].type, t))
                return true;
    }
    for (uint32_t i = 0; i < s->ndirectives; i++)
        for (uint32_t j = 0; j < s->directives[i]->nargs; j++)
            if (refers_to(s->directives[i]->args[j].type, t))
                return true;
    return false;
}

static int builtin_scalar_index(const tq_schema_type *t)
{
    static const char *const names[] = {"Int", "Float", "String", "Boolean", "ID"};
    if (t->kind != TQ_TYPE_SCALAR)
        return -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(t->name, names[i]) == 0)
            return i;
    return -1;
}

const tq_schema_type *tq_vfind_type(tq_vctx *v, tq_str name)
{
    const tq_schema_type *t = tq_schema_find_type(v->schema, name.s, name.len);
    if (t == NULL)
        return NULL;
    int i = builtin_scalar_index(t);
    if (i < 0)
        return t;
    if (v->scalar_known[i] < 0)
        v->scalar_known[i] = scalar_referenced(v->schema, t);
    return v->scalar_known[i] ? t : NULL;
}

const tq_type_ref *tq_vtype_from_ast(tq_vctx *v, const tq_gql_type *t)
{
    tq_type_ref *r = tq_arena_alloc(v->ar, sizeof(*r));
    r->kind = t->kind;
    r->named = NULL;
    r->of = NULL;
    if (t->kind == TQ_GQL_TYPE_NAMED)
        return (r->named = tq_vfind_type(v, t->name)) != NULL ? r : NULL;
    return (r->of = tq_vtype_from_ast(v, t->of_type)) != NULL ? r : NULL;
}

const tq_schema_field *tq_vplain_field(const tq_schema_type *parent, tq_str name)
{
    if (parent == NULL || (parent->kind != TQ_TYPE_OBJECT && parent->kind != TQ_TYPE_INTERFACE))
        return NULL;
    /* "__" names are reserved for introspection: never an ordinary field */
    if (name.len >= 2 && name.s[0] == '_' && name.s[1] == '_')
        return NULL;
    return tq_schema_find_field(parent, name.s, name.len);
}

const tq_schema_field *tq_vfield_def(tq_vctx *v, const tq_schema_type *parent, tq_str name)
{
    if (parent == NULL)
        return NULL;
    if (parent == v->schema->query) {
        if (v->has_schema_meta && TQ_STR_EQ_LIT(name, "__schema"))
            return &v->schema_field;
        if (v->has_type_meta && TQ_STR_EQ_LIT(name, "__type"))
            return &v->type_field;
    }
    if (TQ_STR_EQ_LIT(name, "__typename") && tq_vis_composite(parent))
        return &v->typename_field;
    return tq_vplain_field(parent, name);
}

bool tq_vis_sub_type(const tq_schema_type *abstract, const tq_schema_type *maybe_sub)
{
    if (abstract->kind == TQ_TYPE_UNION) {
        for (uint32_t i = 0; i < abstract->npossible; i++)
            if (abstract->possible[i] == maybe_sub)
                return true;
        return false;
    }
    for (uint32_t i = 0; i < maybe_sub->ninterfaces; i++)
        if (maybe_sub->interfaces[i] == abstract)
            return true;
    return false;
}
