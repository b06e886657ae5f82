/*
 * validate_values.c - the rules about literal values: ValuesOfCorrectType (lists,
 * input objects and their fields, nulls, enums, built-in and custom scalars) and
 * UniqueInputFieldNames, plus printing values and types for messages.
 *
 * Positions are typed the way graphql-js's TypeInfo types them: a list literal's items
 * take the item type of the position (or the position's nullable type when it is not a
 * list), an object field takes its field's type. Once a list or object literal is
 * reported as a whole, ValuesOfCorrectType does not look inside it, but
 * UniqueInputFieldNames still does, as graphql-js's parallel visitor does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "validate_internal.h"

/* ---- printing ---- */

static void print_string(tq_vbuf *b, tq_str s, bool block)
{
    static const char hex[] = "0123456789ABCDEF";
    if (block) {
        tq_vbuf_puts(b, "\"\"\"");
        for (uint32_t i = 0; i < s.len; i++) {
            if (i + 2 < s.len && memcmp(s.s + i, "\"\"\"", 3) == 0) {
                tq_vbuf_puts(b, "\\\"\"\"");
                i += 2;
            } else {
                tq_vbuf_put(b, s.s + i, 1);
            }
        }
        tq_vbuf_puts(b, "\"\"\"");
        return;
    }
    tq_vbuf_puts(b, "\"");
    for (uint32_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            tq_vbuf_put(b, esc, 2);
        } else if (c == '\n') {
            tq_vbuf_puts(b, "\\n");
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            tq_vbuf_put(b, esc, 6);
        } else {
            tq_vbuf_put(b, s.s + i, 1);
        }
    }
    tq_vbuf_puts(b, "\"");
}

static void print_value(tq_vbuf *b, const tq_gql_value *val)
{
    switch (val->kind) {
    case TQ_GQL_VALUE_VARIABLE:
        tq_vbuf_puts(b, "$");
        tq_vbuf_put(b, val->u.str.s, val->u.str.len);
        break;
    case TQ_GQL_VALUE_INT:
    case TQ_GQL_VALUE_FLOAT:
    case TQ_GQL_VALUE_ENUM:
        tq_vbuf_put(b, val->u.str.s, val->u.str.len);
        break;
    case TQ_GQL_VALUE_STRING:
        print_string(b, val->u.str, val->block);
        break;
    case TQ_GQL_VALUE_BOOLEAN:
        tq_vbuf_puts(b, val->u.boolean ? "true" : "false");
        break;
    case TQ_GQL_VALUE_NULL:
        tq_vbuf_puts(b, "null");
        break;
    case TQ_GQL_VALUE_LIST:
        tq_vbuf_puts(b, "[");
        for (uint32_t i = 0; i < val->u.list.count; i++) {
            if (i > 0)
                tq_vbuf_puts(b, ", ");
            print_value(b, val->u.list.items[i]);
        }
        tq_vbuf_puts(b, "]");
        break;
    case TQ_GQL_VALUE_OBJECT:
        tq_vbuf_puts(b, "{");
        for (uint32_t i = 0; i < val->u.object.count; i++) {
            if (i > 0)
                tq_vbuf_puts(b, ", ");
            tq_vbuf_put(b, val->u.object.fields[i].name.s, val->u.object.fields[i].name.len);
            tq_vbuf_puts(b, ": ");
            print_value(b, val->u.object.fields[i].value);
        }
        tq_vbuf_puts(b, "}");
        break;
    }
}

const char *tq_vvalue_text(tq_vctx *v, const tq_gql_value *val)
{
    tq_vbuf b = {v->ar, NULL, 0, 0};
    print_value(&b, val);
    return tq_vbuf_str(&b);
}

static void print_type(tq_vbuf *b, const tq_type_ref *t)
{
    if (t->kind == TQ_GQL_TYPE_NAMED) {
        tq_vbuf_puts(b, t->named->name);
    } else if (t->kind == TQ_GQL_TYPE_LIST) {
        tq_vbuf_puts(b, "[");
        print_type(b, t->of);
        tq_vbuf_puts(b, "]");
    } else {
        print_type(b, t->of);
        tq_vbuf_puts(b, "!");
    }
}

const char *tq_vtype_text(tq_vctx *v, const tq_type_ref *t)
{
    tq_vbuf b = {v->ar, NULL, 0, 0};
    print_type(&b, t);
    return tq_vbuf_str(&b);
}

static void print_ast_type(tq_vbuf *b, const tq_gql_type *t)
{
    if (t->kind == TQ_GQL_TYPE_NAMED) {
        tq_vbuf_put(b, t->name.s, t->name.len);
    } else if (t->kind == TQ_GQL_TYPE_LIST) {
        tq_vbuf_puts(b, "[");
        print_ast_type(b, t->of_type);
        tq_vbuf_puts(b, "]");
    } else {
        print_ast_type(b, t->of_type);
        tq_vbuf_puts(b, "!");
    }
}

const char *tq_vast_type_text(tq_vctx *v, const tq_gql_type *t)
{
    tq_vbuf b = {v->ar, NULL, 0, 0};
    print_ast_type(&b, t);
    return tq_vbuf_str(&b);
}

/* ---- leaf literals ---- */

static bool int_in_range(tq_str text)
{
    errno = 0;
    long long n = strtoll(text.s, NULL, 10);
    return errno == 0 && n >= INT32_MIN && n <= INT32_MAX;
}

static bool enum_has_value(const tq_schema_type *t, tq_str name)
{
    for (uint32_t i = 0; i < t->nvalues; i++)
        if (strlen(t->values[i].name) == name.len && memcmp(t->values[i].name, name.s, name.len) == 0)
            return true;
    return false;
}

/* Why the literal is not a value of the built-in scalar, or NULL when it is one. The
 * rules and words are those of graphql-js's parseLiteral for the five scalars. */
static const char *builtin_literal_error(tq_vctx *v, const tq_schema_type *t, const tq_gql_value *lit)
{
    const char *text = tq_vvalue_text(v, lit);
    tq_gql_value_kind k = lit->kind;

    if (strcmp(t->name, "Int") == 0) {
        if (k != TQ_GQL_VALUE_INT)
            return tq_arena_sprintf(v->ar, "Int cannot represent non-integer value: %s", text);
        if (!int_in_range(lit->u.str))
            return tq_arena_sprintf(v->ar, "Int cannot represent non 32-bit signed integer value: %s", text);
        return NULL;
    }
    if (strcmp(t->name, "Float") == 0)
        return k == TQ_GQL_VALUE_INT || k == TQ_GQL_VALUE_FLOAT
                   ? NULL
                   : tq_arena_sprintf(v->ar, "Float cannot represent non numeric value: %s", text);
    if (strcmp(t->name, "String") == 0)
        return k == TQ_GQL_VALUE_STRING ? NULL
                                        : tq_arena_sprintf(v->ar, "String cannot represent a non string value: %s", text);
    if (strcmp(t->name, "Boolean") == 0)
        return k == TQ_GQL_VALUE_BOOLEAN
                   ? NULL
                   : tq_arena_sprintf(v->ar, "Boolean cannot represent a non boolean value: %s", text);
    return k == TQ_GQL_VALUE_STRING || k == TQ_GQL_VALUE_INT
               ? NULL
               : tq_arena_sprintf(v->ar, "ID cannot represent a non-string and non-integer value: %s", text);
}

static bool is_builtin_scalar(const tq_schema_type *t)
{
    static const char *const names[] = {"Int", "Float", "String", "Boolean", "ID"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(t->name, names[i]) == 0)
            return true;
    return false;
}

/* graphql-js's isValidValueNode: the literal against the full type of its position. */
static void check_leaf_position(tq_vctx *v, const tq_gql_value *lit, const tq_type_ref *loc_type)
{
    if (loc_type == NULL)
        return;
    const tq_schema_type *t = tq_vnamed(loc_type);
    if (!tq_vis_leaf(t)) {
        tq_vreport1(v, lit->loc, "Expected value of type \"%s\", found %s.", tq_vtype_text(v, loc_type),
                    tq_vvalue_text(v, lit));
        return;
    }
    const char *why = NULL;
    if (t->kind == TQ_TYPE_ENUM) {
        if (lit->kind != TQ_GQL_VALUE_ENUM)
            why = tq_arena_sprintf(v->ar, "Enum \"%s\" cannot represent non-enum value: %s.", t->name,
                                   tq_vvalue_text(v, lit));
        else if (!enum_has_value(t, lit->u.str))
            why = tq_arena_sprintf(v->ar, "Value \"%s\" does not exist in \"%s\" enum.", lit->u.str.s, t->name);
    } else if (is_builtin_scalar(t)) {
        why = builtin_literal_error(v, t, lit);
    } else if (t->scalar != NULL && t->scalar->parse_literal != NULL) {
        char err[256];
        tq_value out;
        err[0] = '\0';
        if (t->scalar->parse_literal(v->ar, lit, &out, err, sizeof(err)) != 0)
            why = tq_arena_sprintf(v->ar, "Expected value of type \"%s\", found %s; %s", tq_vtype_text(v, loc_type),
                                   tq_vvalue_text(v, lit), err);
    }
    if (why != NULL)
        tq_vreport1(v, lit->loc, "%s", why);
}

/* ---- lists and input objects ---- */

static inline const tq_type_ref *nullable(const tq_type_ref *t)
{
    return t != NULL && t->kind == TQ_GQL_TYPE_NON_NULL ? t->of : t;
}

static const tq_input_value *input_field(const tq_schema_type *t, tq_str name)
{
    for (uint32_t i = 0; i < t->ninput_fields; i++)
        if (strlen(t->input_fields[i].name) == name.len && memcmp(t->input_fields[i].name, name.s, name.len) == 0)
            return &t->input_fields[i];
    return NULL;
}

static bool object_has_field(const tq_gql_value *obj, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < obj->u.object.count; i++)
        if (tq_str_eq(obj->u.object.fields[i].name, name, (uint32_t)len))
            return true;
    return false;
}

static void visit_value(tq_vctx *v, const tq_gql_value *val, const tq_type_ref *loc_type, bool check_types);

/* The first field of fields[0..n) named like fields[i] (i itself when it is the first):
 * compared pairwise in small objects, through the map first in large ones (fields are
 * asked for in order). */
static uint32_t first_occurrence(tq_vctx *v, const tq_gql_object_field *fields, uint32_t n, uint32_t i, tq_map *first)
{
    if (n <= 8) {
        for (uint32_t j = 0; j < i; j++)
            if (tq_str_equal(fields[j].name, fields[i].name))
                return j;
        return i;
    }
    bool existed;
    void **slot = tq_vmap_slot(v->ar, first, fields[i].name.s, fields[i].name.len, &existed);
    if (existed)
        return (uint32_t)(uintptr_t)*slot - 1;
    *slot = (void *)(uintptr_t)(i + 1);
    return i;
}

static void report_missing_fields(tq_vctx *v, const tq_gql_value *obj, const tq_schema_type *it)
{
    for (uint32_t i = 0; i < it->ninput_fields && !v->stopped; i++) {
        const tq_input_value *f = &it->input_fields[i];
        if (f->type->kind == TQ_GQL_TYPE_NON_NULL && f->default_literal == NULL && !object_has_field(obj, f->name))
            tq_vreport1(v, obj->loc, "Field \"%s.%s\" of required type \"%s\" was not provided.", it->name, f->name,
                        tq_vtype_text(v, f->type));
    }
}

static void visit_object(tq_vctx *v, const tq_gql_value *obj, const tq_type_ref *loc_type, bool check_types)
{
    const tq_schema_type *it = tq_vnamed(loc_type);
    if (check_types) {
        if (it == NULL || it->kind != TQ_TYPE_INPUT_OBJECT) {
            check_leaf_position(v, obj, loc_type);
            check_types = false;
        } else {
            report_missing_fields(v, obj, it);
        }
    }
    if (it != NULL && it->kind != TQ_TYPE_INPUT_OBJECT)
        it = NULL;
    tq_map first = {0}; /* many fields: name -> 1 + its first occurrence */
    uint32_t n = obj->u.object.count;
    for (uint32_t i = 0; i < n && !v->stopped; i++) {
        const tq_gql_object_field *f = &obj->u.object.fields[i];
        const tq_input_value *def = it != NULL ? input_field(it, f->name) : NULL;
        if (check_types && def == NULL)
            tq_vreport1(v, f->loc, "Field \"%s\" is not defined by type \"%s\".", f->name.s, it->name);
        /* UniqueInputFieldNames: a repetition with the first occurrence */
        uint32_t j = first_occurrence(v, obj->u.object.fields, n, i, &first);
        if (j < i) {
            tq_gql_loc locs[2] = {obj->u.object.fields[j].loc, f->loc};
            tq_vreport(v, tq_arena_sprintf(v->ar, "There can be only one input field named \"%s\".", f->name.s), locs,
                       2);
        }
        visit_value(v, f->value, def != NULL ? def->type : NULL, check_types);
    }
}

static void visit_list(tq_vctx *v, const tq_gql_value *list, const tq_type_ref *loc_type, bool check_types)
{
    const tq_type_ref *nn = nullable(loc_type);
    const tq_type_ref *item = nn != NULL && nn->kind == TQ_GQL_TYPE_LIST ? nn->of : nn;
    if (check_types && (nn == NULL || nn->kind != TQ_GQL_TYPE_LIST)) {
        check_leaf_position(v, list, item);
        check_types = false;
    }
    for (uint32_t i = 0; i < list->u.list.count && !v->stopped; i++)
        visit_value(v, list->u.list.items[i], item, check_types);
}

static void visit_value(tq_vctx *v, const tq_gql_value *val, const tq_type_ref *loc_type, bool check_types)
{
    if (v->stopped)
        return;
    switch (val->kind) {
    case TQ_GQL_VALUE_VARIABLE:
        break;
    case TQ_GQL_VALUE_LIST:
        visit_list(v, val, loc_type, check_types);
        break;
    case TQ_GQL_VALUE_OBJECT:
        visit_object(v, val, loc_type, check_types);
        break;
    case TQ_GQL_VALUE_NULL:
        if (check_types && loc_type != NULL && loc_type->kind == TQ_GQL_TYPE_NON_NULL)
            tq_vreport1(v, val->loc, "Expected value of type \"%s\", found null.", tq_vtype_text(v, loc_type));
        break;
    default:
        if (check_types)
            check_leaf_position(v, val, loc_type);
        break;
    }
}

void tq_vcheck_value(tq_vctx *v, const tq_gql_value *val, const tq_type_ref *loc_type)
{
    visit_value(v, val, loc_type, true);
}
