/*
 * schema.c - builds the executable schema from SDL (see schema.h).
 *
 * The SDL's own rules (unique names, reserved "__" names, extensions of defined types
 * only) are checked on the document first; then two passes build the types: every named
 * type is created (so that fields can refer to types defined later), then fields,
 * arguments, members and values are filled in, "extend" definitions included. The
 * introspection types come from schema/introspection.graphql (embedded) and are built the
 * same way. Last, the spec's type system rules run on the result (schema_rules.c), and
 * the list of types introspection shows is worked out in graphql-js's order.
 */
#include "tenantql/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_rules.h"
#include "tenantql/embedded.h"
#include "tenantql/introspection.h"
#include "tenantql/parser.h"

extern const tq_scalar_ops tq_scalar_int, tq_scalar_float, tq_scalar_string, tq_scalar_boolean, tq_scalar_id;

typedef struct build_ctx {
    tq_schema *s;
    char *err;
    size_t errlen;
    bool failed;
} build_ctx;

static void fail(build_ctx *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(build_ctx *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    b->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, b->errlen, fmt, ap);
    va_end(ap);
}

const tq_schema_type *tq_schema_find_type(const tq_schema *s, const char *name, size_t len)
{
    for (uint32_t i = 0; i < s->ntypes; i++)
        if (strlen(s->types[i]->name) == len && memcmp(s->types[i]->name, name, len) == 0)
            return s->types[i];
    return NULL;
}

const tq_schema_field *tq_schema_find_field(const tq_schema_type *t, const char *name, size_t len)
{
    for (uint32_t i = 0; i < t->nfields; i++)
        if (strncmp(t->fields[i].name, name, len) == 0 && t->fields[i].name[len] == '\0')
            return &t->fields[i];
    return NULL;
}

const tq_schema_field *tq_schema_field_of(const tq_schema *s, const tq_schema_type *t, const char *name, size_t len)
{
    if (t == s->query && s->schema_meta_field != NULL) {
        if (len == 8 && memcmp(name, "__schema", 8) == 0)
            return s->schema_meta_field;
        if (len == 6 && memcmp(name, "__type", 6) == 0)
            return s->type_meta_field;
    }
    return tq_schema_find_field(t, name, len);
}

/* The rules keep "__" names out of the SDL, so only the introspection types have them. */
bool tq_schema_is_introspection_type(const tq_schema_type *t)
{
    return t->name[0] == '_' && t->name[1] == '_';
}

const tq_schema_directive *tq_schema_find_directive(const tq_schema *s, const char *name, size_t len)
{
    for (uint32_t i = 0; i < s->ndirectives; i++)
        if (strncmp(s->directives[i]->name, name, len) == 0 && s->directives[i]->name[len] == '\0')
            return s->directives[i];
    return NULL;
}

static const char *const location_names[TQ_DLOC_COUNT_] = {
    "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD", "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION", "SCHEMA", "SCALAR", "OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE",
    "UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT", "INPUT_FIELD_DEFINITION",
};

const char *tq_directive_location_name(tq_directive_location loc)
{
    return (unsigned)loc < TQ_DLOC_COUNT_ ? location_names[loc] : "";
}

bool tq_schema_is_possible_type(const tq_schema_type *abstract, const tq_schema_type *object)
{
    if (abstract == object)
        return true;
    for (uint32_t i = 0; i < abstract->npossible; i++)
        if (abstract->possible[i] == object)
            return true;
    return false;
}

static tq_schema_type *add_type(build_ctx *b, tq_type_kind kind, const char *name, tq_str description)
{
    tq_schema_type *t = tq_arena_calloc(&b->s->arena, 1, sizeof(*t));
    t->kind = kind;
    t->name = name;
    t->description = description;
    b->s->types[b->s->ntypes++] = t;
    return t;
}

static tq_schema_type *find_mut(build_ctx *b, tq_str name)
{
    return (tq_schema_type *)tq_schema_find_type(b->s, name.s, name.len);
}

static const tq_type_ref *convert_type(build_ctx *b, const tq_gql_type *ast)
{
    tq_type_ref *ref = tq_arena_calloc(&b->s->arena, 1, sizeof(*ref));
    ref->kind = ast->kind;
    if (ast->kind == TQ_GQL_TYPE_NAMED) {
        ref->named = find_mut(b, ast->name);
        if (ref->named == NULL)
            fail(b, "schema %u:%u: Unknown type \"%s\".", ast->loc.line, ast->loc.column, ast->name.s);
    } else {
        ref->of = convert_type(b, ast->of_type);
    }
    return ref;
}

/* @deprecated(reason: ...) among directives: the reason, "No longer supported" by
 * default. An explicit `reason: null` leaves the element not deprecated, as in graphql-js,
 * where being deprecated means having a reason. */
static const char *deprecation(const tq_gql_directive *dirs, uint32_t n, bool *deprecated)
{
    *deprecated = false;
    for (uint32_t i = 0; i < n; i++) {
        if (!TQ_STR_EQ_LIT(dirs[i].name, "deprecated"))
            continue;
        const char *reason = "No longer supported";
        for (uint32_t j = 0; j < dirs[i].nargs; j++) {
            const tq_gql_value *v = dirs[i].args[j].value;
            if (!TQ_STR_EQ_LIT(dirs[i].args[j].name, "reason"))
                continue;
            if (v->kind == TQ_GQL_VALUE_NULL)
                return NULL;
            if (v->kind == TQ_GQL_VALUE_STRING)
                reason = v->u.str.s;
        }
        *deprecated = true;
        return reason;
    }
    return NULL;
}

static void convert_input_values(build_ctx *b, tq_input_value *out, const tq_gql_input_value_def *in, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        out[i].name = in[i].name.s;
        out[i].description = in[i].description;
        out[i].type = convert_type(b, in[i].type);
        out[i].default_literal = in[i].default_value;
        out[i].deprecation_reason = deprecation(in[i].directives, in[i].ndirectives, &out[i].deprecated);
    }
}

/* All definitions of one named type: the base one first, then its extensions in
 * document order (so fields come in graphql-js's order wherever the "extend" is). */
static uint32_t definitions_of(const tq_gql_document *doc, const char *name, const tq_gql_definition **out, uint32_t cap)
{
    uint32_t n = 0;
    for (int extensions = 0; extensions < 2; extensions++) {
        for (uint32_t i = 0; i < doc->count; i++) {
            const tq_gql_definition *d = &doc->defs[i];
            if (d->kind < TQ_GQL_DEF_SCALAR || d->kind > TQ_GQL_DEF_INPUT_OBJECT || d->extension != (extensions == 1))
                continue;
            if (strcmp(d->u.type.name.s, name) == 0 && n < cap)
                out[n++] = d;
        }
    }
    return n;
}

static const tq_schema_type *named_type(build_ctx *b, tq_gql_named_ref ref)
{
    const tq_schema_type *t = find_mut(b, ref.name);
    if (t == NULL)
        fail(b, "schema %u:%u: Unknown type \"%s\".", ref.loc.line, ref.loc.column, ref.name.s);
    return t;
}

static void fill_type(build_ctx *b, const tq_gql_document *doc, tq_schema_type *t)
{
    const tq_gql_definition *defs[32];
    uint32_t ndefs = definitions_of(doc, t->name, defs, 32);
    uint32_t nf = 0, ni = 0, nm = 0, nv = 0, nin = 0;
    for (uint32_t i = 0; i < ndefs; i++) {
        nf += defs[i]->u.type.nfields;
        ni += defs[i]->u.type.ninterfaces;
        nm += defs[i]->u.type.nmembers;
        nv += defs[i]->u.type.nvalues;
        nin += defs[i]->u.type.ninput_fields;
    }
    tq_arena *a = &b->s->arena;
    t->fields = tq_arena_calloc(a, nf ? nf : 1, sizeof(*t->fields));
    t->interfaces = tq_arena_calloc(a, ni ? ni : 1, sizeof(*t->interfaces));
    t->possible = tq_arena_calloc(a, nm ? nm : 1, sizeof(*t->possible));
    t->values = tq_arena_calloc(a, nv ? nv : 1, sizeof(*t->values));
    t->input_fields = tq_arena_calloc(a, nin ? nin : 1, sizeof(*t->input_fields));
    for (uint32_t i = 0; i < ndefs; i++) {
        const tq_gql_type_def *d = &defs[i]->u.type;
        for (uint32_t j = 0; j < d->nfields; j++) {
            tq_schema_field *f = &t->fields[t->nfields++];
            f->name = d->fields[j].name.s;
            f->description = d->fields[j].description;
            f->type = convert_type(b, d->fields[j].type);
            f->nargs = d->fields[j].nargs;
            f->args = tq_arena_calloc(a, f->nargs ? f->nargs : 1, sizeof(*f->args));
            convert_input_values(b, f->args, d->fields[j].args, f->nargs);
            f->deprecation_reason = deprecation(d->fields[j].directives, d->fields[j].ndirectives, &f->deprecated);
        }
        /* kinds are checked by the type system rules, with the spec's messages */
        for (uint32_t j = 0; j < d->ninterfaces; j++) {
            const tq_schema_type *it = named_type(b, d->interfaces[j]);
            if (it != NULL)
                t->interfaces[t->ninterfaces++] = it;
        }
        for (uint32_t j = 0; j < d->nmembers; j++) {
            const tq_schema_type *m = named_type(b, d->members[j]);
            if (m != NULL)
                t->possible[t->npossible++] = m;
        }
        for (uint32_t j = 0; j < d->nvalues; j++) {
            tq_enum_value *v = &t->values[t->nvalues++];
            v->name = d->values[j].name.s;
            v->description = d->values[j].description;
            v->deprecation_reason = deprecation(d->values[j].directives, d->values[j].ndirectives, &v->deprecated);
        }
        t->ninput_fields += d->ninput_fields;
        convert_input_values(b, t->input_fields + t->ninput_fields - d->ninput_fields, d->input_fields,
                             d->ninput_fields);
        for (uint32_t j = 0; j < d->ndirectives; j++) {
            const tq_gql_directive *dir = &d->directives[j];
            if (TQ_STR_EQ_LIT(dir->name, "specifiedBy") && dir->nargs == 1 &&
                dir->args[0].value->kind == TQ_GQL_VALUE_STRING)
                t->specified_by = dir->args[0].value->u.str.s;
        }
    }
}

/* Interfaces list their implementations so that abstract fields can check results. */
static void link_implementations(build_ctx *b)
{
    tq_schema *s = b->s;
    for (uint32_t i = 0; i < s->ntypes; i++) {
        tq_schema_type *it = s->types[i];
        if (it->kind != TQ_TYPE_INTERFACE)
            continue;
        uint32_t n = 0;
        for (uint32_t j = 0; j < s->ntypes; j++)
            for (uint32_t k = 0; k < s->types[j]->ninterfaces; k++)
                n += s->types[j]->interfaces[k] == it;
        it->possible = tq_arena_calloc(&s->arena, n ? n : 1, sizeof(*it->possible));
        it->npossible = 0;
        for (uint32_t j = 0; j < s->ntypes; j++)
            for (uint32_t k = 0; k < s->types[j]->ninterfaces; k++)
                if (s->types[j]->interfaces[k] == it && s->types[j]->kind == TQ_TYPE_OBJECT)
                    it->possible[it->npossible++] = s->types[j];
    }
}

static bool has_schema_definition(const tq_gql_document *doc)
{
    for (uint32_t i = 0; i < doc->count; i++)
        if (doc->defs[i].kind == TQ_GQL_DEF_SCHEMA && !doc->defs[i].extension)
            return true;
    return false;
}

static const tq_schema_type *root_type(build_ctx *b, const tq_gql_document *doc, tq_gql_operation_type op,
                                       const char *fallback)
{
    for (uint32_t i = 0; i < doc->count; i++) {
        const tq_gql_definition *d = &doc->defs[i];
        if (d->kind != TQ_GQL_DEF_SCHEMA)
            continue;
        for (uint32_t j = 0; j < d->u.type.nroot_ops; j++)
            if (d->u.type.root_ops[j].operation == op)
                return named_type(b, d->u.type.root_ops[j].type);
    }
    /* like buildASTSchema: without a schema definition the roots go by name, whatever
     * their kind; the rules then insist on object types */
    if (has_schema_definition(doc))
        return NULL;
    return tq_schema_find_type(b->s, fallback, strlen(fallback));
}

static tq_str schema_description(const tq_gql_document *doc)
{
    for (uint32_t i = 0; i < doc->count; i++)
        if (doc->defs[i].kind == TQ_GQL_DEF_SCHEMA && !doc->defs[i].extension)
            return doc->defs[i].u.type.description;
    return (tq_str){NULL, 0};
}

static void bind_resolvers(build_ctx *b, const tq_resolver_binding *resolvers)
{
    for (const tq_resolver_binding *r = resolvers; r && r->coordinate; r++) {
        const char *dot = strchr(r->coordinate, '.');
        const tq_schema_type *t = dot ? tq_schema_find_type(b->s, r->coordinate, (size_t)(dot - r->coordinate)) : NULL;
        tq_schema_field *f = t ? (tq_schema_field *)tq_schema_find_field(t, dot + 1, strlen(dot + 1)) : NULL;
        if (f == NULL) {
            fail(b, "resolver bound to \"%s\", which is not a field of the schema", r->coordinate);
            return;
        }
        f->resolve = r->resolve;
    }
}

static void bind_scalars(build_ctx *b, const tq_scalar_binding *scalars)
{
    for (const tq_scalar_binding *sc = scalars; sc && sc->name; sc++) {
        tq_schema_type *t = (tq_schema_type *)tq_schema_find_type(b->s, sc->name, strlen(sc->name));
        if (t == NULL || t->kind != TQ_TYPE_SCALAR) {
            fail(b, "scalar binding \"%s\" names no scalar of the schema", sc->name);
            return;
        }
        t->scalar = sc->ops;
    }
    for (uint32_t i = 0; i < b->s->ntypes; i++)
        if (b->s->types[i]->kind == TQ_TYPE_SCALAR && b->s->types[i]->scalar == NULL)
            fail(b, "custom scalar \"%s\" has no implementation", b->s->types[i]->name);
}

static void add_builtin_scalars(build_ctx *b)
{
    static const struct {
        const char *name;
        const tq_scalar_ops *ops;
        const char *description;
    } builtins[] = {
        {"Int", &tq_scalar_int,
         "The `Int` scalar type represents non-fractional signed whole numeric values. Int can represent values between -(2^31) and 2^31 - 1."},
        {"Float", &tq_scalar_float,
         "The `Float` scalar type represents signed double-precision fractional values as specified by [IEEE 754](https://en.wikipedia.org/wiki/IEEE_floating_point)."},
        {"String", &tq_scalar_string,
         "The `String` scalar type represents textual data, represented as UTF-8 character sequences. The String type is most often used by GraphQL to represent free-form human-readable text."},
        {"Boolean", &tq_scalar_boolean, "The `Boolean` scalar type represents `true` or `false`."},
        {"ID", &tq_scalar_id,
         "The `ID` scalar type represents a unique identifier, often used to refetch an object or as key for a cache. The ID type appears in a JSON response as a String; however, it is not intended to be human-readable. When expected as an input type, any string (such as `\"4\"`) or integer (such as `4`) input value will be accepted as an ID."},
    };
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        tq_str d = {builtins[i].description, (uint32_t)strlen(builtins[i].description)};
        add_type(b, TQ_TYPE_SCALAR, builtins[i].name, d)->scalar = builtins[i].ops;
    }
}

/* The directives every schema has, with graphql-js's descriptions so that introspection
 * answers as the reference implementation does. Parsed like the user's SDL. */
static const char builtin_directives_sdl[] =
    "\"Directs the executor to include this field or fragment only when the `if` argument is true.\"\n"
    "directive @include(\"Included when true.\" if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n"
    "\"Directs the executor to skip this field or fragment when the `if` argument is true.\"\n"
    "directive @skip(\"Skipped when true.\" if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n"
    "\"Marks an element of a GraphQL schema as no longer supported.\"\n"
    "directive @deprecated(\n"
    "  \"Explains why this element was deprecated, usually also including a suggestion for how to access "
    "supported similar data. Formatted using the Markdown syntax, as specified by [CommonMark](https://commonmark.org/).\"\n"
    "  reason: String = \"No longer supported\"\n"
    ") on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE\n"
    "\"Exposes a URL that specifies the behavior of this scalar.\"\n"
    "directive @specifiedBy(\"The URL that specifies the behavior of this scalar.\" url: String!) on SCALAR\n";

static tq_directive_location location_of(build_ctx *b, tq_str name)
{
    for (uint32_t i = 0; i < TQ_DLOC_COUNT_; i++)
        if (strlen(location_names[i]) == name.len && memcmp(location_names[i], name.s, name.len) == 0)
            return (tq_directive_location)i;
    fail(b, "schema: unknown directive location \"%s\"", name.s);
    return TQ_DLOC_QUERY;
}

static void add_directives(build_ctx *b, const tq_gql_document *doc, bool builtin)
{
    for (uint32_t i = 0; i < doc->count; i++) {
        const tq_gql_definition *d = &doc->defs[i];
        if (d->kind != TQ_GQL_DEF_DIRECTIVE)
            continue;
        const tq_gql_directive_def *dd = &d->u.directive;
        if (tq_schema_find_directive(b->s, dd->name.s, dd->name.len) != NULL) {
            fail(b, "schema %u:%u: directive \"@%s\" is defined twice", d->loc.line, d->loc.column, dd->name.s);
            return;
        }
        tq_schema_directive *sd = tq_arena_calloc(&b->s->arena, 1, sizeof(*sd));
        sd->name = dd->name.s;
        sd->description = dd->description;
        sd->repeatable = dd->repeatable;
        sd->builtin = builtin;
        sd->nargs = dd->nargs;
        sd->args = tq_arena_calloc(&b->s->arena, dd->nargs ? dd->nargs : 1, sizeof(*sd->args));
        convert_input_values(b, sd->args, dd->args, dd->nargs);
        tq_directive_location *list = tq_arena_calloc(&b->s->arena, dd->nlocations ? dd->nlocations : 1, sizeof(*list));
        for (uint32_t j = 0; j < dd->nlocations; j++) {
            list[j] = location_of(b, dd->locations[j]);
            sd->locations |= 1u << list[j];
        }
        sd->location_list = list;
        sd->nlocation_list = dd->nlocations;
        b->s->directives[b->s->ndirectives++] = sd;
    }
}

static uint32_t count_directive_defs(const tq_gql_document *doc)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < doc->count; i++)
        n += doc->defs[i].kind == TQ_GQL_DEF_DIRECTIVE;
    return n;
}

static const tq_type_kind kind_of_def[] = {
    [TQ_GQL_DEF_SCALAR] = TQ_TYPE_SCALAR, [TQ_GQL_DEF_OBJECT] = TQ_TYPE_OBJECT,
    [TQ_GQL_DEF_INTERFACE] = TQ_TYPE_INTERFACE, [TQ_GQL_DEF_UNION] = TQ_TYPE_UNION,
    [TQ_GQL_DEF_ENUM] = TQ_TYPE_ENUM, [TQ_GQL_DEF_INPUT_OBJECT] = TQ_TYPE_INPUT_OBJECT,
};

static bool is_type_definition(const tq_gql_definition *d)
{
    return d->kind >= TQ_GQL_DEF_SCALAR && d->kind <= TQ_GQL_DEF_INPUT_OBJECT && !d->extension;
}

/* A scalar the SDL declares again under a built-in name ("scalar String") stays the
 * built-in one, as graphql-js keeps its standard scalars. */
static bool redeclares_builtin(build_ctx *b, const tq_gql_definition *d, uint32_t nbuiltin)
{
    const tq_schema_type *t = find_mut(b, d->u.type.name);
    for (uint32_t i = 0; t != NULL && i < nbuiltin; i++)
        if (b->s->types[i] == t)
            return d->kind == TQ_GQL_DEF_SCALAR;
    return false;
}

static void create_types(build_ctx *b, const tq_gql_document *doc, uint32_t nbuiltin)
{
    for (uint32_t i = 0; i < doc->count; i++) {
        const tq_gql_definition *d = &doc->defs[i];
        if (!is_type_definition(d) || redeclares_builtin(b, d, nbuiltin))
            continue;
        if (find_mut(b, d->u.type.name) != NULL) {
            fail(b, "schema %u:%u: There can be only one type named \"%s\".", d->loc.line, d->loc.column,
                 d->u.type.name.s);
            return;
        }
        add_type(b, kind_of_def[d->kind], d->u.type.name.s, d->u.type.description);
    }
}

/* ---- __schema and __type ---- */

static const tq_type_ref *named_ref(build_ctx *b, const char *name)
{
    tq_type_ref *r = tq_arena_calloc(&b->s->arena, 1, sizeof(*r));
    r->kind = TQ_GQL_TYPE_NAMED;
    r->named = tq_schema_find_type(b->s, name, strlen(name));
    return r;
}

static const tq_type_ref *non_null_ref(build_ctx *b, const tq_type_ref *of)
{
    tq_type_ref *r = tq_arena_calloc(&b->s->arena, 1, sizeof(*r));
    r->kind = TQ_GQL_TYPE_NON_NULL;
    r->of = of;
    return r;
}

static tq_str cstr(const char *s)
{
    return (tq_str){s, (uint32_t)strlen(s)};
}

static void add_meta_fields(build_ctx *b)
{
    tq_schema_field *f = tq_arena_calloc(&b->s->arena, 2, sizeof(*f));
    f[0].name = "__schema";
    f[0].description = cstr("Access the current type schema of this server.");
    f[0].type = non_null_ref(b, named_ref(b, "__Schema"));
    f[0].args = tq_arena_calloc(&b->s->arena, 1, sizeof(*f[0].args));
    f[0].resolve = tq_introspection_resolve_schema;
    f[1].name = "__type";
    f[1].description = cstr("Request the type information of a single type.");
    f[1].type = named_ref(b, "__Type");
    f[1].nargs = 1;
    f[1].args = tq_arena_calloc(&b->s->arena, 1, sizeof(*f[1].args));
    f[1].args[0].name = "name";
    f[1].args[0].type = non_null_ref(b, named_ref(b, "String"));
    f[1].resolve = tq_introspection_resolve_type;
    b->s->schema_meta_field = &f[0];
    b->s->type_meta_field = &f[1];
}

/* ---- the types introspection lists ---- */

/* An ordered set of types where a removed entry leaves a hole, so that taking a type
 * out and adding it again moves it to the end, as with a JavaScript Set. */
typedef struct type_set {
    const tq_schema_type **slots;
    uint32_t n;
} type_set;

static int64_t slot_of(const type_set *ts, const tq_schema_type *t)
{
    for (uint32_t i = 0; i < ts->n; i++)
        if (ts->slots[i] == t)
            return i;
    return -1;
}

static const tq_schema_type *named_of(const tq_type_ref *r)
{
    while (r->kind != TQ_GQL_TYPE_NAMED)
        r = r->of;
    return r->named;
}

/* A type and, the first time it is met, everything it refers to, depth first. */
static void collect_type(type_set *ts, const tq_schema_type *t)
{
    if (t == NULL || slot_of(ts, t) >= 0)
        return;
    ts->slots[ts->n++] = t;
    for (uint32_t i = 0; i < t->npossible && t->kind == TQ_TYPE_UNION; i++)
        collect_type(ts, t->possible[i]);
    for (uint32_t i = 0; i < t->ninterfaces; i++)
        collect_type(ts, t->interfaces[i]);
    for (uint32_t i = 0; i < t->nfields; i++) {
        collect_type(ts, named_of(t->fields[i].type));
        for (uint32_t j = 0; j < t->fields[i].nargs; j++)
            collect_type(ts, named_of(t->fields[i].args[j].type));
    }
    for (uint32_t i = 0; i < t->ninput_fields; i++)
        collect_type(ts, named_of(t->input_fields[i].type));
}

static void collect_directive_args(type_set *ts, const tq_schema *s, bool builtin)
{
    for (uint32_t i = 0; i < s->ndirectives; i++)
        for (uint32_t j = 0; j < s->directives[i]->nargs && s->directives[i]->builtin == builtin; j++)
            collect_type(ts, named_of(s->directives[i]->args[j].type));
}

/* What GraphQLSchema's constructor does with buildSchema(sdl)'s configuration: the SDL's
 * types in document order, each followed by the types it first brings in, then the
 * roots, the arguments of the directives (the SDL's, then the built-in ones) and
 * __Schema with the rest of introspection. */
static void list_types(build_ctx *b, const tq_gql_document *doc)
{
    tq_schema *s = b->s;
    type_set ts = {tq_arena_calloc(&s->arena, 2 * (size_t)s->ntypes + 1, sizeof(*ts.slots)), 0};
    for (uint32_t i = 0; i < doc->count; i++)
        if (is_type_definition(&doc->defs[i]))
            ts.slots[ts.n++] = find_mut(b, doc->defs[i].u.type.name);
    for (uint32_t i = 0; i < doc->count; i++) {
        if (!is_type_definition(&doc->defs[i]))
            continue;
        const tq_schema_type *t = find_mut(b, doc->defs[i].u.type.name);
        ts.slots[slot_of(&ts, t)] = NULL;
        collect_type(&ts, t);
    }
    collect_type(&ts, s->query);
    collect_type(&ts, s->mutation);
    collect_type(&ts, s->subscription);
    collect_directive_args(&ts, s, false);
    collect_directive_args(&ts, s, true);
    collect_type(&ts, tq_schema_find_type(s, "__Schema", 8));
    s->listed_types = tq_arena_calloc(&s->arena, ts.n ? ts.n : 1, sizeof(*s->listed_types));
    for (uint32_t i = 0; i < ts.n; i++)
        if (ts.slots[i] != NULL)
            s->listed_types[s->nlisted_types++] = ts.slots[i];
}

/* ---- building ---- */

static tq_gql_document *parse_sdl(build_ctx *b, const char *what, const char *text, size_t len)
{
    tq_gql_parse_options popts = {.allow_type_system = true};
    tq_gql_parse_error perr;
    tq_gql_document *doc = tq_gql_parse(&b->s->arena, text, len, &popts, &perr);
    if (doc == NULL)
        fail(b, "%s %u:%u: %s", what, perr.loc.line, perr.loc.column, perr.message);
    return doc;
}

static void fill_types(build_ctx *b, const tq_gql_document *doc, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to && !b->failed; i++)
        fill_type(b, doc, b->s->types[i]);
}

static void build_types(build_ctx *b, const tq_gql_document *doc, const tq_gql_document *intro)
{
    tq_schema *s = b->s;
    s->types = tq_arena_calloc(&s->arena, doc->count + intro->count + 8, sizeof(*s->types));
    add_builtin_scalars(b);
    uint32_t nbuiltin = s->ntypes;
    create_types(b, intro, nbuiltin);
    uint32_t nintro = s->ntypes;
    create_types(b, doc, nbuiltin);
    fill_types(b, intro, nbuiltin, nintro);
    fill_types(b, doc, nintro, s->ntypes);
    link_implementations(b);
}

static void build_directives(build_ctx *b, const tq_gql_document *doc)
{
    tq_gql_document *builtins = parse_sdl(b, "built-in directives", builtin_directives_sdl,
                                          sizeof(builtin_directives_sdl) - 1);
    if (builtins == NULL)
        return;
    b->s->directives = tq_arena_calloc(&b->s->arena, count_directive_defs(builtins) + count_directive_defs(doc) + 1,
                                       sizeof(*b->s->directives));
    add_directives(b, builtins, true);
    add_directives(b, doc, false);
}

static void build(build_ctx *b, const char *sdl, size_t len, const tq_resolver_binding *resolvers,
                  const tq_scalar_binding *scalars)
{
    tq_schema *s = b->s;
    tq_gql_document *doc = parse_sdl(b, "schema", sdl, len);
    if (doc == NULL)
        return;
    if (tq_schema_check_sdl(doc, b->err, b->errlen) != 0) {
        b->failed = true;
        return;
    }
    const tq_embedded_file *intro_file = tq_embedded_find("schema/introspection.graphql");
    tq_gql_document *intro = intro_file ? parse_sdl(b, "introspection types", intro_file->data, intro_file->len) : NULL;
    if (intro == NULL) {
        fail(b, "schema: the introspection types are missing");
        return;
    }
    build_types(b, doc, intro);
    build_directives(b, doc);
    s->description = schema_description(doc);
    s->query = root_type(b, doc, TQ_GQL_OP_QUERY, "Query");
    s->mutation = root_type(b, doc, TQ_GQL_OP_MUTATION, "Mutation");
    s->subscription = root_type(b, doc, TQ_GQL_OP_SUBSCRIPTION, "Subscription");
    if (b->failed || tq_schema_check_directive_uses(s, doc, b->err, b->errlen) != 0 ||
        tq_schema_check_types(s, b->err, b->errlen) != 0) {
        b->failed = true;
        return;
    }
    add_meta_fields(b);
    bind_resolvers(b, tq_introspection_resolvers);
    bind_resolvers(b, resolvers);
    bind_scalars(b, scalars);
    list_types(b, doc);
}

tq_schema *tq_schema_build(const char *sdl, size_t len, const tq_resolver_binding *resolvers,
                           const tq_scalar_binding *scalars, char *err, size_t errlen)
{
    tq_schema *s = calloc(1, sizeof(*s));
    tq_arena_init(&s->arena, 16384);
    build_ctx b = {s, err, errlen, false};
    build(&b, sdl, len, resolvers, scalars);
    if (b.failed) {
        tq_schema_free(s);
        return NULL;
    }
    return s;
}

void tq_schema_free(tq_schema *s)
{
    if (s == NULL)
        return;
    tq_arena_free(&s->arena);
    free(s);
}
