/*
 * tq_validate_cli.c - test tool for the differential validation test: validates a
 * GraphQL document against a schema SDL file and prints the errors as JSON,
 *   [{"message": "...", "locations": [{"line": 1, "column": 2}]}, ...]
 * or {"syntaxError": "...", "locations": [...]} when the document does not parse.
 * The document is parsed with type system definitions allowed, so that the
 * ExecutableDefinitions rule can be exercised. Built by meson, never installed.
 *
 * usage: tq_validate_cli SCHEMA.graphql DOCUMENT.graphql
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/parser.h"
#include "tenantql/scalars.h"
#include "tenantql/schema.h"
#include "tenantql/validate.h"
#include "tenantql/json_writer.h"
#include "tenantql/strbuf.h"

/* Scalars of other SDL files than the server's accept any literal, as graphql-js's
 * default scalars do. */
static int any_literal(tq_arena *a, const tq_gql_value *lit, tq_value *out, char *err, size_t errlen)
{
    (void)a, (void)lit, (void)err, (void)errlen;
    *out = tq_value_null();
    return 0;
}
static const tq_scalar_ops any_scalar = {NULL, any_literal, NULL};

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* One binding per custom scalar of the SDL: the server's two, and "any" for others. */
static tq_scalar_binding *scalar_bindings(tq_arena *a, const char *sdl, size_t len)
{
    tq_gql_parse_options o = {.allow_type_system = true};
    tq_gql_parse_error e;
    tq_gql_document *doc = tq_gql_parse(a, sdl, len, &o, &e);
    tq_scalar_binding *b = tq_arena_calloc(a, doc ? doc->count + 1 : 1, sizeof(*b));
    uint32_t n = 0;
    for (uint32_t i = 0; doc != NULL && i < doc->count; i++) {
        const tq_gql_definition *d = &doc->defs[i];
        if (d->kind != TQ_GQL_DEF_SCALAR || d->extension)
            continue;
        b[n].name = d->u.type.name.s;
        b[n].ops = strcmp(b[n].name, "DateTime") == 0  ? &tq_scalar_datetime
                   : strcmp(b[n].name, "Decimal") == 0 ? &tq_scalar_decimal
                                                        : &any_scalar;
        n++;
    }
    return b;
}

static void write_locations(tq_strbuf *out, const tq_gql_loc *locs, uint32_t n)
{
    tq_strbuf_lit(out, "\"locations\":[");
    for (uint32_t i = 0; i < n; i++)
        tq_strbuf_printf(out, "%s{\"line\":%u,\"column\":%u}", i ? "," : "", locs[i].line, locs[i].column);
    tq_strbuf_lit(out, "]");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SCHEMA.graphql DOCUMENT.graphql\n", argv[0]);
        return 2;
    }
    size_t sdl_len, doc_len;
    char *sdl = read_file(argv[1], &sdl_len), *text = read_file(argv[2], &doc_len);
    tq_arena a;
    tq_arena_init(&a, 16384);
    char err[512];
    tq_schema *schema = tq_schema_build(sdl, sdl_len, NULL, scalar_bindings(&a, sdl, sdl_len), err, sizeof(err));
    if (schema == NULL) {
        fprintf(stderr, "schema: %s\n", err);
        return 2;
    }

    tq_strbuf out = TQ_STRBUF_INIT;
    tq_gql_parse_options o = {.allow_type_system = true};
    tq_gql_parse_error perr;
    tq_gql_document *doc = tq_gql_parse(&a, text, doc_len, &o, &perr);
    if (doc == NULL) {
        tq_strbuf_lit(&out, "{\"syntaxError\":");
        tq_json_write_cstr(&out, perr.message);
        tq_strbuf_lit(&out, ",");
        write_locations(&out, &perr.loc, 1);
        tq_strbuf_lit(&out, "}");
    } else {
        tq_validation_result r = tq_validate(schema, doc, &a);
        if (getenv("TQ_VALIDATE_STATS") != NULL) /* for whoever tunes the bounds */
            fprintf(stderr, "steps %llu, no conflicting fields %s\n", (unsigned long long)r.steps,
                    r.overlap_proven ? "proven" : "searched for");
        tq_strbuf_lit(&out, "[");
        for (uint32_t i = 0; i < r.count; i++) {
            if (i > 0)
                tq_strbuf_lit(&out, ",\n");
            tq_strbuf_lit(&out, "{\"message\":");
            tq_json_write_cstr(&out, r.errors[i].message);
            tq_strbuf_lit(&out, ",");
            write_locations(&out, r.errors[i].locations, r.errors[i].nlocations);
            tq_strbuf_lit(&out, "}");
        }
        tq_strbuf_lit(&out, "]");
    }
    fwrite(out.data, 1, out.len, stdout);
    fputc('\n', stdout);
    tq_strbuf_free(&out);
    tq_schema_free(schema);
    tq_arena_free(&a);
    free(sdl);
    free(text);
    return 0;
}
