/*
 * batch.c - lookups by id from many requests of one tenant, sent as one query.
 *
 * Under load, a worker reads many requests in one turn of its loop; each point lookup
 * (`user(id:)`, `product(id:)`) would cost its own round trip and its own wake-up of a
 * server process. Instead, lookups of the same kind for the same tenant pool that arrive
 * during one loop turn are collected and sent as `... WHERE id = ANY($1)` when the turn
 * ends; each caller then gets its own row (or none), converted into its own request's
 * arena. A batch never mixes tenants: it is keyed by pool, and a pool serves one tenant
 * database. A lone lookup keeps its single-row statement.
 *
 * Batches belong to one worker (the one whose loop flushes them) and are never seen by
 * another thread.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BATCH_MAX 100 /* ids per query; a full batch is sent at once */

typedef struct batch_entry {
    const char *id;                 /* canonical uuid text, in the caller's arena */
    tq_db *db;
    ds_row_fn fn;
    void *data;
} batch_entry;

struct ds_batch {
    ds_op op;                       /* first: the pool hands this back */
    const ds_batch_kind *kind;
    tq_pool *pool;
    tq_worker *worker;
    batch_entry entries[BATCH_MAX];
    uint32_t n;
    char *id_array;                 /* '{id,id,...}' while the query is out */
    h2o_timeout_entry_t flush_timer;
    ds_batch *next_open;            /* the worker's batches still collecting */
};

static void unlink_open(ds_batch *b)
{
    for (ds_batch **p = &ds_worker(b->worker)->open_batches; *p != NULL; p = &(*p)->next_open)
        if (*p == b) {
            *p = b->next_open;
            return;
        }
}

static void entry_done(batch_entry *e, const tq_db_query *q, tq_db_status status, PGresult *res, int row)
{
    tq_db *db = e->db;
    ds_account(db, q, status);
    e->fn(e->data, status, res, row);
    if (--db->inflight == 0 && db->on_idle != NULL)
        db->on_idle(db);
}

static int find_row(PGresult *res, const char *id)
{
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        if (strcmp(PQgetvalue(res, i, 0), id) == 0)
            return i;
    return -1;
}

static void on_batch_result(tq_db_query *q, tq_db_status status, PGresult *res)
{
    ds_batch *b = (ds_batch *)q;
    ds_op_done(&b->op);
    for (uint32_t i = 0; i < b->n; i++) {
        int row = status == TQ_DB_OK ? find_row(res, b->entries[i].id) : -1;
        entry_done(&b->entries[i], q, status, res, row);
    }
    PQclear(res);
    free(b->id_array);
    free(b);
}

static void flush_batch(ds_batch *b)
{
    if (h2o_timeout_is_linked(&b->flush_timer))
        h2o_timeout_unlink(&b->flush_timer);
    unlink_open(b);
    b->op.q.cb = on_batch_result;
    if (b->n == 1) {
        b->op.q.stmt = b->kind->one;
        b->op.q.params[0] = b->entries[0].id;
    } else {
        char *s = b->id_array = malloc((size_t)b->n * (TQ_UUID_TEXT_SIZE + 1) + 2);
        *s++ = '{';
        for (uint32_t i = 0; i < b->n; i++) {
            if (i > 0)
                *s++ = ',';
            size_t len = strlen(b->entries[i].id);
            memcpy(s, b->entries[i].id, len);
            s += len;
        }
        *s++ = '}';
        *s = '\0';
        b->op.q.stmt = b->kind->many;
        b->op.q.params[0] = b->id_array;
    }
    ds_op_send(&b->op, b->pool, b->worker);
}

static void on_flush_timer(h2o_timeout_entry_t *entry)
{
    flush_batch(H2O_STRUCT_FROM_MEMBER(ds_batch, flush_timer, entry));
}

static bool batch_only_for(const ds_op *op, const tq_db *db)
{
    const ds_batch *b = (const ds_batch *)op;
    for (uint32_t i = 0; i < b->n; i++)
        if (b->entries[i].db != db)
            return false;
    return b->n > 0;
}

static ds_batch *open_batch(tq_db *db, const ds_batch_kind *kind)
{
    tq_worker *w = db->worker;
    ds_worker_state *dw = ds_worker(w);
    for (ds_batch *b = dw->open_batches; b != NULL; b = b->next_open)
        if (b->pool == db->pool && b->kind == kind)
            return b;
    ds_batch *b = calloc(1, sizeof(*b));
    b->kind = kind;
    b->pool = db->pool;
    b->worker = w;
    b->flush_timer.cb = on_flush_timer;
    b->op.only_for = batch_only_for;
    b->next_open = dw->open_batches;
    dw->open_batches = b;
    /* the zero timeout runs after every socket event of this loop turn */
    h2o_timeout_link(tq_worker_loop(w), tq_worker_timeout(w, 0), &b->flush_timer);
    return b;
}

typedef struct refused_lookup {
    ds_row_fn fn;
    void *data;
} refused_lookup;

static void on_refused_lookup(void *data, tq_db_status status, PGresult *res)
{
    refused_lookup *rl = data;
    rl->fn(rl->data, status, res, -1);
}

void ds_lookup_by_id(tq_db *db, const ds_batch_kind *kind, const char *id, ds_row_fn fn, void *data)
{
    if (db->cancelled) {
        refused_lookup *rl = tq_arena_alloc(db->arena, sizeof(*rl));
        *rl = (refused_lookup){fn, data};
        ds_refuse_cancelled(db, on_refused_lookup, rl);
        return;
    }
    ds_batch *b = open_batch(db, kind);
    if (b->n == 0)
        ds_comment(&b->op.q, db);
    b->entries[b->n++] = (batch_entry){id, db, fn, data};
    db->inflight++;
    if (b->n == BATCH_MAX)
        flush_batch(b);
}

void ds_worker_flush_batches(tq_worker *w)
{
    ds_worker_state *dw = ds_worker(w);
    while (dw->open_batches != NULL)
        flush_batch(dw->open_batches);
}
