/*
 * pgconn.c - asynchronous libpq connection on an h2o loop (see pgconn.h).
 *
 * Notes that shaped this file:
 * - PQconnectPoll may switch to a new socket between steps (multi-host, SSL/GSS
 *   fallback), so during CONNECTING the h2o wrapper is rebuilt at every step.
 * - h2o closes the fd it wraps; it wraps a dup() so libpq's descriptor stays libpq's.
 * - Connections stay in pipeline mode; one query is [DEALLOCATE][Prepare] [role] Execute
 *   Sync, so a query costs one round trip and one flush.
 * - A scope's role is switched to by `set_config('role', $1, true)` right before the
 *   Execute: the same as SET LOCAL ROLE, which works in a pipeline's implicit transaction
 *   (it lasts to the Sync) but makes PostgreSQL warn "SET LOCAL can only be used in
 *   transaction blocks" to the client and in its own log on every query. The role name
 *   travels as a parameter, so it needs no quoting. Where the connection prepares
 *   statements, the switch is prepared too, once per connection (outside the cache: one
 *   statement serves every role): sent unnamed, its parsing and planning cost the server
 *   more backend CPU than running it (bench/README). A Prepare sent before the switch is
 *   parsed as the login role; the table privileges checked when it executes are the
 *   role's all the same, so a statement bound to a schema the role may not use is refused
 *   on both paths (42501).
 * - Statements name their tables `@.t`; the schema is spliced in only when the text is
 *   parsed (unnamed executions and Prepares), never for executing a prepared statement.
 * - Prepared statements are remembered per connection in a bounded LRU keyed by (scope id,
 *   statement id). A pair is prepared on its second use only (like pgjdbc's
 *   prepareThreshold): with many tenants on a connection, many pairs run once, and
 *   preparing those would take server memory, and cache places, for nothing.
 *   The cache is exact: the server holds a prepared statement of ours iff the cache says
 *   so, which is why the pair whose Prepare failed is dropped alone, and why a failed
 *   DEALLOCATE makes the connection not reusable rather than guessed at.
 */
#include "tenantql/pgconn.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "tenantql/log.h"
#include "tenantql/pg_admin.h"

/* ---- the prepared-statement cache ----
 * One block per connection: `allocated` entries, dense (0..count-1), then a table of
 * 2x that many slots (open addressing, linear probing, backward-shift deletion, so no
 * tombstones) holding entry indices. Entries form a doubly linked LRU list by index.
 * The block grows by doubling up to the capacity, so a large --statement-cache costs
 * memory only on connections that use it. Keys are chosen by the process (scope ids and
 * statement ids), never by clients, so a multiplicative hash is enough. */

#define NO_ENTRY (-1)
#define STMT_NAME_MAX 63 /* PostgreSQL keeps NAMEDATALEN - 1 bytes of a statement's name */
#define CACHE_FIRST_BLOCK 16

typedef struct stmt_entry {
    uint64_t key;     /* scope id << 32 | statement id */
    const char *name; /* the statement's name (tq_stmt.name), to name its DEALLOCATE */
    int32_t newer, older;
    bool prepared;
} stmt_entry;

typedef struct stmt_cache {
    stmt_entry *entries; /* the block: entries, then slots */
    int32_t *slots;      /* entry index or NO_ENTRY */
    uint32_t capacity;   /* entries at most: the process's setting when the connection was made */
    uint32_t allocated;
    uint32_t count;
    uint32_t nprepared;
    uint32_t shift; /* 64 - log2(slots) */
    int32_t newest, oldest;
} stmt_cache;

static int statement_cache = TQ_PGCONN_STATEMENT_CACHE_DEFAULT;

/* Executions by kind, process-wide (relaxed counters; for /metrics). */
static struct {
    _Atomic unsigned long prepared, unnamed, prepares;
} statement_counts;

void tq_pgconn_set_statement_cache(int per_connection)
{
    statement_cache = per_connection < 0 ? 0 : per_connection;
}

enum { PRELUDE_DEALLOCATE = 1, PRELUDE_PREPARE, PRELUDE_PREPARE_SWITCH, PRELUDE_ROLE };

/* SET LOCAL ROLE $1, without SET LOCAL's warning (see the notes above); schema-qualified
 * so that nothing on the search_path can stand in for it. Its prepared name cannot be a
 * cached statement's ("<name>_<digits>"). */
#define ROLE_SWITCH_SQL "SELECT pg_catalog.set_config('role', $1, true)"
#define ROLE_SWITCH_NAME "tq_role"

struct tq_pgconn {
    PGconn *pg;
    h2o_socket_t *sock;       /* wrapper of a dup() of PQsocket; NULL while detached */
    const tq_pgconn_loop *loop; /* the loop the wrapper lives in */
    tq_pgconn_state state;
    const tq_pgconn_ops *ops;
    void *owner;
    stmt_cache cache;
    bool statements_unknown; /* the server's prepared statements may differ from the cache */
    bool switch_prepared;    /* the server holds ROLE_SWITCH_NAME (or its Prepare is on the way) */
    char *sql;               /* the last expanded statement text (grows, kept) */
    size_t sql_size;
    PGresult *result;         /* the current query's result, until its sync arrives */
    bool awaiting_write;      /* h2o_socket_notify_write is pending (it asserts if doubled) */
    /* the current query: its prelude entries in pipeline order, then the Execute */
    int nprelude;
    uint8_t prelude[4];       /* PRELUDE_* */
    bool prelude_ok[4];       /* it succeeded (COMMAND_OK; the role switch: TUPLES_OK) */
    uint64_t preparing;       /* the key of the pair a PRELUDE_PREPARE prepares */
    bool exec_prepared;       /* the Execute ran a prepared statement */
    int entry;                /* pipeline entry being read: 0 = first of the current query */
    h2o_timeout_entry_t deferred; /* reports a failure that happened inside a call */
    void (*on_closed)(void *data); /* tq_pgconn_close_gracefully's callback */
    void *on_closed_data;
};

static void on_connect_io(h2o_socket_t *sock, const char *err);
static void on_readable(h2o_socket_t *sock, const char *err);
static void on_writable(h2o_socket_t *sock, const char *err);

static void wrap_socket(tq_pgconn *c)
{
    int fd = fcntl(PQsocket(c->pg), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        c->sock = NULL;
        return;
    }
    c->sock = h2o_evloop_socket_create(c->loop->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    c->sock->data = c;
}

static void unwrap_socket(tq_pgconn *c)
{
    if (c->sock == NULL)
        return;
    h2o_socket_read_stop(c->sock);
    h2o_socket_close(c->sock);
    c->sock = NULL;
    c->awaiting_write = false;
}

static const char *pg_error(tq_pgconn *c)
{
    const char *m = PQerrorMessage(c->pg);
    return m && *m ? m : "connection lost";
}

/* ---- connecting ---- */

static void report_connected(tq_pgconn *c, bool ok, const char *msg)
{
    c->ops->on_connected(c->owner, ok, msg);
}

static void fail_connect(tq_pgconn *c)
{
    unwrap_socket(c);
    c->state = TQ_PGCONN_BROKEN;
    report_connected(c, false, pg_error(c));
}

static void finish_connect(tq_pgconn *c)
{
    unwrap_socket(c);
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        fail_connect(c);
        return;
    }
    wrap_socket(c);
    if (c->sock == NULL) {
        fail_connect(c);
        return;
    }
    c->state = TQ_PGCONN_IDLE;
    h2o_socket_read_start(c->sock, on_readable);
    report_connected(c, true, NULL);
}

/* Waits for what PQconnectPoll asked for; the socket is rebuilt at each step. */
static void wait_connect(tq_pgconn *c, PostgresPollingStatusType want)
{
    unwrap_socket(c);
    wrap_socket(c);
    if (c->sock == NULL) {
        fail_connect(c);
        return;
    }
    if (want == PGRES_POLLING_READING) {
        h2o_socket_read_start(c->sock, on_connect_io);
    } else {
        c->awaiting_write = true;
        h2o_socket_notify_write(c->sock, on_connect_io);
    }
}

static void step_connect(tq_pgconn *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_OK:
        finish_connect(c);
        break;
    case PGRES_POLLING_READING:
        wait_connect(c, PGRES_POLLING_READING);
        break;
    case PGRES_POLLING_WRITING:
        wait_connect(c, PGRES_POLLING_WRITING);
        break;
    default:
        fail_connect(c);
        break;
    }
}

static void on_connect_io(h2o_socket_t *sock, const char *err)
{
    tq_pgconn *c = sock->data;
    c->awaiting_write = false;
    step_connect(c);
}

static void on_deferred_failure(h2o_timeout_entry_t *entry)
{
    tq_pgconn *c = H2O_STRUCT_FROM_MEMBER(tq_pgconn, deferred, entry);
    fail_connect(c);
}

tq_pgconn *tq_pgconn_connect(const tq_pgconn_loop *l, const char *const *keywords, const char *const *values,
                             const tq_pgconn_ops *ops, void *owner)
{
    tq_pgconn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->loop = l;
    c->ops = ops;
    c->owner = owner;
    c->state = TQ_PGCONN_CONNECTING;
    c->cache.capacity = (uint32_t)statement_cache;
    c->cache.newest = c->cache.oldest = NO_ENTRY;
    c->pg = PQconnectStartParams(keywords, values, 0);
    if (c->pg == NULL) {
        free(c);
        return NULL;
    }
    tq_pg_log_notices(c->pg);
    c->deferred.cb = on_deferred_failure;
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        /* the owner expects the outcome on a later loop turn, never inside this call */
        h2o_timeout_link(l->loop, l->zero, &c->deferred);
        return c;
    }
    /* libpq: after PQconnectStart, behave as if PGRES_POLLING_WRITING had been returned */
    wait_connect(c, PGRES_POLLING_WRITING);
    return c;
}

/* ---- the cache's table ---- */

static uint64_t cache_key(const tq_stmt_scope *scope, const tq_stmt *stmt)
{
    return (uint64_t)scope->id << 32 | (uint32_t)stmt->id;
}

static uint32_t cache_home(const stmt_cache *k, uint64_t key)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ULL) >> k->shift);
}

static uint32_t cache_mask(const stmt_cache *k)
{
    return (uint32_t)(UINT64_MAX >> k->shift);
}

/* The slot holding key, or the empty slot where it would go. */
static uint32_t cache_probe(const stmt_cache *k, uint64_t key)
{
    uint32_t mask = cache_mask(k), i = cache_home(k, key);
    while (k->slots[i] != NO_ENTRY && k->entries[k->slots[i]].key != key)
        i = (i + 1) & mask;
    return i;
}

static stmt_entry *cache_find(const stmt_cache *k, uint64_t key)
{
    if (k->count == 0)
        return NULL;
    int32_t e = k->slots[cache_probe(k, key)];
    return e == NO_ENTRY ? NULL : &k->entries[e];
}

/* Empties slot i, moving later entries of its probe run back so that lookups never
 * stop early at the hole. */
static void cache_unslot(stmt_cache *k, uint32_t i)
{
    uint32_t mask = cache_mask(k), j = i;
    for (;;) {
        k->slots[i] = NO_ENTRY;
        for (;;) {
            j = (j + 1) & mask;
            if (k->slots[j] == NO_ENTRY)
                return;
            uint32_t home = cache_home(k, k->entries[k->slots[j]].key);
            /* the entry at j may fill the hole if the hole is no farther from j than its home */
            if (((j - home) & mask) >= ((j - i) & mask))
                break;
        }
        k->slots[i] = k->slots[j];
        i = j;
    }
}

static void lru_unlink(stmt_cache *k, int32_t e)
{
    stmt_entry *x = &k->entries[e];
    if (x->newer != NO_ENTRY)
        k->entries[x->newer].older = x->older;
    else
        k->newest = x->older;
    if (x->older != NO_ENTRY)
        k->entries[x->older].newer = x->newer;
    else
        k->oldest = x->newer;
}

static void lru_push_newest(stmt_cache *k, int32_t e)
{
    stmt_entry *x = &k->entries[e];
    x->newer = NO_ENTRY;
    x->older = k->newest;
    if (k->newest != NO_ENTRY)
        k->entries[k->newest].newer = e;
    else
        k->oldest = e;
    k->newest = e;
}

static void cache_touch(stmt_cache *k, stmt_entry *x)
{
    int32_t e = (int32_t)(x - k->entries);
    if (k->newest == e)
        return;
    lru_unlink(k, e);
    lru_push_newest(k, e);
}

/* Makes room for one more entry below the capacity: the first block, or one twice as
 * large (entries keep their indices; the slots are rebuilt). -1 when out of memory. */
static int cache_grow(stmt_cache *k)
{
    uint32_t n = k->allocated == 0 ? CACHE_FIRST_BLOCK : k->allocated * 2;
    if (n > k->capacity)
        n = k->capacity;
    uint32_t nslots = 2, bits = 1;
    while (nslots < 2 * n) {
        nslots *= 2;
        bits++;
    }
    stmt_entry *block = malloc(n * sizeof(stmt_entry) + nslots * sizeof(int32_t));
    if (block == NULL)
        return -1;
    if (k->count > 0)
        memcpy(block, k->entries, k->count * sizeof(stmt_entry));
    free(k->entries);
    k->entries = block;
    k->slots = (int32_t *)(block + n);
    k->allocated = n;
    k->shift = 64 - bits;
    for (uint32_t i = 0; i < nslots; i++)
        k->slots[i] = NO_ENTRY;
    for (uint32_t e = 0; e < k->count; e++)
        k->slots[cache_probe(k, k->entries[e].key)] = (int32_t)e;
    return 0;
}

/* Removes entry x; the last entry moves into its place so that entries stay dense. */
static void cache_remove(stmt_cache *k, stmt_entry *x)
{
    int32_t e = (int32_t)(x - k->entries), last = (int32_t)k->count - 1;
    if (x->prepared)
        k->nprepared--;
    lru_unlink(k, e);
    cache_unslot(k, cache_probe(k, x->key));
    if (e != last) {
        stmt_entry *m = &k->entries[last];
        k->slots[cache_probe(k, m->key)] = e;
        if (m->newer != NO_ENTRY)
            k->entries[m->newer].older = e;
        else
            k->newest = e;
        if (m->older != NO_ENTRY)
            k->entries[m->older].newer = e;
        else
            k->oldest = e;
        *x = *m;
    }
    k->count--;
}

/* Adds key as the newest entry, not prepared. When the cache is full the oldest entry
 * goes first: *evicted gets its name and key if it was prepared (the caller deallocates
 * it), else evicted->name is NULL. NULL when out of memory. */
static stmt_entry *cache_add(stmt_cache *k, uint64_t key, const char *name, stmt_entry *evicted)
{
    evicted->name = NULL;
    if (k->count == k->capacity) {
        stmt_entry *old = &k->entries[k->oldest];
        if (old->prepared)
            *evicted = *old;
        cache_remove(k, old);
    } else if (k->count == k->allocated && cache_grow(k) != 0) {
        return NULL;
    }
    int32_t e = (int32_t)k->count++;
    stmt_entry *x = &k->entries[e];
    x->key = key;
    x->name = name;
    x->prepared = false;
    k->slots[cache_probe(k, key)] = e;
    lru_push_newest(k, e);
    return x;
}

/* "<name>_<scope id>" into out (STMT_NAME_MAX + 1 bytes); false when it would not fit,
 * as the server would cut it and two statements could then share a name. */
static bool statement_name(char *out, const char *name, uint32_t scope_id)
{
    int n = snprintf(out, STMT_NAME_MAX + 1, "%s_%" PRIu32, name, scope_id);
    return n > 0 && n <= STMT_NAME_MAX;
}

/* The text of sql with each "@." replaced by the double-quoted schema and a dot, in the
 * connection's buffer (valid until the next expansion), or sql itself when it has no
 * "@."; NULL when out of memory. */
static const char *expand_sql(tq_pgconn *c, const char *sql, const char *schema)
{
    const char *at = strstr(sql, "@.");
    if (at == NULL)
        return sql;
    size_t quoted = 2 + strlen(schema), marks = 0;
    for (const char *q = schema; *q; q++)
        quoted += *q == '"';
    for (const char *p = at; p != NULL; p = strstr(p + 2, "@."))
        marks++;
    size_t need = strlen(sql) + marks * (quoted - 1) + 1;
    if (need > c->sql_size) {
        char *grown = realloc(c->sql, need);
        if (grown == NULL)
            return NULL;
        c->sql = grown;
        c->sql_size = need;
    }
    char *out = c->sql;
    const char *from = sql;
    for (; at != NULL; at = strstr(from, "@.")) {
        memcpy(out, from, (size_t)(at - from));
        out += at - from;
        *out++ = '"';
        for (const char *q = schema; *q; q++) {
            if (*q == '"')
                *out++ = '"';
            *out++ = *q;
        }
        *out++ = '"';
        *out++ = '.';
        from = at + 2;
    }
    strcpy(out, from);
    return c->sql;
}

/* ---- queries ---- */

static void break_connection(tq_pgconn *c)
{
    tq_pgconn_state was = c->state;
    c->state = TQ_PGCONN_BROKEN;
    c->statements_unknown = true;
    unwrap_socket(c);
    if (c->result != NULL) {
        PQclear(c->result);
        c->result = NULL;
    }
    if (was == TQ_PGCONN_BUSY)
        c->ops->on_result(c->owner, NULL, pg_error(c));
    else if (was == TQ_PGCONN_IDLE)
        c->ops->on_lost(c->owner, pg_error(c));
}

static int flush_output(tq_pgconn *c)
{
    int r = PQflush(c->pg);
    if (r < 0)
        return -1;
    if (r == 1 && !c->awaiting_write) {
        c->awaiting_write = true;
        h2o_socket_notify_write(c->sock, on_writable);
    }
    return 0;
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    tq_pgconn *c = sock->data;
    c->awaiting_write = false;
    if (err != NULL || flush_output(c) != 0)
        break_connection(c);
}

/* Queues "DEALLOCATE <name>" for an evicted prepared pair. */
static bool send_deallocate(tq_pgconn *c, const stmt_entry *evicted)
{
    char name[STMT_NAME_MAX + 1], sql[sizeof("DEALLOCATE \"\"") + 2 * STMT_NAME_MAX];
    if (!statement_name(name, evicted->name, (uint32_t)(evicted->key >> 32)))
        return false; /* cannot happen: only names that fit are prepared */
    char *out = sql + sprintf(sql, "DEALLOCATE \"");
    for (const char *q = name; *q; q++) {
        if (*q == '"')
            *out++ = '"';
        *out++ = *q;
    }
    strcpy(out, "\"");
    if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
        return false;
    c->prelude[c->nprelude] = PRELUDE_DEALLOCATE;
    c->prelude_ok[c->nprelude++] = false;
    return true;
}

int tq_pgconn_send(tq_pgconn *c, const tq_stmt *stmt, const tq_stmt_scope *scope, const char *const *params)
{
    return tq_pgconn_send_commented(c, stmt, scope, params, NULL);
}

/* The text of an unnamed execution: stmt's, expanded for the schema, after comment. */
static const char *commented_sql(tq_pgconn *c, const char *sql, const char *schema, const char *comment)
{
    const char *text = expand_sql(c, sql, schema);
    if (text == NULL || comment == NULL)
        return text;
    size_t cl = strlen(comment), tl = strlen(text), need = cl + 1 + tl + 1;
    if (need > c->sql_size) {
        /* text may be c->sql itself: grow in place keeps it */
        char *grown = realloc(c->sql, need);
        if (grown == NULL)
            return NULL;
        if (text == c->sql)
            text = grown;
        c->sql = grown;
        c->sql_size = need;
    }
    memmove(c->sql + cl + 1, text, tl + 1);
    memcpy(c->sql, comment, cl);
    c->sql[cl] = ' ';
    return c->sql;
}

int tq_pgconn_send_commented(tq_pgconn *c, const tq_stmt *stmt, const tq_stmt_scope *scope, const char *const *params,
                             const char *comment)
{
    c->state = TQ_PGCONN_BUSY;
    c->nprelude = 0;
    c->exec_prepared = false;
    c->entry = 0;
    char name[STMT_NAME_MAX + 1];
    stmt_cache *k = &c->cache;
    if (comment == NULL && !scope->unnamed && !stmt->plan_per_values && k->capacity > 0 &&
        statement_name(name, stmt->name, scope->id)) {
        uint64_t key = cache_key(scope, stmt);
        stmt_entry *x = cache_find(k, key);
        if (x == NULL) {
            /* first use (or forgotten since): run unnamed, remember that it was seen */
            stmt_entry evicted;
            /* out of memory: nothing is remembered, and it runs unnamed all the same */
            cache_add(k, key, stmt->name, &evicted);
            if (evicted.name != NULL && !send_deallocate(c, &evicted))
                goto broken;
        } else {
            cache_touch(k, x);
            if (!x->prepared) {
                const char *sql = expand_sql(c, stmt->sql, scope->schema);
                if (sql == NULL || !PQsendPrepare(c->pg, name, sql, stmt->nparams, NULL))
                    goto broken;
                /* counted now; taken back in finish_query if the Prepare fails */
                x->prepared = true;
                k->nprepared++;
                c->preparing = key;
                c->prelude[c->nprelude] = PRELUDE_PREPARE;
                c->prelude_ok[c->nprelude++] = false;
            }
            c->exec_prepared = true;
        }
    }
    if (scope->role != NULL) {
        /* after the Prepare: a role switch that fails then aborts the Execute alone, and
         * the cache stays exact whatever the role may do */
        if (!scope->unnamed && k->capacity > 0 && !c->switch_prepared) {
            if (!PQsendPrepare(c->pg, ROLE_SWITCH_NAME, ROLE_SWITCH_SQL, 1, NULL))
                goto broken;
            c->switch_prepared = true; /* taken back in finish_query if the Prepare fails */
            c->prelude[c->nprelude] = PRELUDE_PREPARE_SWITCH;
            c->prelude_ok[c->nprelude++] = false;
        }
        /* an unnamed scope (PgBouncer) never executes it: the next transaction may be on
         * another server connection */
        bool prepared = !scope->unnamed && k->capacity > 0;
        if (prepared ? !PQsendQueryPrepared(c->pg, ROLE_SWITCH_NAME, 1, &scope->role, NULL, NULL, 0)
                     : !PQsendQueryParams(c->pg, ROLE_SWITCH_SQL, 1, NULL, &scope->role, NULL, NULL, 0))
            goto broken;
        c->prelude[c->nprelude] = PRELUDE_ROLE;
        c->prelude_ok[c->nprelude++] = false;
    }
    for (int i = 0; i < c->nprelude; i++)
        if (c->prelude[i] == PRELUDE_PREPARE)
            atomic_fetch_add_explicit(&statement_counts.prepares, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(c->exec_prepared ? &statement_counts.prepared : &statement_counts.unnamed, 1,
                              memory_order_relaxed);
    if (c->exec_prepared) {
        if (!PQsendQueryPrepared(c->pg, name, stmt->nparams, params, NULL, NULL, 0))
            goto broken;
    } else {
        const char *sql = commented_sql(c, stmt->sql, scope->schema, comment);
        if (sql == NULL || !PQsendQueryParams(c->pg, sql, stmt->nparams, NULL, params, NULL, NULL, 0))
            goto broken;
    }
    if (!PQpipelineSync(c->pg) || flush_output(c) != 0)
        goto broken;
    return 0;
broken:
    break_connection(c);
    return -1;
}

bool tq_pgconn_reusable(const tq_pgconn *c)
{
    return c->state != TQ_PGCONN_BROKEN && !c->statements_unknown;
}

int tq_pgconn_cached_statements(const tq_pgconn *c)
{
    return (int)c->cache.nprepared + c->switch_prepared;
}

void tq_pgconn_statement_counts(unsigned long *prepared, unsigned long *unnamed, unsigned long *prepares)
{
    *prepared = atomic_load_explicit(&statement_counts.prepared, memory_order_relaxed);
    *unnamed = atomic_load_explicit(&statement_counts.unnamed, memory_order_relaxed);
    *prepares = atomic_load_explicit(&statement_counts.prepares, memory_order_relaxed);
}

bool tq_pgconn_knows(const tq_pgconn *c, const tq_stmt *stmt, const tq_stmt_scope *scope)
{
    return cache_find(&c->cache, cache_key(scope, stmt)) != NULL;
}

/* Keeps the one result that answers the query: the first error among the prelude's
 * entries (the rest of the pipeline then reports PIPELINE_ABORTED), else the Execute's. */
static void keep_result(tq_pgconn *c, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    if (c->entry < c->nprelude) {
        c->prelude_ok[c->entry] =
            st == (c->prelude[c->entry] == PRELUDE_ROLE ? PGRES_TUPLES_OK : PGRES_COMMAND_OK);
        if (st == PGRES_FATAL_ERROR && c->prelude[c->entry] == PRELUDE_ROLE) {
            /* the server lost the prepared switch (see below) */
            const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            if (code != NULL && strcmp(code, "26000") == 0)
                c->statements_unknown = true;
        }
        if (st == PGRES_FATAL_ERROR && c->result == NULL) {
            c->result = res;
            return;
        }
    } else if (c->entry == c->nprelude && st != PGRES_PIPELINE_ABORTED && c->result == NULL) {
        if (st == PGRES_FATAL_ERROR && c->exec_prepared) {
            /* the server lost the statement (DISCARD, DEALLOCATE by someone else), or its
             * plan can no longer serve (a table's columns changed type): only a new
             * connection gets back to a known state */
            const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            if (code != NULL && (strcmp(code, "26000") == 0 || strcmp(code, "0A000") == 0))
                c->statements_unknown = true;
        }
        c->result = res;
        return;
    }
    PQclear(res);
}

static void finish_query(tq_pgconn *c)
{
    PGresult *out = c->result;
    c->result = NULL;
    /* a prelude entry whose success was not seen: a Prepare that failed (or was aborted)
     * created nothing, so that pair alone is not prepared; a DEALLOCATE that failed leaves
     * the server's statements unknown; a role switch that failed leaves nothing behind
     * (its setting, like the rest of the transaction, ends with the Sync) */
    for (int i = 0; i < c->nprelude; i++) {
        if (c->prelude_ok[i] || c->prelude[i] == PRELUDE_ROLE)
            continue;
        if (c->prelude[i] == PRELUDE_PREPARE_SWITCH) {
            c->switch_prepared = false;
        } else if (c->prelude[i] == PRELUDE_PREPARE) {
            stmt_entry *x = cache_find(&c->cache, c->preparing);
            if (x != NULL)
                cache_remove(&c->cache, x);
        } else {
            c->statements_unknown = true;
        }
    }
    c->nprelude = 0;
    c->state = TQ_PGCONN_IDLE;
    c->ops->on_result(c->owner, out, out == NULL ? "no result" : NULL);
}

/* Reads results up to the Sync that closes the current query. Each pipeline entry ends
 * with a NULL from PQgetResult; two NULLs in a row mean libpq has nothing queued. */
static void drain_results(tq_pgconn *c)
{
    int nulls = 0;
    while (c->state == TQ_PGCONN_BUSY && !PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (res == NULL) {
            if (++nulls > 1)
                return;
            c->entry++;
            continue;
        }
        nulls = 0;
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            finish_query(c);
            return;
        }
        keep_result(c, res);
    }
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
    tq_pgconn *c = sock->data;
    if (err != NULL || !PQconsumeInput(c->pg)) {
        break_connection(c);
        return;
    }
    /* notifications are not used on pooled connections; drop any */
    PGnotify *n;
    while ((n = PQnotifies(c->pg)) != NULL)
        PQfreemem(n);
    if (c->state == TQ_PGCONN_BUSY) {
        drain_results(c);
    } else if (PQstatus(c->pg) == CONNECTION_BAD) {
        break_connection(c);
    }
}

void tq_pgconn_cancel(tq_pgconn *c)
{
    if (c->state == TQ_PGCONN_BUSY)
        pgconn_cancel_submit(PQgetCancel(c->pg));
}

/* ---- ownership ---- */

tq_pgconn_state tq_pgconn_get_state(const tq_pgconn *c)
{
    return c->state;
}

void tq_pgconn_detach(tq_pgconn *c)
{
    unwrap_socket(c);
}

int tq_pgconn_attach(tq_pgconn *c, const tq_pgconn_loop *l)
{
    c->loop = l;
    if (c->state == TQ_PGCONN_BROKEN)
        return -1;
    wrap_socket(c);
    if (c->sock == NULL) {
        c->state = TQ_PGCONN_BROKEN;
        return -1;
    }
    h2o_socket_read_start(c->sock, on_readable);
    return 0;
}

/* ---- closing so that the server has let go ----
 * done runs before the connection is freed: the owner may still unlink it from its lists */

static void finish_graceful_close(tq_pgconn *c)
{
    c->on_closed(c->on_closed_data);
    tq_pgconn_close(c);
}

static void on_closing_readable(h2o_socket_t *sock, const char *err)
{
    tq_pgconn *c = sock->data;
    /* the socket is watched, not read, by h2o (libpq reads it): drain it here; what the
     * server still says is of no interest, its end of the socket closing is */
    char buf[512];
    ssize_t n;
    while ((n = recv(PQsocket(c->pg), buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        ;
    if (err != NULL || n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        finish_graceful_close(c);
}

static void on_close_timeout(h2o_timeout_entry_t *entry)
{
    finish_graceful_close(H2O_STRUCT_FROM_MEMBER(tq_pgconn, deferred, entry));
}

void tq_pgconn_close_gracefully(tq_pgconn *c, void (*done)(void *data), void *data)
{
    c->on_closed = done;
    c->on_closed_data = data;
    if (c->sock == NULL || c->state == TQ_PGCONN_BROKEN || PQsocket(c->pg) < 0) {
        finish_graceful_close(c);
        return;
    }
    /* end of input makes the backend exit; it closes its end only after leaving
     * pg_stat_activity, so the socket's EOF tells that the server slot is free */
    c->state = TQ_PGCONN_BROKEN;
    shutdown(PQsocket(c->pg), SHUT_WR);
    h2o_socket_read_stop(c->sock);
    h2o_socket_read_start(c->sock, on_closing_readable);
    if (h2o_timeout_is_linked(&c->deferred))
        h2o_timeout_unlink(&c->deferred);
    c->deferred.cb = on_close_timeout;
    h2o_timeout_link(c->loop->loop, c->loop->linger, &c->deferred);
}

void tq_pgconn_close(tq_pgconn *c)
{
    if (h2o_timeout_is_linked(&c->deferred))
        h2o_timeout_unlink(&c->deferred);
    unwrap_socket(c);
    if (c->result != NULL)
        PQclear(c->result);
    PQfinish(c->pg);
    free(c->cache.entries);
    free(c->sql);
    free(c);
}
