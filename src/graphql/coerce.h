/*
 * coerce.h - input coercion for the executor (spec 6.1.2 CoerceVariableValues, 6.4.1
 * CoerceArgumentValues): JSON variables and the document's literals, input objects and
 * lists included, into runtime values of their input types, with the messages clients
 * see when a value does not fit. Internal to the graphql module: exec.c uses it.
 */
#ifndef TENANTQL_GRAPHQL_COERCE_H
#define TENANTQL_GRAPHQL_COERCE_H

#include <jansson.h>

#include "tenantql/schema.h"

/* What coercion reads and where it allocates. */
typedef struct tq_coerce {
    tq_arena *a;                /* every value and message made; they live as long as it */
    const tq_schema *schema;
    const tq_value *vars;       /* coerced variables, for literals naming one (NULL: none yet) */
} tq_coerce;

/* Called once per variable that cannot be coerced: a request error. message is in c->a;
 * loc is the variable definition's, in the document. */
typedef void tq_coerce_error_fn(void *data, const char *code, const tq_gql_loc *loc, const char *message);

/* CoerceVariableValues: an object (in c->a) of op's variables that were given (in
 * `given`, a JSON object or NULL) or have a default. Each variable that cannot be
 * coerced is reported through on_error and left out. c->vars is not read. */
tq_value tq_coerce_variables(const tq_coerce *c, const tq_gql_operation *op, json_t *given,
                             tq_coerce_error_fn *on_error, void *data);

/* CoerceArgumentValues: *out becomes an object (in c->a) of f's arguments given at node
 * or defaulted. Returns NULL, or the message (in c->a) of the first argument that cannot
 * be coerced; *out is then incomplete. */
const char *tq_coerce_arguments(const tq_coerce *c, const tq_schema_field *f, const tq_gql_selection *node,
                                tq_value *out);

#endif
