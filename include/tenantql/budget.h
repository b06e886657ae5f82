/*
 * budget.h - what an operation would cost, measured before anything runs.
 *
 * The selected operation of a validated document is measured with its fragments expanded
 * and the request's variables (and the defaults of variables and arguments) applied:
 *
 *   depth    the deepest field nesting (a root field is 1)
 *   fields   field selections, each fragment counted wherever it is spread
 *   aliases  field selections written with an alias
 *   cost     every field costs 1; a list field multiplies the cost of its selections by
 *            the number of items it can return (a connection's `first`, the length of
 *            `nodes`' ids, or for introspection the real sizes of this schema)
 *
 * Each fragment is measured once per request and its measure reused wherever it is
 * spread, so measuring is linear in the document, however large its expansion. Numbers
 * saturate at TQ_BUDGET_SATURATED: a measure that reaches it means "at least this".
 */
#ifndef TENANTQL_BUDGET_H
#define TENANTQL_BUDGET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tenantql/arena.h"
#include "tenantql/ast.h"
#include "tenantql/schema.h"

/* Where measures stop growing: the largest integer a JSON client reads exactly. */
#define TQ_BUDGET_SATURATED ((uint64_t)9007199254740991)

typedef enum tq_budget_limit {
    TQ_LIMIT_DEPTH,
    TQ_LIMIT_FIELDS,
    TQ_LIMIT_ALIASES,
    TQ_LIMIT_COST,
    TQ_LIMIT_COUNT_,
} tq_budget_limit;

/* "depth", "fields", "aliases", "cost": the name clients see in extensions.limit (static). */
const char *tq_budget_limit_name(tq_budget_limit limit);

typedef struct tq_budget_measure {
    uint64_t value[TQ_LIMIT_COUNT_]; /* by tq_budget_limit */
} tq_budget_measure;

/* How many items a field returns at most, so that the cost of its selections can be
 * multiplied by it: every list field of the schema has one, and a field that is not a
 * list may carry the size of a list below it (a connection, the size of its page). */
typedef enum tq_budget_size_kind {
    TQ_BUDGET_SIZE_ARG,    /* factor × the integer argument `arg` (0..max) */
    TQ_BUDGET_SIZE_LENGTH, /* the length of the list argument `arg` (at most max) */
    TQ_BUDGET_SIZE_FIXED,  /* always factor (e.g. 1 for a connection's edges: the connection counts them) */
} tq_budget_size_kind;

typedef struct tq_budget_list_size {
    const char *coordinate; /* "Query.users"; NULL ends a table */
    tq_budget_size_kind kind;
    const char *arg;
    uint32_t factor;
    uint32_t max; /* the largest value the field accepts; larger ones fail without items */
} tq_budget_list_size;

typedef struct tq_budget_schema tq_budget_schema;

/* What the budget knows of a schema: the sizes of its list fields (the table's, and the
 * introspection fields' from the schema itself). Every list field of an object or
 * interface type must have a size: NULL and a message naming the field otherwise, so that
 * no list escapes the cost. Immutable, shared by all threads; valid until freed. */
tq_budget_schema *tq_budget_schema_new(const tq_schema *s, const tq_budget_list_size *sizes, char *err, size_t errlen);
void tq_budget_schema_free(tq_budget_schema *bs);

/* Measures op of doc (validated) with variables (an object, or NULL). Working memory
 * comes from the arena. */
tq_budget_measure tq_budget_measure_operation(const tq_budget_schema *bs, const tq_gql_document *doc,
                                              const tq_gql_operation *op, const json_t *variables, tq_arena *a);

#endif
