/*
 * value.c - constructors and lookup for runtime values (see value.h).
 */
#include "tenantql/value.h"

#include <string.h>

tq_value tq_value_object(tq_arena *a, const struct tq_schema_type *type, uint32_t n)
{
    tq_value v = {.kind = TQ_VAL_OBJECT};
    v.u.object.type = type;
    v.u.object.fields = n ? tq_arena_alloc(a, n * sizeof(tq_value_field)) : NULL;
    v.u.object.count = n;
    return v;
}

void tq_value_object_set(tq_value *obj, uint32_t i, const char *name, tq_value v)
{
    obj->u.object.fields[i].name = (tq_str){name, (uint32_t)strlen(name)};
    obj->u.object.fields[i].value = v;
}

tq_value tq_value_list(tq_arena *a, uint32_t n)
{
    tq_value v = {.kind = TQ_VAL_LIST};
    v.u.list.items = n ? tq_arena_alloc(a, n * sizeof(tq_value)) : NULL;
    v.u.list.count = n;
    return v;
}

const tq_value *tq_value_get(const tq_value *obj, const char *name)
{
    if (obj == NULL || obj->kind != TQ_VAL_OBJECT)
        return NULL;
    size_t len = strlen(name);
    for (uint32_t i = 0; i < obj->u.object.count; i++) {
        const tq_value_field *f = &obj->u.object.fields[i];
        if (f->name.len == len && memcmp(f->name.s, name, len) == 0)
            return &f->value;
    }
    return NULL;
}
