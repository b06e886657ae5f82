/* TEMPORARY until the lifecycle branch merges */
#ifndef TQ_LIFECYCLE_STUB_H
#define TQ_LIFECYCLE_STUB_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
typedef enum tq_tenant_result {
    TQ_TENANT_OK = 0, TQ_TENANT_FAILED = -1, TQ_TENANT_NOT_FOUND = -2, TQ_TENANT_EXISTS = -3,
    TQ_TENANT_INVALID = -4, TQ_TENANT_WRONG_STATE = -5
} tq_tenant_result;
int tq_tenant_set_pool_options(PGconn *registry, const char *name, const char *json, char *err, size_t errlen);
int tq_tenant_offboard(PGconn *registry, const char *name, const char *export_dir, char *path_out, size_t path_len, char *err, size_t errlen);
int tq_tenant_drop(PGconn *registry, const char *name, long grace_s, bool force, char *err, size_t errlen);
int tq_tenant_drop_expired(PGconn *registry, const char *unused, long grace_s, int *dropped, char *err, size_t errlen);
#endif
