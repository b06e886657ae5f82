/*
 * internal.h - what the data source files share: the statement ids (one bit each in a
 * connection's "prepared" mask), query plumbing and row conversion.
 */
#ifndef TENANTQL_DATASOURCE_INTERNAL_H
#define TENANTQL_DATASOURCE_INTERNAL_H

#include <string.h>

#include "tenantql/datasource.h"
#include "tenantql/uuid.h"

enum {
    STMT_USER_BY_ID,
    STMT_ACTIVE_USER_BY_ID,
    STMT_USERS_FIRST,
    STMT_USERS_AFTER,
    STMT_USERS_COUNT,
    STMT_USERS_SEARCH,
    STMT_PRODUCT_BY_ID,
    STMT_PRODUCTS_FIRST,        /* + order: 5 statements */
    STMT_PRODUCTS_AFTER = STMT_PRODUCTS_FIRST + 5, /* + order: 5 statements */
    STMT_PRODUCTS_COUNT = STMT_PRODUCTS_AFTER + 5,
    STMT_PRODUCTS_SEARCH,
    STMT_NODES,
    STMT_USERS_BY_IDS,
    STMT_PRODUCTS_BY_IDS,
    STMT_USER_LOGIN,
    STMT_USER_INSERT,
    STMT_USER_UPDATE,
    STMT_PRODUCT_INSERT,
    STMT_PRODUCT_UPDATE,
    STMT_PRODUCT_ADJUST_STOCK,
    STMT_PRODUCT_DELETE,
    STMT_USER_STATUS,
    STMT_TOKEN_REVOKE,
    STMT_SESSIONS_REVOKE,
    STMT_PRODUCTS_FIRST_ALL,                        /* + order: 5 statements */
    STMT_PRODUCTS_AFTER_ALL = STMT_PRODUCTS_FIRST_ALL + 5, /* + order: 5 statements */
    STMT_PRODUCTS_COUNT_ALL = STMT_PRODUCTS_AFTER_ALL + 5,
    STMT_COUNT_,
};

#define USER_COLUMNS "id, email, first_name, last_name, active, created_at, updated_at"
#define PRODUCT_COLUMNS "id, name, description, price, stock_quantity, active, created_at, updated_at"

typedef void (*ds_result_fn)(void *data, tq_db_status status, PGresult *res);

/* A query of the data sources on its way to the database (a read, a write or a batch of
 * lookups), listed by its worker so that a cancelled request can take back what only it
 * waits for. */
typedef struct ds_op {
    tq_db_query q;                  /* first: the pool hands this back */
    h2o_linklist_t link;            /* ds_worker_state.inflight, while the query is out */
    /* whether db is the only request waiting for this query */
    bool (*only_for)(const struct ds_op *op, const tq_db *db);
} ds_op;

/* Sends op's query through db's pool and lists it until it completes (ds_op_done). */
void ds_op_send(ds_op *op, tq_pool *pool, tq_worker *w);
void ds_op_done(ds_op *op);
/* Adds a statement's times (q's, once its result is back) to db's request, which waited
 * for it, and tells the request's observer. */
void ds_account(tq_db *db, const tq_db_query *q, tq_db_status status);
/* q, made for db's request, carries its SQL comment. A query shared with requests that
 * join later keeps the comment of the one that made it (or none): a shared query that
 * any recorded request joined would otherwise run unprepared several times as often as
 * requests are recorded (a batch of status lookups serves many requests). */
static inline void ds_comment(tq_db_query *q, const tq_db *db)
{
    if (db->sql_comment != NULL) {
        size_t n = strnlen(db->sql_comment, TQ_DB_COMMENT_SIZE - 1);
        memcpy(q->comment, db->sql_comment, n);
        q->comment[n] = '\0';
    }
}
/* A request that was cancelled asks for nothing more: fn gets TQ_DB_CANCELLED on a later
 * loop turn. Returns whether it did so. */
bool ds_refuse_cancelled(tq_db *db, ds_result_fn fn, void *data);

/* Runs a read-only statement through the request's tq_db at the end of this loop turn;
 * fn gets the result (and must not PQclear it). Identical reads of the same pool in the
 * same turn share one execution (db.c), so never use it for a statement that writes. */
void ds_query(tq_db *db, const tq_stmt *stmt, const char *const *params, int nparams, ds_result_fn fn, void *data);

/* Runs a statement that writes (or must see the latest committed state): sent at once,
 * on its own, never shared with another caller. fn as for ds_query. */
void ds_write(tq_db *db, const tq_stmt *stmt, const char *const *params, int nparams, ds_result_fn fn, void *data);

/* A worker's pending work (db.c, batch.c): the data sources' state in the worker's slot. */
typedef struct ds_read ds_read;
typedef struct ds_batch ds_batch;
typedef struct ds_status ds_status;
typedef struct ds_worker_state {
    ds_read *open_reads;            /* reads waiting for the end of the loop turn */
    ds_batch *open_batches;         /* lookups by id still collecting ids */
    h2o_linklist_t inflight;        /* ds_op.link: queries sent and not yet answered */
    ds_status *status;              /* users' and tokens' statuses remembered (status.c) */
} ds_worker_state;
ds_worker_state *ds_worker(tq_worker *w);
/* Sends what still waits for the end of the loop turn (batch.c, at worker dispose). */
void ds_worker_send_pending_reads(tq_worker *w);
void ds_worker_flush_batches(tq_worker *w);
/* The worker's memory of statuses (status.c): made at worker init (NULL: out of memory),
 * freed at dispose (lookups still collecting are dropped). */
ds_status *ds_status_new(void);
void ds_status_free(ds_status *s);

/* Maps a failed query to the API's error code and a client-safe message (the details
 * go to the log). Returns false when the query succeeded. */
bool ds_failed(const tq_db *db, tq_db_status status, PGresult *res, tq_ds_result *out);

/* Lookups by id, batched across the requests of one loop turn (batch.c). `one` takes a
 * uuid, `many` a uuid[] literal; both select the id first. fn gets the row of its id,
 * or -1 (none, or the query failed: see status). */
typedef struct ds_batch_kind {
    const tq_stmt *one, *many;
} ds_batch_kind;
typedef void (*ds_row_fn)(void *data, tq_db_status status, PGresult *res, int row);
void ds_lookup_by_id(tq_db *db, const ds_batch_kind *kind, const char *id, ds_row_fn fn, void *data);

tq_value ds_user_from_row(tq_arena *a, PGresult *res, int row, int col0);
tq_value ds_product_from_row(tq_arena *a, PGresult *res, int row, int col0);
tq_value ds_text(tq_arena *a, PGresult *res, int row, int col);

/* The SQLSTATE of a failed statement ("" when there is none). */
const char *ds_sqlstate(tq_db_status status, PGresult *res);

#endif
