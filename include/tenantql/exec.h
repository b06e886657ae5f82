/*
 * exec.h - executes one operation of a parsed document against the schema.
 *
 * Execution builds a result tree in query order. Resolvers may answer later (after a
 * database round trip): each answer completes its part of the tree, and when nothing is
 * outstanding the executor calls on_done once. Nulls from errors propagate to the
 * nearest nullable parent as the spec says; errors carry message, locations, path and
 * extensions.code.
 */
#ifndef TENANTQL_EXEC_H
#define TENANTQL_EXEC_H

#include <jansson.h>
#include <stdbool.h>

#include "tenantql/schema.h"
#include "tenantql/strbuf.h"

typedef struct tq_exec tq_exec;

typedef struct tq_exec_params {
    const tq_schema *schema;
    const tq_gql_document *doc;
    const char *operation_name;          /* NULL or "" when not given */
    json_t *variables;                   /* object or NULL */
    void *context;                       /* the request, for resolvers */
    tq_arena *arena;                     /* everything the execution allocates */
    void (*on_done)(tq_exec *ex, void *data);
    void *data;
    size_t max_response_bytes; /* the answer cap (0: none): see tq_exec_answer_too_large */
} tq_exec_params;

struct tq_field_ctx {
    tq_exec *exec;
    void *context;                       /* tq_exec_params.context */
    tq_arena *arena;
    const tq_schema_type *parent_type;
    const tq_schema_field *field;
    const tq_value *parent;
    const tq_value *args;                /* coerced arguments: an object of the given ones */
    void *internal;                      /* the executor's own state for this field */
};

/* Creates an execution and selects its operation; it lives in p->arena, valid until the
 * arena is freed (which must wait for on_done). */
tq_exec *tq_exec_create(const tq_exec_params *p);
/* The selected operation (part of p->doc, valid as long as the document), or NULL when
 * selection failed (tq_exec_run then only reports). */
const tq_gql_operation *tq_exec_operation(tq_exec *ex);
/* Coerces variables and runs the operation; on_done is called exactly once, possibly
 * before this returns. A request error (bad operation name, bad variables) ends the
 * execution with no data. */
void tq_exec_run(tq_exec *ex);
/* Writes {"errors":[...],"data":...} (fields in query order). */
void tq_exec_write_response(tq_exec *ex, tq_strbuf *out);

/* The response has no "data" entry (request error). */
bool tq_exec_is_request_error(tq_exec *ex);
/* The answer grew past max_response_bytes: execution stopped there (answers still
 * outstanding are awaited and dropped) and the response is one QUERY_TOO_COMPLEX error
 * with extensions.limit {"name":"response_bytes","max","actual"} and no data - never a
 * part of the answer. The bytes are counted as values complete (keys, values,
 * punctuation and error messages: the JSON written, within a few bytes per error), so
 * the oversized answer is never built. *bytes: what had been counted when it stopped. */
bool tq_exec_answer_too_large(tq_exec *ex, size_t *bytes);
/* Whether any error carries this extensions.code. */
bool tq_exec_has_error_code(tq_exec *ex, const char *code);
/* The distinct extensions.code values of its errors, in order, at most max of them, into
 * codes (pointers valid while ex is); returns how many. */
size_t tq_exec_error_codes(tq_exec *ex, const char **codes, size_t max);

/* ---- for resolvers ---- */

/* A coerced argument (in the execution's arena), or NULL when not given. */
const tq_value *tq_field_arg(tq_field_ctx *fc, const char *name);
void tq_field_resolve(tq_field_ctx *fc, tq_value v);
void tq_field_error(tq_field_ctx *fc, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The schema the execution runs against (the caller's, as given). */
const tq_schema *tq_exec_schema(tq_exec *ex);

#endif
