/*
 * schema_rules.h - the type system's validation rules, run by tq_schema_build so that a
 * schema the spec would reject never serves. Each check returns 0, or -1 with the first
 * problem in err (graphql-js's wording, naming the type, field or argument).
 */
#ifndef TENANTQL_SCHEMA_RULES_H
#define TENANTQL_SCHEMA_RULES_H

#include <stddef.h>

#include "tenantql/ast.h"
#include "tenantql/schema.h"

/* Rules of the SDL document itself: reserved "__" names, unique type, directive, field,
 * argument and enum value names, extensions of defined types of the same kind only,
 * one schema definition. Run before anything is built. */
int tq_schema_check_sdl(const tq_gql_document *doc, char *err, size_t errlen);

/* Directives used in the SDL: known, allowed where they stand, not repeated unless
 * repeatable, with known and required arguments. Needs the schema's directives. */
int tq_schema_check_directive_uses(const tq_schema *s, const tq_gql_document *doc, char *err, size_t errlen);

/* Rules of the built types (graphql-js validateSchema): roots, fields and arguments,
 * interface implementations, union members, enum values, input objects and their
 * non-null cycles, directive arguments. */
int tq_schema_check_types(const tq_schema *s, char *err, size_t errlen);

#endif
