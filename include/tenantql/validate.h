/*
 * validate.h - validation of an executable GraphQL document against the schema
 * (spec October 2021, section 5: every rule), before anything is executed.
 *
 * Errors come out in the count, order and locations graphql-js 16.8's validate() with
 * its specifiedRules gives for the same schema and document, with graphql-js's wording
 * (without "Did you mean" suggestions). Like graphql-js, validation stops after 100
 * errors and adds a 101st saying so. One deliberate difference: where a fragment cycle
 * runs through a field's sub-selection, graphql-js 16.8 recurses until its stack
 * overflows; here, as in graphql-js 16.9 and later, each field map is compared with
 * each fragment once.
 *
 * Validation is bounded for any document the parser accepts: every rule is linear or
 * n log n in the document's size, except graphql-js's search for conflicting fields
 * (OverlappingFieldsCanBeMerged) and the variables and fragments of each operation of a
 * document with many, which are quadratic at worst. Those run only after a linear proof
 * that no field can conflict has failed (validate_overlap_fast.c), and they spend from a
 * budget of TQ_VALIDATE_MAX_STEPS: a document that needs more is refused with one error,
 * "The document is too complex to validate", after the errors found until then.
 *
 * Everything - errors, messages and all working memory - lives in the caller's arena.
 */
#ifndef TENANTQL_VALIDATE_H
#define TENANTQL_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "tenantql/arena.h"
#include "tenantql/ast.h"
#include "tenantql/schema.h"

typedef struct tq_validation_error {
    const char *message;
    const tq_gql_loc *locations; /* may be empty (the "too many errors" error) */
    uint32_t nlocations;
} tq_validation_error;

typedef struct tq_validation_result {
    tq_validation_error *errors;
    uint32_t count;              /* 0: the document is valid */
    uint64_t steps;              /* of the budget spent (for tests of the bounds) */
    bool overlap_proven;         /* the linear proof that no fields conflict succeeded */
} tq_validation_result;

/* Most errors validation reports before it gives up (graphql-js's maxErrors). */
#define TQ_VALIDATE_MAX_ERRORS 100
/* The steps validation may spend on its super-linear parts: a comparison of two fields, a
 * fragment reached by an operation, a variable use collected for one. 100,000 are at most
 * a few tens of milliseconds of a worker and a few MiB, thousands of times what the
 * documents of the tests need when they are searched at all. */
#define TQ_VALIDATE_MAX_STEPS 100000

/* Validates doc against schema. Type system definitions in doc are reported as not
 * executable (the request parser rejects them earlier anyway). */
tq_validation_result tq_validate(const tq_schema *schema, const tq_gql_document *doc, tq_arena *a);

/* For tests of the proof: tq_validate without it, so that graphql-js's search for
 * conflicting fields runs on every selection set (the errors must be the same). */
#define TQ_VALIDATE_NO_OVERLAP_PROOF 1u
tq_validation_result tq_validate_with(const tq_schema *schema, const tq_gql_document *doc, tq_arena *a, unsigned flags);

#endif
