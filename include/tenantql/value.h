/*
 * value.h - runtime values flowing through execution: coerced arguments and
 * variables on the way in, resolver results on the way out. Arena-allocated like the
 * rest of a request.
 */
#ifndef TENANTQL_VALUE_H
#define TENANTQL_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "tenantql/arena.h"
#include "tenantql/ast.h"

struct tq_schema_type;

typedef enum tq_value_kind {
    TQ_VAL_NULL,
    TQ_VAL_BOOL,
    TQ_VAL_INT,
    TQ_VAL_FLOAT,
    TQ_VAL_STRING,  /* also the serialized text of custom scalars (DateTime, Decimal) and IDs */
    TQ_VAL_ENUM,
    TQ_VAL_LIST,
    TQ_VAL_OBJECT,
} tq_value_kind;

typedef struct tq_value tq_value;
typedef struct tq_value_field tq_value_field;

struct tq_value {
    tq_value_kind kind;
    union {
        bool b;
        int64_t i;
        double f;
        tq_str s;
        struct {
            tq_value *items;
            uint32_t count;
        } list;
        struct {
            const struct tq_schema_type *type; /* concrete object type, for abstract fields and __typename */
            tq_value_field *fields;
            uint32_t count;
            void *native;                      /* resolver-private data (e.g. a connection's query) */
        } object;
    } u;
};

struct tq_value_field {
    tq_str name;
    tq_value value;
};

static inline tq_value tq_value_null(void)
{
    tq_value v = {.kind = TQ_VAL_NULL};
    return v;
}

static inline tq_value tq_value_bool(bool b)
{
    tq_value v = {.kind = TQ_VAL_BOOL, .u.b = b};
    return v;
}

static inline tq_value tq_value_int(int64_t i)
{
    tq_value v = {.kind = TQ_VAL_INT, .u.i = i};
    return v;
}

static inline tq_value tq_value_string(const char *s, uint32_t len)
{
    tq_value v = {.kind = TQ_VAL_STRING, .u.s = {s, len}};
    return v;
}

/* An object of `type` with room for n fields, filled with tq_value_object_set. */
tq_value tq_value_object(tq_arena *a, const struct tq_schema_type *type, uint32_t n);
void tq_value_object_set(tq_value *obj, uint32_t i, const char *name, tq_value v);
tq_value tq_value_list(tq_arena *a, uint32_t n);

/* Field of an object value by name (inside the object: valid as long as it is), or NULL
 * when absent. */
const tq_value *tq_value_get(const tq_value *obj, const char *name);

#endif
