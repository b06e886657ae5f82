/*
 * coerce.c - input coercion (see coerce.h): literals of the document and JSON variables
 * into runtime values, the defaults of arguments and input fields filled in, with the
 * messages clients see when a value does not fit. Values and messages go to the
 * coercion's arena.
 */
#include "coerce.h"

#include <stdlib.h>
#include <string.h>

#include "tenantql/strbuf.h"

/* ---- values ---- */

static void type_name(const tq_type_ref *t, tq_strbuf *b)
{
    if (t->kind == TQ_GQL_TYPE_NAMED) {
        tq_strbuf_append(b, t->named->name, strlen(t->named->name));
    } else if (t->kind == TQ_GQL_TYPE_LIST) {
        tq_strbuf_putc(b, '[');
        type_name(t->of, b);
        tq_strbuf_putc(b, ']');
    } else {
        type_name(t->of, b);
        tq_strbuf_putc(b, '!');
    }
}

static const char *type_text(const tq_coerce *c, const tq_type_ref *t)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    type_name(t, &b);
    char *s = tq_arena_strndup(c->a, b.data, b.len);
    tq_strbuf_free(&b);
    return s;
}

/* Result of coercing one input: a value, "absent" (a variable that was not provided),
 * or an error message. */
typedef enum { IN_OK, IN_ABSENT, IN_ERROR } in_status;

static in_status coerce_literal(const tq_coerce *c, const tq_gql_value *lit, const tq_type_ref *t, tq_value *out,
                                const char **err);

static in_status coerce_input_object_literal(const tq_coerce *c, const tq_gql_value *lit, const tq_schema_type *it,
                                             tq_value *out, const char **err)
{
    if (lit->kind != TQ_GQL_VALUE_OBJECT) {
        *err = tq_arena_sprintf(c->a, "Expected value of type \"%s\", found a non-object value.", it->name);
        return IN_ERROR;
    }
    for (uint32_t i = 0; i < lit->u.object.count; i++) {
        tq_str name = lit->u.object.fields[i].name;
        bool known = false;
        for (uint32_t j = 0; j < it->ninput_fields && !known; j++)
            known = strcmp(it->input_fields[j].name, name.s) == 0;
        if (!known) {
            *err = tq_arena_sprintf(c->a, "Field \"%s\" is not defined by type \"%s\".", name.s, it->name);
            return IN_ERROR;
        }
    }
    *out = tq_value_object(c->a, it, it->ninput_fields);
    uint32_t n = 0;
    for (uint32_t j = 0; j < it->ninput_fields; j++) {
        const tq_input_value *def = &it->input_fields[j];
        const tq_gql_value *fl = NULL;
        for (uint32_t i = 0; i < lit->u.object.count; i++)
            if (strcmp(lit->u.object.fields[i].name.s, def->name) == 0)
                fl = lit->u.object.fields[i].value;
        tq_value v;
        in_status st = fl ? coerce_literal(c, fl, def->type, &v, err) : IN_ABSENT;
        if (st == IN_ERROR)
            return IN_ERROR;
        if (st == IN_ABSENT && def->default_literal != NULL)
            st = coerce_literal(c, def->default_literal, def->type, &v, err);
        if (st == IN_ERROR)
            return IN_ERROR;
        if (st == IN_ABSENT) {
            if (def->type->kind == TQ_GQL_TYPE_NON_NULL) {
                *err = tq_arena_sprintf(c->a, "Field \"%s.%s\" of required type \"%s\" was not provided.", it->name,
                                        def->name, type_text(c, def->type));
                return IN_ERROR;
            }
            continue;
        }
        tq_value_object_set(out, n++, def->name, v);
    }
    out->u.object.count = n;
    return IN_OK;
}

static in_status coerce_literal(const tq_coerce *c, const tq_gql_value *lit, const tq_type_ref *t, tq_value *out,
                                const char **err)
{
    if (lit->kind == TQ_GQL_VALUE_VARIABLE) {
        const tq_value *v = tq_value_get(c->vars, lit->u.str.s);
        if (v == NULL)
            return IN_ABSENT;
        if (v->kind == TQ_VAL_NULL && t->kind == TQ_GQL_TYPE_NON_NULL) {
            *err = tq_arena_sprintf(c->a, "Expected non-nullable type \"%s\" not to be null.", type_text(c, t));
            return IN_ERROR;
        }
        *out = *v;
        return IN_OK;
    }
    if (t->kind == TQ_GQL_TYPE_NON_NULL) {
        if (lit->kind == TQ_GQL_VALUE_NULL) {
            *err = tq_arena_sprintf(c->a, "Expected value of type \"%s\", found null.", type_text(c, t));
            return IN_ERROR;
        }
        return coerce_literal(c, lit, t->of, out, err);
    }
    if (lit->kind == TQ_GQL_VALUE_NULL) {
        *out = tq_value_null();
        return IN_OK;
    }
    if (t->kind == TQ_GQL_TYPE_LIST) {
        if (lit->kind != TQ_GQL_VALUE_LIST) {
            *out = tq_value_list(c->a, 1);
            in_status st = coerce_literal(c, lit, t->of, &out->u.list.items[0], err);
            if (st == IN_ABSENT)
                out->u.list.items[0] = tq_value_null();
            return st == IN_ERROR ? IN_ERROR : IN_OK;
        }
        *out = tq_value_list(c->a, lit->u.list.count);
        for (uint32_t i = 0; i < lit->u.list.count; i++) {
            in_status st = coerce_literal(c, lit->u.list.items[i], t->of, &out->u.list.items[i], err);
            if (st == IN_ERROR)
                return IN_ERROR;
            if (st == IN_ABSENT) {
                if (t->of->kind == TQ_GQL_TYPE_NON_NULL) {
                    *err = "Expected a value for a non-null list item.";
                    return IN_ERROR;
                }
                out->u.list.items[i] = tq_value_null();
            }
        }
        return IN_OK;
    }
    const tq_schema_type *nt = t->named;
    switch (nt->kind) {
    case TQ_TYPE_INPUT_OBJECT:
        return coerce_input_object_literal(c, lit, nt, out, err);
    case TQ_TYPE_ENUM:
        if (lit->kind == TQ_GQL_VALUE_ENUM) {
            for (uint32_t i = 0; i < nt->nvalues; i++) {
                if (strcmp(nt->values[i].name, lit->u.str.s) == 0) {
                    *out = (tq_value){.kind = TQ_VAL_ENUM, .u.s = {nt->values[i].name, lit->u.str.len}};
                    return IN_OK;
                }
            }
        }
        *err = tq_arena_sprintf(c->a, "Value does not exist in \"%s\" enum.", nt->name);
        return IN_ERROR;
    case TQ_TYPE_SCALAR: {
        char msg[256];
        if (lit->kind == TQ_GQL_VALUE_LIST || lit->kind == TQ_GQL_VALUE_OBJECT) {
            *err = tq_arena_sprintf(c->a, "%s cannot represent a non-scalar value.", nt->name);
            return IN_ERROR;
        }
        if (nt->scalar->parse_literal(c->a, lit, out, msg, sizeof(msg)) != 0) {
            *err = tq_arena_strdup(c->a, msg);
            return IN_ERROR;
        }
        return IN_OK;
    }
    default:
        *err = tq_arena_sprintf(c->a, "Type \"%s\" is not an input type.", nt->name);
        return IN_ERROR;
    }
}

static const char *json_text(const tq_coerce *c, json_t *j)
{
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    char *out = tq_arena_strdup(c->a, s ? s : "?");
    free(s);
    return out;
}

static in_status coerce_json(const tq_coerce *c, json_t *j, const tq_type_ref *t, tq_value *out, const char **err);

static in_status coerce_json_object(const tq_coerce *c, json_t *j, const tq_schema_type *it, tq_value *out,
                                    const char **err)
{
    if (!json_is_object(j)) {
        *err = tq_arena_sprintf(c->a, "Expected type \"%s\" to be an object.", it->name);
        return IN_ERROR;
    }
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val) {
        bool known = false;
        for (uint32_t k = 0; k < it->ninput_fields && !known; k++)
            known = strcmp(it->input_fields[k].name, key) == 0;
        if (!known) {
            *err = tq_arena_sprintf(c->a, "Field \"%s\" is not defined by type \"%s\".", key, it->name);
            return IN_ERROR;
        }
    }
    *out = tq_value_object(c->a, it, it->ninput_fields);
    uint32_t n = 0;
    for (uint32_t k = 0; k < it->ninput_fields; k++) {
        const tq_input_value *def = &it->input_fields[k];
        json_t *fj = json_object_get(j, def->name);
        tq_value v;
        in_status st;
        if (fj != NULL)
            st = coerce_json(c, fj, def->type, &v, err);
        else if (def->default_literal != NULL)
            st = coerce_literal(c, def->default_literal, def->type, &v, err);
        else
            st = IN_ABSENT;
        if (st == IN_ERROR)
            return IN_ERROR;
        if (st == IN_ABSENT) {
            if (def->type->kind == TQ_GQL_TYPE_NON_NULL) {
                *err = tq_arena_sprintf(c->a, "Field \"%s\" of required type \"%s\" was not provided.", def->name,
                                        type_text(c, def->type));
                return IN_ERROR;
            }
            continue;
        }
        tq_value_object_set(out, n++, def->name, v);
    }
    out->u.object.count = n;
    return IN_OK;
}

static in_status coerce_json(const tq_coerce *c, json_t *j, const tq_type_ref *t, tq_value *out, const char **err)
{
    if (t->kind == TQ_GQL_TYPE_NON_NULL) {
        if (json_is_null(j)) {
            *err = tq_arena_sprintf(c->a, "Expected non-nullable type \"%s\" not to be null.", type_text(c, t));
            return IN_ERROR;
        }
        return coerce_json(c, j, t->of, out, err);
    }
    if (json_is_null(j)) {
        *out = tq_value_null();
        return IN_OK;
    }
    if (t->kind == TQ_GQL_TYPE_LIST) {
        if (!json_is_array(j)) {
            *out = tq_value_list(c->a, 1);
            return coerce_json(c, j, t->of, &out->u.list.items[0], err);
        }
        *out = tq_value_list(c->a, (uint32_t)json_array_size(j));
        for (size_t i = 0; i < json_array_size(j); i++)
            if (coerce_json(c, json_array_get(j, i), t->of, &out->u.list.items[i], err) == IN_ERROR)
                return IN_ERROR;
        return IN_OK;
    }
    const tq_schema_type *nt = t->named;
    if (nt->kind == TQ_TYPE_INPUT_OBJECT)
        return coerce_json_object(c, j, nt, out, err);
    if (nt->kind == TQ_TYPE_ENUM) {
        if (json_is_string(j)) {
            for (uint32_t i = 0; i < nt->nvalues; i++) {
                if (strcmp(nt->values[i].name, json_string_value(j)) == 0) {
                    *out = (tq_value){.kind = TQ_VAL_ENUM,
                                      .u.s = {nt->values[i].name, (uint32_t)strlen(nt->values[i].name)}};
                    return IN_OK;
                }
            }
        }
        *err = tq_arena_sprintf(c->a, "Value %s does not exist in \"%s\" enum.", json_text(c, j), nt->name);
        return IN_ERROR;
    }
    tq_value raw;
    if (json_is_string(j))
        raw = tq_value_string(tq_arena_strndup(c->a, json_string_value(j), json_string_length(j)),
                              (uint32_t)json_string_length(j));
    else if (json_is_integer(j))
        raw = tq_value_int(json_integer_value(j));
    else if (json_is_real(j))
        raw = (tq_value){.kind = TQ_VAL_FLOAT, .u.f = json_real_value(j)};
    else if (json_is_boolean(j))
        raw = tq_value_bool(json_is_true(j));
    else {
        *err = tq_arena_sprintf(c->a, "%s cannot represent a non-scalar value: %s", nt->name, json_text(c, j));
        return IN_ERROR;
    }
    char msg[256];
    if (nt->scalar->parse_value(c->a, &raw, out, msg, sizeof(msg)) != 0) {
        *err = tq_arena_strdup(c->a, msg);
        return IN_ERROR;
    }
    return IN_OK;
}

/* Builds a type reference from the AST of a variable definition. */
static const tq_type_ref *resolve_type(const tq_coerce *c, const tq_gql_type *t)
{
    tq_type_ref *r = tq_arena_calloc(c->a, 1, sizeof(*r));
    r->kind = t->kind;
    if (t->kind == TQ_GQL_TYPE_NAMED) {
        r->named = tq_schema_find_type(c->schema, t->name.s, t->name.len);
        if (r->named == NULL)
            return NULL;
    } else if ((r->of = resolve_type(c, t->of_type)) == NULL) {
        return NULL;
    }
    return r;
}

static bool is_input_type(const tq_type_ref *t)
{
    while (t->kind != TQ_GQL_TYPE_NAMED)
        t = t->of;
    return t->named->kind == TQ_TYPE_SCALAR || t->named->kind == TQ_TYPE_ENUM || t->named->kind == TQ_TYPE_INPUT_OBJECT;
}

/* ---- variables and arguments ---- */

/* One variable of the operation: IN_OK with its value; IN_ABSENT when it was not given,
 * has no default and may be left out; IN_ERROR with the code and message of the request
 * error. */
static in_status coerce_variable(const tq_coerce *c, const tq_gql_variable_def *vd, json_t *given, tq_value *out,
                                 const char **code, const char **message)
{
    const char *name = vd->name.s, *why = NULL;
    const tq_type_ref *t = resolve_type(c, vd->type);
    *code = "BAD_USER_INPUT";
    if (t == NULL || !is_input_type(t)) {
        *code = "GRAPHQL_VALIDATION_FAILED";
        *message = tq_arena_sprintf(c->a, "Variable \"$%s\" expected value of unknown or non-input type.", name);
        return IN_ERROR;
    }
    json_t *j = given ? json_object_get(given, name) : NULL;
    if (j == NULL && vd->default_value != NULL) {
        if (coerce_literal(c, vd->default_value, t, out, &why) == IN_OK)
            return IN_OK;
        *message = tq_arena_sprintf(c->a, "Variable \"$%s\" has an invalid default value: %s", name, why);
        return IN_ERROR;
    }
    if (j == NULL && t->kind == TQ_GQL_TYPE_NON_NULL) {
        *message = tq_arena_sprintf(c->a, "Variable \"$%s\" of required type \"%s\" was not provided.", name,
                                    type_text(c, t));
        return IN_ERROR;
    }
    if (j == NULL)
        return IN_ABSENT;
    if (json_is_null(j) && t->kind == TQ_GQL_TYPE_NON_NULL) {
        *message = tq_arena_sprintf(c->a, "Variable \"$%s\" of non-null type \"%s\" must not be null.", name,
                                    type_text(c, t));
        return IN_ERROR;
    }
    if (coerce_json(c, j, t, out, &why) != IN_OK) {
        *message = tq_arena_sprintf(c->a, "Variable \"$%s\" got invalid value %s; %s", name, json_text(c, j), why);
        return IN_ERROR;
    }
    return IN_OK;
}

tq_value tq_coerce_variables(const tq_coerce *c, const tq_gql_operation *op, json_t *given,
                             tq_coerce_error_fn *on_error, void *data)
{
    tq_value vars = tq_value_object(c->a, NULL, op->nvars);
    uint32_t n = 0;
    if (!json_is_object(given))
        given = NULL;
    for (uint32_t i = 0; i < op->nvars; i++) {
        const tq_gql_variable_def *vd = &op->vars[i];
        tq_value v;
        const char *code, *message;
        in_status st = coerce_variable(c, vd, given, &v, &code, &message);
        if (st == IN_OK)
            tq_value_object_set(&vars, n++, vd->name.s, v);
        else if (st == IN_ERROR)
            on_error(data, code, &vd->loc, message);
    }
    vars.u.object.count = n;
    return vars;
}

const char *tq_coerce_arguments(const tq_coerce *c, const tq_schema_field *f, const tq_gql_selection *node,
                                tq_value *out)
{
    *out = tq_value_object(c->a, NULL, f->nargs);
    uint32_t count = 0;
    for (uint32_t i = 0; i < f->nargs; i++) {
        const tq_input_value *def = &f->args[i];
        const tq_gql_argument *arg = NULL;
        for (uint32_t k = 0; k < node->nargs; k++)
            if (strcmp(node->args[k].name.s, def->name) == 0)
                arg = &node->args[k];
        tq_value v;
        const char *why = NULL;
        in_status st = arg ? coerce_literal(c, arg->value, def->type, &v, &why) : IN_ABSENT;
        if (st == IN_ABSENT && def->default_literal != NULL)
            st = coerce_literal(c, def->default_literal, def->type, &v, &why);
        if (st == IN_ABSENT && def->type->kind == TQ_GQL_TYPE_NON_NULL)
            return tq_arena_sprintf(c->a, "Argument \"%s\" of required type \"%s\" was not provided.", def->name,
                                    type_text(c, def->type));
        if (st == IN_ERROR)
            return tq_arena_sprintf(c->a, "Argument \"%s\" has invalid value: %s", def->name, why);
        if (st == IN_OK)
            tq_value_object_set(out, count++, def->name, v);
    }
    out->u.object.count = count;
    return NULL;
}
