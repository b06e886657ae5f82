/*
 * roots.h - what an operation asks for at its root, read from the parsed document before
 * it is validated: the server decides from it whether a request needs a token (an
 * operation of introspection fields or of `login` fields needs none), before it spends
 * anything on validation.
 */
#ifndef TENANTQL_ROOTS_H
#define TENANTQL_ROOTS_H

#include <stdbool.h>

#include "tenantql/arena.h"
#include "tenantql/ast.h"

/* True when op has at least one root field and every one of them, through fragment
 * spreads and inline fragments (directives ignored: a skipped field still counts), is one
 * of names (a NULL-terminated list). Bounded whatever the document: fragment cycles,
 * unknown fragments and documents past a few thousand root selections answer false. The
 * arena holds a scratch index of the fragments. */
bool tq_gql_roots_only(const tq_gql_document *doc, const tq_gql_operation *op, const char *const *names,
                       tq_arena *a);

#endif
