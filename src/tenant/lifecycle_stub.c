/* TEMPORARY until the lifecycle branch merges */
#include <stdio.h>
#include "tenantql/tenant_lifecycle_stub.h"
int tq_tenant_set_pool_options(PGconn *r, const char *n, const char *j, char *err, size_t l) { snprintf(err, l, "stub"); return -1; }
int tq_tenant_offboard(PGconn *r, const char *n, const char *d, char *p, size_t pl, char *err, size_t l) { snprintf(err, l, "stub"); return -1; }
int tq_tenant_drop(PGconn *r, const char *n, long g, bool f, char *err, size_t l) { snprintf(err, l, "stub"); return -1; }
int tq_tenant_drop_expired(PGconn *r, const char *u, long g, int *d, char *err, size_t l) { *d = 0; return 0; }
