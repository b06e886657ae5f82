/*
 * introspection.h - the schema describing itself (spec section 4): resolvers of the
 * introspection types (__Schema, __Type, ...) and of the __schema and __type fields,
 * and the check that refuses introspection when a server turns it off.
 */
#ifndef TENANTQL_INTROSPECTION_H
#define TENANTQL_INTROSPECTION_H

#include <stdbool.h>

#include "tenantql/schema.h"
#include "tenantql/strbuf.h"

/* Resolvers of the introspection types' fields, bound by tq_schema_build; ends with a
 * NULL coordinate. */
extern const tq_resolver_binding tq_introspection_resolvers[];

/* Query.__schema and Query.__type(name:). */
void tq_introspection_resolve_schema(tq_field_ctx *fc);
void tq_introspection_resolve_type(tq_field_ctx *fc);

/* With introspection turned off: when the document selects any field whose type is an
 * introspection type (as graphql-js's NoSchemaIntrospectionCustomRule finds them, in
 * document order), writes {"errors":[...]} (BAD_USER_INPUT, with locations) to out and
 * returns true. __typename is not introspection in this sense. */
bool tq_introspection_reject(const tq_schema *s, const tq_gql_document *doc, tq_strbuf *out);

#endif
