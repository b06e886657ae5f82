/*
 * validate_overlap.c - OverlappingFieldsCanBeMerged (spec 5.3.2, FieldsInSetCanMerge):
 * fields of one selection set answered under the same response name must be the same
 * field with the same arguments, unless their parents are distinct object types, and
 * must always give responses of the same shape.
 *
 * This follows graphql-js's algorithm step for step, because which conflicts it finds
 * and in which order depends on it: a field map per selection set (cached), fragments
 * compared field-map to field-map, each pair of fragments compared once per
 * "mutually exclusive" flavour for the whole document, and sub-selections compared
 * only between two fields of the same response name.
 *
 * That search is quadratic at worst (a thousand same-named fields make half a million
 * pairs; two thousand fragments spread side by side, two million), so it runs only when
 * validate_overlap_fast.c could not prove in linear time that nothing conflicts, and every
 * comparison spends a step of the validation's budget (tq_vspend): past it, validation
 * stops with an error rather than spinning.
 */
#include <stdlib.h>
#include <string.h>

#include "validate_internal.h"

typedef struct ofield {
    const tq_schema_type *parent;   /* any named type, or NULL */
    const tq_gql_selection *node;
    const tq_schema_field *def;     /* NULL: unknown, or a meta-field */
} ofield;

typedef struct ogroup {
    tq_str response_name;
    ofield *items;
    uint32_t n, cap;
} ogroup;

typedef struct fieldmap {
    const tq_gql_selection_set *set; /* whose fields these are: the key in the cache */
    ogroup **groups;                /* in order of first appearance */
    uint32_t ngroups, capgroups;
    tq_map index;                   /* response name -> group */
    tq_str *fragments;              /* names of spread fragments, first appearance order */
    uint32_t nfragments, capfragments;
    tq_map fragment_index;          /* the same names, as a set */
    tq_map compared_with;           /* fragment name -> 1 + mutually exclusive (fields_compared_with) */
} fieldmap;

typedef struct sel_list {
    const tq_gql_selection **items;
    uint32_t n, cap;
} sel_list;

typedef struct conflict {
    tq_str response_name;
    const char *reason;
    sel_list fields1, fields2;
} conflict;

typedef struct conflict_list {
    conflict *items;
    uint32_t n, cap;
} conflict_list;

struct tq_voverlap {
    tq_map maps;                    /* selection set -> fieldmap */
    tq_map compared_pairs;          /* fragment name -> tq_map of fragment name -> 1 + mutually exclusive */
    const conflict_list *found;     /* the conflicts of the selection set being checked */
    uint32_t room;                  /* how many of them can still be reported (the error limit) */
};

/* The search stops when the budget is spent, or when it has found as many conflicts as
 * the error limit lets validation report (the later ones would never be seen: the
 * result is the same). */
static bool done(tq_vctx *v)
{
    return v->exhausted || v->overlap->found->n >= v->overlap->room;
}

/* ---- field maps ---- */

/* The group of response name key, added when new. */
static ogroup *group_for(tq_vctx *v, fieldmap *m, tq_str key)
{
    bool existed;
    void **slot = tq_vmap_slot(v->ar, &m->index, key.s, key.len, &existed);
    if (!existed) {
        ogroup *g = tq_arena_calloc(v->ar, 1, sizeof(*g));
        g->response_name = key;
        *slot = g;
        TQ_VEC_PUSH(v->ar, m->groups, m->ngroups, m->capgroups, g);
    }
    return *slot;
}

static void collect_fields(tq_vctx *v, fieldmap *m, const tq_schema_type *parent, const tq_gql_selection_set *set)
{
    for (uint32_t i = 0; i < set->count; i++) {
        const tq_gql_selection *sel = &set->items[i];
        if (sel->kind == TQ_GQL_SEL_FIELD) {
            ogroup *g = group_for(v, m, sel->alias.len ? sel->alias : sel->name);
            ofield f = {parent, sel, tq_vplain_field(parent, sel->name)};
            TQ_VEC_PUSH(v->ar, g->items, g->n, g->cap, f);
        } else if (sel->kind == TQ_GQL_SEL_FRAGMENT_SPREAD) {
            if (tq_vset_add(v->ar, &m->fragment_index, sel->name))
                TQ_VEC_PUSH(v->ar, m->fragments, m->nfragments, m->capfragments, sel->name);
        } else {
            const tq_schema_type *t = sel->type_condition.len ? tq_vfind_type(v, sel->type_condition) : parent;
            collect_fields(v, m, t, &sel->selection_set);
        }
    }
}

/* getFieldsAndFragmentNames: cached per selection set, whatever parent type later
 * callers pass. */
static fieldmap *fields_of(tq_vctx *v, const tq_schema_type *parent, const tq_gql_selection_set *set)
{
    fieldmap *m = tq_map_get(&v->overlap->maps, &set, sizeof(set));
    if (m != NULL)
        return m;
    m = tq_arena_calloc(v->ar, 1, sizeof(*m));
    m->set = set;
    bool existed;
    *tq_vmap_slot(v->ar, &v->overlap->maps, &m->set, sizeof(m->set), &existed) = m;
    collect_fields(v, m, parent, set);
    return m;
}

static fieldmap *fields_of_fragment(tq_vctx *v, const tq_gql_fragment *f)
{
    const tq_gql_selection_set *set = &f->selection_set;
    fieldmap *m = tq_map_get(&v->overlap->maps, &set, sizeof(set));
    return m != NULL ? m : fields_of(v, tq_vfind_type(v, f->type_condition), set);
}

static const ogroup *group_named(const fieldmap *m, tq_str name)
{
    return tq_vmap_get_name(&m->index, name);
}

/* ---- the pair set ---- */

static void ordered_pair(tq_str *a, tq_str *b)
{
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c > 0 || (c == 0 && a->len > b->len)) {
        tq_str t = *a;
        *a = *b;
        *b = t;
    }
}

static bool pair_compared(tq_vctx *v, tq_str a, tq_str b, bool exclusive)
{
    ordered_pair(&a, &b);
    const tq_map *with_a = tq_vmap_get_name(&v->overlap->compared_pairs, a);
    uintptr_t r = with_a != NULL ? (uintptr_t)tq_vmap_get_name(with_a, b) : 0;
    if (r == 0)
        return false;
    /* comparing as not exclusive covers the exclusive comparison too */
    return exclusive ? true : r == 1;
}

static void pair_add(tq_vctx *v, tq_str a, tq_str b, bool exclusive)
{
    bool existed;
    ordered_pair(&a, &b);
    void **with_a = tq_vmap_slot(v->ar, &v->overlap->compared_pairs, a.s, a.len, &existed);
    if (!existed)
        *with_a = tq_arena_calloc(v->ar, 1, sizeof(tq_map));
    *tq_vmap_slot(v->ar, *with_a, b.s, b.len, &existed) = (void *)(uintptr_t)(1 + exclusive);
}

/* Whether fields m were compared with fragment name already, recording it if not. A
 * field whose sub-selection spreads a fragment that leads back to the field recurses
 * forever without this (graphql-js 16.8 overflows its stack on such documents; 16.9 on
 * memoizes the same way). Compared as not exclusive covers exclusive too. */
static bool fields_compared_with(tq_vctx *v, fieldmap *m, tq_str name, bool exclusive)
{
    bool existed;
    void **slot = tq_vmap_slot(v->ar, &m->compared_with, name.s, name.len, &existed);
    if (existed && ((uintptr_t)*slot == 1 || exclusive))
        return true;
    *slot = (void *)(uintptr_t)(1 + exclusive);
    return false;
}

/* ---- comparing ---- */

static bool values_equal(tq_vctx *v, const tq_gql_value *a, const tq_gql_value *b, uint64_t *work);

typedef struct sorted_field {
    const tq_gql_object_field *f;
    uint32_t index; /* equal names keep their written order */
} sorted_field;

static int compare_fields(const void *pa, const void *pb)
{
    const sorted_field *a = pa, *b = pb;
    tq_str p = a->f->name, q = b->f->name;
    uint32_t m = p.len < q.len ? p.len : q.len;
    int c = memcmp(p.s, q.s, m);
    if (c != 0)
        return c;
    if (p.len != q.len)
        return p.len < q.len ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* graphql-js compares print(sortValueNode(value)): object fields in name order. */
static void sorted_fields(const tq_gql_value *obj, sorted_field *out)
{
    uint32_t n = obj->u.object.count;
    for (uint32_t i = 0; i < n; i++)
        out[i] = (sorted_field){&obj->u.object.fields[i], i};
    qsort(out, n, sizeof(*out), compare_fields);
}

static bool objects_equal(tq_vctx *v, const tq_gql_value *a, const tq_gql_value *b, uint64_t *work)
{
    uint32_t n = a->u.object.count;
    if (n != b->u.object.count)
        return false;
    if (n == 0)
        return true;
    sorted_field *fa = tq_arena_alloc(v->ar, 2 * n * sizeof(*fa)), *fb = fa + n;
    sorted_fields(a, fa);
    sorted_fields(b, fb);
    for (uint32_t i = 0; i < n; i++)
        if (!tq_str_equal(fa[i].f->name, fb[i].f->name) || !values_equal(v, fa[i].f->value, fb[i].f->value, work))
            return false;
    return true;
}

static bool values_equal(tq_vctx *v, const tq_gql_value *a, const tq_gql_value *b, uint64_t *work)
{
    ++*work;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case TQ_GQL_VALUE_STRING:
        return a->block == b->block && tq_str_equal(a->u.str, b->u.str);
    case TQ_GQL_VALUE_BOOLEAN:
        return a->u.boolean == b->u.boolean;
    case TQ_GQL_VALUE_NULL:
        return true;
    case TQ_GQL_VALUE_LIST:
        if (a->u.list.count != b->u.list.count)
            return false;
        for (uint32_t i = 0; i < a->u.list.count; i++)
            if (!values_equal(v, a->u.list.items[i], b->u.list.items[i], work))
                return false;
        return true;
    case TQ_GQL_VALUE_OBJECT:
        *work += a->u.object.count; /* the sort */
        return objects_equal(v, a, b, work);
    default:
        return tq_str_equal(a->u.str, b->u.str);
    }
}

/* Fields with more arguments than this find them through a map (linear, not quadratic). */
#define ARGS_MAP_FROM 8

bool tq_vsame_arguments(tq_vctx *v, const tq_gql_selection *f1, const tq_gql_selection *f2, uint64_t *work)
{
    if (f1->nargs != f2->nargs)
        return false;
    tq_map last = {0}; /* f2's arguments by name: the last of a repeated name, like a Map */
    *work += f2->nargs;
    if (f2->nargs > ARGS_MAP_FROM) {
        tq_map_init(&last, v->ar);
        for (uint32_t j = 0; j < f2->nargs; j++)
            tq_map_put(&last, f2->args[j].name.s, f2->args[j].name.len, f2->args[j].value);
    }
    for (uint32_t i = 0; i < f1->nargs; i++) {
        const tq_gql_value *other = NULL;
        if (f2->nargs > ARGS_MAP_FROM)
            other = tq_map_get(&last, f1->args[i].name.s, f1->args[i].name.len);
        else
            for (uint32_t j = 0; j < f2->nargs; j++)
                if (tq_str_equal(f2->args[j].name, f1->args[i].name))
                    other = f2->args[j].value;
        if (other == NULL || !values_equal(v, f1->args[i].value, other, work))
            return false;
    }
    return true;
}

static bool types_conflict(const tq_type_ref *t1, const tq_type_ref *t2)
{
    if (t1->kind == TQ_GQL_TYPE_LIST)
        return t2->kind == TQ_GQL_TYPE_LIST ? types_conflict(t1->of, t2->of) : true;
    if (t2->kind == TQ_GQL_TYPE_LIST)
        return true;
    if (t1->kind == TQ_GQL_TYPE_NON_NULL)
        return t2->kind == TQ_GQL_TYPE_NON_NULL ? types_conflict(t1->of, t2->of) : true;
    if (t2->kind == TQ_GQL_TYPE_NON_NULL)
        return true;
    if (tq_vis_leaf(t1->named) || tq_vis_leaf(t2->named))
        return t1->named != t2->named;
    return false;
}

static void collect_within(tq_vctx *v, conflict_list *out, const fieldmap *m);
static void collect_between(tq_vctx *v, conflict_list *out, bool exclusive, const fieldmap *m1, const fieldmap *m2);
static void collect_fields_and_fragment(tq_vctx *v, conflict_list *out, bool exclusive, fieldmap *m,
                                        tq_str fragment_name);
static void collect_between_fragments(tq_vctx *v, conflict_list *out, bool exclusive, tq_str name1, tq_str name2);

static bool is_object(const tq_schema_type *t)
{
    return t != NULL && t->kind == TQ_TYPE_OBJECT;
}

static void add_conflict(tq_vctx *v, conflict_list *out, tq_str response_name, const char *reason,
                         const tq_gql_selection *n1, const tq_gql_selection *n2)
{
    conflict c = {response_name, reason, {0}, {0}};
    TQ_VEC_PUSH(v->ar, c.fields1.items, c.fields1.n, c.fields1.cap, n1);
    TQ_VEC_PUSH(v->ar, c.fields2.items, c.fields2.n, c.fields2.cap, n2);
    TQ_VEC_PUSH(v->ar, out->items, out->n, out->cap, c);
}

/* findConflictsBetweenSubSelectionSets */
static conflict_list sub_selection_conflicts(tq_vctx *v, bool exclusive, const tq_schema_type *p1,
                                             const tq_gql_selection_set *s1, const tq_schema_type *p2,
                                             const tq_gql_selection_set *s2)
{
    conflict_list out = {0};
    fieldmap *m1 = fields_of(v, p1, s1), *m2 = fields_of(v, p2, s2);
    collect_between(v, &out, exclusive, m1, m2);
    for (uint32_t i = 0; i < m2->nfragments && !done(v); i++)
        collect_fields_and_fragment(v, &out, exclusive, m1, m2->fragments[i]);
    for (uint32_t i = 0; i < m1->nfragments && !done(v); i++)
        collect_fields_and_fragment(v, &out, exclusive, m2, m1->fragments[i]);
    for (uint32_t i = 0; i < m1->nfragments && !done(v); i++)
        for (uint32_t j = 0; j < m2->nfragments && !done(v); j++)
            collect_between_fragments(v, &out, exclusive, m1->fragments[i], m2->fragments[j]);
    return out;
}

/* One conflict standing for the conflicts between two fields' sub-selections. */
static void add_subfield_conflict(tq_vctx *v, conflict_list *out, tq_str response_name, const conflict_list *subs,
                                  const tq_gql_selection *n1, const tq_gql_selection *n2)
{
    tq_vbuf reason = {v->ar, NULL, 0, 0};
    conflict c = {response_name, NULL, {0}, {0}};
    TQ_VEC_PUSH(v->ar, c.fields1.items, c.fields1.n, c.fields1.cap, n1);
    TQ_VEC_PUSH(v->ar, c.fields2.items, c.fields2.n, c.fields2.cap, n2);
    for (uint32_t i = 0; i < subs->n; i++) {
        const conflict *s = &subs->items[i];
        if (i > 0)
            tq_vbuf_puts(&reason, " and ");
        tq_vbuf_puts(&reason, "subfields \"");
        tq_vbuf_put(&reason, s->response_name.s, s->response_name.len);
        tq_vbuf_puts(&reason, "\" conflict because ");
        tq_vbuf_puts(&reason, s->reason);
        for (uint32_t k = 0; k < s->fields1.n; k++)
            TQ_VEC_PUSH(v->ar, c.fields1.items, c.fields1.n, c.fields1.cap, s->fields1.items[k]);
        for (uint32_t k = 0; k < s->fields2.n; k++)
            TQ_VEC_PUSH(v->ar, c.fields2.items, c.fields2.n, c.fields2.cap, s->fields2.items[k]);
    }
    c.reason = tq_vbuf_str(&reason);
    TQ_VEC_PUSH(v->ar, out->items, out->n, out->cap, c);
}

/* findConflict */
static void find_conflict(tq_vctx *v, conflict_list *out, bool parents_exclusive, tq_str response_name,
                          const ofield *f1, const ofield *f2)
{
    if (done(v) || !tq_vspend(v, 1))
        return;
    bool exclusive = parents_exclusive || (f1->parent != f2->parent && is_object(f1->parent) && is_object(f2->parent));
    const tq_gql_selection *n1 = f1->node, *n2 = f2->node;

    if (!exclusive) {
        if (!tq_str_equal(n1->name, n2->name)) {
            add_conflict(v, out, response_name,
                         tq_arena_sprintf(v->ar, "\"%s\" and \"%s\" are different fields", n1->name.s, n2->name.s), n1, n2);
            return;
        }
        uint64_t work = 0;
        bool same = tq_vsame_arguments(v, n1, n2, &work);
        if (!tq_vspend(v, work))
            return;
        if (!same) {
            add_conflict(v, out, response_name, "they have differing arguments", n1, n2);
            return;
        }
    }
    const tq_type_ref *t1 = f1->def ? f1->def->type : NULL, *t2 = f2->def ? f2->def->type : NULL;
    if (t1 != NULL && t2 != NULL && types_conflict(t1, t2)) {
        add_conflict(v, out, response_name,
                     tq_arena_sprintf(v->ar, "they return conflicting types \"%s\" and \"%s\"", tq_vtype_text(v, t1),
                                      tq_vtype_text(v, t2)),
                     n1, n2);
        return;
    }
    if (n1->selection_set.count > 0 && n2->selection_set.count > 0) {
        conflict_list subs = sub_selection_conflicts(v, exclusive, tq_vnamed(t1), &n1->selection_set, tq_vnamed(t2),
                                                     &n2->selection_set);
        if (subs.n > 0)
            add_subfield_conflict(v, out, response_name, &subs, n1, n2);
    }
}

/* collectConflictsWithin */
static void collect_within(tq_vctx *v, conflict_list *out, const fieldmap *m)
{
    for (uint32_t g = 0; g < m->ngroups && !done(v); g++) {
        const ogroup *grp = m->groups[g];
        for (uint32_t i = 0; i < grp->n && !done(v); i++)
            for (uint32_t j = i + 1; j < grp->n && !done(v); j++)
                find_conflict(v, out, false, grp->response_name, &grp->items[i], &grp->items[j]);
    }
}

/* collectConflictsBetween */
static void collect_between(tq_vctx *v, conflict_list *out, bool exclusive, const fieldmap *m1, const fieldmap *m2)
{
    for (uint32_t g = 0; g < m1->ngroups && !done(v) && tq_vspend(v, 1); g++) {
        const ogroup *g1 = m1->groups[g], *g2 = group_named(m2, g1->response_name);
        if (g2 == NULL)
            continue;
        for (uint32_t i = 0; i < g1->n && !done(v); i++)
            for (uint32_t j = 0; j < g2->n && !done(v); j++)
                find_conflict(v, out, exclusive, g1->response_name, &g1->items[i], &g2->items[j]);
    }
}

/* collectConflictsBetweenFieldsAndFragment */
static void collect_fields_and_fragment(tq_vctx *v, conflict_list *out, bool exclusive, fieldmap *m,
                                        tq_str fragment_name)
{
    if (done(v) || !tq_vspend(v, 1) || m->ngroups == 0 || fields_compared_with(v, m, fragment_name, exclusive))
        return;
    const tq_gql_fragment *f = tq_vfragment_named(v, fragment_name);
    if (f == NULL)
        return;
    const fieldmap *m2 = fields_of_fragment(v, f);
    if (m == m2)
        return;
    collect_between(v, out, exclusive, m, m2);
    for (uint32_t i = 0; i < m2->nfragments && !done(v); i++) {
        tq_str referenced = m2->fragments[i];
        if (pair_compared(v, referenced, fragment_name, exclusive))
            continue;
        pair_add(v, referenced, fragment_name, exclusive);
        collect_fields_and_fragment(v, out, exclusive, m, referenced);
    }
}

/* collectConflictsBetweenFragments */
static void collect_between_fragments(tq_vctx *v, conflict_list *out, bool exclusive, tq_str name1, tq_str name2)
{
    if (done(v) || !tq_vspend(v, 1) || tq_str_equal(name1, name2) || pair_compared(v, name1, name2, exclusive))
        return;
    pair_add(v, name1, name2, exclusive);
    const tq_gql_fragment *f1 = tq_vfragment_named(v, name1), *f2 = tq_vfragment_named(v, name2);
    if (f1 == NULL || f2 == NULL)
        return;
    const fieldmap *m1 = fields_of_fragment(v, f1), *m2 = fields_of_fragment(v, f2);
    collect_between(v, out, exclusive, m1, m2);
    for (uint32_t i = 0; i < m2->nfragments && !done(v); i++)
        collect_between_fragments(v, out, exclusive, name1, m2->fragments[i]);
    for (uint32_t i = 0; i < m1->nfragments && !done(v); i++)
        collect_between_fragments(v, out, exclusive, m1->fragments[i], name2);
}

void tq_voverlap_check(tq_vctx *v, const tq_schema_type *parent, const tq_gql_selection_set *set)
{
    if (v->overlap_clean || v->stopped)
        return;
    if (v->overlap == NULL)
        v->overlap = tq_arena_calloc(v->ar, 1, sizeof(*v->overlap));
    conflict_list found = {0};
    v->overlap->found = &found;
    v->overlap->room = TQ_VALIDATE_MAX_ERRORS - v->nerrors + 1;
    fieldmap *m = fields_of(v, parent, set);
    collect_within(v, &found, m);
    for (uint32_t i = 0; i < m->nfragments && !done(v); i++) {
        collect_fields_and_fragment(v, &found, false, m, m->fragments[i]);
        for (uint32_t j = i + 1; j < m->nfragments && !done(v); j++)
            collect_between_fragments(v, &found, false, m->fragments[i], m->fragments[j]);
    }
    for (uint32_t i = 0; i < found.n && !v->stopped; i++) {
        const conflict *c = &found.items[i];
        uint32_t n = c->fields1.n + c->fields2.n;
        tq_gql_loc *locs = tq_arena_alloc(v->ar, n * sizeof(*locs));
        for (uint32_t k = 0; k < c->fields1.n; k++)
            locs[k] = c->fields1.items[k]->loc;
        for (uint32_t k = 0; k < c->fields2.n; k++)
            locs[c->fields1.n + k] = c->fields2.items[k]->loc;
        tq_vreport(v,
                   tq_arena_sprintf(v->ar,
                                    "Fields \"%s\" conflict because %s. Use different aliases on the fields to fetch both "
                                    "if this was intentional.",
                                    c->response_name.s, c->reason),
                   locs, n);
    }
}
