/*
 * lexer.h - private interface between the GraphQL lexer and parser.
 *
 * The lexer turns UTF-8 source into one token at a time, skipping ignored tokens (BOM,
 * white space, line terminators, commas, comments). String values are decoded into the
 * arena as they are read; names and numbers are left pointing into the source so that
 * keywords can be compared without copying. Columns are tracked in UTF-16 code units,
 * as graphql-js reports them.
 */
#ifndef TENANTQL_GQL_LEXER_H
#define TENANTQL_GQL_LEXER_H

#include <stdbool.h>
#include <stddef.h>

#include "tenantql/arena.h"
#include "tenantql/ast.h"
#include "tenantql/parser.h"

typedef enum tq_gql_token_kind {
    TQ_TOK_EOF,
    TQ_TOK_BANG,
    TQ_TOK_DOLLAR,
    TQ_TOK_AMP,
    TQ_TOK_PAREN_L,
    TQ_TOK_PAREN_R,
    TQ_TOK_SPREAD,
    TQ_TOK_COLON,
    TQ_TOK_EQUALS,
    TQ_TOK_AT,
    TQ_TOK_BRACKET_L,
    TQ_TOK_BRACKET_R,
    TQ_TOK_BRACE_L,
    TQ_TOK_PIPE,
    TQ_TOK_BRACE_R,
    TQ_TOK_NAME,
    TQ_TOK_INT,
    TQ_TOK_FLOAT,
    TQ_TOK_STRING,
    TQ_TOK_BLOCK_STRING,
} tq_gql_token_kind;

typedef struct tq_gql_token {
    tq_gql_token_kind kind;
    tq_gql_loc loc;
    /* NAME, INT, FLOAT: the text in the source (not NUL-terminated).
     * STRING, BLOCK_STRING: the decoded value, in the arena and NUL-terminated.
     * Punctuators and EOF: s == NULL. */
    tq_str value;
} tq_gql_token;

typedef struct tq_gql_lexer {
    const char *src, *pos, *end;
    const char *line_start;   /* first byte of the line pos is on */
    uint32_t line;
    /* Bytes minus UTF-16 code units of the multi-byte characters seen since line_start;
     * subtracting it turns a byte offset into a graphql-js column. */
    uint32_t col_adjust;
    tq_arena *arena;
    tq_gql_parse_error err;   /* set when tq_gql_lexer_next fails */
} tq_gql_lexer;

void tq_gql_lexer_init(tq_gql_lexer *lx, tq_arena *a, const char *src, size_t len);

/* Reads the next token into *t. At the end of the source it keeps returning EOF.
 * Returns false on a lexical error, described by lx->err. */
bool tq_gql_lexer_next(tq_gql_lexer *lx, tq_gql_token *t);

/* How graphql-js names a token kind in messages: "Name", "<EOF>", "\"{\"" ... */
const char *tq_gql_token_kind_desc(tq_gql_token_kind kind);

#endif
