/*
 * validate.c - document validation (spec section 5): the walk over the document and
 * every rule except the value rules (validate_values.c) and field merging
 * (validate_overlap.c).
 *
 * graphql-js runs its 26 rules as one parallel visitor, so the order of its errors is
 * the order in which nodes are entered and left, and at one node the order of the rules
 * in specifiedRules. The walk below enters and leaves nodes in the same order and at
 * each one applies the rules in that order; the comments name the rules. The state
 * graphql-js's TypeInfo keeps on stacks is passed down as arguments here.
 *
 * Variable usages, fragment spreads and the fragments an operation reaches are
 * computed in graphql-js's order (a LIFO worklist, not document order) because errors
 * are reported in it.
 *
 * Bounds: names are found through maps wherever a client chooses how many there are
 * (arguments, directives, variables, definitions in the document), so each rule is
 * linear in the document. What is not - each operation's fragments and variable uses,
 * over a document with many operations sharing many fragments - spends from the
 * validation's budget (tq_vspend).
 */
#include <string.h>

#include "validate_internal.h"

/* ---- fragments ---- */

typedef struct sel_list {
    const tq_gql_selection **items;
    uint32_t n, cap;
    const tq_gql_selection_set *set;  /* whose spreads these are: the key in the cache */
} sel_list;

typedef struct set_stack {
    const tq_gql_selection_set **items;
    uint32_t n, cap;
} set_stack;

/* getFragmentSpreads: the spreads of a selection set, nested ones included, in
 * graphql-js's worklist order. Cached per selection set. */
static const sel_list *fragment_spreads(tq_vctx *v, tq_map *cache, const tq_gql_selection_set *set)
{
    sel_list *out = tq_map_get(cache, &set, sizeof(set));
    if (out != NULL)
        return out;
    out = tq_arena_calloc(v->ar, 1, sizeof(*out));
    out->set = set;
    bool existed;
    *tq_vmap_slot(v->ar, cache, &out->set, sizeof(out->set), &existed) = out;
    set_stack todo = {0};
    TQ_VEC_PUSH(v->ar, todo.items, todo.n, todo.cap, set);
    while (todo.n > 0) {
        const tq_gql_selection_set *s = todo.items[--todo.n];
        for (uint32_t i = 0; i < s->count; i++) {
            const tq_gql_selection *sel = &s->items[i];
            if (sel->kind == TQ_GQL_SEL_FRAGMENT_SPREAD)
                TQ_VEC_PUSH(v->ar, out->items, out->n, out->cap, sel);
            else if (sel->selection_set.count > 0)
                TQ_VEC_PUSH(v->ar, todo.items, todo.n, todo.cap, &sel->selection_set);
        }
    }
    return out;
}

typedef struct frag_list {
    const tq_gql_fragment **items;
    uint32_t n, cap;
    const tq_gql_operation *op;       /* the operation reaching them: the key in the cache */
} frag_list;

/* ---- per-validation state of the walk ---- */

typedef struct var_usage {
    const tq_gql_value *var;
    const tq_type_ref *type;  /* of the position; NULL when unknown */
    bool has_default;         /* the position (argument, input field) has a default value */
} var_usage;

typedef struct usage_list {
    var_usage *items;
    uint32_t n, cap;
    const void *def;          /* the operation or fragment they are in: the key in the cache */
} usage_list;

typedef struct walk {
    tq_vctx *v;
    tq_map spreads;           /* selection set -> sel_list */
    tq_map reached;           /* operation -> frag_list of the fragments it reaches */
    tq_map usages;            /* operation or fragment -> usage_list */
    tq_map op_names;          /* UniqueOperationNames: name -> the first operation of that name */
    tq_map frag_names;        /* UniqueFragmentNames: name -> the first fragment of that name */
    tq_map cycle_visited;     /* NoFragmentCycles: names of the fragments visited */
    tq_map cycle_index;       /* name -> 1 + its place in cycle_path, while on it */
    sel_list cycle_path;
    uint32_t noperations;
    bool doc_has_type_system;
    tq_map doc_directives; /* name -> the last directive definition of the document */
    tq_map doc_types;      /* names of the types the document defines (not extensions) */
} walk;

/* getRecursivelyReferencedFragments */
static const frag_list *reached_fragments(walk *w, const tq_gql_operation *op)
{
    tq_vctx *v = w->v;
    frag_list *out = tq_map_get(&w->reached, &op, sizeof(op));
    if (out != NULL)
        return out;
    out = tq_arena_calloc(v->ar, 1, sizeof(*out));
    out->op = op;
    bool existed;
    *tq_vmap_slot(v->ar, &w->reached, &out->op, sizeof(out->op), &existed) = out;
    tq_map collected = {0};
    set_stack todo = {0};
    TQ_VEC_PUSH(v->ar, todo.items, todo.n, todo.cap, &op->selection_set);
    while (todo.n > 0 && tq_vspend(v, 1)) {
        const sel_list *spreads = fragment_spreads(v, &w->spreads, todo.items[--todo.n]);
        if (!tq_vspend(v, spreads->n))
            break;
        for (uint32_t i = 0; i < spreads->n; i++) {
            if (!tq_vset_add(v->ar, &collected, spreads->items[i]->name))
                continue;
            const tq_gql_fragment *f = tq_vfragment_named(v, spreads->items[i]->name);
            if (f != NULL) {
                TQ_VEC_PUSH(v->ar, out->items, out->n, out->cap, f);
                TQ_VEC_PUSH(v->ar, todo.items, todo.n, todo.cap, &f->selection_set);
            }
        }
    }
    return out;
}

/* ---- variable usages (ValidationContext.getVariableUsages) ---- */

static const tq_schema_type *output_type(const tq_schema_type *t)
{
    return t != NULL && t->kind != TQ_TYPE_INPUT_OBJECT ? t : NULL;
}

static const tq_input_value *find_arg(const tq_input_value *args, uint32_t n, tq_str name)
{
    for (uint32_t i = 0; i < n; i++)
        if (strlen(args[i].name) == name.len && memcmp(args[i].name, name.s, name.len) == 0)
            return &args[i];
    return NULL;
}

static const tq_input_value *find_input_field(const tq_schema_type *t, tq_str name)
{
    return find_arg(t->input_fields, t->ninput_fields, name);
}

static void usages_in_value(walk *w, usage_list *out, const tq_gql_value *val, const tq_type_ref *type, bool has_default)
{
    tq_vctx *v = w->v;
    if (val->kind == TQ_GQL_VALUE_VARIABLE) {
        var_usage u = {val, type, has_default};
        TQ_VEC_PUSH(v->ar, out->items, out->n, out->cap, u);
    } else if (val->kind == TQ_GQL_VALUE_LIST) {
        const tq_type_ref *nn = type != NULL && type->kind == TQ_GQL_TYPE_NON_NULL ? type->of : type;
        const tq_type_ref *item = nn != NULL && nn->kind == TQ_GQL_TYPE_LIST ? nn->of : nn;
        for (uint32_t i = 0; i < val->u.list.count; i++)
            usages_in_value(w, out, val->u.list.items[i], item, false);
    } else if (val->kind == TQ_GQL_VALUE_OBJECT) {
        const tq_schema_type *it = tq_vnamed(type);
        for (uint32_t i = 0; i < val->u.object.count; i++) {
            const tq_gql_object_field *f = &val->u.object.fields[i];
            const tq_input_value *def = it != NULL && it->kind == TQ_TYPE_INPUT_OBJECT ? find_input_field(it, f->name) : NULL;
            usages_in_value(w, out, f->value, def ? def->type : NULL, def != NULL && def->default_literal != NULL);
        }
    }
}

/* Arguments of a field or directive; TypeInfo types them by the directive when the
 * schema knows it, otherwise by the innermost enclosing field. */
static void usages_in_args(walk *w, usage_list *out, const tq_gql_argument *args, uint32_t nargs,
                           const tq_input_value *defs, uint32_t ndefs)
{
    for (uint32_t i = 0; i < nargs; i++) {
        const tq_input_value *def = defs != NULL ? find_arg(defs, ndefs, args[i].name) : NULL;
        usages_in_value(w, out, args[i].value, def ? def->type : NULL, def != NULL && def->default_literal != NULL);
    }
}

static void usages_in_directives(walk *w, usage_list *out, const tq_gql_directive *dirs, uint32_t n,
                                 const tq_schema_field *enclosing)
{
    for (uint32_t i = 0; i < n; i++) {
        const tq_schema_directive *sd = tq_schema_find_directive(w->v->schema, dirs[i].name.s, dirs[i].name.len);
        if (sd != NULL)
            usages_in_args(w, out, dirs[i].args, dirs[i].nargs, sd->args, sd->nargs);
        else
            usages_in_args(w, out, dirs[i].args, dirs[i].nargs, enclosing ? enclosing->args : NULL,
                           enclosing ? enclosing->nargs : 0);
    }
}

static void usages_in_set(walk *w, usage_list *out, const tq_gql_selection_set *set, const tq_schema_type *cur,
                          const tq_schema_field *enclosing)
{
    const tq_schema_type *parent = tq_vis_composite(cur) ? cur : NULL;
    for (uint32_t i = 0; i < set->count; i++) {
        const tq_gql_selection *sel = &set->items[i];
        if (sel->kind == TQ_GQL_SEL_FIELD) {
            const tq_schema_field *def = tq_vfield_def(w->v, parent, sel->name);
            usages_in_args(w, out, sel->args, sel->nargs, def ? def->args : NULL, def ? def->nargs : 0);
            usages_in_directives(w, out, sel->directives, sel->ndirectives, def);
            if (sel->selection_set.count > 0)
                usages_in_set(w, out, &sel->selection_set, def ? tq_vnamed(def->type) : NULL, def);
        } else if (sel->kind == TQ_GQL_SEL_FRAGMENT_SPREAD) {
            usages_in_directives(w, out, sel->directives, sel->ndirectives, enclosing);
        } else {
            usages_in_directives(w, out, sel->directives, sel->ndirectives, enclosing);
            const tq_schema_type *t = sel->type_condition.len ? tq_vfind_type(w->v, sel->type_condition) : cur;
            usages_in_set(w, out, &sel->selection_set, output_type(t), enclosing);
        }
    }
}

static const tq_schema_type *root_type(const tq_schema *s, tq_gql_operation_type t)
{
    return t == TQ_GQL_OP_QUERY ? s->query : t == TQ_GQL_OP_MUTATION ? s->mutation : s->subscription;
}

static const usage_list *usages_of(walk *w, const void *def_key, const tq_gql_operation *op, const tq_gql_fragment *frag)
{
    usage_list *out = tq_map_get(&w->usages, &def_key, sizeof(def_key));
    if (out != NULL)
        return out;
    out = tq_arena_calloc(w->v->ar, 1, sizeof(*out));
    out->def = def_key;
    bool existed;
    *tq_vmap_slot(w->v->ar, &w->usages, &out->def, sizeof(out->def), &existed) = out;
    if (op != NULL) {
        usages_in_directives(w, out, op->directives, op->ndirectives, NULL);
        usages_in_set(w, out, &op->selection_set, root_type(w->v->schema, op->type), NULL);
    } else {
        usages_in_directives(w, out, frag->directives, frag->ndirectives, NULL);
        usages_in_set(w, out, &frag->selection_set, output_type(tq_vfind_type(w->v, frag->type_condition)), NULL);
    }
    return out;
}

/* getRecursiveVariableUsages: the operation's own, then each reached fragment's. */
static usage_list recursive_usages(walk *w, const tq_gql_operation *op)
{
    usage_list all = {0};
    const usage_list *own = usages_of(w, op, op, NULL);
    for (uint32_t i = 0; i < own->n; i++)
        TQ_VEC_PUSH(w->v->ar, all.items, all.n, all.cap, own->items[i]);
    const frag_list *frags = reached_fragments(w, op);
    for (uint32_t f = 0; f < frags->n; f++) {
        const usage_list *u = usages_of(w, frags->items[f], NULL, frags->items[f]);
        if (!tq_vspend(w->v, u->n))
            break;
        for (uint32_t i = 0; i < u->n; i++)
            TQ_VEC_PUSH(w->v->ar, all.items, all.n, all.cap, u->items[i]);
    }
    return all;
}

/* ---- directives: the schema's, overridden by definitions in the document ---- */

typedef struct dir_info {
    bool known;
    uint32_t locations;
    bool repeatable;
    const tq_schema_directive *sd;
    const tq_gql_directive_def *dd;
} dir_info;

static uint32_t location_bits(const tq_gql_directive_def *dd)
{
    uint32_t bits = 0;
    for (uint32_t i = 0; i < dd->nlocations; i++)
        for (int l = 0; l < TQ_DLOC_COUNT_; l++)
            if (strcmp(tq_directive_location_name((tq_directive_location)l), dd->locations[i].s) == 0)
                bits |= 1u << l;
    return bits;
}

static dir_info directive_info(walk *w, tq_str name)
{
    dir_info info = {0};
    const tq_gql_directive_def *dd = tq_vmap_get_name(&w->doc_directives, name);
    if (dd != NULL) {
        info.known = true;
        info.dd = dd;
        info.locations = location_bits(info.dd);
        info.repeatable = info.dd->repeatable;
        return info;
    }
    info.sd = tq_schema_find_directive(w->v->schema, name.s, name.len);
    if (info.sd != NULL) {
        info.known = true;
        info.locations = info.sd->locations;
        info.repeatable = info.sd->repeatable;
    }
    return info;
}

static bool directive_has_arg(tq_vctx *v, const dir_info *info, tq_str name)
{
    if (info->sd != NULL)
        return find_arg(info->sd->args, info->sd->nargs, name) != NULL;
    /* a directive defined in the document (not executable: already an error) */
    if (!tq_vspend(v, info->dd->nargs))
        return true;
    for (uint32_t i = 0; i < info->dd->nargs; i++)
        if (tq_str_equal(info->dd->args[i].name, name))
            return true;
    return false;
}

/* ---- rules on lists of names ---- */

static bool args_have(const tq_gql_argument *args, uint32_t n, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < n; i++)
        if (tq_str_eq(args[i].name, name, (uint32_t)len))
            return true;
    return false;
}

/* Names and locations, for the rules on repeated names. */
typedef struct named_loc {
    tq_str name;
    tq_gql_loc loc;
} named_loc;

typedef struct repeated {
    tq_gql_loc *locs;
    uint32_t n, cap;
} repeated;

/* One error per repeated name, at every occurrence, in the order the names first
 * appear (UniqueArgumentNames, UniqueVariableNames): "There can be only one <what> named
 * "<sigil><name>"." Few names are compared pairwise, many go through a map. */
static void repeated_names(tq_vctx *v, const named_loc *items, uint32_t n, const char *what, const char *sigil)
{
    if (n < 2)
        return;
    repeated *groups = tq_arena_calloc(v->ar, n, sizeof(*groups));
    uint32_t *group_of = tq_arena_alloc(v->ar, n * sizeof(*group_of));
    uint32_t ngroups = 0;
    tq_map first = {0}; /* name -> 1 + its group */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t g = ngroups;
        if (n <= 8) {
            for (uint32_t j = 0; j < i && g == ngroups; j++)
                if (tq_str_equal(items[j].name, items[i].name))
                    g = group_of[j];
        } else {
            bool existed;
            void **slot = tq_vmap_slot(v->ar, &first, items[i].name.s, items[i].name.len, &existed);
            if (existed)
                g = (uint32_t)(uintptr_t)*slot - 1;
            else
                *slot = (void *)(uintptr_t)(ngroups + 1);
        }
        if (g == ngroups)
            ngroups++;
        group_of[i] = g;
        TQ_VEC_PUSH(v->ar, groups[g].locs, groups[g].n, groups[g].cap, items[i].loc);
    }
    for (uint32_t g = 0, i = 0; g < ngroups && !v->stopped; g++) {
        while (group_of[i] != g)
            i++; /* the group's first item: groups are numbered in order of first appearance */
        if (groups[g].n > 1)
            tq_vreport(
                v, tq_arena_sprintf(v->ar, "There can be only one %s named \"%s%s\".", what, sigil, items[i].name.s),
                groups[g].locs, groups[g].n);
    }
}

/* UniqueArgumentNames */
static void unique_argument_names(tq_vctx *v, const tq_gql_argument *args, uint32_t n)
{
    if (n < 2)
        return;
    named_loc *items = tq_arena_alloc(v->ar, n * sizeof(*items));
    for (uint32_t i = 0; i < n; i++)
        items[i] = (named_loc){args[i].name, args[i].loc};
    repeated_names(v, items, n, "argument", "");
}

/* UniqueDirectivesPerLocation, applied when the node carrying the directives is entered:
 * each repetition of a known, non-repeatable directive with its first occurrence. */
static void unique_directives(walk *w, const tq_gql_directive *dirs, uint32_t n)
{
    tq_map first = {0}; /* many directives: name -> 1 + its first occurrence */
    for (uint32_t i = 0; i < n && !w->v->stopped; i++) {
        uint32_t j = i;
        if (n <= 8) {
            for (uint32_t k = 0; k < i && j == i; k++)
                if (tq_str_equal(dirs[k].name, dirs[i].name))
                    j = k;
        } else {
            bool existed;
            void **slot = tq_vmap_slot(w->v->ar, &first, dirs[i].name.s, dirs[i].name.len, &existed);
            if (existed)
                j = (uint32_t)(uintptr_t)*slot - 1;
            else
                *slot = (void *)(uintptr_t)(i + 1);
        }
        if (j == i)
            continue;
        dir_info info = directive_info(w, dirs[i].name);
        if (!info.known || info.repeatable)
            continue;
        tq_gql_loc locs[2] = {dirs[j].loc, dirs[i].loc};
        tq_vreport(
            w->v,
            tq_arena_sprintf(w->v->ar, "The directive \"@%s\" can only be used once at this location.", dirs[i].name.s),
            locs, 2);
    }
}

/* ---- directives ---- */

static void provided_directive_args(walk *w, const tq_gql_directive *d, const dir_info *info)
{
    tq_vctx *v = w->v;
    if (info->sd != NULL) {
        for (uint32_t i = 0; i < info->sd->nargs; i++) {
            const tq_input_value *a = &info->sd->args[i];
            if (a->type->kind == TQ_GQL_TYPE_NON_NULL && a->default_literal == NULL && !args_have(d->args, d->nargs, a->name))
                tq_vreport1(v, d->loc, "Directive \"@%s\" argument \"%s\" of type \"%s\" is required, but it was not provided.",
                            d->name.s, a->name, tq_vtype_text(v, a->type));
        }
        return;
    }
    if (!tq_vspend(v, (uint64_t)info->dd->nargs * d->nargs))
        return;
    for (uint32_t i = 0; i < info->dd->nargs; i++) {
        const tq_gql_input_value_def *a = &info->dd->args[i];
        if (a->type->kind == TQ_GQL_TYPE_NON_NULL && a->default_value == NULL && !args_have(d->args, d->nargs, a->name.s))
            tq_vreport1(v, d->loc, "Directive \"@%s\" argument \"%s\" of type \"%s\" is required, but it was not provided.",
                        d->name.s, a->name.s, tq_vast_type_text(v, a->type));
    }
}

static void visit_directive(walk *w, const tq_gql_directive *d, tq_directive_location where,
                            const tq_schema_field *enclosing)
{
    tq_vctx *v = w->v;
    dir_info info = directive_info(w, d->name);
    /* KnownDirectives */
    if (!info.known)
        tq_vreport1(v, d->loc, "Unknown directive \"@%s\".", d->name.s);
    else if ((info.locations & (1u << where)) == 0)
        tq_vreport1(v, d->loc, "Directive \"@%s\" may not be used on %s.", d->name.s, tq_directive_location_name(where));
    /* KnownArgumentNames (on directives) */
    for (uint32_t i = 0; info.known && i < d->nargs; i++)
        if (!directive_has_arg(v, &info, d->args[i].name))
            tq_vreport1(v, d->args[i].loc, "Unknown argument \"%s\" on directive \"@%s\".", d->args[i].name.s, d->name.s);
    unique_argument_names(v, d->args, d->nargs);
    /* ValuesOfCorrectType inside, typed as TypeInfo types them */
    const tq_schema_directive *sd = tq_schema_find_directive(v->schema, d->name.s, d->name.len);
    for (uint32_t i = 0; i < d->nargs && !v->stopped; i++) {
        const tq_input_value *def = sd != NULL ? find_arg(sd->args, sd->nargs, d->args[i].name)
                                    : enclosing != NULL ? find_arg(enclosing->args, enclosing->nargs, d->args[i].name)
                                                        : NULL;
        tq_vcheck_value(v, d->args[i].value, def ? def->type : NULL);
    }
    /* ProvidedRequiredArguments (on directives), on leave */
    if (info.known)
        provided_directive_args(w, d, &info);
}

static void visit_directives(walk *w, const tq_gql_directive *dirs, uint32_t n, tq_directive_location where,
                             const tq_schema_field *enclosing)
{
    for (uint32_t i = 0; i < n && !w->v->stopped; i++)
        visit_directive(w, &dirs[i], where, enclosing);
}

/* ---- types named in the document ---- */

static bool document_defines_type(walk *w, tq_str name)
{
    return tq_vmap_get_name(&w->doc_types, name) != NULL;
}

/* KnownTypeNames */
static void known_type_name(walk *w, tq_str name, tq_gql_loc loc)
{
    if (tq_vfind_type(w->v, name) == NULL && !document_defines_type(w, name))
        tq_vreport1(w->v, loc, "Unknown type \"%s\".", name.s);
}

static void visit_ast_type(walk *w, const tq_gql_type *t)
{
    while (t->kind != TQ_GQL_TYPE_NAMED)
        t = t->of_type;
    known_type_name(w, t->name, t->loc);
}

/* ---- selections ---- */

static bool types_overlap(const tq_schema_type *a, const tq_schema_type *b)
{
    if (a == b)
        return true;
    if (tq_vis_abstract(a)) {
        if (!tq_vis_abstract(b))
            return tq_vis_sub_type(a, b);
        for (uint32_t i = 0; i < a->npossible; i++)
            if (tq_vis_sub_type(b, a->possible[i]))
                return true;
        return false;
    }
    return tq_vis_abstract(b) && tq_vis_sub_type(b, a);
}

static void visit_selection_set(walk *w, const tq_gql_selection_set *set, const tq_schema_type *cur,
                                const tq_schema_field *enclosing);

static void provided_field_args(tq_vctx *v, const tq_gql_selection *sel, const tq_schema_field *def)
{
    for (uint32_t i = 0; i < def->nargs; i++) {
        const tq_input_value *a = &def->args[i];
        if (a->type->kind == TQ_GQL_TYPE_NON_NULL && a->default_literal == NULL && !args_have(sel->args, sel->nargs, a->name))
            tq_vreport1(v, sel->loc, "Field \"%s\" argument \"%s\" of type \"%s\" is required, but it was not provided.",
                        def->name, a->name, tq_vtype_text(v, a->type));
    }
}

static void visit_field(walk *w, const tq_gql_selection *sel, const tq_schema_type *parent)
{
    tq_vctx *v = w->v;
    const tq_schema_field *def = tq_vfield_def(v, parent, sel->name);
    const tq_type_ref *type = def != NULL ? def->type : NULL;
    bool has_set = sel->selection_set.count > 0;

    /* ScalarLeafs */
    if (type != NULL) {
        if (tq_vis_leaf(tq_vnamed(type))) {
            if (has_set)
                tq_vreport1(v, sel->selection_set.loc,
                            "Field \"%s\" must not have a selection since type \"%s\" has no subfields.", sel->name.s,
                            tq_vtype_text(v, type));
        } else if (!has_set) {
            tq_vreport1(v, sel->loc, "Field \"%s\" of type \"%s\" must have a selection of subfields. Did you mean \"%s { ... }\"?",
                        sel->name.s, tq_vtype_text(v, type), sel->name.s);
        }
    }
    /* FieldsOnCorrectType */
    if (parent != NULL && def == NULL)
        tq_vreport1(v, sel->loc, "Cannot query field \"%s\" on type \"%s\".", sel->name.s, parent->name);
    unique_directives(w, sel->directives, sel->ndirectives);
    unique_argument_names(v, sel->args, sel->nargs);
    for (uint32_t i = 0; i < sel->nargs && !v->stopped; i++) {
        const tq_input_value *adef = def != NULL ? find_arg(def->args, def->nargs, sel->args[i].name) : NULL;
        /* KnownArgumentNames */
        if (adef == NULL && def != NULL && parent != NULL)
            tq_vreport1(v, sel->args[i].loc, "Unknown argument \"%s\" on field \"%s.%s\".", sel->args[i].name.s,
                        parent->name, def->name);
        tq_vcheck_value(v, sel->args[i].value, adef ? adef->type : NULL);
    }
    visit_directives(w, sel->directives, sel->ndirectives, TQ_DLOC_FIELD, def);
    if (has_set)
        visit_selection_set(w, &sel->selection_set, tq_vnamed(type), def);
    /* ProvidedRequiredArguments, on leave */
    if (def != NULL && !v->stopped)
        provided_field_args(v, sel, def);
}

static void visit_spread(walk *w, const tq_gql_selection *sel, const tq_schema_type *parent,
                         const tq_schema_field *enclosing)
{
    tq_vctx *v = w->v;
    const tq_gql_fragment *f = tq_vfragment_named(v, sel->name);
    /* KnownFragmentNames */
    if (f == NULL)
        tq_vreport1(v, sel->name_loc, "Unknown fragment \"%s\".", sel->name.s);
    /* PossibleFragmentSpreads */
    const tq_schema_type *ft = f != NULL ? tq_vfind_type(v, f->type_condition) : NULL;
    if (tq_vis_composite(ft) && parent != NULL && !types_overlap(ft, parent))
        tq_vreport1(v, sel->loc, "Fragment \"%s\" cannot be spread here as objects of type \"%s\" can never be of type \"%s\".",
                    sel->name.s, parent->name, ft->name);
    unique_directives(w, sel->directives, sel->ndirectives);
    visit_directives(w, sel->directives, sel->ndirectives, TQ_DLOC_FRAGMENT_SPREAD, enclosing);
}

static void visit_inline(walk *w, const tq_gql_selection *sel, const tq_schema_type *parent, const tq_schema_type *cur,
                         const tq_schema_field *enclosing)
{
    tq_vctx *v = w->v;
    bool has_condition = sel->type_condition.len > 0;
    const tq_schema_type *named = has_condition ? tq_vfind_type(v, sel->type_condition) : cur;
    const tq_schema_type *ft = output_type(named);
    /* FragmentsOnCompositeTypes */
    if (has_condition && named != NULL && !tq_vis_composite(named))
        tq_vreport1(v, sel->type_condition_loc, "Fragment cannot condition on non composite type \"%s\".", named->name);
    /* PossibleFragmentSpreads */
    if (tq_vis_composite(ft) && parent != NULL && !types_overlap(ft, parent))
        tq_vreport1(v, sel->loc, "Fragment cannot be spread here as objects of type \"%s\" can never be of type \"%s\".",
                    parent->name, ft->name);
    unique_directives(w, sel->directives, sel->ndirectives);
    if (has_condition)
        known_type_name(w, sel->type_condition, sel->type_condition_loc);
    visit_directives(w, sel->directives, sel->ndirectives, TQ_DLOC_INLINE_FRAGMENT, enclosing);
    visit_selection_set(w, &sel->selection_set, ft, enclosing);
}

/* cur: the named type of the enclosing field, fragment or operation (TypeInfo's
 * getNamedType(getType())), which may be a leaf or NULL. */
static void visit_selection_set(walk *w, const tq_gql_selection_set *set, const tq_schema_type *cur,
                                const tq_schema_field *enclosing)
{
    const tq_schema_type *parent = tq_vis_composite(cur) ? cur : NULL;
    if (w->v->stopped)
        return;
    tq_voverlap_check(w->v, parent, set);
    for (uint32_t i = 0; i < set->count && !w->v->stopped; i++) {
        const tq_gql_selection *sel = &set->items[i];
        if (sel->kind == TQ_GQL_SEL_FIELD)
            visit_field(w, sel, parent);
        else if (sel->kind == TQ_GQL_SEL_FRAGMENT_SPREAD)
            visit_spread(w, sel, parent, enclosing);
        else
            visit_inline(w, sel, parent, cur, enclosing);
    }
}

/* ---- SingleFieldSubscriptions: the executor's CollectFields, without variables ---- */

typedef struct field_group {
    tq_str key;
    tq_gql_loc *locs;
    uint32_t n, cap;
    bool introspection;
} field_group;

typedef struct group_list {
    field_group *items;
    uint32_t n, cap;
    tq_map keys; /* response key -> 1 + index in items */
} group_list;

/* @skip(if: true) and @include(if: false) written as literals exclude; variables are
 * unknown at validation and count as included. */
static bool included(const tq_gql_directive *dirs, uint32_t n)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *name = pass == 0 ? "skip" : "include";
        for (uint32_t i = 0; i < n; i++) {
            if (!tq_str_eq(dirs[i].name, name, (uint32_t)strlen(name)))
                continue;
            for (uint32_t j = dirs[i].nargs; j-- > 0;) {
                if (TQ_STR_EQ_LIT(dirs[i].args[j].name, "if") && dirs[i].args[j].value->kind == TQ_GQL_VALUE_BOOLEAN) {
                    if (dirs[i].args[j].value->u.boolean == (pass == 0))
                        return false;
                    break;
                }
            }
            break;
        }
    }
    return true;
}

static bool condition_matches(tq_vctx *v, tq_str condition, const tq_schema_type *type)
{
    if (condition.len == 0)
        return true;
    const tq_schema_type *ct = tq_vfind_type(v, condition);
    if (ct == type)
        return true;
    return tq_vis_abstract(ct) && tq_vis_sub_type(ct, type);
}

static void collect_root_fields(tq_vctx *v, const tq_gql_selection_set *set, const tq_schema_type *type,
                                tq_map *visited, group_list *out)
{
    for (uint32_t i = 0; i < set->count; i++) {
        const tq_gql_selection *sel = &set->items[i];
        if (sel->kind == TQ_GQL_SEL_FRAGMENT_SPREAD) {
            if (tq_vmap_get_name(visited, sel->name) != NULL || !included(sel->directives, sel->ndirectives))
                continue;
            tq_vset_add(v->ar, visited, sel->name);
            const tq_gql_fragment *f = tq_vfragment_named(v, sel->name);
            if (f != NULL && condition_matches(v, f->type_condition, type))
                collect_root_fields(v, &f->selection_set, type, visited, out);
            continue;
        }
        if (!included(sel->directives, sel->ndirectives))
            continue;
        if (sel->kind == TQ_GQL_SEL_INLINE_FRAGMENT) {
            if (condition_matches(v, sel->type_condition, type))
                collect_root_fields(v, &sel->selection_set, type, visited, out);
            continue;
        }
        tq_str key = sel->alias.len ? sel->alias : sel->name;
        bool existed;
        void **slot = tq_vmap_slot(v->ar, &out->keys, key.s, key.len, &existed);
        if (!existed) {
            field_group fresh = {key, NULL, 0, 0, sel->name.len >= 2 && sel->name.s[0] == '_' && sel->name.s[1] == '_'};
            TQ_VEC_PUSH(v->ar, out->items, out->n, out->cap, fresh);
            *slot = (void *)(uintptr_t)out->n;
        }
        field_group *g = &out->items[(uintptr_t)*slot - 1];
        TQ_VEC_PUSH(v->ar, g->locs, g->n, g->cap, sel->loc);
    }
}

static void single_field_subscription(tq_vctx *v, const tq_gql_operation *op)
{
    if (op->type != TQ_GQL_OP_SUBSCRIPTION || v->schema->subscription == NULL)
        return;
    group_list groups = {0};
    tq_map visited = {0};
    collect_root_fields(v, &op->selection_set, v->schema->subscription, &visited, &groups);
    const char *who = op->name.len ? tq_arena_sprintf(v->ar, "Subscription \"%s\"", op->name.s) : "Anonymous Subscription";
    if (groups.n > 1) {
        tq_gql_loc *locs = NULL;
        uint32_t n = 0, cap = 0;
        for (uint32_t g = 1; g < groups.n; g++)
            for (uint32_t i = 0; i < groups.items[g].n; i++)
                TQ_VEC_PUSH(v->ar, locs, n, cap, groups.items[g].locs[i]);
        tq_vreport(v, tq_arena_sprintf(v->ar, "%s must select only one top level field.", who), locs, n);
    }
    for (uint32_t g = 0; g < groups.n; g++)
        if (groups.items[g].introspection)
            tq_vreport(v, tq_arena_sprintf(v->ar, "%s must not select an introspection top level field.", who),
                       groups.items[g].locs, groups.items[g].n);
}

/* ---- operations ---- */

static void unique_variable_names(tq_vctx *v, const tq_gql_operation *op)
{
    if (op->nvars < 2)
        return;
    named_loc *items = tq_arena_alloc(v->ar, op->nvars * sizeof(*items));
    for (uint32_t i = 0; i < op->nvars; i++)
        items[i] = (named_loc){op->vars[i].name, op->vars[i].name_loc};
    repeated_names(v, items, op->nvars, "variable", "$");
}

static void visit_variable_definition(walk *w, const tq_gql_variable_def *vd)
{
    tq_vctx *v = w->v;
    const tq_type_ref *type = tq_vtype_from_ast(v, vd->type);
    const tq_schema_type *named = tq_vnamed(type);
    bool input = named != NULL && (named->kind == TQ_TYPE_SCALAR || named->kind == TQ_TYPE_ENUM ||
                                   named->kind == TQ_TYPE_INPUT_OBJECT);
    /* VariablesAreInputTypes */
    if (type != NULL && !input)
        tq_vreport1(v, vd->type->loc, "Variable \"$%s\" cannot be non-input type \"%s\".", vd->name.s,
                    tq_vast_type_text(v, vd->type));
    unique_directives(w, vd->directives, vd->ndirectives);
    visit_ast_type(w, vd->type);
    if (vd->default_value != NULL)
        tq_vcheck_value(v, vd->default_value, input ? type : NULL);
    visit_directives(w, vd->directives, vd->ndirectives, TQ_DLOC_VARIABLE_DEFINITION, NULL);
}

/* The operation's variable definitions by name: the last of a name, as graphql-js's maps
 * keep it. */
static tq_map variables_by_name(tq_vctx *v, const tq_gql_operation *op)
{
    tq_map m = {0};
    bool existed;
    for (uint32_t i = 0; i < op->nvars; i++)
        *tq_vmap_slot(v->ar, &m, op->vars[i].name.s, op->vars[i].name.len, &existed) = (void *)&op->vars[i];
    return m;
}

static bool sub_type_of(const tq_type_ref *sub, const tq_type_ref *super)
{
    if (super->kind == TQ_GQL_TYPE_NON_NULL)
        return sub->kind == TQ_GQL_TYPE_NON_NULL && sub_type_of(sub->of, super->of);
    if (sub->kind == TQ_GQL_TYPE_NON_NULL)
        return sub_type_of(sub->of, super);
    if (super->kind == TQ_GQL_TYPE_LIST)
        return sub->kind == TQ_GQL_TYPE_LIST && sub_type_of(sub->of, super->of);
    if (sub->kind == TQ_GQL_TYPE_LIST)
        return false;
    if (sub->named == super->named)
        return true;
    return tq_vis_abstract(super->named) &&
           (sub->named->kind == TQ_TYPE_OBJECT || sub->named->kind == TQ_TYPE_INTERFACE) &&
           tq_vis_sub_type(super->named, sub->named);
}

/* The spec's IsVariableUsageAllowed, with its exception for defaults. */
static bool usage_allowed(const tq_type_ref *var_type, const tq_gql_value *var_default, const var_usage *u)
{
    if (u->type->kind == TQ_GQL_TYPE_NON_NULL && var_type->kind != TQ_GQL_TYPE_NON_NULL) {
        bool non_null_default = var_default != NULL && var_default->kind != TQ_GQL_VALUE_NULL;
        if (!non_null_default && !u->has_default)
            return false;
        return sub_type_of(var_type, u->type->of);
    }
    return sub_type_of(var_type, u->type);
}

/* NoUndefinedVariables, NoUnusedVariables, VariablesInAllowedPosition: on leave. */
static void check_variable_usages(walk *w, const tq_gql_definition *def)
{
    tq_vctx *v = w->v;
    const tq_gql_operation *op = &def->u.operation;
    usage_list all = recursive_usages(w, op);
    tq_map defined = variables_by_name(v, op), used = {0};
    for (uint32_t i = 0; i < all.n; i++)
        tq_vset_add(v->ar, &used, all.items[i].var->u.str);

    for (uint32_t i = 0; i < all.n && !v->stopped; i++) {
        if (tq_vmap_get_name(&defined, all.items[i].var->u.str) != NULL)
            continue;
        tq_gql_loc locs[2] = {all.items[i].var->loc, def->loc};
        const char *msg = op->name.len
                              ? tq_arena_sprintf(v->ar, "Variable \"$%s\" is not defined by operation \"%s\".",
                                                 all.items[i].var->u.str.s, op->name.s)
                              : tq_arena_sprintf(v->ar, "Variable \"$%s\" is not defined.", all.items[i].var->u.str.s);
        tq_vreport(v, msg, locs, 2);
    }
    for (uint32_t i = 0; i < op->nvars && !v->stopped; i++) {
        if (tq_vmap_get_name(&used, op->vars[i].name) != NULL)
            continue;
        if (op->name.len)
            tq_vreport1(v, op->vars[i].loc, "Variable \"$%s\" is never used in operation \"%s\".", op->vars[i].name.s,
                        op->name.s);
        else
            tq_vreport1(v, op->vars[i].loc, "Variable \"$%s\" is never used.", op->vars[i].name.s);
    }
    for (uint32_t i = 0; i < all.n && !v->stopped; i++) {
        const var_usage *u = &all.items[i];
        const tq_gql_variable_def *vd = tq_vmap_get_name(&defined, u->var->u.str);
        if (vd == NULL || u->type == NULL)
            continue;
        const tq_type_ref *var_type = tq_vtype_from_ast(v, vd->type);
        if (var_type == NULL || usage_allowed(var_type, vd->default_value, u))
            continue;
        tq_gql_loc locs[2] = {vd->loc, u->var->loc};
        tq_vreport(v,
                   tq_arena_sprintf(v->ar, "Variable \"$%s\" of type \"%s\" used in position expecting type \"%s\".",
                                    vd->name.s, tq_vtype_text(v, var_type), tq_vtype_text(v, u->type)),
                   locs, 2);
    }
}

static void visit_operation(walk *w, const tq_gql_definition *def)
{
    tq_vctx *v = w->v;
    const tq_gql_operation *op = &def->u.operation;
    static const tq_directive_location where[] = {TQ_DLOC_QUERY, TQ_DLOC_MUTATION, TQ_DLOC_SUBSCRIPTION};

    /* UniqueOperationNames */
    if (op->name.len > 0) {
        bool existed;
        void **first = tq_vmap_slot(v->ar, &w->op_names, op->name.s, op->name.len, &existed);
        if (existed) {
            tq_gql_loc locs[2] = {((const tq_gql_operation *)*first)->name_loc, op->name_loc};
            tq_vreport(v, tq_arena_sprintf(v->ar, "There can be only one operation named \"%s\".", op->name.s), locs, 2);
        } else {
            *first = (void *)op;
        }
    }
    /* LoneAnonymousOperation */
    if (op->name.len == 0 && w->noperations > 1)
        tq_vreport1(v, def->loc, "This anonymous operation must be the only defined operation.");
    single_field_subscription(v, op);
    unique_variable_names(v, op);
    unique_directives(w, op->directives, op->ndirectives);
    for (uint32_t i = 0; i < op->nvars && !v->stopped; i++)
        visit_variable_definition(w, &op->vars[i]);
    visit_directives(w, op->directives, op->ndirectives, where[op->type], NULL);
    visit_selection_set(w, &op->selection_set, root_type(v->schema, op->type), NULL);
    if (!v->stopped)
        check_variable_usages(w, def);
}

/* ---- fragment definitions ---- */

static void detect_cycles(walk *w, const tq_gql_fragment *f)
{
    tq_vctx *v = w->v;
    if (!tq_vset_add(v->ar, &w->cycle_visited, f->name))
        return;
    const sel_list *spreads = fragment_spreads(v, &w->spreads, &f->selection_set);
    if (spreads->n == 0)
        return;
    bool existed;
    /* 1 + the place, so that a fragment on the path never maps to NULL */
    *tq_vmap_slot(v->ar, &w->cycle_index, f->name.s, f->name.len, &existed) = (void *)(uintptr_t)(w->cycle_path.n + 1);
    for (uint32_t i = 0; i < spreads->n && !v->stopped; i++) {
        const tq_gql_selection *s = spreads->items[i];
        uintptr_t cycle_start = (uintptr_t)tq_vmap_get_name(&w->cycle_index, s->name);
        TQ_VEC_PUSH(v->ar, w->cycle_path.items, w->cycle_path.n, w->cycle_path.cap, s);
        if (cycle_start == 0) {
            const tq_gql_fragment *next = tq_vfragment_named(v, s->name);
            if (next != NULL)
                detect_cycles(w, next);
        } else {
            tq_vbuf via = {v->ar, NULL, 0, 0};
            uint32_t from = (uint32_t)cycle_start - 1, n = w->cycle_path.n - from;
            tq_gql_loc *locs = tq_arena_alloc(v->ar, n * sizeof(*locs));
            for (uint32_t k = 0; k < n; k++) {
                const tq_gql_selection *p = w->cycle_path.items[from + k];
                locs[k] = p->loc;
                if (k + 1 < n) {
                    tq_vbuf_puts(&via, k ? ", \"" : " via \"");
                    tq_vbuf_put(&via, p->name.s, p->name.len);
                    tq_vbuf_puts(&via, "\"");
                }
            }
            tq_vreport(v, tq_arena_sprintf(v->ar, "Cannot spread fragment \"%s\" within itself%s.", s->name.s, tq_vbuf_str(&via)),
                       locs, n);
        }
        w->cycle_path.n--;
    }
    tq_map_remove(&w->cycle_index, f->name.s, f->name.len); /* off the path */
}

static void visit_fragment_definition(walk *w, const tq_gql_definition *def)
{
    tq_vctx *v = w->v;
    const tq_gql_fragment *f = &def->u.fragment;
    const tq_schema_type *t = tq_vfind_type(v, f->type_condition);

    /* FragmentsOnCompositeTypes */
    if (t != NULL && !tq_vis_composite(t))
        tq_vreport1(v, f->type_condition_loc, "Fragment \"%s\" cannot condition on non composite type \"%s\".", f->name.s,
                    t->name);
    /* UniqueFragmentNames */
    bool existed;
    void **first = tq_vmap_slot(v->ar, &w->frag_names, f->name.s, f->name.len, &existed);
    if (existed) {
        tq_gql_loc locs[2] = {((const tq_gql_fragment *)*first)->name_loc, f->name_loc};
        tq_vreport(v, tq_arena_sprintf(v->ar, "There can be only one fragment named \"%s\".", f->name.s), locs, 2);
    } else {
        *first = (void *)f;
    }
    detect_cycles(w, f);
    unique_directives(w, f->directives, f->ndirectives);
    known_type_name(w, f->type_condition, f->type_condition_loc);
    visit_directives(w, f->directives, f->ndirectives, TQ_DLOC_FRAGMENT_DEFINITION, NULL);
    visit_selection_set(w, &f->selection_set, output_type(t), NULL);
}

/* ---- the document ---- */

static bool is_executable(const tq_gql_definition *d)
{
    return d->kind == TQ_GQL_DEF_OPERATION || d->kind == TQ_GQL_DEF_FRAGMENT;
}

/* ExecutableDefinitions */
static void executable_definitions(walk *w)
{
    const tq_gql_document *doc = w->v->doc;
    for (uint32_t i = 0; i < doc->count; i++) {
        const tq_gql_definition *d = &doc->defs[i];
        if (is_executable(d))
            continue;
        w->doc_has_type_system = true;
        bool existed;
        if (d->kind == TQ_GQL_DEF_DIRECTIVE) /* the last of a name wins */
            *tq_vmap_slot(w->v->ar, &w->doc_directives, d->u.directive.name.s, d->u.directive.name.len,
                          &existed) = (void *)&d->u.directive;
        else if (d->kind >= TQ_GQL_DEF_SCALAR && d->kind <= TQ_GQL_DEF_INPUT_OBJECT && !d->extension)
            tq_vset_add(w->v->ar, &w->doc_types, d->u.type.name);
        if (d->kind == TQ_GQL_DEF_SCHEMA)
            tq_vreport1(w->v, d->loc, "The schema definition is not executable.");
        else
            tq_vreport1(w->v, d->loc, "The \"%s\" definition is not executable.",
                        d->kind == TQ_GQL_DEF_DIRECTIVE ? d->u.directive.name.s : d->u.type.name.s);
    }
}

/* NoUnusedFragments, on leaving the document */
static void unused_fragments(walk *w)
{
    tq_vctx *v = w->v;
    const tq_gql_document *doc = v->doc;
    tq_map used = {0};
    for (uint32_t i = 0; i < doc->count; i++) {
        if (doc->defs[i].kind != TQ_GQL_DEF_OPERATION)
            continue;
        const frag_list *reached = reached_fragments(w, &doc->defs[i].u.operation);
        if (!tq_vspend(v, reached->n))
            return;
        for (uint32_t k = 0; k < reached->n; k++)
            tq_vset_add(v->ar, &used, reached->items[k]->name);
    }
    for (uint32_t i = 0; i < doc->count && !v->stopped; i++) {
        const tq_gql_definition *d = &doc->defs[i];
        if (d->kind == TQ_GQL_DEF_FRAGMENT && tq_vmap_get_name(&used, d->u.fragment.name) == NULL)
            tq_vreport1(v, d->loc, "Fragment \"%s\" is never used.", d->u.fragment.name.s);
    }
}

static tq_type_ref *named_ref(tq_arena *ar, const tq_schema_type *t)
{
    tq_type_ref *r = tq_arena_calloc(ar, 1, sizeof(*r));
    r->kind = TQ_GQL_TYPE_NAMED;
    r->named = t;
    return r;
}

static tq_type_ref *non_null(tq_arena *ar, const tq_type_ref *of)
{
    tq_type_ref *r = tq_arena_calloc(ar, 1, sizeof(*r));
    r->kind = TQ_GQL_TYPE_NON_NULL;
    r->of = of;
    return r;
}

/* __typename on every composite type; __schema and __type on the query root when the
 * schema has the introspection types. */
static void init_meta_fields(tq_vctx *v)
{
    const tq_schema_type *string = tq_schema_find_type(v->schema, "String", 6);
    const tq_schema_type *schema_t = tq_schema_find_type(v->schema, "__Schema", 8);
    const tq_schema_type *type_t = tq_schema_find_type(v->schema, "__Type", 6);

    v->typename_field.name = "__typename";
    v->typename_field.type = non_null(v->ar, named_ref(v->ar, string));
    if (schema_t != NULL) {
        v->has_schema_meta = true;
        v->schema_field.name = "__schema";
        v->schema_field.type = non_null(v->ar, named_ref(v->ar, schema_t));
    }
    if (type_t != NULL && string != NULL) {
        tq_input_value *arg = tq_arena_calloc(v->ar, 1, sizeof(*arg));
        arg->name = "name";
        arg->type = non_null(v->ar, named_ref(v->ar, string));
        v->has_type_meta = true;
        v->type_field.name = "__type";
        v->type_field.type = named_ref(v->ar, type_t);
        v->type_field.args = arg;
        v->type_field.nargs = 1;
    }
}

static void index_fragments(tq_vctx *v)
{
    bool existed;
    for (uint32_t i = 0; i < v->doc->count; i++) {
        const tq_gql_definition *d = &v->doc->defs[i];
        if (d->kind == TQ_GQL_DEF_FRAGMENT)
            *tq_vmap_slot(v->ar, &v->fragments, d->u.fragment.name.s, d->u.fragment.name.len, &existed) =
                (void *)&d->u.fragment;
    }
}

tq_validation_result tq_validate(const tq_schema *schema, const tq_gql_document *doc, tq_arena *a)
{
    return tq_validate_with(schema, doc, a, 0);
}

tq_validation_result tq_validate_with(const tq_schema *schema, const tq_gql_document *doc, tq_arena *a, unsigned flags)
{
    tq_vctx v;
    memset(&v, 0, sizeof(v));
    v.schema = schema;
    v.doc = doc;
    v.ar = a;
    memset(v.scalar_known, -1, sizeof(v.scalar_known));
    init_meta_fields(&v);
    index_fragments(&v);
    v.overlap_clean = !(flags & TQ_VALIDATE_NO_OVERLAP_PROOF) && tq_voverlap_prove(&v);

    walk w;
    memset(&w, 0, sizeof(w));
    w.v = &v;
    for (uint32_t i = 0; i < doc->count; i++)
        w.noperations += doc->defs[i].kind == TQ_GQL_DEF_OPERATION;

    executable_definitions(&w);
    for (uint32_t i = 0; i < doc->count && !v.stopped; i++) {
        if (doc->defs[i].kind == TQ_GQL_DEF_OPERATION)
            visit_operation(&w, &doc->defs[i]);
        else if (doc->defs[i].kind == TQ_GQL_DEF_FRAGMENT)
            visit_fragment_definition(&w, &doc->defs[i]);
    }
    unused_fragments(&w);

    tq_validation_result r = {v.errors, v.nerrors, v.steps, v.overlap_clean};
    return r;
}
