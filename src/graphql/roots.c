/*
 * roots.c - the root fields of an operation, through its fragments (see roots.h).
 *
 * The document is not validated yet, so fragments may be missing or spread in cycles: the
 * walk keeps a depth and a visit budget and answers "not only these" when either runs out,
 * which costs the client a token, never the server a loop.
 */
#include "tenantql/roots.h"

#include <string.h>

#include "tenantql/map.h"

#define ROOTS_MAX_DEPTH 16     /* nested fragment spreads at the root */
#define ROOTS_MAX_VISITS 4096  /* root selections looked at, fragments included */

typedef struct roots_walk {
    const char *const *names;
    const tq_gql_document *doc;
    tq_map fragments;          /* name -> tq_gql_fragment, made at the first spread */
    bool indexed;
    unsigned visits;
    bool any;                  /* a root field was seen */
} roots_walk;

static bool allowed(const roots_walk *rw, tq_str name)
{
    for (const char *const *n = rw->names; *n != NULL; n++)
        if (tq_str_eq(name, *n, (uint32_t)strlen(*n)))
            return true;
    return false;
}

static void index_fragments(roots_walk *rw)
{
    if (rw->indexed)
        return;
    rw->indexed = true;
    for (uint32_t i = 0; i < rw->doc->count; i++) {
        const tq_gql_definition *d = &rw->doc->defs[i];
        if (d->kind == TQ_GQL_DEF_FRAGMENT)
            tq_map_put(&rw->fragments, d->u.fragment.name.s, d->u.fragment.name.len, (void *)&d->u.fragment);
    }
}

static bool walk(roots_walk *rw, const tq_gql_selection_set *set, int depth)
{
    if (depth > ROOTS_MAX_DEPTH)
        return false;
    for (uint32_t i = 0; i < set->count; i++) {
        const tq_gql_selection *s = &set->items[i];
        if (++rw->visits > ROOTS_MAX_VISITS)
            return false;
        if (s->kind == TQ_GQL_SEL_FIELD) {
            if (!allowed(rw, s->name))
                return false;
            rw->any = true;
        } else if (s->kind == TQ_GQL_SEL_INLINE_FRAGMENT) {
            if (!walk(rw, &s->selection_set, depth + 1))
                return false;
        } else {
            index_fragments(rw);
            const tq_gql_fragment *f = tq_map_get(&rw->fragments, s->name.s, s->name.len);
            if (f == NULL || !walk(rw, &f->selection_set, depth + 1))
                return false;
        }
    }
    return true;
}

bool tq_gql_roots_only(const tq_gql_document *doc, const tq_gql_operation *op, const char *const *names,
                       tq_arena *a)
{
    roots_walk rw = {names, doc, {0}, false, 0, false};
    tq_map_init(&rw.fragments, a);
    return walk(&rw, &op->selection_set, 0) && rw.any;
}
