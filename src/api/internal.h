/*
 * internal.h - what the API's resolver files share: the Mutation resolvers (login.c,
 * mutations.c) that resolvers.c binds, and small argument helpers.
 */
#ifndef TENANTQL_API_INTERNAL_H
#define TENANTQL_API_INTERNAL_H

#include "tenantql/api.h"
#include "tenantql/exec.h"

/* Mutation.login (login.c) and Mutation.logout (logout.c) */
void api_login(tq_field_ctx *fc);
void api_logout(tq_field_ctx *fc);

/* the other Mutation fields (mutations.c) */
void api_create_user(tq_field_ctx *fc);
void api_update_user(tq_field_ctx *fc);
void api_create_product(tq_field_ctx *fc);
void api_update_product(tq_field_ctx *fc);
void api_adjust_stock(tq_field_ctx *fc);
void api_delete_product(tq_field_ctx *fc);

/* ASCII letters lower-cased, into the arena (emails are compared this way). */
char *api_ascii_lower(tq_arena *a, const char *s, size_t len);

#endif
