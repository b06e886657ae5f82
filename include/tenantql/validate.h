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
 * Everything - errors, messages and all working memory - lives in the caller's arena.
 */
#ifndef TENANTQL_VALIDATE_H
#define TENANTQL_VALIDATE_H

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
} tq_validation_result;

/* Most errors validation reports before it gives up (graphql-js's maxErrors). */
#define TQ_VALIDATE_MAX_ERRORS 100

/* Validates doc against schema. Type system definitions in doc are reported as not
 * executable (the request parser rejects them earlier anyway). */
tq_validation_result tq_validate(const tq_schema *schema, const tq_gql_document *doc, tq_arena *a);

#endif
