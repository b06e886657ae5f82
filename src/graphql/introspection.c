/*
 * introspection.c - the schema describing itself (spec section 4), answering as
 * graphql-js 16 does for buildSchema(sdl).
 *
 * The introspection types are ordinary types of the schema (schema/introspection.graphql);
 * this file gives their fields resolvers. Every value they produce is an object whose
 * `native` pointer is the thing described: the tq_schema for __Schema, a tq_type_ref for
 * __Type (wrappers are types too), a tq_schema_field for __Field, a tq_input_value for
 * __InputValue, a tq_enum_value for __EnumValue, a tq_schema_directive for __Directive.
 * Cheap scalar fields are filled in when the object is made and read by the default
 * resolver; lists and nested objects are made only when selected.
 */
#include "tenantql/introspection.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/exec.h"
#include "tenantql/json_writer.h"

/* ---- values ---- */

static const tq_schema_type *named_of(const tq_type_ref *t)
{
    while (t->kind != TQ_GQL_TYPE_NAMED)
        t = t->of;
    return t->named;
}

/* An object of the type the field returns (itself, or its list's item type). */
static tq_value described(tq_field_ctx *fc, uint32_t nfields, const void *native)
{
    tq_value v = tq_value_object(fc->arena, named_of(fc->field->type), nfields);
    v.u.object.native = (void *)native;
    return v;
}

static const void *native_of(tq_field_ctx *fc)
{
    return fc->parent->u.object.native;
}

static tq_value text(const char *s)
{
    return s ? tq_value_string(s, (uint32_t)strlen(s)) : tq_value_null();
}

static tq_value description(tq_str d)
{
    return d.s ? tq_value_string(d.s, d.len) : tq_value_null();
}

static tq_value enum_name(const char *name)
{
    return (tq_value){.kind = TQ_VAL_ENUM, .u.s = {name, (uint32_t)strlen(name)}};
}

static bool include_deprecated(tq_field_ctx *fc)
{
    const tq_value *v = tq_field_arg(fc, "includeDeprecated");
    return v != NULL && v->kind == TQ_VAL_BOOL && v->u.b;
}

static const tq_type_ref *ref_to(tq_field_ctx *fc, const tq_schema_type *t)
{
    tq_type_ref *r = tq_arena_calloc(fc->arena, 1, sizeof(*r));
    r->kind = TQ_GQL_TYPE_NAMED;
    r->named = t;
    return r;
}

static const char *kind_name(const tq_type_ref *r)
{
    static const char *const named[] = {"SCALAR", "OBJECT", "INTERFACE", "UNION", "ENUM", "INPUT_OBJECT"};
    if (r->kind == TQ_GQL_TYPE_LIST)
        return "LIST";
    if (r->kind == TQ_GQL_TYPE_NON_NULL)
        return "NON_NULL";
    return named[r->named->kind];
}

static tq_value type_value(tq_field_ctx *fc, const tq_type_ref *r)
{
    tq_value v = described(fc, 4, r);
    const tq_schema_type *t = r->kind == TQ_GQL_TYPE_NAMED ? r->named : NULL;
    tq_value_object_set(&v, 0, "kind", enum_name(kind_name(r)));
    tq_value_object_set(&v, 1, "name", t ? text(t->name) : tq_value_null());
    tq_value_object_set(&v, 2, "description", t ? description(t->description) : tq_value_null());
    tq_value_object_set(&v, 3, "specifiedByURL",
                        t && t->kind == TQ_TYPE_SCALAR ? text(t->specified_by) : tq_value_null());
    return v;
}

static tq_value named_type_value(tq_field_ctx *fc, const tq_schema_type *t)
{
    return t ? type_value(fc, ref_to(fc, t)) : tq_value_null();
}

/* __Field, __InputValue and __EnumValue alike: name, description and deprecation of
 * the schema element at source (what their own resolvers look further into). */
static tq_value deprecatable_value(tq_field_ctx *fc, const void *source, const char *name, tq_str desc,
                                   bool deprecated, const char *reason)
{
    tq_value v = described(fc, 4, source);
    tq_value_object_set(&v, 0, "name", text(name));
    tq_value_object_set(&v, 1, "description", description(desc));
    tq_value_object_set(&v, 2, "isDeprecated", tq_value_bool(deprecated));
    tq_value_object_set(&v, 3, "deprecationReason", deprecated ? text(reason) : tq_value_null());
    return v;
}

static tq_value field_value(tq_field_ctx *fc, const tq_schema_field *f)
{
    return deprecatable_value(fc, f, f->name, f->description, f->deprecated, f->deprecation_reason);
}

static tq_value input_value(tq_field_ctx *fc, const tq_input_value *iv)
{
    return deprecatable_value(fc, iv, iv->name, iv->description, iv->deprecated, iv->deprecation_reason);
}

static tq_value enum_value(tq_field_ctx *fc, const tq_enum_value *ev)
{
    return deprecatable_value(fc, ev, ev->name, ev->description, ev->deprecated, ev->deprecation_reason);
}

static tq_value directive_value(tq_field_ctx *fc, const tq_schema_directive *d)
{
    tq_value v = described(fc, 4, d);
    tq_value_object_set(&v, 0, "name", text(d->name));
    tq_value_object_set(&v, 1, "description", description(d->description));
    tq_value_object_set(&v, 2, "isRepeatable", tq_value_bool(d->repeatable));
    tq_value locations = tq_value_list(fc->arena, d->nlocation_list);
    for (uint32_t i = 0; i < d->nlocation_list; i++)
        locations.u.list.items[i] = enum_name(tq_directive_location_name(d->location_list[i]));
    tq_value_object_set(&v, 3, "locations", locations);
    return v;
}

/* Input values (arguments, input fields) as a list, without the deprecated ones unless
 * asked for. */
static tq_value input_values(tq_field_ctx *fc, const tq_input_value *values, uint32_t n)
{
    bool all = include_deprecated(fc);
    tq_value list = tq_value_list(fc->arena, n);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (all || !values[i].deprecated)
            list.u.list.items[k++] = input_value(fc, &values[i]);
    list.u.list.count = k;
    return list;
}

/* ---- Query.__schema, Query.__type ---- */

void tq_introspection_resolve_schema(tq_field_ctx *fc)
{
    const tq_schema *s = tq_exec_schema(fc->exec);
    tq_value v = described(fc, 1, s);
    tq_value_object_set(&v, 0, "description", description(s->description));
    tq_field_resolve(fc, v);
}

void tq_introspection_resolve_type(tq_field_ctx *fc)
{
    const tq_schema *s = tq_exec_schema(fc->exec);
    const tq_value *name = tq_field_arg(fc, "name");
    const tq_schema_type *found = NULL;
    /* only the listed types exist for graphql-js: an unused built-in scalar is not found */
    for (uint32_t i = 0; name != NULL && name->kind == TQ_VAL_STRING && i < s->nlisted_types && !found; i++)
        if (strlen(s->listed_types[i]->name) == name->u.s.len &&
            memcmp(s->listed_types[i]->name, name->u.s.s, name->u.s.len) == 0)
            found = s->listed_types[i];
    tq_field_resolve(fc, named_type_value(fc, found));
}

/* ---- __Schema ---- */

static void schema_types(tq_field_ctx *fc)
{
    const tq_schema *s = native_of(fc);
    tq_value list = tq_value_list(fc->arena, s->nlisted_types);
    for (uint32_t i = 0; i < s->nlisted_types; i++)
        list.u.list.items[i] = named_type_value(fc, s->listed_types[i]);
    tq_field_resolve(fc, list);
}

static void schema_query_type(tq_field_ctx *fc)
{
    tq_field_resolve(fc, named_type_value(fc, ((const tq_schema *)native_of(fc))->query));
}

static void schema_mutation_type(tq_field_ctx *fc)
{
    tq_field_resolve(fc, named_type_value(fc, ((const tq_schema *)native_of(fc))->mutation));
}

static void schema_subscription_type(tq_field_ctx *fc)
{
    tq_field_resolve(fc, named_type_value(fc, ((const tq_schema *)native_of(fc))->subscription));
}

/* buildSchema puts the SDL's directives first and adds the built-in ones after them. */
static void schema_directives(tq_field_ctx *fc)
{
    const tq_schema *s = native_of(fc);
    tq_value list = tq_value_list(fc->arena, s->ndirectives);
    uint32_t k = 0;
    for (int builtin = 0; builtin < 2; builtin++)
        for (uint32_t i = 0; i < s->ndirectives; i++)
            if (s->directives[i]->builtin == (builtin == 1))
                list.u.list.items[k++] = directive_value(fc, s->directives[i]);
    tq_field_resolve(fc, list);
}

/* ---- __Type ---- */

static const tq_schema_type *described_named(tq_field_ctx *fc)
{
    const tq_type_ref *r = native_of(fc);
    return r->kind == TQ_GQL_TYPE_NAMED ? r->named : NULL;
}

static bool has_fields(const tq_schema_type *t)
{
    return t != NULL && (t->kind == TQ_TYPE_OBJECT || t->kind == TQ_TYPE_INTERFACE);
}

static void type_fields(tq_field_ctx *fc)
{
    const tq_schema_type *t = described_named(fc);
    if (!has_fields(t)) {
        tq_field_resolve(fc, tq_value_null());
        return;
    }
    bool all = include_deprecated(fc);
    tq_value list = tq_value_list(fc->arena, t->nfields);
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->nfields; i++)
        if (all || !t->fields[i].deprecated)
            list.u.list.items[k++] = field_value(fc, &t->fields[i]);
    list.u.list.count = k;
    tq_field_resolve(fc, list);
}

static tq_value type_list(tq_field_ctx *fc, const tq_schema_type *const *types, uint32_t n)
{
    tq_value list = tq_value_list(fc->arena, n);
    for (uint32_t i = 0; i < n; i++)
        list.u.list.items[i] = named_type_value(fc, types[i]);
    return list;
}

static void type_interfaces(tq_field_ctx *fc)
{
    const tq_schema_type *t = described_named(fc);
    tq_field_resolve(fc, has_fields(t) ? type_list(fc, t->interfaces, t->ninterfaces) : tq_value_null());
}

/* graphql-js lists an interface's object implementations in the order of the schema's
 * types, so they come from the listed types rather than from the interface. */
static tq_value implementations(tq_field_ctx *fc, const tq_schema_type *iface)
{
    const tq_schema *s = tq_exec_schema(fc->exec);
    tq_value list = tq_value_list(fc->arena, s->nlisted_types);
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->nlisted_types; i++) {
        const tq_schema_type *t = s->listed_types[i];
        for (uint32_t j = 0; j < t->ninterfaces && t->kind == TQ_TYPE_OBJECT; j++)
            if (t->interfaces[j] == iface)
                list.u.list.items[k++] = named_type_value(fc, t);
    }
    list.u.list.count = k;
    return list;
}

static void type_possible_types(tq_field_ctx *fc)
{
    const tq_schema_type *t = described_named(fc);
    if (t != NULL && t->kind == TQ_TYPE_UNION)
        tq_field_resolve(fc, type_list(fc, t->possible, t->npossible));
    else if (t != NULL && t->kind == TQ_TYPE_INTERFACE)
        tq_field_resolve(fc, implementations(fc, t));
    else
        tq_field_resolve(fc, tq_value_null());
}

static void type_enum_values(tq_field_ctx *fc)
{
    const tq_schema_type *t = described_named(fc);
    if (t == NULL || t->kind != TQ_TYPE_ENUM) {
        tq_field_resolve(fc, tq_value_null());
        return;
    }
    bool all = include_deprecated(fc);
    tq_value list = tq_value_list(fc->arena, t->nvalues);
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->nvalues; i++)
        if (all || !t->values[i].deprecated)
            list.u.list.items[k++] = enum_value(fc, &t->values[i]);
    list.u.list.count = k;
    tq_field_resolve(fc, list);
}

static void type_input_fields(tq_field_ctx *fc)
{
    const tq_schema_type *t = described_named(fc);
    if (t == NULL || t->kind != TQ_TYPE_INPUT_OBJECT)
        tq_field_resolve(fc, tq_value_null());
    else
        tq_field_resolve(fc, input_values(fc, t->input_fields, t->ninput_fields));
}

static void type_of_type(tq_field_ctx *fc)
{
    const tq_type_ref *r = native_of(fc);
    tq_field_resolve(fc, r->kind == TQ_GQL_TYPE_NAMED ? tq_value_null() : type_value(fc, r->of));
}

/* ---- __Field, __InputValue, __Directive ---- */

static void field_args(tq_field_ctx *fc)
{
    const tq_schema_field *f = native_of(fc);
    tq_field_resolve(fc, input_values(fc, f->args, f->nargs));
}

static void field_type(tq_field_ctx *fc)
{
    const tq_schema_field *f = native_of(fc);
    tq_field_resolve(fc, type_value(fc, f->type));
}

static void input_value_type(tq_field_ctx *fc)
{
    const tq_input_value *iv = native_of(fc);
    tq_field_resolve(fc, type_value(fc, iv->type));
}

static void directive_args(tq_field_ctx *fc)
{
    const tq_schema_directive *d = native_of(fc);
    tq_field_resolve(fc, input_values(fc, d->args, d->nargs));
}

/* ---- default values, printed as graphql-js prints them ----
 *
 * graphql-js coerces a default literal to an internal value when it builds the schema
 * and prints that value back (astFromValue, then print) when asked. The round trip
 * normalises: 1.50 becomes 1.5, an ID "12" becomes 12, a single value for a list type
 * becomes a one-item list, an input object gets its fields in definition order with their
 * own defaults filled in. A literal that does not coerce has no default at all: null. */

static bool print_value(tq_strbuf *out, const tq_gql_value *lit, const tq_type_ref *t);

/* JavaScript's Number.prototype.toString for finite numbers: the shortest digits that
 * read back as the same double, plain between 1e-7 and 1e21, exponent form outside. */
static void print_js_number(tq_strbuf *out, double d)
{
    if (d == 0) {
        tq_strbuf_putc(out, '0');
        return;
    }
    char sci[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(sci, sizeof(sci), "%.*e", precision - 1, d);
        if (strtod(sci, NULL) == d)
            break;
    }
    char digits[24];
    int ndigits = 0, i = 0;
    if (sci[0] == '-') {
        tq_strbuf_putc(out, '-');
        i++;
    }
    for (; sci[i] != 'e'; i++)
        if (sci[i] != '.')
            digits[ndigits++] = sci[i];
    while (ndigits > 1 && digits[ndigits - 1] == '0')
        ndigits--;
    int point = atoi(&sci[i + 1]) + 1; /* digits[0..point) are the integer part */
    if (ndigits <= point && point <= 21) {
        tq_strbuf_append(out, digits, (size_t)ndigits);
        for (int z = ndigits; z < point; z++)
            tq_strbuf_putc(out, '0');
    } else if (0 < point && point <= 21) {
        tq_strbuf_append(out, digits, (size_t)point);
        tq_strbuf_putc(out, '.');
        tq_strbuf_append(out, digits + point, (size_t)(ndigits - point));
    } else if (-6 < point && point <= 0) {
        tq_strbuf_lit(out, "0.");
        for (int z = point; z < 0; z++)
            tq_strbuf_putc(out, '0');
        tq_strbuf_append(out, digits, (size_t)ndigits);
    } else {
        tq_strbuf_putc(out, digits[0]);
        if (ndigits > 1) {
            tq_strbuf_putc(out, '.');
            tq_strbuf_append(out, digits + 1, (size_t)(ndigits - 1));
        }
        tq_strbuf_printf(out, "e%c%d", point - 1 < 0 ? '-' : '+', abs(point - 1));
    }
}

/* A GraphQL string literal with graphql-js's escapes: C0 controls, '"', '\\', DEL and
 * the C1 controls (U+0080..U+009F, two bytes in UTF-8). */
static void print_string(tq_strbuf *out, const char *s, uint32_t len)
{
    static const char *const short_escapes[32] = {[8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r"};
    tq_strbuf_putc(out, '"');
    for (uint32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && short_escapes[c])
            tq_strbuf_append(out, short_escapes[c], 2);
        else if (c < 0x20 || c == 0x7f)
            tq_strbuf_printf(out, "\\u%04X", c);
        else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            tq_strbuf_printf(out, "\\u%04X", (unsigned char)s[++i]);
        else if (c == '"' || c == '\\')
            tq_strbuf_printf(out, "\\%c", c);
        else
            tq_strbuf_putc(out, (char)c);
    }
    tq_strbuf_putc(out, '"');
}

static bool is_integer_text(const char *s, uint32_t len)
{
    uint32_t i = len > 0 && s[0] == '-' ? 1 : 0;
    if (i == len || (s[i] == '0' && len - i > 1))
        return false;
    for (; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool print_int(tq_strbuf *out, const tq_gql_value *lit)
{
    if (lit->kind != TQ_GQL_VALUE_INT)
        return false;
    long long v = strtoll(lit->u.str.s, NULL, 10);
    if (v < -2147483648LL || v > 2147483647LL)
        return false;
    tq_strbuf_printf(out, "%lld", v);
    return true;
}

static bool print_number(tq_strbuf *out, const tq_gql_value *lit)
{
    if (lit->kind != TQ_GQL_VALUE_INT && lit->kind != TQ_GQL_VALUE_FLOAT)
        return false;
    double d = strtod(lit->u.str.s, NULL);
    if (!isfinite(d))
        return false;
    print_js_number(out, d);
    return true;
}

/* A scalar of buildSchema's making keeps whatever the literal was; printed back it is a
 * number, a boolean or a string (enum names become strings). */
static bool print_untyped(tq_strbuf *out, const tq_gql_value *lit)
{
    switch (lit->kind) {
    case TQ_GQL_VALUE_INT:
    case TQ_GQL_VALUE_FLOAT:
        return print_number(out, lit);
    case TQ_GQL_VALUE_STRING:
    case TQ_GQL_VALUE_ENUM:
        print_string(out, lit->u.str.s, lit->u.str.len);
        return true;
    case TQ_GQL_VALUE_BOOLEAN:
        tq_strbuf_append(out, lit->u.boolean ? "true" : "false", lit->u.boolean ? 4 : 5);
        return true;
    default:
        return false;
    }
}

static bool print_scalar(tq_strbuf *out, const tq_gql_value *lit, const tq_schema_type *t)
{
    if (strcmp(t->name, "Int") == 0)
        return print_int(out, lit);
    if (strcmp(t->name, "Float") == 0)
        return print_number(out, lit);
    if (strcmp(t->name, "String") == 0) {
        if (lit->kind != TQ_GQL_VALUE_STRING)
            return false;
        print_string(out, lit->u.str.s, lit->u.str.len);
        return true;
    }
    if (strcmp(t->name, "Boolean") == 0)
        return lit->kind == TQ_GQL_VALUE_BOOLEAN && print_untyped(out, lit);
    if (strcmp(t->name, "ID") == 0) {
        if (lit->kind == TQ_GQL_VALUE_INT)
            tq_strbuf_append(out, lit->u.str.s, lit->u.str.len);
        else if (lit->kind == TQ_GQL_VALUE_STRING && is_integer_text(lit->u.str.s, lit->u.str.len))
            tq_strbuf_append(out, lit->u.str.s, lit->u.str.len);
        else if (lit->kind == TQ_GQL_VALUE_STRING)
            print_string(out, lit->u.str.s, lit->u.str.len);
        else
            return false;
        return true;
    }
    return print_untyped(out, lit);
}

static bool print_enum(tq_strbuf *out, const tq_gql_value *lit, const tq_schema_type *t)
{
    if (lit->kind != TQ_GQL_VALUE_ENUM)
        return false;
    for (uint32_t i = 0; i < t->nvalues; i++) {
        if (strcmp(t->values[i].name, lit->u.str.s) == 0) {
            tq_strbuf_append(out, lit->u.str.s, lit->u.str.len);
            return true;
        }
    }
    return false;
}

static const tq_gql_value *object_field(const tq_gql_value *lit, const char *name)
{
    for (uint32_t i = 0; i < lit->u.object.count; i++)
        if (strcmp(lit->u.object.fields[i].name.s, name) == 0)
            return lit->u.object.fields[i].value;
    return NULL;
}

static bool print_input_object(tq_strbuf *out, const tq_gql_value *lit, const tq_schema_type *t)
{
    if (lit->kind != TQ_GQL_VALUE_OBJECT)
        return false;
    tq_strbuf_putc(out, '{');
    bool first = true;
    for (uint32_t i = 0; i < t->ninput_fields; i++) {
        const tq_input_value *f = &t->input_fields[i];
        const tq_gql_value *given = object_field(lit, f->name);
        size_t mark = out->len;
        tq_strbuf_printf(out, "%s%s: ", first ? "" : ", ", f->name);
        if (given != NULL) {
            if (!print_value(out, given, f->type))
                return false;
        } else if (f->default_literal == NULL || !print_value(out, f->default_literal, f->type)) {
            /* a field with no usable default is left out, unless it is required */
            out->len = mark;
            if (f->type->kind == TQ_GQL_TYPE_NON_NULL)
                return false;
            continue;
        }
        first = false;
    }
    tq_strbuf_putc(out, '}');
    return true;
}

static bool print_value(tq_strbuf *out, const tq_gql_value *lit, const tq_type_ref *t)
{
    if (lit->kind == TQ_GQL_VALUE_VARIABLE)
        return false;
    if (t->kind == TQ_GQL_TYPE_NON_NULL)
        return lit->kind != TQ_GQL_VALUE_NULL && print_value(out, lit, t->of);
    if (lit->kind == TQ_GQL_VALUE_NULL) {
        tq_strbuf_lit(out, "null");
        return true;
    }
    if (t->kind == TQ_GQL_TYPE_LIST) {
        tq_strbuf_putc(out, '[');
        if (lit->kind != TQ_GQL_VALUE_LIST) {
            if (!print_value(out, lit, t->of))
                return false;
        } else {
            for (uint32_t i = 0; i < lit->u.list.count; i++) {
                if (i > 0)
                    tq_strbuf_lit(out, ", ");
                if (!print_value(out, lit->u.list.items[i], t->of))
                    return false;
            }
        }
        tq_strbuf_putc(out, ']');
        return true;
    }
    switch (t->named->kind) {
    case TQ_TYPE_INPUT_OBJECT:
        return print_input_object(out, lit, t->named);
    case TQ_TYPE_ENUM:
        return print_enum(out, lit, t->named);
    case TQ_TYPE_SCALAR:
        return print_scalar(out, lit, t->named);
    default:
        return false;
    }
}

static void input_value_default(tq_field_ctx *fc)
{
    const tq_input_value *iv = native_of(fc);
    if (iv->default_literal == NULL) {
        tq_field_resolve(fc, tq_value_null());
        return;
    }
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_value v = tq_value_null();
    if (print_value(&b, iv->default_literal, iv->type))
        v = tq_value_string(tq_arena_strndup(fc->arena, b.data ? b.data : "", b.len), (uint32_t)b.len);
    tq_strbuf_free(&b);
    tq_field_resolve(fc, v);
}

/* ---- bindings ---- */

const tq_resolver_binding tq_introspection_resolvers[] = {
    {"__Schema.types", schema_types},
    {"__Schema.queryType", schema_query_type},
    {"__Schema.mutationType", schema_mutation_type},
    {"__Schema.subscriptionType", schema_subscription_type},
    {"__Schema.directives", schema_directives},
    {"__Type.fields", type_fields},
    {"__Type.interfaces", type_interfaces},
    {"__Type.possibleTypes", type_possible_types},
    {"__Type.enumValues", type_enum_values},
    {"__Type.inputFields", type_input_fields},
    {"__Type.ofType", type_of_type},
    {"__Field.args", field_args},
    {"__Field.type", field_type},
    {"__InputValue.type", input_value_type},
    {"__InputValue.defaultValue", input_value_default},
    {"__Directive.args", directive_args},
    {NULL, NULL},
};

/* ---- introspection turned off ----
 *
 * Like graphql-js's NoSchemaIntrospectionCustomRule run by validation: every field of the
 * document whose (named) type is an introspection type is reported, walking operations
 * and fragment definitions in document order with the type each selection applies to. */

typedef struct reject_walk {
    const tq_schema *s;
    tq_strbuf *out;
    uint32_t nerrors;
} reject_walk;

static void report_field(reject_walk *w, const tq_gql_selection *sel)
{
    if (w->nerrors++ == 0)
        tq_strbuf_lit(w->out, "{\"errors\":[");
    else
        tq_strbuf_putc(w->out, ',');
    tq_strbuf_lit(w->out, "{\"message\":");
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_strbuf_printf(&b, "GraphQL introspection has been disabled, but the requested query contained the field \"%s\".",
                     sel->name.s);
    tq_json_write_string(w->out, b.data, b.len);
    tq_strbuf_free(&b);
    tq_strbuf_printf(w->out, ",\"locations\":[{\"line\":%u,\"column\":%u}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}",
                     sel->loc.line, sel->loc.column);
}

static void walk_selections(reject_walk *w, const tq_gql_selection_set *set, const tq_schema_type *parent)
{
    for (uint32_t i = 0; i < set->count; i++) {
        const tq_gql_selection *sel = &set->items[i];
        const tq_schema_type *next = NULL;
        if (sel->kind == TQ_GQL_SEL_FIELD) {
            const tq_schema_field *f = parent && (parent->kind == TQ_TYPE_OBJECT || parent->kind == TQ_TYPE_INTERFACE)
                                           ? tq_schema_field_of(w->s, parent, sel->name.s, sel->name.len)
                                           : NULL;
            next = f ? named_of(f->type) : NULL;
            if (next != NULL && tq_schema_is_introspection_type(next))
                report_field(w, sel);
        } else if (sel->kind == TQ_GQL_SEL_INLINE_FRAGMENT) {
            next = sel->type_condition.len
                       ? tq_schema_find_type(w->s, sel->type_condition.s, sel->type_condition.len)
                       : parent;
        } else {
            continue; /* a spread: its fragment definition is walked on its own */
        }
        walk_selections(w, &sel->selection_set, next);
    }
}

bool tq_introspection_reject(const tq_schema *s, const tq_gql_document *doc, tq_strbuf *out)
{
    reject_walk w = {s, out, 0};
    for (uint32_t i = 0; i < doc->count; i++) {
        const tq_gql_definition *d = &doc->defs[i];
        if (d->kind == TQ_GQL_DEF_OPERATION) {
            const tq_gql_operation *op = &d->u.operation;
            const tq_schema_type *root = op->type == TQ_GQL_OP_QUERY      ? s->query
                                         : op->type == TQ_GQL_OP_MUTATION ? s->mutation
                                                                          : s->subscription;
            walk_selections(&w, &op->selection_set, root);
        } else if (d->kind == TQ_GQL_DEF_FRAGMENT) {
            const tq_gql_fragment *f = &d->u.fragment;
            walk_selections(&w, &f->selection_set, tq_schema_find_type(s, f->type_condition.s, f->type_condition.len));
        }
    }
    if (w.nerrors > 0)
        tq_strbuf_lit(out, "]}");
    return w.nerrors > 0;
}
