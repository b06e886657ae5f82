/*
 * validate_internal.h - what the files of the document validator (validate*.c) share:
 * the validation context, helpers for its maps (tenantql/map.h), error reporting and the
 * type helpers the rules have in common. Growable arrays are tenantql/vec.h's. Not a
 * public interface.
 */
#ifndef TENANTQL_VALIDATE_INTERNAL_H
#define TENANTQL_VALIDATE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "tenantql/map.h"
#include "tenantql/validate.h"
#include "tenantql/vec.h"

/* ---- hash maps ---- */

/* The validator's maps are tq_maps in the validation's arena, keyed by names in the
 * document or by the bytes of a pointer kept in the value. Most of them stay empty, so a
 * map is all zero until its first insertion makes it (a zero tq_map finds nothing). */

/* The value slot of key in m, inserted as NULL when absent (*existed tells which); valid
 * until the next insertion into m. The key's bytes must live as long as the map. */
void **tq_vmap_slot(tq_arena *ar, tq_map *m, const void *key, size_t len, bool *existed);

static inline void *tq_vmap_get_name(const tq_map *m, tq_str name)
{
    return tq_map_get(m, name.s, name.len);
}

/* Adds name to a map used as a set; false when it was there already. */
bool tq_vset_add(tq_arena *ar, tq_map *set, tq_str name);

/* ---- arena string builder ---- */

typedef struct tq_vbuf {
    tq_arena *ar;
    char *s;
    uint32_t len, cap;
} tq_vbuf;

void tq_vbuf_put(tq_vbuf *b, const char *s, size_t n);
void tq_vbuf_puts(tq_vbuf *b, const char *s);
/* The text so far, NUL-terminated. */
const char *tq_vbuf_str(tq_vbuf *b);

/* ---- the context of one validation ---- */

typedef struct tq_vctx {
    const tq_schema *schema;
    const tq_gql_document *doc;
    tq_arena *ar;
    tq_validation_error *errors;
    uint32_t nerrors, caperrors;
    bool stopped;                     /* error limit or step budget reached: report nothing more */
    uint64_t steps;                   /* work spent where rules could be worse than linear (tq_vspend) */
    bool exhausted;                   /* steps passed TQ_VALIDATE_MAX_STEPS: validation was aborted */
    bool overlap_clean;               /* proven: no two fields of the document can conflict (tq_voverlap_prove) */
    tq_map fragments;                 /* name -> the (last) fragment definition of that name */
    tq_schema_field typename_field;   /* the meta-fields, typed with this schema's types */
    tq_schema_field schema_field, type_field;
    bool has_schema_meta, has_type_meta;
    int8_t scalar_known[5];           /* Int, Float, String, Boolean, ID: -1 unknown yet */
    struct tq_voverlap *overlap;      /* OverlappingFieldsCanBeMerged's caches */
} tq_vctx;

void tq_vreport(tq_vctx *v, const char *message, const tq_gql_loc *locs, uint32_t nlocs);

/* Spends n steps of the validation's budget. Past TQ_VALIDATE_MAX_STEPS validation is
 * aborted with one error saying so (as graphql-js aborts at its error limit): the
 * rules see v->stopped and return. False once the budget is spent. */
bool tq_vspend(tq_vctx *v, uint64_t n);
void tq_vreport1(tq_vctx *v, tq_gql_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* graphql-js's getFragment: the last definition of that name wins; NULL when none. */
static inline const tq_gql_fragment *tq_vfragment_named(const tq_vctx *v, tq_str name)
{
    return tq_vmap_get_name(&v->fragments, name);
}

/* ---- types ---- */

/* A type of the schema as graphql-js's schema would have it: a built-in scalar that
 * nothing refers to is absent, as in a schema built by graphql-js's buildSchema. */
const tq_schema_type *tq_vfind_type(tq_vctx *v, tq_str name);
const tq_schema_type *tq_vnamed(const tq_type_ref *t);
/* typeFromAST: NULL when the named type is unknown. */
const tq_type_ref *tq_vtype_from_ast(tq_vctx *v, const tq_gql_type *t);
/* Field of an object or interface type, meta-fields included (TypeInfo's getFieldDef). */
const tq_schema_field *tq_vfield_def(tq_vctx *v, const tq_schema_type *parent, tq_str name);
/* A plain field of an object or interface type: no meta-fields. */
const tq_schema_field *tq_vplain_field(const tq_schema_type *parent, tq_str name);

static inline bool tq_vis_composite(const tq_schema_type *t)
{
    return t != NULL && (t->kind == TQ_TYPE_OBJECT || t->kind == TQ_TYPE_INTERFACE || t->kind == TQ_TYPE_UNION);
}
static inline bool tq_vis_leaf(const tq_schema_type *t)
{
    return t != NULL && (t->kind == TQ_TYPE_SCALAR || t->kind == TQ_TYPE_ENUM);
}
static inline bool tq_vis_abstract(const tq_schema_type *t)
{
    return t != NULL && (t->kind == TQ_TYPE_INTERFACE || t->kind == TQ_TYPE_UNION);
}

/* schema.isSubType(abstract, maybe_sub) */
bool tq_vis_sub_type(const tq_schema_type *abstract, const tq_schema_type *maybe_sub);
const char *tq_vtype_text(tq_vctx *v, const tq_type_ref *t);
const char *tq_vast_type_text(tq_vctx *v, const tq_gql_type *t);
/* graphql-js's print() of a value literal, for messages. */
const char *tq_vvalue_text(tq_vctx *v, const tq_gql_value *val);

/* ---- rules in other files ---- */

/* OverlappingFieldsCanBeMerged for one selection set (validate_overlap.c): nothing to do
 * once v->overlap_clean. */
void tq_voverlap_check(tq_vctx *v, const tq_schema_type *parent, const tq_gql_selection_set *set);
/* Whether no two fields of the document can conflict, proven in about linear time
 * (validate_overlap_fast.c); false when it cannot be shown cheaply, and then
 * tq_voverlap_check looks for the conflicts as graphql-js does. */
bool tq_voverlap_prove(tq_vctx *v);
/* graphql-js's comparison of two fields' arguments (validate_overlap.c), linear in their
 * size (plus sorting input objects); adds the values compared to *work. */
bool tq_vsame_arguments(tq_vctx *v, const tq_gql_selection *f1, const tq_gql_selection *f2, uint64_t *work);

/* ValuesOfCorrectType and UniqueInputFieldNames for one value in a position of type
 * loc_type (NULL: unknown position), with TypeInfo's view of lists and objects
 * (validate_values.c). */
void tq_vcheck_value(tq_vctx *v, const tq_gql_value *val, const tq_type_ref *loc_type);

#endif
