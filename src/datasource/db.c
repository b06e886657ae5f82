/*
 * db.c - a request's queries to its tenant pool, and the conversion of rows to values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tenantql/scalars.h"
#include "tenantql/log.h"

static tq_ds_types bound_types; /* written once at start-up, read-only while serving */

int tq_ds_bind_types(const tq_schema *schema)
{
    bound_types.user = tq_schema_find_type(schema, "User", 4);
    bound_types.product = tq_schema_find_type(schema, "Product", 7);
    return bound_types.user && bound_types.product ? 0 : -1;
}

const tq_ds_types *tq_ds_types_get(void)
{
    return &bound_types;
}

/*
 * Reads are coalesced within one loop turn: a read of the same statement with the same
 * parameters for the same tenant pool, issued while an identical one is still waiting
 * to be sent, does not go to the database again but gets the same result. Requests
 * served together in one turn are concurrent, so sharing one snapshot among them is
 * indistinguishable from running them back to back; nothing is shared across tenants
 * (the key includes the pool) or across turns.
 */
typedef struct ds_waiter ds_waiter;
struct ds_waiter {
    ds_waiter *next;
    tq_db *db;
    ds_result_fn fn;
    void *data;
};

struct ds_read {
    ds_op op;                       /* first: the pool hands this back */
    tq_pool *pool;
    tq_worker *worker;
    int nparams;
    ds_waiter *waiters, **tail;     /* in the waiters' own request arenas */
    h2o_timeout_entry_t send_timer;
    ds_read *next_open;
};

static int ds_slot = -1; /* the data sources' worker slot, set once before the workers start */

ds_worker_state *ds_worker(tq_worker *w)
{
    return tq_worker_state(w, ds_slot);
}

static int ds_worker_init(tq_worker *w, void *arg, char *err, size_t errlen)
{
    ds_worker_state *dw = calloc(1, sizeof(*dw));
    if (dw == NULL || (dw->status = ds_status_new()) == NULL) {
        free(dw);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h2o_linklist_init_anchor(&dw->inflight);
    tq_worker_set_state(w, ds_slot, dw);
    return 0;
}

/* ---- queries out, and taking them back ---- */

void ds_op_send(ds_op *op, tq_pool *pool, tq_worker *w)
{
    h2o_linklist_insert(&ds_worker(w)->inflight, &op->link);
    tq_pool_query(pool, w, &op->q);
}

void ds_op_done(ds_op *op)
{
    if (h2o_linklist_is_linked(&op->link))
        h2o_linklist_unlink(&op->link);
}

void tq_db_cancel(tq_db *db)
{
    if (db->cancelled || db->pool == NULL)
        return;
    db->cancelled = true;
    ds_worker_state *dw = ds_worker(db->worker);
    for (h2o_linklist_t *l = dw->inflight.next; l != &dw->inflight;) {
        ds_op *op = H2O_STRUCT_FROM_MEMBER(ds_op, link, l);
        l = l->next; /* cancelling may complete op (later, never here), but keep it safe */
        if (op->only_for(op, db))
            tq_pool_cancel(&op->q);
    }
}

typedef struct refused_call {
    h2o_timeout_entry_t timer;
    tq_db *db;
    ds_result_fn fn;
    void *data;
} refused_call;

static void on_refused(h2o_timeout_entry_t *entry)
{
    refused_call *rc = H2O_STRUCT_FROM_MEMBER(refused_call, timer, entry);
    tq_db *db = rc->db;
    rc->fn(rc->data, TQ_DB_CANCELLED, NULL);
    if (--db->inflight == 0 && db->on_idle != NULL)
        db->on_idle(db);
}

bool ds_refuse_cancelled(tq_db *db, ds_result_fn fn, void *data)
{
    if (!db->cancelled)
        return false;
    refused_call *rc = tq_arena_calloc(db->arena, 1, sizeof(*rc));
    *rc = (refused_call){{.cb = on_refused}, db, fn, data};
    db->inflight++;
    h2o_timeout_link(tq_worker_loop(db->worker), tq_worker_timeout(db->worker, 0), &rc->timer);
    return true;
}

/* Requests wait for their queries, so a drained worker has nothing pending; anything
 * left (a request cut off at the drain deadline) is sent and fails on the closing pools. */
static void ds_worker_dispose(tq_worker *w, void *arg)
{
    ds_worker_state *dw = ds_worker(w);
    if (dw == NULL)
        return;
    ds_worker_flush_batches(w);
    ds_worker_send_pending_reads(w);
    ds_status_free(dw->status);
    free(dw);
    tq_worker_set_state(w, ds_slot, NULL);
}

void tq_ds_init(tq_workers *ws)
{
    static const tq_worker_module hooks = {"datasource", ds_worker_init, NULL, NULL, NULL, ds_worker_dispose, NULL};
    ds_slot = tq_workers_add_module(ws, &hooks);
}

void ds_account(tq_db *db, const tq_db_query *q, tq_db_status status)
{
    tq_db_timings *t = &db->timings;
    t->statements++;
    if (q->sent_us != 0) {
        t->wait_us += q->sent_us - q->asked_us;
        t->pg_us += q->done_us > q->sent_us ? q->done_us - q->sent_us : 0;
    } else if (q->done_us > q->asked_us) {
        t->wait_us += q->done_us - q->asked_us; /* never sent: it waited all along */
    }
    if (db->on_statement != NULL)
        db->on_statement(db, q, status);
}

static void on_read_done(tq_db_query *q, tq_db_status status, PGresult *res)
{
    ds_read *rd = (ds_read *)q;
    ds_op_done(&rd->op);
    for (ds_waiter *wt = rd->waiters; wt != NULL;) {
        ds_waiter *next = wt->next; /* wt lives in a request that may be freed below */
        tq_db *db = wt->db;
        ds_account(db, q, status);
        wt->fn(wt->data, status, res);
        if (--db->inflight == 0 && db->on_idle != NULL)
            db->on_idle(db);
        wt = next;
    }
    PQclear(res);
    free(rd);
}

static void unlink_open_read(ds_read *rd)
{
    for (ds_read **p = &ds_worker(rd->worker)->open_reads; *p != NULL; p = &(*p)->next_open)
        if (*p == rd) {
            *p = rd->next_open;
            return;
        }
}

static void send_read(ds_read *rd)
{
    if (h2o_timeout_is_linked(&rd->send_timer))
        h2o_timeout_unlink(&rd->send_timer);
    unlink_open_read(rd);
    ds_op_send(&rd->op, rd->pool, rd->worker);
}

static bool read_only_for(const ds_op *op, const tq_db *db)
{
    const ds_read *rd = (const ds_read *)op;
    return rd->waiters != NULL && rd->waiters->db == db && rd->waiters->next == NULL;
}

static void on_send_timer(h2o_timeout_entry_t *entry)
{
    send_read(H2O_STRUCT_FROM_MEMBER(ds_read, send_timer, entry));
}

static bool same_read(const ds_read *rd, const tq_db *db, const tq_stmt *stmt, const char *const *params, int n)
{
    if (rd->pool != db->pool || rd->op.q.stmt != stmt || rd->nparams != n)
        return false;
    for (int i = 0; i < n; i++) {
        const char *a = rd->op.q.params[i], *b = params[i];
        if (a == NULL || b == NULL ? a != b : strcmp(a, b) != 0)
            return false;
    }
    return true;
}

void ds_query(tq_db *db, const tq_stmt *stmt, const char *const *params, int nparams, ds_result_fn fn, void *data)
{
    if (ds_refuse_cancelled(db, fn, data))
        return;
    ds_worker_state *dw = ds_worker(db->worker);
    ds_read *rd = dw->open_reads;
    while (rd != NULL && !same_read(rd, db, stmt, params, nparams))
        rd = rd->next_open;
    if (rd == NULL) {
        rd = calloc(1, sizeof(*rd));
        rd->op.q.stmt = stmt;
        for (int i = 0; i < nparams; i++)
            rd->op.q.params[i] = params[i]; /* in the first caller's arena, which outlives the query */
        rd->op.q.cb = on_read_done;
        rd->op.only_for = read_only_for;
        rd->nparams = nparams;
        rd->pool = db->pool;
        rd->worker = db->worker;
        rd->tail = &rd->waiters;
        rd->send_timer.cb = on_send_timer;
        rd->next_open = dw->open_reads;
        dw->open_reads = rd;
        ds_comment(&rd->op.q, db);
        /* sent when this loop turn's events are all handled, so that twins can join */
        h2o_timeout_link(tq_worker_loop(db->worker), tq_worker_timeout(db->worker, 0), &rd->send_timer);
    }
    ds_waiter *wt = tq_arena_calloc(db->arena, 1, sizeof(*wt));
    *wt = (ds_waiter){NULL, db, fn, data};
    *rd->tail = wt;
    rd->tail = &wt->next;
    db->inflight++;
}

/* A write: one caller, one execution, sent now (no waiting for twins). */
typedef struct ds_write_call {
    ds_op op;                       /* first: the pool hands this back */
    tq_db *db;
    ds_result_fn fn;
    void *data;
} ds_write_call;

static void on_write_done(tq_db_query *q, tq_db_status status, PGresult *res)
{
    ds_write_call *wc = (ds_write_call *)q;
    ds_op_done(&wc->op);
    tq_db *db = wc->db;
    ds_account(db, q, status);
    wc->fn(wc->data, status, res);
    PQclear(res);
    free(wc);
    if (--db->inflight == 0 && db->on_idle != NULL)
        db->on_idle(db);
}

static bool write_only_for(const ds_op *op, const tq_db *db)
{
    return ((const ds_write_call *)op)->db == db;
}

void ds_write(tq_db *db, const tq_stmt *stmt, const char *const *params, int nparams, ds_result_fn fn, void *data)
{
    if (ds_refuse_cancelled(db, fn, data))
        return;
    ds_write_call *wc = calloc(1, sizeof(*wc));
    if (wc == NULL)
        abort();
    wc->op.q.stmt = stmt;
    for (int i = 0; i < nparams; i++)
        wc->op.q.params[i] = params[i]; /* in the caller's arena, which outlives the query */
    wc->op.q.cb = on_write_done;
    ds_comment(&wc->op.q, db);
    wc->op.only_for = write_only_for;
    wc->db = db;
    wc->fn = fn;
    wc->data = data;
    db->inflight++;
    ds_op_send(&wc->op, db->pool, db->worker);
}

const char *ds_sqlstate(tq_db_status status, PGresult *res)
{
    const char *state = status == TQ_DB_SQL_ERROR && res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state ? state : "";
}

void ds_worker_send_pending_reads(tq_worker *w)
{
    ds_worker_state *dw = ds_worker(w);
    while (dw->open_reads != NULL)
        send_read(dw->open_reads);
}

bool ds_failed(const tq_db *db, tq_db_status status, PGresult *res, tq_ds_result *out)
{
    switch (status) {
    case TQ_DB_OK:
        return false;
    case TQ_DB_BUSY:
        out->error_code = "TENANT_BUSY";
        out->error_message = "The tenant's database is busy; try again shortly.";
        return true;
    case TQ_DB_UNAVAILABLE:
        out->error_code = "TENANT_UNAVAILABLE";
        out->error_message = "The tenant's database is unavailable.";
        return true;
    case TQ_DB_CANCELLED:
        out->error_code = "TENANT_BUSY";
        out->error_message = "The request was cancelled.";
        return true;
    case TQ_DB_SQL_ERROR:
    default: {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res ? PQresultErrorMessage(res) : "";
        /* a client can cause some (a statement timeout): one budget per SQLSTATE */
        char reason[32];
        snprintf(reason, sizeof(reason), "query failed: %.5s", state ? state : "?");
        tq_log_limited(TQ_LOG_ERROR, "datasource", reason, "request %s: query failed: %s %.*s", db->request_id,
                       state ? state : "", (int)strcspn(msg, "\n"), msg);
        if (state != NULL && strcmp(state, "57014") == 0) {
            out->error_code = "TENANT_BUSY";
            out->error_message = "The query took too long and was cancelled.";
        } else if (state != NULL && (strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0)) {
            /* undefined table or column: the tenant's database is behind this server's
             * migrations (`tenantql migrate` brings it up to date) */
            out->error_code = "TENANT_MIGRATING";
            out->error_message = "The tenant's database is being migrated; try again shortly.";
        } else {
            out->error_code = "INTERNAL_SERVER_ERROR";
            out->error_message = "Internal server error.";
        }
        return true;
    }
    }
}

tq_value ds_text(tq_arena *a, PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return tq_value_null();
    int len = PQgetlength(res, row, col);
    return tq_value_string(tq_arena_strndup(a, PQgetvalue(res, row, col), (size_t)len), (uint32_t)len);
}

static tq_value ds_bool(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? tq_value_null() : tq_value_bool(PQgetvalue(res, row, col)[0] == 't');
}

static tq_value ds_datetime(tq_arena *a, PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return tq_value_null();
    char out[32];
    if (!tq_datetime_from_pg(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), out))
        return tq_value_null(); /* not representable (year > 9999, infinity): a non-null field error follows */
    return tq_value_string(tq_arena_strndup(a, out, 24), 24);
}

tq_value ds_user_from_row(tq_arena *a, PGresult *res, int row, int c)
{
    tq_value u = tq_value_object(a, bound_types.user, 7);
    tq_value_object_set(&u, 0, "id", ds_text(a, res, row, c));
    tq_value_object_set(&u, 1, "email", ds_text(a, res, row, c + 1));
    tq_value_object_set(&u, 2, "firstName", ds_text(a, res, row, c + 2));
    tq_value_object_set(&u, 3, "lastName", ds_text(a, res, row, c + 3));
    tq_value_object_set(&u, 4, "active", ds_bool(res, row, c + 4));
    tq_value_object_set(&u, 5, "createdAt", ds_datetime(a, res, row, c + 5));
    tq_value_object_set(&u, 6, "updatedAt", ds_datetime(a, res, row, c + 6));
    return u;
}

tq_value ds_product_from_row(tq_arena *a, PGresult *res, int row, int c)
{
    tq_value p = tq_value_object(a, bound_types.product, 8);
    tq_value_object_set(&p, 0, "id", ds_text(a, res, row, c));
    tq_value_object_set(&p, 1, "name", ds_text(a, res, row, c + 1));
    tq_value_object_set(&p, 2, "description", ds_text(a, res, row, c + 2));
    tq_value_object_set(&p, 3, "price", ds_text(a, res, row, c + 3));
    tq_value stock = PQgetisnull(res, row, c + 4) ? tq_value_null() : tq_value_int(atoll(PQgetvalue(res, row, c + 4)));
    tq_value_object_set(&p, 4, "stockQuantity", stock);
    tq_value_object_set(&p, 5, "active", ds_bool(res, row, c + 5));
    tq_value_object_set(&p, 6, "createdAt", ds_datetime(a, res, row, c + 6));
    tq_value_object_set(&p, 7, "updatedAt", ds_datetime(a, res, row, c + 7));
    return p;
}

char *tq_ds_contains_pattern(tq_arena *a, const char *text, size_t len)
{
    char *p = tq_arena_alloc(a, len * 2 + 3), *o = p;
    *o++ = '%';
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '%' || text[i] == '_' || text[i] == '\\')
            *o++ = '\\';
        *o++ = text[i];
    }
    *o++ = '%';
    *o = '\0';
    return p;
}
