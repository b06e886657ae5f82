/*
 * fuzz_validate.c - libFuzzer entry point for validation: every input that parses as a
 * request is validated against the server's own schema (schema/schema.graphql, as
 * compiled into the binary). Validation walks fragments, variables and nested values
 * that the parser never interprets, so cycles, deep spreads and odd literals meet it
 * here. Beyond not crashing or hanging, it checks what tq_validate promises: at most
 * 100 errors plus the one that says so, every error has a message and locations that
 * point into the document (1-based), and when the linear proof that no fields conflict
 * succeeds, graphql-js's search (run without the proof) finds nothing it missed: the
 * errors are the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/arena.h"
#include "tenantql/embedded.h"
#include "tenantql/parser.h"
#include "tenantql/scalars.h"
#include "tenantql/schema.h"
#include "tenantql/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Built once per process: libFuzzer calls the entry point millions of times. */
static tq_schema *server_schema(void)
{
    static tq_schema *schema;
    if (schema == NULL) {
        static const tq_scalar_binding scalars[] = {
            {"DateTime", &tq_scalar_datetime}, {"Decimal", &tq_scalar_decimal}, {NULL, NULL}};
        const tq_embedded_file *sdl = tq_embedded_find("schema/schema.graphql");
        char err[256];
        schema = sdl != NULL ? tq_schema_build(sdl->data, sdl->len, NULL, scalars, err, sizeof(err)) : NULL;
        if (schema == NULL)
            abort();
    }
    return schema;
}

static void check_result(const tq_validation_result *r, const uint8_t *data, size_t size)
{
    if (r->count > TQ_VALIDATE_MAX_ERRORS + 1)
        abort();
    uint32_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n' || (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n'));
    for (uint32_t i = 0; i < r->count; i++) {
        const tq_validation_error *e = &r->errors[i];
        if (e->message == NULL || e->message[0] == '\0')
            abort();
        for (uint32_t k = 0; k < e->nlocations; k++)
            if (e->locations[k].line == 0 || e->locations[k].line > lines || e->locations[k].column == 0)
                abort();
    }
}

/* The proof agrees with the search it spares. */
static void check_proof(const tq_schema *schema, const tq_gql_document *doc, const tq_validation_result *r, tq_arena *a)
{
    if (!r->overlap_proven)
        return;
    tq_validation_result searched = tq_validate_with(schema, doc, a, TQ_VALIDATE_NO_OVERLAP_PROOF);
    /* the search may give up on its budget where the proof did not need it */
    if (searched.count > 0 && strstr(searched.errors[searched.count - 1].message, "too complex") != NULL)
        return;
    if (searched.count != r->count)
        abort();
    for (uint32_t i = 0; i < r->count; i++)
        if (strcmp(searched.errors[i].message, r->errors[i].message) != 0 ||
            searched.errors[i].nlocations != r->errors[i].nlocations)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tq_schema *schema = server_schema();
    tq_arena a;
    tq_arena_init(&a, 0);
    uint8_t *copy = malloc(size ? size : 1); /* reads past size are caught by ASan */
    memcpy(copy, data, size);

    /* the limits the HTTP handler uses, so that what is fuzzed is what is served */
    tq_gql_parse_options opts = {.allow_type_system = false, .max_depth = 64, .max_tokens = 20000};
    tq_gql_parse_error err;
    tq_gql_document *doc = tq_gql_parse(&a, (const char *)copy, size, &opts, &err);
    if (doc != NULL) {
        tq_validation_result r = tq_validate(schema, doc, &a);
        check_result(&r, copy, size);
        check_proof(schema, doc, &r, &a);
    }
    free(copy);
    tq_arena_free(&a);
    return 0;
}
