/*
 * tenant_result.h - what the blocking tenant administration functions (tenant_admin.h,
 * tenant_lifecycle.h, tenant_move.h) return, so that callers (the command line, the admin
 * API) can tell a missing tenant from a conflict or bad input without parsing err.
 */
#ifndef TENANTQL_TENANT_RESULT_H
#define TENANTQL_TENANT_RESULT_H

/* Every failure is negative, so callers that compare with 0 keep working; FAILED is -1, what
 * these functions returned for every failure before. */
typedef enum tq_tenant_result {
    TQ_TENANT_OK = 0,
    TQ_TENANT_FAILED = -1,     /* anything else (database unreachable, ...): 500/503 */
    TQ_TENANT_NOT_FOUND = -2,  /* no such tenant: 404 */
    TQ_TENANT_EXISTS = -3,     /* name, schema or role taken: 409 */
    TQ_TENANT_INVALID = -4,    /* bad input (name, JSON, placement...): 400 */
    TQ_TENANT_WRONG_STATE = -5 /* e.g. drop before offboard, grace not over, a move running: 409 */
} tq_tenant_result;

#endif
