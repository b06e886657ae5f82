/*
 * budget.c - measuring an operation before it runs (see budget.h).
 *
 * The walk follows the executor's view of the operation: fields are looked up on the
 * type their selection set is about, @skip and @include are honoured with the request's
 * variables, and a fragment spread counts the fragment's measure. It does not merge
 * fields of the same response name as execution does: a field written twice is counted
 * twice, which can only overestimate.
 *
 * A fragment's measure does not depend on where it is spread (its fields are looked up on
 * its own type condition, and the variables are the request's), so each is measured once
 * and remembered: a fragment spread twice in each of 16 nested fragments costs 2^16 times
 * its own cost, measured in 16 steps.
 */
#include "tenantql/budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/map.h"

struct tq_budget_schema {
    const tq_schema *schema;
    tq_arena arena;
    tq_map sizes; /* field definition (pointer bytes) -> tq_budget_list_size */
};

const char *tq_budget_limit_name(tq_budget_limit limit)
{
    static const char *const names[TQ_LIMIT_COUNT_] = {"depth", "fields", "aliases", "cost"};
    return (unsigned)limit < TQ_LIMIT_COUNT_ ? names[limit] : "?";
}

/* ---- saturating arithmetic ---- */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a >= TQ_BUDGET_SATURATED - b ? TQ_BUDGET_SATURATED : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    if (a == 0 || b == 0)
        return 0;
    return a > TQ_BUDGET_SATURATED / b ? TQ_BUDGET_SATURATED : a * b;
}

/* ---- list sizes of a schema ---- */

static bool is_list(const tq_type_ref *t)
{
    if (t->kind == TQ_GQL_TYPE_NON_NULL)
        t = t->of;
    return t->kind == TQ_GQL_TYPE_LIST;
}

static void put_size(tq_budget_schema *bs, const tq_schema_field *f, tq_budget_list_size size)
{
    tq_budget_list_size *copy = tq_arena_alloc(&bs->arena, sizeof(*copy));
    *copy = size;
    const tq_schema_field **key = tq_arena_alloc(&bs->arena, sizeof(*key));
    *key = f;
    tq_map_put(&bs->sizes, key, sizeof(*key), copy);
}

static const tq_schema_field *field_at(const tq_schema *s, const char *type, const char *field)
{
    const tq_schema_type *t = tq_schema_find_type(s, type, strlen(type));
    return t != NULL ? tq_schema_find_field(t, field, strlen(field)) : NULL;
}

/* The introspection lists, by the largest size each takes in this schema. */
static void introspection_sizes(tq_budget_schema *bs)
{
    const tq_schema *s = bs->schema;
    uint32_t fields = 0, interfaces = 0, possible = 0, values = 0, inputs = 0, field_args = 0, dir_args = 0, locs = 0;
    for (uint32_t i = 0; i < s->nlisted_types; i++) {
        const tq_schema_type *t = s->listed_types[i];
        fields = t->nfields > fields ? t->nfields : fields;
        interfaces = t->ninterfaces > interfaces ? t->ninterfaces : interfaces;
        possible = t->npossible > possible ? t->npossible : possible;
        values = t->nvalues > values ? t->nvalues : values;
        inputs = t->ninput_fields > inputs ? t->ninput_fields : inputs;
        for (uint32_t j = 0; j < t->nfields; j++)
            field_args = t->fields[j].nargs > field_args ? t->fields[j].nargs : field_args;
    }
    for (uint32_t i = 0; i < s->ndirectives; i++) {
        dir_args = s->directives[i]->nargs > dir_args ? s->directives[i]->nargs : dir_args;
        locs = s->directives[i]->nlocation_list > locs ? s->directives[i]->nlocation_list : locs;
    }
    const struct {
        const char *type, *field;
        uint32_t size;
    } lists[] = {
        {"__Schema", "types", s->nlisted_types},
        {"__Schema", "directives", s->ndirectives},
        {"__Type", "fields", fields},
        {"__Type", "interfaces", interfaces},
        {"__Type", "possibleTypes", possible},
        {"__Type", "enumValues", values},
        {"__Type", "inputFields", inputs},
        {"__Field", "args", field_args},
        {"__Directive", "args", dir_args},
        {"__Directive", "locations", locs},
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const tq_schema_field *f = field_at(s, lists[i].type, lists[i].field);
        if (f != NULL)
            put_size(bs, f, (tq_budget_list_size){NULL, TQ_BUDGET_SIZE_FIXED, NULL, lists[i].size, lists[i].size});
    }
}

static int table_sizes(tq_budget_schema *bs, const tq_budget_list_size *sizes, char *err, size_t errlen)
{
    for (const tq_budget_list_size *z = sizes; z != NULL && z->coordinate != NULL; z++) {
        const char *dot = strchr(z->coordinate, '.');
        const tq_schema_type *t = dot ? tq_schema_find_type(bs->schema, z->coordinate, (size_t)(dot - z->coordinate))
                                      : NULL;
        const tq_schema_field *f = t ? tq_schema_find_field(t, dot + 1, strlen(dot + 1)) : NULL;
        if (f == NULL) {
            snprintf(err, errlen, "budget: %s is not a field of the schema", z->coordinate);
            return -1;
        }
        put_size(bs, f, *z);
    }
    return 0;
}

/* Every list field has a size: a list the budget did not know would cost 1. */
static int check_sizes(const tq_budget_schema *bs, char *err, size_t errlen)
{
    const tq_schema *s = bs->schema;
    for (uint32_t i = 0; i < s->ntypes; i++) {
        const tq_schema_type *t = s->types[i];
        if (t->kind != TQ_TYPE_OBJECT && t->kind != TQ_TYPE_INTERFACE)
            continue;
        for (uint32_t j = 0; j < t->nfields; j++) {
            const tq_schema_field *f = &t->fields[j];
            if (is_list(f->type) && tq_map_get(&bs->sizes, &f, sizeof(f)) == NULL) {
                snprintf(err, errlen, "budget: the list field %s.%s has no size (see tq_api_list_sizes)", t->name,
                         f->name);
                return -1;
            }
        }
    }
    return 0;
}

tq_budget_schema *tq_budget_schema_new(const tq_schema *s, const tq_budget_list_size *sizes, char *err, size_t errlen)
{
    tq_budget_schema *bs = calloc(1, sizeof(*bs));
    if (bs == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bs->schema = s;
    tq_arena_init(&bs->arena, 4096);
    tq_map_init(&bs->sizes, &bs->arena);
    introspection_sizes(bs);
    if (table_sizes(bs, sizes, err, errlen) != 0 || check_sizes(bs, err, errlen) != 0) {
        tq_budget_schema_free(bs);
        return NULL;
    }
    return bs;
}

void tq_budget_schema_free(tq_budget_schema *bs)
{
    if (bs == NULL)
        return;
    tq_arena_free(&bs->arena);
    free(bs);
}

/* ---- the request's values ---- */

typedef struct measuring {
    const tq_budget_schema *bs;
    const tq_gql_document *doc;
    const tq_gql_operation *op;
    const json_t *vars;
    tq_arena *a;
    tq_map fragments; /* name -> fragment_memo, made at the first spread */
    bool indexed;
} measuring;

enum { MEMO_NEW, MEMO_BUSY, MEMO_DONE };

typedef struct fragment_memo {
    const tq_gql_fragment *f;
    int state;
    tq_budget_measure m;
} fragment_memo;

static const tq_gql_variable_def *variable_def(const measuring *ms, tq_str name)
{
    for (uint32_t i = 0; i < ms->op->nvars; i++)
        if (tq_str_equal(ms->op->vars[i].name, name))
            return &ms->op->vars[i];
    return NULL;
}

/* What an argument (or directive argument) is given as, after variables: *json when a
 * variable holds it, else *lit (the literal, the variable's default or the argument's
 * default); both NULL when it is not given at all. */
static void argument_value(const measuring *ms, const tq_gql_argument *args, uint32_t nargs, const char *name,
                           const tq_input_value *def, const tq_gql_value **lit, const json_t **json)
{
    *lit = NULL;
    *json = NULL;
    for (uint32_t i = 0; i < nargs; i++)
        if (tq_str_eq(args[i].name, name, (uint32_t)strlen(name)))
            *lit = args[i].value;
    if (*lit != NULL && (*lit)->kind == TQ_GQL_VALUE_VARIABLE) {
        tq_str var = (*lit)->u.str;
        *json = ms->vars != NULL ? json_object_getn(ms->vars, var.s, var.len) : NULL;
        if (*json != NULL) {
            *lit = NULL;
            return;
        }
        const tq_gql_variable_def *vd = variable_def(ms, var);
        *lit = vd != NULL ? vd->default_value : NULL;
    }
    if (*lit == NULL && def != NULL)
        *lit = def->default_literal;
}

/* The value of argument `name` of field f at sel: its literal, its variable's JSON, or its
 * default (see argument_value). */
static void field_argument(const measuring *ms, const tq_gql_selection *sel, const tq_schema_field *f,
                           const char *name, const tq_gql_value **lit, const json_t **json)
{
    const tq_input_value *def = NULL;
    for (uint32_t i = 0; i < f->nargs; i++)
        if (strcmp(f->args[i].name, name) == 0)
            def = &f->args[i];
    argument_value(ms, sel->args, sel->nargs, name, def, lit, json);
}

/* An integer argument; false when it is absent or not an integer. */
static bool int_argument(const measuring *ms, const tq_gql_selection *sel, const tq_schema_field *f, const char *name,
                         int64_t *out)
{
    const tq_gql_value *lit;
    const json_t *json;
    field_argument(ms, sel, f, name, &lit, &json);
    if (json != NULL) {
        if (json_is_integer(json)) {
            *out = (int64_t)json_integer_value(json);
            return true;
        }
        double d = json_is_real(json) ? json_real_value(json) : 0.5;
        if (d != (double)(int64_t)d)
            return false;
        *out = (int64_t)d;
        return true;
    }
    if (lit == NULL || lit->kind != TQ_GQL_VALUE_INT)
        return false;
    *out = strtoll(lit->u.str.s, NULL, 10);
    return true;
}

/* The number of items of a list argument (a single value is a list of one). */
static uint64_t length_argument(const measuring *ms, const tq_gql_selection *sel, const tq_schema_field *f,
                                const char *name)
{
    const tq_gql_value *lit;
    const json_t *json;
    field_argument(ms, sel, f, name, &lit, &json);
    if (json != NULL)
        return json_is_array(json) ? json_array_size(json) : json_is_null(json) ? 0 : 1;
    if (lit == NULL || lit->kind == TQ_GQL_VALUE_NULL)
        return 0;
    return lit->kind == TQ_GQL_VALUE_LIST ? lit->u.list.count : 1;
}

/* How many items field f can return here: its selections are measured once and paid
 * for this many times. A value the budget cannot read counts as the most the field
 * takes (the request then fails anyway, when its variables are coerced). */
static uint64_t list_items(const measuring *ms, const tq_gql_selection *sel, const tq_schema_field *f)
{
    if (f == NULL)
        return 1;
    const tq_schema_field *key = f;
    const tq_budget_list_size *z = tq_map_get(&ms->bs->sizes, &key, sizeof(key));
    if (z == NULL)
        return 1; /* not a list (tq_budget_schema_new makes sure every list has a size) */
    switch (z->kind) {
    case TQ_BUDGET_SIZE_ARG: {
        int64_t n;
        if (!int_argument(ms, sel, f, z->arg, &n) || n > (int64_t)z->max)
            n = z->max;
        return n < 0 ? 0 : sat_mul((uint64_t)n, z->factor);
    }
    case TQ_BUDGET_SIZE_LENGTH: {
        uint64_t n = length_argument(ms, sel, f, z->arg);
        return n > z->max ? z->max : n;
    }
    default:
        return z->factor;
    }
}

/* The boolean `if` of @skip or @include; false when it cannot be read. */
static bool directive_if(const measuring *ms, const tq_gql_directive *d, bool *value)
{
    const tq_gql_value *lit;
    const json_t *json;
    argument_value(ms, d->args, d->nargs, "if", NULL, &lit, &json);
    if (json != NULL && json_is_boolean(json)) {
        *value = json_is_true(json);
        return true;
    }
    if (json == NULL && lit != NULL && lit->kind == TQ_GQL_VALUE_BOOLEAN) {
        *value = lit->u.boolean;
        return true;
    }
    return false;
}

/* Execution leaves it out: @skip(if: true) or @include(if: false). */
static bool skipped(const measuring *ms, const tq_gql_selection *sel)
{
    for (uint32_t i = 0; i < sel->ndirectives; i++) {
        bool v;
        const tq_gql_directive *d = &sel->directives[i];
        if (TQ_STR_EQ_LIT(d->name, "skip") && directive_if(ms, d, &v) && v)
            return true;
        if (TQ_STR_EQ_LIT(d->name, "include") && directive_if(ms, d, &v) && !v)
            return true;
    }
    return false;
}

/* ---- the walk ---- */

static tq_budget_measure measure_set(measuring *ms, const tq_gql_selection_set *set, const tq_schema_type *parent);

/* Adds one selection's measure to a selection set's: depth is the deepest, the rest add up. */
static void add_measure(tq_budget_measure *total, const tq_budget_measure *m)
{
    if (m->value[TQ_LIMIT_DEPTH] > total->value[TQ_LIMIT_DEPTH])
        total->value[TQ_LIMIT_DEPTH] = m->value[TQ_LIMIT_DEPTH];
    for (int i = TQ_LIMIT_FIELDS; i < TQ_LIMIT_COUNT_; i++)
        total->value[i] = sat_add(total->value[i], m->value[i]);
}

static const tq_schema_type *named_type(const tq_type_ref *t)
{
    while (t != NULL && t->kind != TQ_GQL_TYPE_NAMED)
        t = t->of;
    return t != NULL ? t->named : NULL;
}

static tq_budget_measure measure_field(measuring *ms, const tq_gql_selection *sel, const tq_schema_type *parent)
{
    const tq_schema_field *f = NULL;
    if (parent != NULL && !TQ_STR_EQ_LIT(sel->name, "__typename"))
        f = tq_schema_field_of(ms->bs->schema, parent, sel->name.s, sel->name.len);
    tq_budget_measure sub = {{0}};
    if (sel->selection_set.count > 0)
        sub = measure_set(ms, &sel->selection_set, f != NULL ? named_type(f->type) : NULL);
    tq_budget_measure m;
    m.value[TQ_LIMIT_DEPTH] = sat_add(sub.value[TQ_LIMIT_DEPTH], 1);
    m.value[TQ_LIMIT_FIELDS] = sat_add(sub.value[TQ_LIMIT_FIELDS], 1);
    m.value[TQ_LIMIT_ALIASES] = sat_add(sub.value[TQ_LIMIT_ALIASES], sel->alias.len > 0);
    m.value[TQ_LIMIT_COST] = sat_add(sat_mul(sub.value[TQ_LIMIT_COST], list_items(ms, sel, f)), 1);
    return m;
}

static const tq_schema_type *condition_type(const measuring *ms, tq_str condition, const tq_schema_type *parent)
{
    return condition.len > 0 ? tq_schema_find_type(ms->bs->schema, condition.s, condition.len) : parent;
}

/* The fragment's measure, remembered for the whole request. A fragment spread within
 * itself (validation refuses it) counts nothing the second time. */
static tq_budget_measure measure_fragment(measuring *ms, tq_str name)
{
    tq_budget_measure none = {{0}};
    if (!ms->indexed) {
        ms->indexed = true;
        for (uint32_t i = 0; i < ms->doc->count; i++) {
            const tq_gql_definition *d = &ms->doc->defs[i];
            bool existed;
            if (d->kind != TQ_GQL_DEF_FRAGMENT)
                continue;
            void **slot = tq_map_slot_for(&ms->fragments, d->u.fragment.name.s, d->u.fragment.name.len, &existed);
            if (!existed) { /* the first of a name, as the executor takes it */
                fragment_memo *memo = tq_arena_calloc(ms->a, 1, sizeof(*memo));
                memo->f = &d->u.fragment;
                *slot = memo;
            }
        }
    }
    fragment_memo *memo = tq_map_get(&ms->fragments, name.s, name.len);
    if (memo == NULL || memo->state == MEMO_BUSY)
        return none;
    if (memo->state == MEMO_NEW) {
        memo->state = MEMO_BUSY;
        memo->m = measure_set(ms, &memo->f->selection_set, condition_type(ms, memo->f->type_condition, NULL));
        memo->state = MEMO_DONE;
    }
    return memo->m;
}

static tq_budget_measure measure_set(measuring *ms, const tq_gql_selection_set *set, const tq_schema_type *parent)
{
    tq_budget_measure total = {{0}};
    for (uint32_t i = 0; i < set->count; i++) {
        const tq_gql_selection *sel = &set->items[i];
        if (skipped(ms, sel))
            continue;
        tq_budget_measure m;
        if (sel->kind == TQ_GQL_SEL_FIELD)
            m = measure_field(ms, sel, parent);
        else if (sel->kind == TQ_GQL_SEL_INLINE_FRAGMENT)
            m = measure_set(ms, &sel->selection_set, condition_type(ms, sel->type_condition, parent));
        else
            m = measure_fragment(ms, sel->name);
        add_measure(&total, &m);
    }
    return total;
}

tq_budget_measure tq_budget_measure_operation(const tq_budget_schema *bs, const tq_gql_document *doc,
                                              const tq_gql_operation *op, const json_t *variables, tq_arena *a)
{
    measuring ms = {bs, doc, op, json_is_object(variables) ? variables : NULL, a, {0}, false};
    tq_map_init(&ms.fragments, a);
    const tq_schema *s = bs->schema;
    const tq_schema_type *root = op->type == TQ_GQL_OP_QUERY      ? s->query
                                 : op->type == TQ_GQL_OP_MUTATION ? s->mutation
                                                                  : s->subscription;
    return measure_set(&ms, &op->selection_set, root);
}
