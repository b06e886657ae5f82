/*
 * validate_overlap_fast.c - a proof, in about linear time, that no two fields of a
 * document can conflict (OverlappingFieldsCanBeMerged), so that graphql-js's search for
 * the conflicts, quadratic at worst (validate_overlap.c), runs only for documents where
 * one might be found.
 *
 * graphql-js compares two fields only when they share a response name in the expansion of
 * one selection set (its fields, through inline fragments and fragment spreads), and then
 * compares the expansions of their two sub-selections. Here all the fields of one
 * response name are checked against the first of them - the same field name, the same
 * arguments, and the same response shape wherever the types are known - which is stricter
 * than graphql-js (fields on distinct object types may differ there), and then the
 * sub-selections of all of them are checked together, once: every pair graphql-js
 * compares lies within one such union, and whatever passes the stricter check for a union
 * passes it for any part of it. So when every operation and fragment definition passes,
 * graphql-js would find no conflict anywhere, and it need not look.
 *
 * A union of selection sets is checked once however many paths lead to it (the memo is
 * keyed by the sorted set of selection sets), so a fragment spread twice in each of 16
 * nested fragments costs 16 checks, not 65,536. A union that leads back to itself (a
 * fragment cycle, which validation reports anyway), a check that fails, or more steps
 * than PROOF_STEPS_PER_NODE times the document's selections and argument values, proves
 * nothing: validate_overlap.c then searches as graphql-js does, on the validation's
 * budget. So the proof is linear in the document by construction; documents that share
 * large fragments between many unions may need more and are left to the search.
 */
#include <stdlib.h>
#include <string.h>

#include "validate_internal.h"

/* Steps (a selection expanded, an argument value compared, a selection set sorted into a
 * union) per selection and argument value of the document, after which the proof gives
 * up: a document whose unions share nothing needs 2 to 3. */
#define PROOF_STEPS_PER_NODE 8

enum { UNION_BUSY = 1, UNION_DONE = 2 };

typedef struct part {
    const tq_gql_selection_set *set;
    const tq_schema_type *parent; /* the type the set is about (static for each set) */
} part;

typedef struct name_group {
    const tq_gql_selection *first;
    const tq_type_ref *shape; /* the type of the first field whose definition is known */
    part *subs;
    uint32_t nsubs, capsubs;
} name_group;

typedef struct proof {
    tq_vctx *v;
    tq_map unions; /* sorted selection set pointers -> UNION_BUSY or UNION_DONE */
    uint64_t steps, max_steps;
    bool failed;
} proof;

/* The expansion of one union: its fields by response name. */
typedef struct expansion {
    tq_map groups;      /* response name -> name_group */
    name_group **order; /* in order of first appearance */
    uint32_t n, cap;
    tq_map fragments_seen;
} expansion;

static bool spend(proof *p, uint64_t n)
{
    p->steps += n;
    if (p->steps > p->max_steps)
        p->failed = true;
    return !p->failed;
}

/* graphql-js's doTypesConflict is false exactly when the two types have the same shape:
 * the same list and non-null wrappers around the same leaf type, or around any two
 * composite types. */
static bool same_shape(const tq_type_ref *a, const tq_type_ref *b)
{
    while (a->kind == b->kind && a->kind != TQ_GQL_TYPE_NAMED) {
        a = a->of;
        b = b->of;
    }
    if (a->kind != b->kind)
        return false;
    if (tq_vis_leaf(a->named) || tq_vis_leaf(b->named))
        return a->named == b->named;
    return true;
}

/* A repeated argument name (an error of its own rule) would make argument comparison
 * depend on order: such a field proves nothing. */
static bool unique_arguments(proof *p, const tq_gql_selection *sel)
{
    if (sel->nargs <= 8) {
        for (uint32_t i = 0; i < sel->nargs; i++)
            for (uint32_t j = 0; j < i; j++)
                if (tq_str_equal(sel->args[i].name, sel->args[j].name))
                    return false;
        return true;
    }
    tq_map names = {0};
    for (uint32_t i = 0; i < sel->nargs; i++)
        if (!tq_vset_add(p->v->ar, &names, sel->args[i].name))
            return false;
    return spend(p, sel->nargs);
}

static bool add_field(proof *p, expansion *x, const tq_gql_selection *sel, const tq_schema_type *parent)
{
    tq_vctx *v = p->v;
    tq_str key = sel->alias.len ? sel->alias : sel->name;
    bool existed;
    void **slot = tq_vmap_slot(v->ar, &x->groups, key.s, key.len, &existed);
    if (!existed) {
        *slot = tq_arena_calloc(v->ar, 1, sizeof(name_group));
        TQ_VEC_PUSH(v->ar, x->order, x->n, x->cap, (name_group *)*slot);
    }
    name_group *g = *slot;
    if (!unique_arguments(p, sel))
        return false;
    const tq_schema_field *def = tq_vfield_def(v, parent, sel->name);
    if (g->first == NULL) {
        g->first = sel;
    } else {
        uint64_t work = 0;
        if (!tq_str_equal(g->first->name, sel->name) || !tq_vsame_arguments(v, g->first, sel, &work) || !spend(p, work))
            return false;
    }
    if (def != NULL) {
        if (g->shape == NULL)
            g->shape = def->type;
        else if (!same_shape(g->shape, def->type))
            return false;
    }
    if (sel->selection_set.count > 0) {
        part sub = {&sel->selection_set, def != NULL ? tq_vnamed(def->type) : NULL};
        TQ_VEC_PUSH(v->ar, g->subs, g->nsubs, g->capsubs, sub);
    }
    return true;
}

/* Adds the fields of set (through inline fragments and spreads, each fragment once) to x;
 * false when two of them cannot be shown not to conflict. */
static bool expand(proof *p, expansion *x, const tq_gql_selection_set *set, const tq_schema_type *parent)
{
    tq_vctx *v = p->v;
    for (uint32_t i = 0; i < set->count; i++) {
        const tq_gql_selection *sel = &set->items[i];
        if (!spend(p, 1))
            return false;
        if (sel->kind == TQ_GQL_SEL_FIELD) {
            if (!add_field(p, x, sel, parent))
                return false;
        } else if (sel->kind == TQ_GQL_SEL_INLINE_FRAGMENT) {
            const tq_schema_type *t = sel->type_condition.len ? tq_vfind_type(v, sel->type_condition) : parent;
            if (!expand(p, x, &sel->selection_set, t))
                return false;
        } else {
            const tq_gql_fragment *f = tq_vfragment_named(v, sel->name);
            if (f != NULL && tq_vset_add(v->ar, &x->fragments_seen, sel->name) &&
                !expand(p, x, &f->selection_set, tq_vfind_type(v, f->type_condition)))
                return false;
        }
    }
    return true;
}

static int compare_parts(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const part *)a)->set, y = (uintptr_t)((const part *)b)->set;
    return x < y ? -1 : x > y;
}

/* Checks the union of the selection sets of parts, and below it, once. */
static void check_union(proof *p, part *parts, uint32_t n)
{
    tq_vctx *v = p->v;
    if (p->failed || !spend(p, n))
        return;
    qsort(parts, n, sizeof(*parts), compare_parts);
    const tq_gql_selection_set **key = tq_arena_alloc(v->ar, n * sizeof(*key));
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (k == 0 || key[k - 1] != parts[i].set)
            parts[k] = parts[i], key[k++] = parts[i].set;
    bool existed;
    void **state = tq_vmap_slot(v->ar, &p->unions, key, k * sizeof(*key), &existed);
    if (existed) {
        if ((uintptr_t)*state == UNION_BUSY)
            p->failed = true; /* leads back to itself */
        return;
    }
    *state = (void *)(uintptr_t)UNION_BUSY;
    expansion x = {0};
    for (uint32_t i = 0; i < k && !p->failed; i++)
        if (!expand(p, &x, parts[i].set, parts[i].parent))
            p->failed = true;
    for (uint32_t g = 0; g < x.n && !p->failed; g++)
        if (x.order[g]->nsubs > 0)
            check_union(p, x.order[g]->subs, x.order[g]->nsubs);
    *tq_vmap_slot(v->ar, &p->unions, key, k * sizeof(*key), &existed) = (void *)(uintptr_t)UNION_DONE;
}

static const tq_schema_type *root_type(const tq_schema *s, tq_gql_operation_type t)
{
    return t == TQ_GQL_OP_QUERY ? s->query : t == TQ_GQL_OP_MUTATION ? s->mutation : s->subscription;
}

/* Selections and argument values (the size of what the proof walks), below a set. */
static uint64_t value_nodes(const tq_gql_value *val)
{
    uint64_t n = 1;
    if (val->kind == TQ_GQL_VALUE_LIST)
        for (uint32_t i = 0; i < val->u.list.count; i++)
            n += value_nodes(val->u.list.items[i]);
    else if (val->kind == TQ_GQL_VALUE_OBJECT)
        for (uint32_t i = 0; i < val->u.object.count; i++)
            n += value_nodes(val->u.object.fields[i].value);
    return n;
}

static uint64_t set_nodes(const tq_gql_selection_set *set)
{
    uint64_t n = set->count;
    for (uint32_t i = 0; i < set->count; i++) {
        const tq_gql_selection *sel = &set->items[i];
        for (uint32_t a = 0; a < sel->nargs; a++)
            n += value_nodes(sel->args[a].value);
        n += set_nodes(&sel->selection_set);
    }
    return n;
}

bool tq_voverlap_prove(tq_vctx *v)
{
    uint64_t nodes = 0;
    for (uint32_t i = 0; i < v->doc->count; i++) {
        const tq_gql_definition *d = &v->doc->defs[i];
        if (d->kind == TQ_GQL_DEF_OPERATION)
            nodes += set_nodes(&d->u.operation.selection_set);
        else if (d->kind == TQ_GQL_DEF_FRAGMENT)
            nodes += set_nodes(&d->u.fragment.selection_set);
    }
    proof p = {v, {0}, 0, PROOF_STEPS_PER_NODE * nodes + 64, false};
    for (uint32_t i = 0; i < v->doc->count && !p.failed; i++) {
        const tq_gql_definition *d = &v->doc->defs[i];
        part root;
        if (d->kind == TQ_GQL_DEF_OPERATION)
            root = (part){&d->u.operation.selection_set, root_type(v->schema, d->u.operation.type)};
        else if (d->kind == TQ_GQL_DEF_FRAGMENT)
            root = (part){&d->u.fragment.selection_set, tq_vfind_type(v, d->u.fragment.type_condition)};
        else
            continue;
        check_union(&p, &root, 1);
    }
    return !p.failed;
}
