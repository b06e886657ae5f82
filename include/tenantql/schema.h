/*
 * schema.h - the executable schema: types built from the SDL file at start-up, with
 * resolvers bound by "Type.field" name and custom scalars bound by type name. Immutable
 * once built and shared by all worker threads.
 */
#ifndef TENANTQL_SCHEMA_H
#define TENANTQL_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "tenantql/arena.h"
#include "tenantql/ast.h"
#include "tenantql/value.h"

typedef struct tq_schema_type tq_schema_type;
typedef struct tq_field_ctx tq_field_ctx;

typedef enum tq_type_kind {
    TQ_TYPE_SCALAR,
    TQ_TYPE_OBJECT,
    TQ_TYPE_INTERFACE,
    TQ_TYPE_UNION,
    TQ_TYPE_ENUM,
    TQ_TYPE_INPUT_OBJECT,
} tq_type_kind;

typedef struct tq_type_ref {
    tq_gql_type_kind kind;        /* NAMED, LIST, NON_NULL */
    const tq_schema_type *named;  /* NAMED */
    const struct tq_type_ref *of; /* LIST, NON_NULL */
} tq_type_ref;

/* Resolvers answer exactly once, now or later, through tq_field_resolve or
 * tq_field_error (exec.h). */
typedef void (*tq_resolver_fn)(tq_field_ctx *fc);

typedef struct tq_input_value {
    const char *name;
    tq_str description;
    const tq_type_ref *type;
    const tq_gql_value *default_literal; /* NULL when there is no default */
    bool deprecated;
    const char *deprecation_reason;
} tq_input_value;

typedef struct tq_schema_field {
    const char *name;
    tq_str description;
    const tq_type_ref *type;
    tq_input_value *args;
    uint32_t nargs;
    tq_resolver_fn resolve;       /* NULL: the parent object's field of the same name */
    bool deprecated;
    const char *deprecation_reason;
} tq_schema_field;

typedef struct tq_enum_value {
    const char *name;
    tq_str description;
    bool deprecated;
    const char *deprecation_reason;
} tq_enum_value;

/* Custom scalar behaviour. Each returns 0, or -1 with a message in err. */
typedef struct tq_scalar_ops {
    /* resolver value -> response value (a leaf: string, int, float, bool) */
    int (*serialize)(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen);
    /* input literal (no variables inside) or variable value -> internal value */
    int (*parse_literal)(tq_arena *a, const tq_gql_value *lit, tq_value *out, char *err, size_t errlen);
    int (*parse_value)(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen);
} tq_scalar_ops;

struct tq_schema_type {
    tq_type_kind kind;
    const char *name;
    tq_str description;
    tq_schema_field *fields;            /* OBJECT, INTERFACE */
    uint32_t nfields;
    const tq_schema_type **interfaces;  /* OBJECT, INTERFACE */
    uint32_t ninterfaces;
    const tq_schema_type **possible;    /* UNION members; INTERFACE implementations */
    uint32_t npossible;
    tq_enum_value *values;              /* ENUM */
    uint32_t nvalues;
    tq_input_value *input_fields;       /* INPUT_OBJECT */
    uint32_t ninput_fields;
    const tq_scalar_ops *scalar;        /* SCALAR */
    const char *specified_by;
};

/* Where a directive may appear, in the order of the spec's DirectiveLocation enum. */
typedef enum tq_directive_location {
    TQ_DLOC_QUERY, TQ_DLOC_MUTATION, TQ_DLOC_SUBSCRIPTION, TQ_DLOC_FIELD, TQ_DLOC_FRAGMENT_DEFINITION,
    TQ_DLOC_FRAGMENT_SPREAD, TQ_DLOC_INLINE_FRAGMENT, TQ_DLOC_VARIABLE_DEFINITION,
    TQ_DLOC_SCHEMA, TQ_DLOC_SCALAR, TQ_DLOC_OBJECT, TQ_DLOC_FIELD_DEFINITION, TQ_DLOC_ARGUMENT_DEFINITION,
    TQ_DLOC_INTERFACE, TQ_DLOC_UNION, TQ_DLOC_ENUM, TQ_DLOC_ENUM_VALUE, TQ_DLOC_INPUT_OBJECT,
    TQ_DLOC_INPUT_FIELD_DEFINITION,
    TQ_DLOC_COUNT_,
} tq_directive_location;

/* The spec's name of a location ("FIELD_DEFINITION"; static text). */
const char *tq_directive_location_name(tq_directive_location loc);

typedef struct tq_schema_directive {
    const char *name;                   /* without '@' */
    tq_str description;
    tq_input_value *args;
    uint32_t nargs;
    uint32_t locations;                 /* bit (1u << tq_directive_location) per allowed location */
    const tq_directive_location *location_list; /* as written, for introspection */
    uint32_t nlocation_list;
    bool repeatable;
    bool builtin;                       /* @include, @skip, @deprecated, @specifiedBy */
} tq_schema_directive;

typedef struct tq_schema {
    tq_arena arena;                     /* owns everything below, and the parsed SDL */
    tq_schema_type **types;
    uint32_t ntypes;
    tq_schema_directive **directives;   /* @include, @skip, @deprecated, @specifiedBy, then the SDL's */
    uint32_t ndirectives;
    const tq_schema_type *query, *mutation, *subscription;
    tq_str description;                 /* of the SDL's schema definition; s == NULL when absent */
    /* The types introspection lists and __type finds: those reachable from the SDL's own
     * types, the roots, the directives and __Schema, in graphql-js's order for
     * buildSchema(sdl) (so unused built-in scalars are left out). */
    const tq_schema_type **listed_types;
    uint32_t nlisted_types;
    /* __schema and __type, fields of the query root that its type does not declare */
    const tq_schema_field *schema_meta_field, *type_meta_field;
} tq_schema;

typedef struct tq_resolver_binding {
    const char *coordinate;             /* "Query.user" */
    tq_resolver_fn resolve;
} tq_resolver_binding;

typedef struct tq_scalar_binding {
    const char *name;                   /* "DateTime" */
    const tq_scalar_ops *ops;
} tq_scalar_binding;

/* Builds the schema from SDL text. Every binding must name an existing field or scalar,
 * and every custom scalar must be bound; NULL + err otherwise. The caller owns the schema
 * (tq_schema_free); everything found in it below is valid as long as it is. */
tq_schema *tq_schema_build(const char *sdl, size_t len, const tq_resolver_binding *resolvers,
                           const tq_scalar_binding *scalars, char *err, size_t errlen);
void tq_schema_free(tq_schema *s);

const tq_schema_type *tq_schema_find_type(const tq_schema *s, const char *name, size_t len);
const tq_schema_field *tq_schema_find_field(const tq_schema_type *t, const char *name, size_t len);
/* Like tq_schema_find_field, and also finds __schema and __type on the query root. */
const tq_schema_field *tq_schema_field_of(const tq_schema *s, const tq_schema_type *t, const char *name, size_t len);
/* A type of introspection (__Schema, __Type, ...): listed by introspection, described like
 * any other type, reserved names otherwise. */
bool tq_schema_is_introspection_type(const tq_schema_type *t);
const tq_schema_directive *tq_schema_find_directive(const tq_schema *s, const char *name, size_t len);
bool tq_schema_is_possible_type(const tq_schema_type *abstract, const tq_schema_type *object);

#endif
