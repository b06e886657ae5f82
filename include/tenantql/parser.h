/*
 * parser.h - lexer and recursive-descent parser for GraphQL documents.
 *
 * Parsing is all-or-nothing: on the first syntax error the parser stops and reports one
 * error with the message graphql-js would give ("Syntax Error: Expected Name, found
 * <EOF>.") and its location. Depth and token limits turn hostile input (deep nesting,
 * megabytes of tokens) into an ordinary syntax error instead of a stack overflow.
 */
#ifndef TENANTQL_PARSER_H
#define TENANTQL_PARSER_H

#include <stddef.h>

#include "tenantql/arena.h"
#include "tenantql/ast.h"

typedef struct tq_gql_parse_options {
    bool allow_type_system;  /* accept SDL definitions (schema loading); false for requests */
    uint32_t max_depth;      /* nesting of selection sets, list/object values, type wrappers; 0 = 64 */
    uint32_t max_tokens;     /* 0 = unlimited */
} tq_gql_parse_options;

typedef struct tq_gql_parse_error {
    char message[256];
    tq_gql_loc loc;
} tq_gql_parse_error;

/* Parses src[0..len) (UTF-8, need not be NUL-terminated). Returns NULL and fills *err on
 * a syntax error. The returned document and all its parts live in arena a. */
tq_gql_document *tq_gql_parse(tq_arena *a, const char *src, size_t len, const tq_gql_parse_options *opts,
                              tq_gql_parse_error *err);

#endif
