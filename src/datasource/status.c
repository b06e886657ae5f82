/*
 * status.c - what the request gate asks before an operation runs: is a token's user still
 * an active user of its tenant, up to which second are its sessions revoked, and was the
 * token itself (its jti) revoked by logout.
 *
 * Each worker remembers every answer for STATUS_TTL_MS (one second), keyed by tenant and
 * user id or token id. A request that needs an answer not known for the last second joins
 * the lookup already out for it, or the one its tenant pool is collecting in this turn of
 * the loop, which goes to PostgreSQL as one query when the turn ends (as batch.c does for
 * rows by id). So one worker asks about one user at most once a second whatever the user
 * sends, and a change (deactivation, deletion, logout) reaches every worker of every
 * process within a second of its commit: an answer is only remembered for a second after
 * its query was sent, and that query sees every change committed before it was sent.
 *
 * Everything here belongs to one worker (ds_worker_state.status) and is only touched on
 * its thread. Entries are malloc'ed and bounded (STATUS_MAX_ENTRIES: past it, answers
 * older than a second go first, then the oldest answers - forgetting one only costs one
 * more lookup; entries with requests waiting are never dropped, and those are bounded by
 * the requests in flight). Waiters live in their requests' arenas; a request waiting here
 * holds a count in its tq_db (inflight), so it is not freed before its answer comes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tenantql/clock.h"
#include "tenantql/log.h"
#include "tenantql/map.h"

#define STATUS_TTL_MS 1000
#define STATUS_MAX_ENTRIES 4096 /* per worker: ~200 bytes each with its map slot, under 1 MiB */
#define STATUS_BATCH_MAX 100    /* user ids per query, and token ids likewise */
#define KEY_LEN (TQ_UUID_TEXT_LEN * 2 + 1) /* tenant id, 'u' or 't', user id or jti */

enum { KIND_USER = 'u', KIND_TOKEN = 't' };

typedef struct status_batch status_batch;
typedef struct status_req status_req;

/* A request waiting for an entry (in the request's arena). */
typedef struct status_wait {
    struct status_wait *next;
    status_req *req;
} status_wait;

typedef struct status_entry {
    char key[KEY_LEN];
    char id[TQ_UUID_TEXT_SIZE];     /* the key's uuid: what the query asks for */
    bool known;                     /* answered; else its lookup is being collected or is out */
    uint64_t fetched_ms;            /* when the query that answered it was sent */
    /* the answer */
    bool active;                    /* user: exists and is active */
    bool sessions_revoked;          /* user: revoked_through is set */
    int64_t revoked_through;        /* user: tokens with iat at or before this second are revoked */
    bool revoked;                   /* token: its jti was revoked */
    status_wait *waiters;           /* while !known */
    h2o_linklist_t age;             /* ds_status.by_age: oldest fetch first */
} status_entry;

/* One request's question: a user, and maybe a token. */
struct status_req {
    tq_db *db;
    const void *accounted;          /* the last batch whose time it was charged (one lookup may wait on two entries of it) */
    int pending;                    /* entries not yet answered */
    const char *error_code, *error_message;
    tq_user_status st;
    tq_user_status_cb cb;
    void *data;
};

/* The lookups of one tenant pool collected in this loop turn, then sent as one query. */
struct status_batch {
    ds_op op;                       /* first: the pool hands this back */
    tq_pool *pool;
    tq_worker *worker;
    status_entry *users[STATUS_BATCH_MAX], *tokens[STATUS_BATCH_MAX];
    uint32_t nusers, ntokens;
    char *user_array, *token_array; /* '{id,...}' while the query is out */
    uint64_t sent_ms;               /* answers are as old as this */
    h2o_timeout_entry_t flush_timer;
    status_batch *next_open;
};

/* A worker's statuses (its ds_worker_state.status). */
struct ds_status {
    tq_map entries;                 /* key -> status_entry */
    h2o_linklist_t by_age;          /* status_entry.age */
    status_batch *open;             /* batches still collecting, this turn */
};

/* One row per user found (kind false) and per revoked token found (kind true). */
static const tq_stmt stmt_status = {
    STMT_USER_STATUS, "u_status",
    "SELECT id::text, active, floor(extract(epoch FROM sessions_revoked_at))::bigint, false"
    " FROM @.users WHERE id = ANY($1::uuid[])"
    " UNION ALL SELECT jti::text, NULL, NULL, true FROM @.revoked_tokens WHERE jti = ANY($2::uuid[])",
    2};

/* ---- the worker's memory ---- */

ds_status *ds_status_new(void)
{
    ds_status *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    tq_map_init(&s->entries, NULL);
    h2o_linklist_init_anchor(&s->by_age);
    return s;
}

static void entry_remove(ds_status *s, status_entry *e)
{
    tq_map_remove(&s->entries, e->key, KEY_LEN);
    h2o_linklist_unlink(&e->age);
    free(e);
}

static bool fresh(const status_entry *e, uint64_t now)
{
    return e->known && now - e->fetched_ms < STATUS_TTL_MS;
}

/* Drops known answers older than a second, oldest first; when still full, the oldest
 * known answers too (never an entry a request waits for). */
static void make_room(ds_status *s, uint64_t now)
{
    h2o_linklist_t *l = s->by_age.next;
    while (l != &s->by_age) {
        status_entry *e = H2O_STRUCT_FROM_MEMBER(status_entry, age, l);
        l = l->next;
        bool full = tq_map_count(&s->entries) >= STATUS_MAX_ENTRIES;
        if (!full && (!e->known || now - e->fetched_ms < STATUS_TTL_MS))
            break; /* the rest were fetched later */
        if (e->known)
            entry_remove(s, e);
    }
}

static void make_key(char key[KEY_LEN], const char *tenant_id, int kind, const char *id)
{
    memset(key, 0, KEY_LEN);
    memcpy(key, tenant_id, strnlen(tenant_id, TQ_UUID_TEXT_LEN));
    key[TQ_UUID_TEXT_LEN] = (char)kind;
    memcpy(key + TQ_UUID_TEXT_LEN + 1, id, strnlen(id, TQ_UUID_TEXT_LEN));
}

static status_entry *entry_for(ds_status *s, const char *tenant_id, int kind, const char *id)
{
    char key[KEY_LEN];
    make_key(key, tenant_id, kind, id);
    status_entry *e = tq_map_get(&s->entries, key, KEY_LEN);
    if (e != NULL)
        return e;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        abort(); /* like the arenas: no way to answer without memory */
    memcpy(e->key, key, KEY_LEN);
    snprintf(e->id, sizeof(e->id), "%.*s", TQ_UUID_TEXT_LEN, id);
    h2o_linklist_insert(&s->by_age, &e->age);
    tq_map_put(&s->entries, e->key, KEY_LEN, e);
    return e;
}

void tq_user_status_forget(tq_worker *w, const char *tenant_id, const char *id)
{
    ds_status *s = ds_worker(w)->status;
    static const int kinds[] = {KIND_USER, KIND_TOKEN};
    for (int i = 0; i < 2; i++) {
        char key[KEY_LEN];
        make_key(key, tenant_id, kinds[i], id);
        status_entry *e = tq_map_get(&s->entries, key, KEY_LEN);
        if (e != NULL && e->known)
            entry_remove(s, e); /* one out already answers from its own snapshot, within the second */
    }
}

/* ---- answers ---- */

static void copy_answer(status_req *rq, const status_entry *e, bool token)
{
    if (token) {
        rq->st.token_revoked = e->revoked;
        return;
    }
    rq->st.active = e->active;
    rq->st.sessions_revoked = e->sessions_revoked;
    rq->st.revoked_through = e->revoked_through;
}

static void req_step(status_req *rq)
{
    if (--rq->pending > 0)
        return;
    tq_db *db = rq->db;
    rq->cb(rq->data, rq->error_code, rq->error_message, rq->error_code ? NULL : &rq->st);
    if (--db->inflight == 0 && db->on_idle != NULL)
        db->on_idle(db);
}

/* Hands e's answer (or the failure) to the requests waiting for it. */
static void notify(status_entry *e, bool token, const tq_ds_result *failed, const tq_db_query *q, tq_db_status status)
{
    status_wait *wt = e->waiters;
    e->waiters = NULL;
    while (wt != NULL) {
        status_wait *next = wt->next; /* wt lives in a request that may be freed below */
        status_req *rq = wt->req;
        if (rq->accounted != q) {
            rq->accounted = q;
            ds_account(rq->db, q, status);
        }
        if (failed != NULL && rq->error_code == NULL) {
            rq->error_code = failed->error_code;
            rq->error_message = failed->error_message;
        } else if (failed == NULL) {
            copy_answer(rq, e, token);
        }
        req_step(rq);
        wt = next;
    }
}

static int find_row(PGresult *res, const char *id, bool token)
{
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        if ((PQgetvalue(res, i, 3)[0] == 't') == token && strcmp(PQgetvalue(res, i, 0), id) == 0)
            return i;
    return -1;
}

static void answer_entry(status_entry *e, bool token, PGresult *res, uint64_t sent_ms)
{
    int row = find_row(res, e->id, token);
    e->known = true;
    e->fetched_ms = sent_ms;
    if (token) {
        e->revoked = row >= 0;
    } else {
        e->active = row >= 0 && PQgetvalue(res, row, 1)[0] == 't';
        e->sessions_revoked = row >= 0 && !PQgetisnull(res, row, 2);
        e->revoked_through = e->sessions_revoked ? atoll(PQgetvalue(res, row, 2)) : 0;
    }
}

static void on_status_result(tq_db_query *q, tq_db_status status, PGresult *res)
{
    status_batch *b = (status_batch *)q;
    ds_op_done(&b->op);
    ds_status *s = ds_worker(b->worker)->status;
    tq_ds_result failed = {0};
    tq_db db = {.request_id = "-"}; /* the log names no request: the lookup serves several */
    bool ok = !ds_failed(&db, status, res, &failed);
    for (int kind = 0; kind < 2; kind++) {
        status_entry **list = kind ? b->tokens : b->users;
        uint32_t n = kind ? b->ntokens : b->nusers;
        for (uint32_t i = 0; i < n; i++) {
            status_entry *e = list[i];
            if (ok) {
                answer_entry(e, kind, res, b->sent_ms);
                /* now the newest answer: to the back of the age order */
                h2o_linklist_unlink(&e->age);
                h2o_linklist_insert(&s->by_age, &e->age);
            }
            notify(e, kind, ok ? NULL : &failed, q, status);
            if (!ok)
                entry_remove(s, e); /* nothing to remember: the next request asks again */
        }
    }
    PQclear(res);
    free(b->user_array);
    free(b->token_array);
    free(b);
}

/* ---- collecting and sending ---- */

/* '{id,id,...}': a uuid[] literal of the entries' ids. */
static char *id_array(status_entry *const *list, uint32_t n)
{
    char *out = malloc((size_t)n * (TQ_UUID_TEXT_LEN + 1) + 3), *p = out;
    if (out == NULL)
        abort();
    *p++ = '{';
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        memcpy(p, list[i]->id, TQ_UUID_TEXT_LEN);
        p += TQ_UUID_TEXT_LEN;
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

static void unlink_open(status_batch *b)
{
    for (status_batch **p = &ds_worker(b->worker)->status->open; *p != NULL; p = &(*p)->next_open)
        if (*p == b) {
            *p = b->next_open;
            return;
        }
}

static void flush_batch(status_batch *b)
{
    if (h2o_timeout_is_linked(&b->flush_timer))
        h2o_timeout_unlink(&b->flush_timer);
    unlink_open(b);
    b->user_array = id_array(b->users, b->nusers);
    b->token_array = id_array(b->tokens, b->ntokens);
    b->op.q.stmt = &stmt_status;
    b->op.q.params[0] = b->user_array;
    b->op.q.params[1] = b->token_array;
    b->op.q.cb = on_status_result;
    b->sent_ms = tq_clock_ms();
    tq_log_debug("datasource", "status lookup: %u user(s), %u token(s)", (unsigned)b->nusers, (unsigned)b->ntokens);
    ds_op_send(&b->op, b->pool, b->worker);
}

static void on_flush_timer(h2o_timeout_entry_t *entry)
{
    flush_batch(H2O_STRUCT_FROM_MEMBER(status_batch, flush_timer, entry));
}

/* Shared by every request of the batch: never cancelled on behalf of one of them. */
static bool status_only_for(const ds_op *op, const tq_db *db)
{
    (void)op;
    (void)db;
    return false;
}

static status_batch *open_batch(tq_db *db)
{
    ds_status *s = ds_worker(db->worker)->status;
    for (status_batch *b = s->open; b != NULL; b = b->next_open)
        if (b->pool == db->pool)
            return b;
    status_batch *b = calloc(1, sizeof(*b));
    if (b == NULL)
        abort();
    b->pool = db->pool;
    b->worker = db->worker;
    b->op.only_for = status_only_for;
    b->flush_timer.cb = on_flush_timer;
    b->next_open = s->open;
    s->open = b;
    /* the zero timeout runs after every socket event of this loop turn */
    h2o_timeout_link(tq_worker_loop(db->worker), tq_worker_timeout(db->worker, 0), &b->flush_timer);
    return b;
}

/* Puts e into its pool's batch of this turn (a full batch goes at once). */
static void ask(tq_db *db, status_entry *e, bool token)
{
    status_batch *b = open_batch(db);
    if (b->nusers + b->ntokens == 0)
        ds_comment(&b->op.q, db);
    if (token)
        b->tokens[b->ntokens++] = e;
    else
        b->users[b->nusers++] = e;
    if (b->nusers == STATUS_BATCH_MAX || b->ntokens == STATUS_BATCH_MAX)
        flush_batch(b);
}

/* Either copies e's answer into rq (fresh), or makes rq wait for it, asking the database
 * unless a lookup is already collecting or out. */
static void need(tq_db *db, status_req *rq, status_entry *e, bool token, uint64_t now)
{
    if (fresh(e, now)) {
        copy_answer(rq, e, token);
        return;
    }
    bool asking = !e->known && e->waiters != NULL;
    if (!asking) {
        e->known = false;
        ask(db, e, token);
    }
    status_wait *wt = tq_arena_alloc(db->arena, sizeof(*wt));
    *wt = (status_wait){e->waiters, rq};
    e->waiters = wt;
    rq->pending++;
}

bool tq_user_status_get(tq_db *db, const char *tenant_id, const char *user_id, const char *jti, tq_user_status *out,
                        tq_user_status_cb cb, void *data)
{
    ds_status *s = ds_worker(db->worker)->status;
    uint64_t now = tq_clock_ms();
    make_room(s, now);
    status_entry *u = entry_for(s, tenant_id, KIND_USER, user_id);
    status_entry *t = jti != NULL ? entry_for(s, tenant_id, KIND_TOKEN, jti) : NULL;
    if (fresh(u, now) && (t == NULL || fresh(t, now))) {
        status_req known = {0};
        copy_answer(&known, u, false);
        if (t != NULL)
            copy_answer(&known, t, true);
        *out = known.st;
        return true;
    }
    /* answers come on a later loop turn at the earliest: never inside this call */
    status_req *rq = tq_arena_calloc(db->arena, 1, sizeof(*rq));
    *rq = (status_req){.db = db, .cb = cb, .data = data};
    need(db, rq, u, false, now);
    if (t != NULL)
        need(db, rq, t, true, now);
    db->inflight++; /* released by req_step once both are answered */
    return false;
}

void ds_status_free(ds_status *s)
{
    if (s == NULL)
        return;
    /* a drained worker has no request waiting; lookups still collecting (a request cut
     * off at the drain deadline) are dropped without callbacks, like its other work */
    while (s->open != NULL) {
        status_batch *b = s->open;
        s->open = b->next_open;
        if (h2o_timeout_is_linked(&b->flush_timer))
            h2o_timeout_unlink(&b->flush_timer);
        free(b);
    }
    for (h2o_linklist_t *l = s->by_age.next; l != &s->by_age;) {
        status_entry *e = H2O_STRUCT_FROM_MEMBER(status_entry, age, l);
        l = l->next;
        entry_remove(s, e);
    }
    tq_map_dispose(&s->entries);
    free(s);
}
