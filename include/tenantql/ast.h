/*
 * ast.h - the syntax tree of a GraphQL document (spec, October 2021 edition).
 *
 * Every node, array and string lives in the tq_arena given to the parser and dies with
 * it. Strings are tq_str: pointer plus length, and also NUL-terminated for convenience
 * (a GraphQL string value may itself contain U+0000, so trust len, not strlen).
 * Arrays are pointer + count; an absent optional list has count 0 and items NULL.
 * Locations are 1-based line and column, columns counted in UTF-16 code units like
 * graphql-js, so error locations match the reference implementation.
 */
#ifndef TENANTQL_AST_H
#define TENANTQL_AST_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tq_str {
    const char *s;
    uint32_t len;
} tq_str;

typedef struct tq_gql_loc {
    uint32_t line, column;
} tq_gql_loc;

typedef struct tq_gql_value tq_gql_value;
typedef struct tq_gql_type tq_gql_type;
typedef struct tq_gql_selection tq_gql_selection;

/* ---- values ---- */

typedef enum tq_gql_value_kind {
    TQ_GQL_VALUE_VARIABLE, /* str = variable name without '$' */
    TQ_GQL_VALUE_INT,      /* str = literal text as written, e.g. "-12" */
    TQ_GQL_VALUE_FLOAT,    /* str = literal text as written, e.g. "1.5e3" */
    TQ_GQL_VALUE_STRING,   /* str = decoded value (escapes resolved, block strings dedented) */
    TQ_GQL_VALUE_BOOLEAN,  /* boolean */
    TQ_GQL_VALUE_NULL,
    TQ_GQL_VALUE_ENUM,     /* str = enum value name */
    TQ_GQL_VALUE_LIST,     /* list */
    TQ_GQL_VALUE_OBJECT,   /* object */
} tq_gql_value_kind;

typedef struct tq_gql_object_field {
    tq_str name;
    tq_gql_loc loc;
    tq_gql_value *value;
} tq_gql_object_field;

struct tq_gql_value {
    tq_gql_value_kind kind;
    tq_gql_loc loc;
    bool block;            /* STRING only: written as a """block string""" */
    union {
        tq_str str;
        bool boolean;
        struct {
            tq_gql_value **items;
            uint32_t count;
        } list;
        struct {
            tq_gql_object_field *fields;
            uint32_t count;
        } object;
    } u;
};

/* ---- type references: Name, [T], T! ---- */

typedef enum tq_gql_type_kind {
    TQ_GQL_TYPE_NAMED,
    TQ_GQL_TYPE_LIST,
    TQ_GQL_TYPE_NON_NULL,
} tq_gql_type_kind;

struct tq_gql_type {
    tq_gql_type_kind kind;
    tq_gql_loc loc;
    tq_str name;           /* NAMED */
    tq_gql_type *of_type;  /* LIST, NON_NULL */
};

/* ---- arguments and directives ---- */

typedef struct tq_gql_argument {
    tq_str name;
    tq_gql_loc loc;
    tq_gql_value *value;
} tq_gql_argument;

typedef struct tq_gql_directive {
    tq_str name;           /* without '@' */
    tq_gql_loc loc;        /* of the '@' */
    tq_gql_argument *args;
    uint32_t nargs;
} tq_gql_directive;

/* ---- selections ---- */

typedef struct tq_gql_selection_set {
    tq_gql_selection *items;
    uint32_t count;        /* 0 = no selection set (a leaf field); a written "{}" is a syntax error */
    tq_gql_loc loc;        /* of the '{' */
} tq_gql_selection_set;

typedef enum tq_gql_selection_kind {
    TQ_GQL_SEL_FIELD,
    TQ_GQL_SEL_FRAGMENT_SPREAD,
    TQ_GQL_SEL_INLINE_FRAGMENT,
} tq_gql_selection_kind;

struct tq_gql_selection {
    tq_gql_selection_kind kind;
    tq_gql_loc loc;                 /* field: of its alias or name; spread/inline: of the "..." */
    tq_str alias;                   /* FIELD: len 0 when there is no alias */
    tq_str name;                    /* FIELD: field name; FRAGMENT_SPREAD: fragment name */
    tq_str type_condition;          /* INLINE_FRAGMENT: len 0 when absent */
    tq_gql_loc type_condition_loc;
    tq_gql_argument *args;          /* FIELD */
    uint32_t nargs;
    tq_gql_directive *directives;
    uint32_t ndirectives;
    tq_gql_selection_set selection_set; /* FIELD (optional), INLINE_FRAGMENT (required) */
    tq_gql_loc name_loc;            /* FIELD, FRAGMENT_SPREAD: of the name (validation errors point there) */
};

/* ---- executable definitions ---- */

typedef enum tq_gql_operation_type {
    TQ_GQL_OP_QUERY,
    TQ_GQL_OP_MUTATION,
    TQ_GQL_OP_SUBSCRIPTION,
} tq_gql_operation_type;

typedef struct tq_gql_variable_def {
    tq_str name;                    /* without '$' */
    tq_gql_loc loc;                 /* of the '$' */
    tq_gql_type *type;
    tq_gql_value *default_value;    /* NULL when absent */
    tq_gql_directive *directives;
    uint32_t ndirectives;
    tq_gql_loc name_loc;            /* of the name after '$' */
} tq_gql_variable_def;

typedef struct tq_gql_operation {
    tq_gql_operation_type type;
    tq_str name;                    /* len 0 for anonymous operations (incl. the "{ ... }" shorthand) */
    tq_gql_variable_def *vars;
    uint32_t nvars;
    tq_gql_directive *directives;
    uint32_t ndirectives;
    tq_gql_selection_set selection_set;
    tq_gql_loc name_loc;            /* of the name, when there is one */
} tq_gql_operation;

typedef struct tq_gql_fragment {
    tq_str name;
    tq_str type_condition;
    tq_gql_loc type_condition_loc;
    tq_gql_directive *directives;
    uint32_t ndirectives;
    tq_gql_selection_set selection_set;
    tq_gql_loc name_loc;
} tq_gql_fragment;

/* ---- type system definitions (SDL), used to build the schema ---- */

typedef struct tq_gql_input_value_def {  /* an argument definition or an input object field */
    tq_str description;                  /* len 0 when absent; s == NULL when absent */
    tq_str name;
    tq_gql_loc loc;
    tq_gql_type *type;
    tq_gql_value *default_value;         /* NULL when absent */
    tq_gql_directive *directives;
    uint32_t ndirectives;
} tq_gql_input_value_def;

typedef struct tq_gql_field_def {
    tq_str description;
    tq_str name;
    tq_gql_loc loc;
    tq_gql_input_value_def *args;
    uint32_t nargs;
    tq_gql_type *type;
    tq_gql_directive *directives;
    uint32_t ndirectives;
} tq_gql_field_def;

typedef struct tq_gql_enum_value_def {
    tq_str description;
    tq_str name;
    tq_gql_loc loc;
    tq_gql_directive *directives;
    uint32_t ndirectives;
} tq_gql_enum_value_def;

typedef struct tq_gql_named_ref {        /* a bare type name: implemented interface, union member */
    tq_str name;
    tq_gql_loc loc;
} tq_gql_named_ref;

typedef struct tq_gql_root_op_def {      /* schema { query: Query } */
    tq_gql_operation_type operation;
    tq_gql_named_ref type;
} tq_gql_root_op_def;

typedef struct tq_gql_type_def {
    tq_str description;
    tq_str name;                         /* empty for SCHEMA definitions */
    tq_gql_directive *directives;
    uint32_t ndirectives;
    tq_gql_named_ref *interfaces;        /* OBJECT, INTERFACE: "implements A & B" */
    uint32_t ninterfaces;
    tq_gql_field_def *fields;            /* OBJECT, INTERFACE */
    uint32_t nfields;
    tq_gql_named_ref *members;           /* UNION */
    uint32_t nmembers;
    tq_gql_enum_value_def *values;       /* ENUM */
    uint32_t nvalues;
    tq_gql_input_value_def *input_fields;/* INPUT_OBJECT */
    uint32_t ninput_fields;
    tq_gql_root_op_def *root_ops;        /* SCHEMA */
    uint32_t nroot_ops;
} tq_gql_type_def;

typedef struct tq_gql_directive_def {
    tq_str description;
    tq_str name;                         /* without '@' */
    tq_gql_input_value_def *args;
    uint32_t nargs;
    bool repeatable;
    tq_str *locations;                   /* e.g. "FIELD", "QUERY" as written (validated names) */
    uint32_t nlocations;
} tq_gql_directive_def;

/* ---- documents ---- */

typedef enum tq_gql_definition_kind {
    TQ_GQL_DEF_OPERATION,
    TQ_GQL_DEF_FRAGMENT,
    TQ_GQL_DEF_SCHEMA,
    TQ_GQL_DEF_SCALAR,
    TQ_GQL_DEF_OBJECT,
    TQ_GQL_DEF_INTERFACE,
    TQ_GQL_DEF_UNION,
    TQ_GQL_DEF_ENUM,
    TQ_GQL_DEF_INPUT_OBJECT,
    TQ_GQL_DEF_DIRECTIVE,
} tq_gql_definition_kind;

typedef struct tq_gql_definition {
    tq_gql_definition_kind kind;
    tq_gql_loc loc;                      /* of its first token (description excluded) */
    bool extension;                      /* written with "extend" (type system kinds only) */
    union {
        tq_gql_operation operation;
        tq_gql_fragment fragment;
        tq_gql_type_def type;            /* SCHEMA .. INPUT_OBJECT */
        tq_gql_directive_def directive;
    } u;
} tq_gql_definition;

typedef struct tq_gql_document {
    tq_gql_definition *defs;
    uint32_t count;
} tq_gql_document;

static inline bool tq_str_eq(tq_str a, const char *lit, uint32_t litlen)
{
    if (a.len != litlen)
        return false;
    for (uint32_t i = 0; i < litlen; i++)
        if (a.s[i] != lit[i])
            return false;
    return true;
}
#define TQ_STR_EQ_LIT(a, lit) tq_str_eq((a), (lit), (uint32_t)(sizeof(lit) - 1))

static inline bool tq_str_equal(tq_str a, tq_str b)
{
    return a.len == b.len && (a.len == 0 || __builtin_memcmp(a.s, b.s, a.len) == 0);
}

#endif
