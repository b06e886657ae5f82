/*
 * fuzz_parser.c - libFuzzer entry point for the GraphQL parser. Every input is parsed
 * as a request (executable definitions only), as SDL, and as SDL again under a small
 * depth limit and token limit so that both limits are exercised. Beyond not crashing,
 * it checks what the parser promises: a document on success, a "Syntax Error: "
 * message with a 1-based location on failure, and that forbidding the type system
 * never turns a failure into a success.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_parser.c \
 *       src/graphql/lexer.c src/graphql/parser.c src/util/arena.c -o fuzz_parser
 *   ./fuzz_parser -max_len=4096 tests/fuzz/corpus_parser
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/arena.h"
#include "tenantql/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tq_gql_document *parse_once(tq_arena *a, const uint8_t *data, size_t size, bool sdl, uint32_t max_depth,
                                   uint32_t max_tokens)
{
    tq_gql_parse_options opts = {.allow_type_system = sdl, .max_depth = max_depth, .max_tokens = max_tokens};
    tq_gql_parse_error err;
    tq_gql_document *doc = tq_gql_parse(a, (const char *)data, size, &opts, &err);

    if (doc == NULL) {
        if (strncmp(err.message, "Syntax Error: ", 14) != 0 || err.loc.line == 0 || err.loc.column == 0)
            abort();
    } else if (doc->count == 0 || doc->defs == NULL) {
        abort();
    }
    return doc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tq_arena a;

    tq_arena_init(&a, 0);
    /* a private copy, so that reading past size is caught by ASan */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);

    tq_gql_document *as_request = parse_once(&a, copy, size, false, 0, 0);
    tq_gql_document *as_sdl = parse_once(&a, copy, size, true, 0, 0);
    if (as_request != NULL && as_sdl == NULL)
        abort();
    parse_once(&a, copy, size, true, 8, 64);

    free(copy);
    tq_arena_free(&a);
    return 0;
}
