/*
 * schema_rules.c - the type system's validation rules (spec sections 3.x, "Type
 * Validation"), checked when the schema is built: a server whose SDL breaks one refuses
 * to start with a message naming the culprit, instead of misbehaving on some request.
 *
 * Two kinds of rule: those about the SDL text (names, duplicates, extensions, directive
 * uses), checked on the parsed document with locations, and those about the resulting
 * types (interfaces, unions, input cycles, ...), checked on the built schema. Messages
 * follow graphql-js's wording, so that they read as the reference implementation's.
 */
#include "schema_rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rules {
    char *err;
    size_t errlen;
    bool failed;
} rules;

static void report(rules *r, const tq_gql_loc *loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(rules *r, const tq_gql_loc *loc, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    int n = loc ? snprintf(r->err, r->errlen, "schema %u:%u: ", loc->line, loc->column)
                : snprintf(r->err, r->errlen, "schema: ");
    if (n < 0 || (size_t)n >= r->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ==== rules of the SDL document ==== */

static bool is_type_kind(tq_gql_definition_kind k)
{
    return k >= TQ_GQL_DEF_SCALAR && k <= TQ_GQL_DEF_INPUT_OBJECT;
}

static void check_name(rules *r, tq_str name, const tq_gql_loc *loc)
{
    if (name.len >= 2 && name.s[0] == '_' && name.s[1] == '_')
        report(r, loc, "Name \"%s\" must not begin with \"__\", which is reserved by GraphQL introspection.", name.s);
}

static void check_arg_names(rules *r, const char *owner, const tq_gql_input_value_def *args, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        check_name(r, args[i].name, &args[i].loc);
        for (uint32_t j = 0; j < i; j++)
            if (tq_str_equal(args[i].name, args[j].name))
                report(r, &args[i].loc, "Argument \"%s(%s:)\" can only be defined once.", owner, args[i].name.s);
    }
}

/* Whether a field, input field or enum value of this name came earlier: in this
 * definition before index i, or in an earlier definition of the same type. */
static bool defined_before(const tq_gql_document *doc, uint32_t def, uint32_t i, tq_str name)
{
    const tq_gql_type_def *t = &doc->defs[def].u.type;
    for (uint32_t d = 0; d <= def; d++) {
        const tq_gql_definition *o = &doc->defs[d];
        if (o->kind != doc->defs[def].kind || !tq_str_equal(o->u.type.name, t->name))
            continue;
        uint32_t n = d == def ? i : o->u.type.nfields + o->u.type.ninput_fields + o->u.type.nvalues;
        for (uint32_t j = 0; j < n; j++) {
            tq_str other = j < o->u.type.nfields ? o->u.type.fields[j].name
                         : j < o->u.type.nfields + o->u.type.ninput_fields
                               ? o->u.type.input_fields[j - o->u.type.nfields].name
                               : o->u.type.values[j - o->u.type.nfields - o->u.type.ninput_fields].name;
            if (tq_str_equal(other, name))
                return true;
        }
    }
    return false;
}

static void check_type_members(rules *r, const tq_gql_document *doc, uint32_t def)
{
    const tq_gql_type_def *t = &doc->defs[def].u.type;
    for (uint32_t i = 0; i < t->nfields; i++) {
        const tq_gql_field_def *f = &t->fields[i];
        check_name(r, f->name, &f->loc);
        if (defined_before(doc, def, i, f->name))
            report(r, &f->loc, "Field \"%s.%s\" can only be defined once.", t->name.s, f->name.s);
        char owner[256];
        snprintf(owner, sizeof(owner), "%s.%s", t->name.s, f->name.s);
        check_arg_names(r, owner, f->args, f->nargs);
    }
    for (uint32_t i = 0; i < t->ninput_fields; i++) {
        const tq_gql_input_value_def *f = &t->input_fields[i];
        check_name(r, f->name, &f->loc);
        if (defined_before(doc, def, t->nfields + i, f->name))
            report(r, &f->loc, "Field \"%s.%s\" can only be defined once.", t->name.s, f->name.s);
    }
    for (uint32_t i = 0; i < t->nvalues; i++) {
        const tq_gql_enum_value_def *v = &t->values[i];
        check_name(r, v->name, &v->loc);
        if (TQ_STR_EQ_LIT(v->name, "true") || TQ_STR_EQ_LIT(v->name, "false") || TQ_STR_EQ_LIT(v->name, "null"))
            report(r, &v->loc, "Name \"%s\" is reserved and cannot be used for an enum value.", v->name.s);
        if (defined_before(doc, def, t->nfields + t->ninput_fields + i, v->name))
            report(r, &v->loc, "Enum value \"%s.%s\" can only be defined once.", t->name.s, v->name.s);
    }
}

static const char *kind_word(tq_gql_definition_kind k)
{
    switch (k) {
    case TQ_GQL_DEF_SCALAR: return "scalar";
    case TQ_GQL_DEF_OBJECT: return "object";
    case TQ_GQL_DEF_INTERFACE: return "interface";
    case TQ_GQL_DEF_UNION: return "union";
    case TQ_GQL_DEF_ENUM: return "enum";
    default: return "input object";
    }
}

static const tq_gql_definition *base_definition(const tq_gql_document *doc, tq_str name)
{
    for (uint32_t i = 0; i < doc->count; i++)
        if (is_type_kind(doc->defs[i].kind) && !doc->defs[i].extension && tq_str_equal(doc->defs[i].u.type.name, name))
            return &doc->defs[i];
    return NULL;
}

static void check_type_definition(rules *r, const tq_gql_document *doc, uint32_t i)
{
    const tq_gql_definition *d = &doc->defs[i];
    tq_str name = d->u.type.name;
    if (d->extension) {
        const tq_gql_definition *base = base_definition(doc, name);
        if (base == NULL)
            report(r, &d->loc, "Cannot extend type \"%s\" because it is not defined.", name.s);
        else if (base->kind != d->kind)
            report(r, &d->loc, "Cannot extend non-%s type \"%s\".", kind_word(d->kind), name.s);
    } else {
        check_name(r, name, &d->loc);
        if (base_definition(doc, name) != d)
            report(r, &d->loc, "There can be only one type named \"%s\".", name.s);
    }
    check_type_members(r, doc, i);
}

static void check_directive_definition(rules *r, const tq_gql_document *doc, uint32_t i)
{
    const tq_gql_directive_def *dd = &doc->defs[i].u.directive;
    check_name(r, dd->name, &doc->defs[i].loc);
    for (uint32_t j = 0; j < i; j++)
        if (doc->defs[j].kind == TQ_GQL_DEF_DIRECTIVE && tq_str_equal(doc->defs[j].u.directive.name, dd->name))
            report(r, &doc->defs[i].loc, "There can be only one directive named \"@%s\".", dd->name.s);
    char owner[256];
    snprintf(owner, sizeof(owner), "@%s", dd->name.s);
    check_arg_names(r, owner, dd->args, dd->nargs);
}

static const char *const operation_words[] = {"query", "mutation", "subscription"};

static void check_schema_definition(rules *r, const tq_gql_document *doc, uint32_t i)
{
    const tq_gql_definition *d = &doc->defs[i];
    for (uint32_t j = 0; j < i && !d->extension; j++)
        if (doc->defs[j].kind == TQ_GQL_DEF_SCHEMA && !doc->defs[j].extension)
            report(r, &d->loc, "Must provide only one schema definition.");
    /* an operation type named twice, in this definition or any schema definition before */
    for (uint32_t k = 0; k < d->u.type.nroot_ops; k++) {
        const tq_gql_root_op_def *op = &d->u.type.root_ops[k];
        for (uint32_t j = 0; j <= i; j++) {
            const tq_gql_definition *o = &doc->defs[j];
            if (o->kind != TQ_GQL_DEF_SCHEMA)
                continue;
            for (uint32_t m = 0; m < (j == i ? k : o->u.type.nroot_ops); m++)
                if (o->u.type.root_ops[m].operation == op->operation)
                    report(r, &op->type.loc, "There can be only one %s type in schema.", operation_words[op->operation]);
        }
    }
}

int tq_schema_check_sdl(const tq_gql_document *doc, char *err, size_t errlen)
{
    rules r = {err, errlen, false};
    for (uint32_t i = 0; i < doc->count && !r.failed; i++) {
        const tq_gql_definition *d = &doc->defs[i];
        if (is_type_kind(d->kind))
            check_type_definition(&r, doc, i);
        else if (d->kind == TQ_GQL_DEF_DIRECTIVE)
            check_directive_definition(&r, doc, i);
        else if (d->kind == TQ_GQL_DEF_SCHEMA)
            check_schema_definition(&r, doc, i);
    }
    return r.failed ? -1 : 0;
}

/* ==== directives used in the SDL ==== */

/* "[Int!]" into buf */
static const char *type_text(const tq_type_ref *t, char *buf, size_t len)
{
    if (t->kind == TQ_GQL_TYPE_NAMED) {
        snprintf(buf, len, "%s", t->named->name);
    } else {
        char inner[256];
        type_text(t->of, inner, sizeof(inner));
        snprintf(buf, len, t->kind == TQ_GQL_TYPE_LIST ? "[%s]" : "%s!", inner);
    }
    return buf;
}

static void check_directive_args(rules *r, const tq_schema_directive *sd, const tq_gql_directive *use)
{
    for (uint32_t i = 0; i < use->nargs; i++) {
        bool known = false;
        for (uint32_t j = 0; j < sd->nargs && !known; j++)
            known = strcmp(sd->args[j].name, use->args[i].name.s) == 0;
        if (!known)
            report(r, &use->args[i].loc, "Unknown argument \"%s\" on directive \"@%s\".", use->args[i].name.s,
                   sd->name);
    }
    for (uint32_t j = 0; j < sd->nargs; j++) {
        const tq_input_value *def = &sd->args[j];
        if (def->type->kind != TQ_GQL_TYPE_NON_NULL || def->default_literal != NULL)
            continue;
        bool given = false;
        for (uint32_t i = 0; i < use->nargs && !given; i++)
            given = strcmp(def->name, use->args[i].name.s) == 0;
        char tb[256];
        if (!given)
            report(r, &use->loc, "Directive \"@%s\" argument \"%s\" of type \"%s\" is required, but it was not provided.",
                   sd->name, def->name, type_text(def->type, tb, sizeof(tb)));
    }
}

static void check_uses(rules *r, const tq_schema *s, const tq_gql_directive *uses, uint32_t n, tq_directive_location loc)
{
    for (uint32_t i = 0; i < n; i++) {
        const tq_gql_directive *use = &uses[i];
        const tq_schema_directive *sd = tq_schema_find_directive(s, use->name.s, use->name.len);
        if (sd == NULL) {
            report(r, &use->loc, "Unknown directive \"@%s\".", use->name.s);
            return;
        }
        if (!(sd->locations & (1u << loc)))
            report(r, &use->loc, "Directive \"@%s\" may not be used on %s.", use->name.s,
                   tq_directive_location_name(loc));
        for (uint32_t j = 0; j < i && !sd->repeatable; j++)
            if (tq_str_equal(uses[j].name, use->name))
                report(r, &use->loc, "The directive \"@%s\" can only be used once at this location.", use->name.s);
        check_directive_args(r, sd, use);
    }
}

static void check_input_value_uses(rules *r, const tq_schema *s, const tq_gql_input_value_def *v, uint32_t n,
                                   tq_directive_location loc)
{
    for (uint32_t i = 0; i < n; i++)
        check_uses(r, s, v[i].directives, v[i].ndirectives, loc);
}

static const tq_directive_location location_of_kind[] = {
    [TQ_GQL_DEF_SCHEMA] = TQ_DLOC_SCHEMA,       [TQ_GQL_DEF_SCALAR] = TQ_DLOC_SCALAR,
    [TQ_GQL_DEF_OBJECT] = TQ_DLOC_OBJECT,       [TQ_GQL_DEF_INTERFACE] = TQ_DLOC_INTERFACE,
    [TQ_GQL_DEF_UNION] = TQ_DLOC_UNION,         [TQ_GQL_DEF_ENUM] = TQ_DLOC_ENUM,
    [TQ_GQL_DEF_INPUT_OBJECT] = TQ_DLOC_INPUT_OBJECT,
};

int tq_schema_check_directive_uses(const tq_schema *s, const tq_gql_document *doc, char *err, size_t errlen)
{
    rules r = {err, errlen, false};
    for (uint32_t i = 0; i < doc->count && !r.failed; i++) {
        const tq_gql_definition *d = &doc->defs[i];
        if (d->kind == TQ_GQL_DEF_DIRECTIVE) {
            for (uint32_t j = 0; j < d->u.directive.nargs; j++)
                check_uses(&r, s, d->u.directive.args[j].directives, d->u.directive.args[j].ndirectives,
                           TQ_DLOC_ARGUMENT_DEFINITION);
            continue;
        }
        if (d->kind != TQ_GQL_DEF_SCHEMA && !is_type_kind(d->kind))
            continue;
        const tq_gql_type_def *t = &d->u.type;
        check_uses(&r, s, t->directives, t->ndirectives, location_of_kind[d->kind]);
        for (uint32_t j = 0; j < t->nfields; j++) {
            check_uses(&r, s, t->fields[j].directives, t->fields[j].ndirectives, TQ_DLOC_FIELD_DEFINITION);
            check_input_value_uses(&r, s, t->fields[j].args, t->fields[j].nargs, TQ_DLOC_ARGUMENT_DEFINITION);
        }
        check_input_value_uses(&r, s, t->input_fields, t->ninput_fields, TQ_DLOC_INPUT_FIELD_DEFINITION);
        for (uint32_t j = 0; j < t->nvalues; j++)
            check_uses(&r, s, t->values[j].directives, t->values[j].ndirectives, TQ_DLOC_ENUM_VALUE);
    }
    return r.failed ? -1 : 0;
}

/* ==== rules of the built types ==== */

static const tq_schema_type *named_of(const tq_type_ref *t)
{
    while (t->kind != TQ_GQL_TYPE_NAMED)
        t = t->of;
    return t->named;
}

static bool is_input(const tq_type_ref *t)
{
    tq_type_kind k = named_of(t)->kind;
    return k == TQ_TYPE_SCALAR || k == TQ_TYPE_ENUM || k == TQ_TYPE_INPUT_OBJECT;
}

static bool is_output(const tq_type_ref *t)
{
    return named_of(t)->kind != TQ_TYPE_INPUT_OBJECT;
}

static bool is_required(const tq_input_value *v)
{
    return v->type->kind == TQ_GQL_TYPE_NON_NULL && v->default_literal == NULL;
}

static bool equal_types(const tq_type_ref *a, const tq_type_ref *b)
{
    if (a->kind != b->kind)
        return false;
    return a->kind == TQ_GQL_TYPE_NAMED ? a->named == b->named : equal_types(a->of, b->of);
}

static bool declares_interface(const tq_schema_type *t, const tq_schema_type *iface)
{
    for (uint32_t i = 0; i < t->ninterfaces; i++)
        if (t->interfaces[i] == iface)
            return true;
    return false;
}

/* Whether an object or interface may stand where the abstract type is expected. */
static bool is_sub_type(const tq_schema_type *abstract, const tq_schema_type *t)
{
    if (abstract->kind == TQ_TYPE_UNION) {
        for (uint32_t i = 0; i < abstract->npossible; i++)
            if (abstract->possible[i] == t)
                return true;
        return false;
    }
    return abstract->kind == TQ_TYPE_INTERFACE && declares_interface(t, abstract);
}

/* Covariance of field types (spec IsValidImplementationFieldType). */
static bool is_type_sub_type_of(const tq_type_ref *sub, const tq_type_ref *super)
{
    if (equal_types(sub, super))
        return true;
    if (super->kind == TQ_GQL_TYPE_NON_NULL)
        return sub->kind == TQ_GQL_TYPE_NON_NULL && is_type_sub_type_of(sub->of, super->of);
    if (sub->kind == TQ_GQL_TYPE_NON_NULL)
        return is_type_sub_type_of(sub->of, super);
    if (super->kind == TQ_GQL_TYPE_LIST)
        return sub->kind == TQ_GQL_TYPE_LIST && is_type_sub_type_of(sub->of, super->of);
    if (sub->kind == TQ_GQL_TYPE_LIST)
        return false;
    tq_type_kind k = sub->named->kind;
    return (k == TQ_TYPE_OBJECT || k == TQ_TYPE_INTERFACE) && is_sub_type(super->named, sub->named);
}

static void check_fields(rules *r, const tq_schema_type *t)
{
    char tb[256];
    if (t->nfields == 0)
        report(r, NULL, "Type %s must define one or more fields.", t->name);
    for (uint32_t i = 0; i < t->nfields; i++) {
        const tq_schema_field *f = &t->fields[i];
        if (!is_output(f->type))
            report(r, NULL, "The type of %s.%s must be Output Type but got: %s.", t->name, f->name,
                   type_text(f->type, tb, sizeof(tb)));
        for (uint32_t j = 0; j < f->nargs; j++) {
            const tq_input_value *a = &f->args[j];
            if (!is_input(a->type))
                report(r, NULL, "The type of %s.%s(%s:) must be Input Type but got: %s.", t->name, f->name, a->name,
                       type_text(a->type, tb, sizeof(tb)));
            if (is_required(a) && a->deprecated)
                report(r, NULL, "Required argument %s.%s(%s:) cannot be deprecated.", t->name, f->name, a->name);
        }
    }
}

static const tq_input_value *find_arg(const tq_schema_field *f, const char *name)
{
    for (uint32_t i = 0; i < f->nargs; i++)
        if (strcmp(f->args[i].name, name) == 0)
            return &f->args[i];
    return NULL;
}

static void check_field_implements(rules *r, const tq_schema_type *t, const tq_schema_type *iface,
                                   const tq_schema_field *ifield)
{
    char ta[256], tb[256];
    const tq_schema_field *f = tq_schema_find_field(t, ifield->name, strlen(ifield->name));
    if (f == NULL) {
        report(r, NULL, "Interface field %s.%s expected but %s does not provide it.", iface->name, ifield->name,
               t->name);
        return;
    }
    if (!is_type_sub_type_of(f->type, ifield->type))
        report(r, NULL, "Interface field %s.%s expects type %s but %s.%s is type %s.", iface->name, ifield->name,
               type_text(ifield->type, ta, sizeof(ta)), t->name, f->name, type_text(f->type, tb, sizeof(tb)));
    for (uint32_t i = 0; i < ifield->nargs; i++) {
        const tq_input_value *ia = &ifield->args[i], *a = find_arg(f, ia->name);
        if (a == NULL)
            report(r, NULL, "Interface field argument %s.%s(%s:) expected but %s.%s does not provide it.", iface->name,
                   ifield->name, ia->name, t->name, f->name);
        else if (!equal_types(ia->type, a->type))
            report(r, NULL, "Interface field argument %s.%s(%s:) expects type %s but %s.%s(%s:) is type %s.",
                   iface->name, ifield->name, ia->name, type_text(ia->type, ta, sizeof(ta)), t->name, f->name, a->name,
                   type_text(a->type, tb, sizeof(tb)));
    }
    for (uint32_t i = 0; i < f->nargs; i++)
        if (find_arg(ifield, f->args[i].name) == NULL && is_required(&f->args[i]))
            report(r, NULL,
                   "Object field %s.%s includes required argument %s that is missing from the Interface field %s.%s.",
                   t->name, f->name, f->args[i].name, iface->name, ifield->name);
}

static void check_interfaces(rules *r, const tq_schema_type *t)
{
    for (uint32_t i = 0; i < t->ninterfaces; i++) {
        const tq_schema_type *iface = t->interfaces[i];
        if (iface->kind != TQ_TYPE_INTERFACE) {
            report(r, NULL, "Type %s must only implement Interface types, it cannot implement %s.", t->name,
                   iface->name);
            continue;
        }
        if (iface == t) {
            report(r, NULL, "Type %s cannot implement itself because it would create a circular reference.", t->name);
            continue;
        }
        bool repeated = false;
        for (uint32_t j = 0; j < i && !repeated; j++)
            repeated = t->interfaces[j] == iface;
        if (repeated) {
            report(r, NULL, "Type %s can only implement %s once.", t->name, iface->name);
            continue;
        }
        for (uint32_t j = 0; j < iface->ninterfaces; j++) {
            const tq_schema_type *transitive = iface->interfaces[j];
            if (declares_interface(t, transitive))
                continue;
            if (transitive == t)
                report(r, NULL, "Type %s cannot implement %s because it would create a circular reference.", t->name,
                       iface->name);
            else
                report(r, NULL, "Type %s must implement %s because it is implemented by %s.", t->name,
                       transitive->name, iface->name);
        }
        for (uint32_t j = 0; j < iface->nfields; j++)
            check_field_implements(r, t, iface, &iface->fields[j]);
    }
}

static void check_union(rules *r, const tq_schema_type *u)
{
    if (u->npossible == 0)
        report(r, NULL, "Union type %s must define one or more member types.", u->name);
    for (uint32_t i = 0; i < u->npossible; i++) {
        bool repeated = false;
        for (uint32_t j = 0; j < i && !repeated; j++)
            repeated = u->possible[j] == u->possible[i];
        if (repeated)
            report(r, NULL, "Union type %s can only include type %s once.", u->name, u->possible[i]->name);
        else if (u->possible[i]->kind != TQ_TYPE_OBJECT)
            report(r, NULL, "Union type %s can only include Object types, it cannot include %s.", u->name,
                   u->possible[i]->name);
    }
}

static void check_enum(rules *r, const tq_schema_type *e)
{
    if (e->nvalues == 0)
        report(r, NULL, "Enum type %s must define one or more values.", e->name);
}

static void check_input_object(rules *r, const tq_schema_type *t)
{
    char tb[256];
    if (t->ninput_fields == 0)
        report(r, NULL, "Input Object type %s must define one or more fields.", t->name);
    for (uint32_t i = 0; i < t->ninput_fields; i++) {
        const tq_input_value *f = &t->input_fields[i];
        if (!is_input(f->type))
            report(r, NULL, "The type of %s.%s must be Input Type but got: %s.", t->name, f->name,
                   type_text(f->type, tb, sizeof(tb)));
        if (is_required(f) && f->deprecated)
            report(r, NULL, "Required input field %s.%s cannot be deprecated.", t->name, f->name);
    }
}

/* A depth-first walk over non-null input object fields: coming back to a type already
 * on the path is a cycle no finite value can satisfy. Each type is entered once. */
typedef struct cycle_walk {
    rules *r;
    const tq_schema_type **seen;
    uint32_t nseen;
    const tq_schema_type **path_types; /* types on the path, ... */
    uint32_t *path_starts;             /* ... with the path length when each was entered */
    uint32_t ntypes_on_path;
    const tq_input_value **path;       /* fields followed */
    uint32_t npath;
} cycle_walk;

static bool was_seen(const cycle_walk *w, const tq_schema_type *t)
{
    for (uint32_t i = 0; i < w->nseen; i++)
        if (w->seen[i] == t)
            return true;
    return false;
}

static int64_t path_start_of(const cycle_walk *w, const tq_schema_type *t)
{
    for (uint32_t i = 0; i < w->ntypes_on_path; i++)
        if (w->path_types[i] == t)
            return w->path_starts[i];
    return -1;
}

static void report_cycle(cycle_walk *w, const tq_schema_type *t, uint32_t from)
{
    char path[512];
    size_t n = 0;
    path[0] = '\0';
    for (uint32_t i = from; i < w->npath && n < sizeof(path); i++)
        n += (size_t)snprintf(path + n, sizeof(path) - n, "%s%s", i > from ? "." : "", w->path[i]->name);
    report(w->r, NULL, "Cannot reference Input Object \"%s\" within itself through a series of non-null fields: \"%s\".",
           t->name, path);
}

static void walk_input_cycles(cycle_walk *w, const tq_schema_type *t)
{
    if (was_seen(w, t))
        return;
    w->seen[w->nseen++] = t;
    w->path_types[w->ntypes_on_path] = t;
    w->path_starts[w->ntypes_on_path++] = w->npath;
    for (uint32_t i = 0; i < t->ninput_fields; i++) {
        const tq_type_ref *ft = t->input_fields[i].type;
        if (ft->kind != TQ_GQL_TYPE_NON_NULL || ft->of->kind != TQ_GQL_TYPE_NAMED ||
            ft->of->named->kind != TQ_TYPE_INPUT_OBJECT)
            continue;
        w->path[w->npath++] = &t->input_fields[i];
        int64_t start = path_start_of(w, ft->of->named);
        if (start < 0)
            walk_input_cycles(w, ft->of->named);
        else
            report_cycle(w, ft->of->named, (uint32_t)start);
        w->npath--;
    }
    w->ntypes_on_path--;
}

static void check_input_cycles(rules *r, const tq_schema *s)
{
    size_t n = s->ntypes + 1;
    cycle_walk w = {r, calloc(n, sizeof(*w.seen)), 0, calloc(n, sizeof(*w.path_types)),
                    calloc(n, sizeof(*w.path_starts)), 0, calloc(n, sizeof(*w.path)), 0};
    for (uint32_t i = 0; i < s->ntypes; i++)
        if (s->types[i]->kind == TQ_TYPE_INPUT_OBJECT)
            walk_input_cycles(&w, s->types[i]);
    free(w.seen);
    free(w.path_types);
    free(w.path_starts);
    free(w.path);
}

static void check_directives(rules *r, const tq_schema *s)
{
    char tb[256];
    for (uint32_t i = 0; i < s->ndirectives; i++) {
        const tq_schema_directive *d = s->directives[i];
        for (uint32_t j = 0; j < d->nargs; j++) {
            if (!is_input(d->args[j].type))
                report(r, NULL, "The type of @%s(%s:) must be Input Type but got: %s.", d->name, d->args[j].name,
                       type_text(d->args[j].type, tb, sizeof(tb)));
            if (is_required(&d->args[j]) && d->args[j].deprecated)
                report(r, NULL, "Required argument @%s(%s:) cannot be deprecated.", d->name, d->args[j].name);
        }
    }
}

static void check_roots(rules *r, const tq_schema *s)
{
    if (s->query == NULL)
        report(r, NULL, "Query root type must be provided.");
    else if (s->query->kind != TQ_TYPE_OBJECT)
        report(r, NULL, "Query root type must be Object type, it cannot be %s.", s->query->name);
    if (s->mutation != NULL && s->mutation->kind != TQ_TYPE_OBJECT)
        report(r, NULL, "Mutation root type must be Object type if provided, it cannot be %s.", s->mutation->name);
    if (s->subscription != NULL && s->subscription->kind != TQ_TYPE_OBJECT)
        report(r, NULL, "Subscription root type must be Object type if provided, it cannot be %s.",
               s->subscription->name);
}

int tq_schema_check_types(const tq_schema *s, char *err, size_t errlen)
{
    rules r = {err, errlen, false};
    check_roots(&r, s);
    check_directives(&r, s);
    for (uint32_t i = 0; i < s->ntypes && !r.failed; i++) {
        const tq_schema_type *t = s->types[i];
        switch (t->kind) {
        case TQ_TYPE_OBJECT:
        case TQ_TYPE_INTERFACE:
            check_fields(&r, t);
            check_interfaces(&r, t);
            break;
        case TQ_TYPE_UNION:
            check_union(&r, t);
            break;
        case TQ_TYPE_ENUM:
            check_enum(&r, t);
            break;
        case TQ_TYPE_INPUT_OBJECT:
            check_input_object(&r, t);
            break;
        case TQ_TYPE_SCALAR:
            break;
        }
    }
    if (!r.failed)
        check_input_cycles(&r, s);
    return r.failed ? -1 : 0;
}
