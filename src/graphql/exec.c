/*
 * exec.c - GraphQL execution (spec section 6) with resolvers that may answer later.
 *
 * The response is a tree of result nodes built in query order while execution runs.
 * Every resolver call counts as one outstanding unit; its answer (now, or after a
 * database round trip) completes the node, possibly starting resolvers for the fields
 * below. When the count reaches zero the tree is final and on_done runs. Nothing here
 * blocks: a resolver that waits simply has not answered yet.
 *
 * Null propagation: a null in a non-null position nulls its parent, up to the nearest
 * nullable position (or "data"). Fields of an object already nulled are not executed
 * and answers arriving for them are dropped, which is what graphql-js does.
 *
 * Variables and arguments are coerced by coerce.c; their errors are reported here.
 *
 * The answer cap: every part of the answer counts its JSON bytes when it is laid out or
 * completes (an object its braces, keys and commas, a leaf its text, an error its message
 * and a little more). The first byte past max_response_bytes stops the execution: no
 * field starts, answers still outstanding are dropped as they arrive, and the response
 * is one error. The oversized tree is never built, and never sent in part.
 */
#include "tenantql/exec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coerce.h"
#include "tenantql/json_writer.h"
#include "tenantql/map.h"
#include "tenantql/vec.h"

enum { R_PENDING, R_NULL, R_LEAF, R_LIST, R_OBJECT };

typedef struct rnode rnode;
struct rnode {
    uint8_t kind;
    bool nonnull;
    int32_t index;   /* position in a list, -1 for an object field */
    tq_str key;      /* response key of an object field */
    rnode *parent;
    union {
        tq_value leaf;
        struct {
            rnode *items;
            uint32_t count;
        } list;
        struct {
            rnode *fields;
            uint32_t count;
        } obj;
    } u;
};

typedef struct group_list group_list;

/* fields of one response key, merged from every place the selection mentions it */
typedef struct field_group {
    tq_str key;
    const tq_gql_selection **nodes;
    uint32_t count, cap;
    const tq_schema_type *sub_type; /* memo: sub-fields were last collected for this type */
    const tq_schema_type *field_parent; /* memo: `field` is the definition on this parent type */
    const tq_schema_field *field;
    const tq_value *args;                /* memo: coerced arguments of `field` (they depend on nothing per object) */
    group_list *sub;
} field_group;

struct group_list {
    field_group *items;
    uint32_t count, cap;
    tq_map *keys;        /* response key -> 1 + index in items, once there are many (group_new) */
};

typedef struct exec_error {
    struct exec_error *next;
    const char *message;
    const char *code;
    const tq_gql_loc *locs;
    uint32_t nlocs;
    const rnode *at; /* path; NULL for request errors */
} exec_error;

struct tq_exec {
    tq_exec_params p;
    tq_arena *a;
    const tq_gql_operation *op;
    const tq_schema_type *root_type;
    tq_value vars;       /* coerced variables: an object holding the provided ones */
    tq_coerce coerce;    /* what argument coercion reads: the arena, the schema, vars */
    tq_map *fragments;           /* name -> 1 + index of its definition, made at the first spread */
    uint32_t *fragment_seen;     /* per definition: the last collection that spread it */
    uint32_t collection;         /* number of the running CollectFields */
    rnode root;
    group_list *root_groups;
    uint32_t next_root;
    bool serial;
    int pending;
    bool finished;
    bool request_error;
    exec_error *errors, **errors_tail;
    size_t bytes;   /* of the answer so far (see the answer cap above) */
    bool too_large; /* past max_response_bytes: execution stopped */
};

typedef struct field_task {
    tq_field_ctx fc;
    rnode *node;
    field_group *group;
    bool answered;
} field_task;

static void complete_value(tq_exec *ex, rnode *n, const tq_type_ref *t, field_group *g, const tq_schema_type *ptype,
                           const tq_schema_field *f, const tq_value *v);

/* ---- the answer cap ---- */

/* Counts n bytes of the answer; past the cap, execution stops adding to it. */
static void count_bytes(tq_exec *ex, size_t n)
{
    ex->bytes += n;
    if (ex->p.max_response_bytes != 0 && ex->bytes > ex->p.max_response_bytes && !ex->too_large) {
        ex->too_large = true;
        ex->request_error = true; /* no data */
    }
}

/* The JSON bytes of a completed leaf (tq_exec_write_response writes the same). */
static size_t leaf_bytes(const tq_value *v)
{
    switch (v->kind) {
    case TQ_VAL_BOOL:
        return v->u.b ? 4 : 5;
    case TQ_VAL_INT: {
        size_t n = v->u.i < 0 ? 2 : 1;
        for (uint64_t u = v->u.i < 0 ? (uint64_t)0 - (uint64_t)v->u.i : (uint64_t)v->u.i; u >= 10; u /= 10)
            n++;
        return n;
    }
    case TQ_VAL_FLOAT:
        return 24; /* the longest shortest round-trip form */
    case TQ_VAL_STRING:
    case TQ_VAL_ENUM:
        return tq_json_string_length(v->u.s.s, v->u.s.len);
    default:
        return 4;
    }
}

/* ---- errors ---- */

static exec_error *add_error(tq_exec *ex, const char *code, const rnode *at, const char *message)
{
    exec_error *e = tq_arena_calloc(ex->a, 1, sizeof(*e));
    e->message = message;
    e->code = code;
    e->at = at;
    *ex->errors_tail = e;
    ex->errors_tail = &e->next;
    /* the message, and about what its code, locations and path add */
    count_bytes(ex, tq_json_string_length(message, strlen(message)) + 96);
    return e;
}

static void locate_at_group(tq_exec *ex, exec_error *e, const field_group *g)
{
    tq_gql_loc *locs = tq_arena_alloc(ex->a, g->count * sizeof(*locs));
    for (uint32_t i = 0; i < g->count; i++)
        locs[i] = g->nodes[i]->loc;
    e->locs = locs;
    e->nlocs = g->count;
}

static char *vformat(tq_arena *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static char *vformat(tq_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *s = tq_arena_alloc(a, (size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(s, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
    return s;
}

/* An error of the request as a whole: the response has no data. */
static void request_error_message(tq_exec *ex, const char *code, const tq_gql_loc *loc, const char *message)
{
    exec_error *e = add_error(ex, code, NULL, message);
    if (loc != NULL) {
        e->locs = loc;
        e->nlocs = 1;
    }
    ex->request_error = true;
}

static void request_error(tq_exec *ex, const char *code, const tq_gql_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void request_error(tq_exec *ex, const char *code, const tq_gql_loc *loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *message = vformat(ex->a, fmt, ap);
    va_end(ap);
    request_error_message(ex, code, loc, message);
}

static void on_variable_error(void *data, const char *code, const tq_gql_loc *loc, const char *message)
{
    request_error_message(data, code, loc, message);
}

/* A null reached a position: it nulls the position and, through non-null ones, the
 * nearest nullable ancestor. */
static void null_out(rnode *n)
{
    for (;;) {
        n->kind = R_NULL;
        if (!n->nonnull || n->parent == NULL)
            return;
        n = n->parent;
    }
}

static void field_error(tq_exec *ex, rnode *n, const field_group *g, const char *code, const char *message)
{
    exec_error *e = add_error(ex, code, n, message);
    locate_at_group(ex, e, g);
    null_out(n);
}

/* An ancestor was nulled: this subtree will not be in the response. */
static bool is_dead(const rnode *n)
{
    for (; n != NULL; n = n->parent)
        if (n->kind == R_NULL)
            return true;
    return false;
}

/* ---- arguments ---- */

/* CoerceArgumentValues. Returns false after recording a field error at n. */
static bool coerce_arguments(tq_exec *ex, const tq_schema_field *f, field_group *g, rnode *n, tq_value *out)
{
    const char *why = tq_coerce_arguments(&ex->coerce, f, g->nodes[0], out);
    if (why == NULL)
        return true;
    field_error(ex, n, g, "BAD_USER_INPUT", why);
    return false;
}

/* ---- field collection ---- */

static bool directive_if(tq_exec *ex, const tq_gql_directive *d, bool *value)
{
    for (uint32_t i = 0; i < d->nargs; i++) {
        if (!TQ_STR_EQ_LIT(d->args[i].name, "if"))
            continue;
        static const tq_schema_type boolean_type = {.kind = TQ_TYPE_SCALAR, .name = "Boolean"};
        const tq_gql_value *lit = d->args[i].value;
        if (lit->kind == TQ_GQL_VALUE_BOOLEAN) {
            *value = lit->u.boolean;
            return true;
        }
        if (lit->kind == TQ_GQL_VALUE_VARIABLE) {
            const tq_value *v = tq_value_get(&ex->vars, lit->u.str.s);
            if (v != NULL && v->kind == TQ_VAL_BOOL) {
                *value = v->u.b;
                return true;
            }
        }
        (void)boolean_type;
    }
    return false;
}

/* @skip(if: true) or @include(if: false) */
static bool should_skip(tq_exec *ex, const tq_gql_directive *dirs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        bool v;
        if (TQ_STR_EQ_LIT(dirs[i].name, "skip") && directive_if(ex, &dirs[i], &v) && v)
            return true;
        if (TQ_STR_EQ_LIT(dirs[i].name, "include") && directive_if(ex, &dirs[i], &v) && !v)
            return true;
    }
    return false;
}

/* The index of the (first) fragment definition of that name, or -1. The map is made at
 * the first spread of an execution: documents may hold thousands of fragments. */
static int64_t find_fragment(tq_exec *ex, tq_str name)
{
    const tq_gql_document *doc = ex->p.doc;
    if (ex->fragments == NULL) {
        ex->fragments = tq_arena_alloc(ex->a, sizeof(*ex->fragments));
        tq_map_init(ex->fragments, ex->a);
        ex->fragment_seen = tq_arena_calloc(ex->a, doc->count ? doc->count : 1, sizeof(*ex->fragment_seen));
        for (uint32_t i = 0; i < doc->count; i++) {
            const tq_gql_definition *d = &doc->defs[i];
            bool existed;
            if (d->kind != TQ_GQL_DEF_FRAGMENT)
                continue;
            void **slot = tq_map_slot_for(ex->fragments, d->u.fragment.name.s, d->u.fragment.name.len, &existed);
            if (!existed)
                *slot = (void *)(uintptr_t)(i + 1);
        }
    }
    return (int64_t)(uintptr_t)tq_map_get(ex->fragments, name.s, name.len) - 1;
}

static bool fragment_applies(tq_exec *ex, const tq_schema_type *object, tq_str condition)
{
    if (condition.len == 0)
        return true;
    const tq_schema_type *t = tq_schema_find_type(ex->p.schema, condition.s, condition.len);
    return t != NULL && tq_schema_is_possible_type(t, object);
}

/* Selections with more response keys than this find them through a map (a client may
 * send thousands of aliases); fewer are walked, which costs less than making a map. */
#define GROUP_MAP_FROM 16

static field_group *group_find(const group_list *gl, tq_str key)
{
    if (gl->keys != NULL) {
        uintptr_t i = (uintptr_t)tq_map_get(gl->keys, key.s, key.len);
        return i != 0 ? &gl->items[i - 1] : NULL;
    }
    for (uint32_t i = 0; i < gl->count; i++)
        if (tq_str_equal(gl->items[i].key, key))
            return &gl->items[i];
    return NULL;
}

static field_group *group_new(tq_exec *ex, group_list *gl, tq_str key)
{
    field_group fresh = {.key = key};
    TQ_VEC_PUSH(ex->a, gl->items, gl->count, gl->cap, fresh);
    if (gl->keys == NULL && gl->count > GROUP_MAP_FROM) {
        gl->keys = tq_arena_alloc(ex->a, sizeof(*gl->keys));
        tq_map_init(gl->keys, ex->a);
        for (uint32_t i = 0; i + 1 < gl->count; i++)
            tq_map_put(gl->keys, gl->items[i].key.s, gl->items[i].key.len, (void *)(uintptr_t)(i + 1));
    }
    if (gl->keys != NULL)
        tq_map_put(gl->keys, key.s, key.len, (void *)(uintptr_t)gl->count);
    return &gl->items[gl->count - 1];
}

static void group_add(tq_exec *ex, group_list *gl, const tq_gql_selection *sel)
{
    tq_str key = sel->alias.len ? sel->alias : sel->name;
    field_group *g = group_find(gl, key);
    if (g == NULL)
        g = group_new(ex, gl, key);
    TQ_VEC_PUSH(ex->a, g->nodes, g->count, g->cap, sel);
}

/* CollectFields into out; a fragment is spread once per collection (ex->collection). */
static void collect_fields(tq_exec *ex, const tq_schema_type *object, const tq_gql_selection_set *set, group_list *out)
{
    for (uint32_t i = 0; i < set->count; i++) {
        const tq_gql_selection *sel = &set->items[i];
        if (should_skip(ex, sel->directives, sel->ndirectives))
            continue;
        switch (sel->kind) {
        case TQ_GQL_SEL_FIELD:
            group_add(ex, out, sel);
            break;
        case TQ_GQL_SEL_INLINE_FRAGMENT:
            if (fragment_applies(ex, object, sel->type_condition))
                collect_fields(ex, object, &sel->selection_set, out);
            break;
        case TQ_GQL_SEL_FRAGMENT_SPREAD: {
            int64_t fi = find_fragment(ex, sel->name);
            if (fi < 0 || ex->fragment_seen[fi] == ex->collection)
                break;
            ex->fragment_seen[fi] = ex->collection;
            const tq_gql_fragment *frag = &ex->p.doc->defs[fi].u.fragment;
            if (fragment_applies(ex, object, frag->type_condition))
                collect_fields(ex, object, &frag->selection_set, out);
            break;
        }
        }
    }
}

/* Sub-fields of a field group for one object type, merged over the group's nodes. The
 * result is memoised on the group: the items of a list share it. */
static group_list *collect_subfields(tq_exec *ex, field_group *g, const tq_schema_type *object)
{
    if (g->sub != NULL && g->sub_type == object)
        return g->sub;
    group_list *gl = tq_arena_calloc(ex->a, 1, sizeof(*gl));
    ex->collection++;
    for (uint32_t i = 0; i < g->count; i++)
        collect_fields(ex, object, &g->nodes[i]->selection_set, gl);
    g->sub = gl;
    g->sub_type = object;
    return gl;
}

/* ---- execution ---- */

static void finish_one(tq_exec *ex);

static void default_resolver(tq_field_ctx *fc)
{
    const tq_value *v = tq_value_get(fc->parent, fc->field->name);
    tq_field_resolve(fc, v ? *v : tq_value_null());
}

static void execute_field(tq_exec *ex, rnode *n, const tq_schema_type *ptype, const tq_value *parent, field_group *g)
{
    const tq_gql_selection *node = g->nodes[0];
    if (ex->too_large)
        return;
    if (TQ_STR_EQ_LIT(node->name, "__typename")) {
        n->kind = R_LEAF;
        n->u.leaf = tq_value_string(ptype->name, (uint32_t)strlen(ptype->name));
        count_bytes(ex, leaf_bytes(&n->u.leaf));
        return;
    }
    /* __schema and __type are fields of the query root that its type does not declare */
    /* a list of N objects executes the same group N times: look the field up once */
    if (g->field_parent != ptype) {
        g->field = tq_schema_field_of(ex->p.schema, ptype, node->name.s, node->name.len);
        g->field_parent = ptype;
        g->args = NULL;
    }
    const tq_schema_field *f = g->field;
    if (f == NULL) {
        field_error(ex, n, g, "GRAPHQL_VALIDATION_FAILED",
                    tq_arena_sprintf(ex->a, "Cannot query field \"%s\" on type \"%s\".", node->name.s, ptype->name));
        return;
    }
    n->nonnull = f->type->kind == TQ_GQL_TYPE_NON_NULL;
    if (g->args == NULL) {
        tq_value *args = tq_arena_alloc(ex->a, sizeof(*args));
        if (!coerce_arguments(ex, f, g, n, args))
            return; /* not memoised: each object reports its own error, as graphql-js does */
        g->args = args;
    }
    const tq_value *args = g->args;
    field_task *task = tq_arena_calloc(ex->a, 1, sizeof(*task));
    task->fc = (tq_field_ctx){ex, ex->p.context, ex->a, ptype, f, parent, args, task};
    task->node = n;
    task->group = g;
    ex->pending++;
    (f->resolve ? f->resolve : default_resolver)(&task->fc);
}

/* Makes obj an object of the fields of gl, all pending, and counts its braces, keys,
 * colons and commas. */
static void lay_out_object(tq_exec *ex, rnode *obj, const group_list *gl)
{
    obj->kind = R_OBJECT;
    obj->u.obj.count = gl->count;
    obj->u.obj.fields = tq_arena_calloc(ex->a, gl->count ? gl->count : 1, sizeof(rnode));
    size_t bytes = 2 + (gl->count ? gl->count - 1 : 0);
    for (uint32_t i = 0; i < gl->count; i++) {
        rnode *f = &obj->u.obj.fields[i];
        f->kind = R_PENDING;
        f->index = -1;
        f->key = gl->items[i].key;
        f->parent = obj;
        bytes += tq_json_string_length(f->key.s, f->key.len) + 1;
    }
    count_bytes(ex, bytes);
}

static void execute_fields(tq_exec *ex, rnode *obj, const tq_schema_type *type, const tq_value *value, group_list *gl)
{
    lay_out_object(ex, obj, gl);
    for (uint32_t i = 0; i < gl->count; i++) {
        /* a non-null field failed and nulled this object: the rest would be discarded */
        if (obj->kind == R_NULL || ex->too_large)
            break;
        execute_field(ex, &obj->u.obj.fields[i], type, value, &gl->items[i]);
    }
}

static const char *field_coordinate(tq_exec *ex, const tq_schema_type *ptype, const tq_schema_field *f)
{
    return tq_arena_sprintf(ex->a, "%s.%s", ptype->name, f->name);
}

static void complete_leaf(tq_exec *ex, rnode *n, const tq_schema_type *t, field_group *g, const tq_value *v)
{
    char msg[256];
    if (t->kind == TQ_TYPE_ENUM) {
        if (v->kind == TQ_VAL_ENUM || v->kind == TQ_VAL_STRING) {
            for (uint32_t i = 0; i < t->nvalues; i++) {
                if (strlen(t->values[i].name) == v->u.s.len && memcmp(t->values[i].name, v->u.s.s, v->u.s.len) == 0) {
                    n->kind = R_LEAF;
                    n->u.leaf = tq_value_string(t->values[i].name, v->u.s.len);
                    count_bytes(ex, leaf_bytes(&n->u.leaf));
                    return;
                }
            }
        }
        field_error(ex, n, g, NULL, tq_arena_sprintf(ex->a, "Enum \"%s\" cannot represent value.", t->name));
        return;
    }
    if (t->scalar->serialize(ex->a, v, &n->u.leaf, msg, sizeof(msg)) != 0) {
        field_error(ex, n, g, "INTERNAL_SERVER_ERROR", tq_arena_strdup(ex->a, msg));
        return;
    }
    n->kind = R_LEAF;
    count_bytes(ex, leaf_bytes(&n->u.leaf));
}

static void complete_value(tq_exec *ex, rnode *n, const tq_type_ref *t, field_group *g, const tq_schema_type *ptype,
                           const tq_schema_field *f, const tq_value *v)
{
    if (t->kind == TQ_GQL_TYPE_NON_NULL) {
        n->nonnull = true;
        if (v->kind == TQ_VAL_NULL) {
            field_error(ex, n, g, NULL,
                        tq_arena_sprintf(ex->a, "Cannot return null for non-nullable field %s.",
                                         field_coordinate(ex, ptype, f)));
            return;
        }
        t = t->of;
    }
    if (v->kind == TQ_VAL_NULL) {
        n->kind = R_NULL;
        count_bytes(ex, 4);
        return;
    }
    if (t->kind == TQ_GQL_TYPE_LIST) {
        if (v->kind != TQ_VAL_LIST) {
            field_error(ex, n, g, NULL,
                        tq_arena_sprintf(ex->a, "Expected Iterable, but did not find one for field \"%s\".",
                                         field_coordinate(ex, ptype, f)));
            return;
        }
        n->kind = R_LIST;
        n->u.list.count = v->u.list.count;
        count_bytes(ex, 2 + (v->u.list.count ? v->u.list.count - 1 : 0));
        n->u.list.items = tq_arena_calloc(ex->a, v->u.list.count ? v->u.list.count : 1, sizeof(rnode));
        for (uint32_t i = 0; i < v->u.list.count; i++) {
            rnode *item = &n->u.list.items[i];
            item->index = (int32_t)i;
            item->parent = n;
            item->nonnull = t->of->kind == TQ_GQL_TYPE_NON_NULL;
        }
        for (uint32_t i = 0; i < v->u.list.count && n->kind != R_NULL && !ex->too_large; i++)
            complete_value(ex, &n->u.list.items[i], t->of, g, ptype, f, &v->u.list.items[i]);
        return;
    }
    const tq_schema_type *nt = t->named;
    switch (nt->kind) {
    case TQ_TYPE_SCALAR:
    case TQ_TYPE_ENUM:
        complete_leaf(ex, n, nt, g, v);
        return;
    case TQ_TYPE_INTERFACE:
    case TQ_TYPE_UNION: {
        const tq_schema_type *object = v->kind == TQ_VAL_OBJECT ? v->u.object.type : NULL;
        if (object == NULL || object->kind != TQ_TYPE_OBJECT || !tq_schema_is_possible_type(nt, object)) {
            field_error(ex, n, g, NULL,
                        tq_arena_sprintf(ex->a,
                                         "Abstract type \"%s\" must resolve to an Object type at runtime for field "
                                         "\"%s\".",
                                         nt->name, field_coordinate(ex, ptype, f)));
            return;
        }
        execute_fields(ex, n, object, v, collect_subfields(ex, g, object));
        return;
    }
    case TQ_TYPE_OBJECT:
        if (v->kind != TQ_VAL_OBJECT) {
            field_error(ex, n, g, NULL,
                        tq_arena_sprintf(ex->a, "Expected an object for field \"%s\".", field_coordinate(ex, ptype, f)));
            return;
        }
        execute_fields(ex, n, nt, v, collect_subfields(ex, g, nt));
        return;
    default:
        field_error(ex, n, g, NULL, "Field of input type cannot be output.");
    }
}

void tq_field_resolve(tq_field_ctx *fc, tq_value v)
{
    field_task *task = fc->internal;
    tq_exec *ex = fc->exec;
    if (task->answered)
        return;
    task->answered = true;
    if (!ex->too_large && !is_dead(task->node))
        complete_value(ex, task->node, fc->field->type, task->group, fc->parent_type, fc->field, &v);
    finish_one(ex);
}

void tq_field_error(tq_field_ctx *fc, const char *code, const char *fmt, ...)
{
    field_task *task = fc->internal;
    tq_exec *ex = fc->exec;
    if (task->answered)
        return;
    task->answered = true;
    if (!ex->too_large && !is_dead(task->node)) {
        va_list ap;
        va_start(ap, fmt);
        const char *msg = vformat(ex->a, fmt, ap);
        va_end(ap);
        field_error(ex, task->node, task->group, code, msg);
    }
    finish_one(ex);
}

const tq_value *tq_field_arg(tq_field_ctx *fc, const char *name)
{
    return tq_value_get(fc->args, name);
}

/* ---- operation ---- */

static void finish(tq_exec *ex)
{
    if (ex->finished)
        return;
    ex->finished = true;
    ex->p.on_done(ex, ex->p.data);
}

/* Runs the next mutation field holding one unit, so that it starts only when the
 * previous one is complete, as the spec requires of mutations. */
static void run_next_serial(tq_exec *ex)
{
    uint32_t i = ex->next_root++;
    execute_field(ex, &ex->root.u.obj.fields[i], ex->root_type, NULL, &ex->root_groups->items[i]);
    finish_one(ex);
}

static void finish_one(tq_exec *ex)
{
    if (--ex->pending > 0)
        return;
    if (ex->serial && ex->next_root < ex->root_groups->count && ex->root.kind != R_NULL && !ex->too_large) {
        ex->pending++;
        run_next_serial(ex);
        return;
    }
    finish(ex);
}

static const tq_gql_operation *select_operation(tq_exec *ex)
{
    const char *want = ex->p.operation_name;
    const tq_gql_operation *found = NULL;
    uint32_t nops = 0;
    for (uint32_t i = 0; i < ex->p.doc->count; i++) {
        const tq_gql_definition *d = &ex->p.doc->defs[i];
        if (d->kind != TQ_GQL_DEF_OPERATION)
            continue;
        nops++;
        if (want == NULL || *want == '\0') {
            if (found == NULL)
                found = &d->u.operation;
        } else if (d->u.operation.name.len && strcmp(d->u.operation.name.s, want) == 0) {
            found = &d->u.operation;
        }
    }
    if ((want == NULL || *want == '\0') && nops > 1) {
        request_error(ex, NULL, NULL, "Must provide operation name if query contains multiple operations.");
        return NULL;
    }
    if (found == NULL) {
        if (want != NULL && *want != '\0')
            request_error(ex, NULL, NULL, "Unknown operation named \"%s\".", want);
        else
            request_error(ex, NULL, NULL, "Must provide an operation.");
    }
    return found;
}

tq_exec *tq_exec_create(const tq_exec_params *p)
{
    tq_exec *ex = tq_arena_calloc(p->arena, 1, sizeof(*ex));
    ex->p = *p;
    ex->a = p->arena;
    ex->errors_tail = &ex->errors;
    ex->root.index = -1;
    ex->op = select_operation(ex);
    return ex;
}

const tq_gql_operation *tq_exec_operation(tq_exec *ex)
{
    return ex->op;
}

const tq_schema *tq_exec_schema(tq_exec *ex)
{
    return ex->p.schema;
}

/* Where the selected operation's definition starts. */
static const tq_gql_loc *operation_loc(tq_exec *ex)
{
    for (uint32_t i = 0; i < ex->p.doc->count; i++)
        if (ex->p.doc->defs[i].kind == TQ_GQL_DEF_OPERATION && &ex->p.doc->defs[i].u.operation == ex->op)
            return &ex->p.doc->defs[i].loc;
    return NULL;
}

void tq_exec_run(tq_exec *ex)
{
    ex->pending = 1;
    if (ex->op == NULL) {
        finish_one(ex);
        return;
    }
    switch (ex->op->type) {
    case TQ_GQL_OP_QUERY:
        ex->root_type = ex->p.schema->query;
        break;
    case TQ_GQL_OP_MUTATION:
        ex->root_type = ex->p.schema->mutation;
        break;
    default:
        ex->root_type = ex->p.schema->subscription;
        break;
    }
    if (ex->root_type == NULL) {
        /* graphql-js: an execution error at the operation, with "data": null */
        exec_error *e = add_error(ex, NULL, NULL,
                                  tq_arena_sprintf(ex->a, "Schema is not configured to execute %s operation.",
                                                   ex->op->type == TQ_GQL_OP_MUTATION ? "mutation" : "subscription"));
        e->locs = operation_loc(ex);
        e->nlocs = e->locs != NULL;
        ex->root.kind = R_NULL;
        finish_one(ex);
        return;
    }
    ex->coerce = (tq_coerce){ex->a, ex->p.schema, NULL};
    ex->vars = tq_coerce_variables(&ex->coerce, ex->op, ex->p.variables, on_variable_error, ex);
    ex->coerce.vars = &ex->vars;
    if (ex->request_error) {
        finish_one(ex);
        return;
    }
    ex->serial = ex->op->type == TQ_GQL_OP_MUTATION; /* finish_one walks root_groups when serial */
    ex->root_groups = tq_arena_calloc(ex->a, 1, sizeof(group_list));
    ex->collection++;
    collect_fields(ex, ex->root_type, &ex->op->selection_set, ex->root_groups);
    if (!ex->serial) {
        execute_fields(ex, &ex->root, ex->root_type, NULL, ex->root_groups);
        finish_one(ex);
        return;
    }
    /* mutation: lay out the root object, then run its fields one after another */
    group_list *gl = ex->root_groups;
    lay_out_object(ex, &ex->root, gl);
    if (gl->count == 0) {
        finish_one(ex);
        return;
    }
    run_next_serial(ex);
}

bool tq_exec_is_request_error(tq_exec *ex)
{
    return ex->request_error;
}

bool tq_exec_answer_too_large(tq_exec *ex, size_t *bytes)
{
    if (bytes != NULL)
        *bytes = ex->bytes;
    return ex->too_large;
}

bool tq_exec_has_error_code(tq_exec *ex, const char *code)
{
    for (exec_error *e = ex->errors; e != NULL; e = e->next)
        if (e->code != NULL && strcmp(e->code, code) == 0)
            return true;
    return false;
}

size_t tq_exec_error_codes(tq_exec *ex, const char **codes, size_t max)
{
    size_t n = 0;
    for (exec_error *e = ex->errors; e != NULL && n < max; e = e->next) {
        if (e->code == NULL)
            continue;
        size_t i = 0;
        while (i < n && strcmp(codes[i], e->code) != 0)
            i++;
        if (i == n)
            codes[n++] = e->code;
    }
    return n;
}

/* ---- response ---- */

static void write_node(tq_strbuf *b, const rnode *n)
{
    switch (n->kind) {
    case R_LEAF: {
        const tq_value *v = &n->u.leaf;
        switch (v->kind) {
        case TQ_VAL_BOOL:
            if (v->u.b)
                tq_strbuf_lit(b, "true");
            else
                tq_strbuf_lit(b, "false");
            break;
        case TQ_VAL_INT:
            tq_json_write_int(b, v->u.i);
            break;
        case TQ_VAL_FLOAT:
            tq_json_write_double(b, v->u.f);
            break;
        case TQ_VAL_STRING:
        case TQ_VAL_ENUM:
            tq_json_write_string(b, v->u.s.s, v->u.s.len);
            break;
        default:
            tq_strbuf_lit(b, "null");
        }
        break;
    }
    case R_LIST:
        tq_strbuf_putc(b, '[');
        for (uint32_t i = 0; i < n->u.list.count; i++) {
            if (i)
                tq_strbuf_putc(b, ',');
            write_node(b, &n->u.list.items[i]);
        }
        tq_strbuf_putc(b, ']');
        break;
    case R_OBJECT:
        tq_strbuf_putc(b, '{');
        for (uint32_t i = 0; i < n->u.obj.count; i++) {
            const rnode *f = &n->u.obj.fields[i];
            if (i)
                tq_strbuf_putc(b, ',');
            tq_json_write_string(b, f->key.s, f->key.len);
            tq_strbuf_putc(b, ':');
            write_node(b, f);
        }
        tq_strbuf_putc(b, '}');
        break;
    default:
        tq_strbuf_lit(b, "null");
    }
}

static void write_path(tq_strbuf *b, const rnode *n)
{
    if (n->parent == NULL)
        return;
    write_path(b, n->parent);
    if (b->data[b->len - 1] != '[')
        tq_strbuf_putc(b, ',');
    if (n->index >= 0)
        tq_json_write_int(b, n->index);
    else
        tq_json_write_string(b, n->key.s, n->key.len);
}

static void write_error(tq_strbuf *b, const exec_error *e)
{
    tq_strbuf_lit(b, "{\"message\":");
    tq_json_write_cstr(b, e->message);
    if (e->nlocs > 0) {
        tq_strbuf_lit(b, ",\"locations\":[");
        for (uint32_t i = 0; i < e->nlocs; i++)
            tq_strbuf_printf(b, "%s{\"line\":%u,\"column\":%u}", i ? "," : "", e->locs[i].line, e->locs[i].column);
        tq_strbuf_putc(b, ']');
    }
    if (e->at != NULL) {
        tq_strbuf_lit(b, ",\"path\":[");
        write_path(b, e->at);
        tq_strbuf_putc(b, ']');
    }
    if (e->code != NULL) {
        tq_strbuf_lit(b, ",\"extensions\":{\"code\":");
        tq_json_write_cstr(b, e->code);
        tq_strbuf_putc(b, '}');
    }
    tq_strbuf_putc(b, '}');
}

/* The answer that replaces one past the cap: nothing of it, one error. */
static void write_too_large(tq_exec *ex, tq_strbuf *b)
{
    tq_strbuf_printf(b,
                     "{\"errors\":[{\"message\":\"The answer is larger than this server sends (%zu bytes); ask "
                     "for fewer fields or items.\",\"extensions\":{\"code\":\"QUERY_TOO_COMPLEX\",\"limit\":"
                     "{\"name\":\"response_bytes\",\"max\":%zu,\"actual\":%zu}}}]}",
                     ex->p.max_response_bytes, ex->p.max_response_bytes, ex->bytes);
}

void tq_exec_write_response(tq_exec *ex, tq_strbuf *b)
{
    if (ex->too_large) {
        write_too_large(ex, b);
        return;
    }
    tq_strbuf_putc(b, '{');
    if (ex->errors != NULL) {
        tq_strbuf_lit(b, "\"errors\":[");
        for (exec_error *e = ex->errors; e != NULL; e = e->next) {
            if (e != ex->errors)
                tq_strbuf_putc(b, ',');
            write_error(b, e);
        }
        tq_strbuf_putc(b, ']');
    }
    if (!ex->request_error) {
        if (ex->errors != NULL)
            tq_strbuf_putc(b, ',');
        tq_strbuf_lit(b, "\"data\":");
        write_node(b, &ex->root);
    }
    tq_strbuf_putc(b, '}');
}
