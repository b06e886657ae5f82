/*
 * datasource.h - the request's data sources, made by factory functions per request and
 * bound to that request's tenant pool (ADR 000: "Factory Function Approach").
 *
 * A tq_db is one request's handle on its tenant's database: every query goes through it
 * to the tenant's pool, and it counts the queries still out so that the request is not
 * freed under them. The user and product data sources turn rows into GraphQL values.
 */
#ifndef TENANTQL_DATASOURCE_H
#define TENANTQL_DATASOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "tenantql/schema.h"
#include "tenantql/pool.h"

/* Time a request spent on its tenant's database (microseconds). */
typedef struct tq_db_timings {
    uint64_t wait_us;                   /* waiting for a connection (pool queue, connecting) */
    uint64_t pg_us;                     /* from sending a statement to its result */
    uint32_t statements;                /* statements whose results it waited for */
} tq_db_timings;

typedef struct tq_db {
    tq_pool *pool;                      /* borrowed by whoever made the tq_db, who returns it */
    tq_worker *worker;
    tq_arena *arena;
    int inflight;                       /* queries sent and not yet answered */
    void (*on_idle)(struct tq_db *db);  /* called when inflight drops to 0 */
    const char *request_id;             /* for the log: which request a failure hurt (valid while it runs) */
    bool cancelled;                     /* tq_db_cancel: nothing more is sent */
    /* What the request's statements took, summed as each one's result comes back: a read
     * shared with other requests of the same loop turn counts in full for each of them
     * (each waited for all of it). */
    tq_db_timings timings;
    /* Told of each statement as its result comes back (NULL: nobody listens), on the
     * request's worker; q is valid during the call only. */
    void (*on_statement)(struct tq_db *db, const tq_db_query *q, tq_db_status status);
    /* NULL: none. Else the SQL comment its statements carry (the request's trace, see
     * tq_db_query.comment), valid while the request runs; a read or lookup shared with
     * other requests carries the comment of the request that made it (or none). */
    const char *sql_comment;
} tq_db;

/* The request gave up (it timed out, or its client went away): queries that only it
 * waits for are cancelled in PostgreSQL (or taken out of their pool's queue), and later
 * queries fail at once; each still completes through its callback (TENANT_BUSY), so the
 * request is freed as usual once nothing is out. On the request's worker. */
void tq_db_cancel(tq_db *db);

/* Outcome of a data source call. error_code is NULL on success, else one of the API's
 * extensions.code values (the message is safe to show to clients). */
typedef struct tq_ds_result {
    const char *error_code;
    const char *error_message;
    tq_value value;                     /* an object, a list of objects, or null */
    tq_value extra;                     /* per call: e.g. the cursor keys of a page */
    bool has_more;                      /* pages: rows follow the returned ones */
} tq_ds_result;

typedef void (*tq_ds_cb)(void *data, tq_ds_result *r);

/* Object types the data sources produce; bound once from the schema at start-up. */
typedef struct tq_ds_types {
    const tq_schema_type *user, *product;
} tq_ds_types;
int tq_ds_bind_types(const tq_schema *schema);
/* Bound once at start-up; valid for the life of the process (the schema outlives serving). */
const tq_ds_types *tq_ds_types_get(void);

/* ---- users ---- */

typedef struct tq_user_ds {
    tq_db *db;
} tq_user_ds;

typedef struct tq_page_request {
    int first;                          /* rows wanted (0..100) */
    const char *after_key;              /* NULL: from the start */
    const char *after_id;
} tq_page_request;

/* The request's user data source, in arena a: valid until the arena is freed. */
tq_user_ds *tq_user_ds_create(tq_arena *a, tq_db *db);
/* id must be a canonical uuid; only_active hides deactivated users (for `me`). */
void tq_user_ds_find_by_id(tq_user_ds *ds, const char *id, bool only_active, tq_ds_cb cb, void *data);
/* r->value: a list of users, r->extra: a list of their cursor keys (email) */
void tq_user_ds_page(tq_user_ds *ds, const tq_page_request *page, tq_ds_cb cb, void *data);
void tq_user_ds_count(tq_user_ds *ds, tq_ds_cb cb, void *data);
void tq_user_ds_search(tq_user_ds *ds, const char *pattern, int limit, tq_ds_cb cb, void *data);

/* ---- products ---- */

typedef enum tq_product_order {
    TQ_PRODUCT_NAME_ASC,
    TQ_PRODUCT_NAME_DESC,
    TQ_PRODUCT_PRICE_ASC,
    TQ_PRODUCT_PRICE_DESC,
    TQ_PRODUCT_CREATED_AT_DESC,
} tq_product_order;

typedef struct tq_product_filter {
    const char *name_pattern;           /* ILIKE pattern, already escaped and wrapped in % */
    const char *min_price, *max_price;  /* canonical decimals */
    int in_stock;                       /* -1 any, 0 out of stock, 1 in stock */
    int active;                         /* -1 any, 0, 1 */
} tq_product_filter;

typedef struct tq_product_ds {
    tq_db *db;
} tq_product_ds;

/* The request's product data source, in arena a: valid until the arena is freed. */
tq_product_ds *tq_product_ds_create(tq_arena *a, tq_db *db);
void tq_product_ds_find_by_id(tq_product_ds *ds, const char *id, tq_ds_cb cb, void *data);
/* r->extra: a list of the rows' cursor keys for the order */
void tq_product_ds_page(tq_product_ds *ds, const tq_product_filter *filter, tq_product_order order,
                        const tq_page_request *page, tq_ds_cb cb, void *data);
void tq_product_ds_count(tq_product_ds *ds, const tq_product_filter *filter, tq_ds_cb cb, void *data);
void tq_product_ds_search(tq_product_ds *ds, const char *pattern, int limit, tq_ds_cb cb, void *data);

/* ---- writes (mutations) ----
 * Writes go to the database at once, one execution per call: they are never shared with
 * another request the way identical reads are. Values are already validated by the
 * resolvers; a uniqueness violation becomes CONFLICT, other failures as for reads. */

/* r->value: the user with this (already lower-cased) email or null; r->extra: a list of
 * its stored password hash (a string) and the second up to which its sessions are revoked
 * (an int, or null when logout(allSessions) never ran) */
void tq_user_ds_find_for_login(tq_user_ds *ds, const char *email, tq_ds_cb cb, void *data);

/* logout: revokes one token by its jti (a uuid) until expires_at (seconds since the
 * epoch: its exp plus the leeway; pruned after that). r->value: true. */
void tq_user_ds_revoke_token(tq_user_ds *ds, const char *user_id, const char *jti, int64_t expires_at, tq_ds_cb cb,
                             void *data);
/* logout(allSessions): every token of the user whose iat is at or before `through`
 * (seconds since the epoch) is revoked; the instant only moves forward. r->value: true,
 * or null when no user has the id. */
void tq_user_ds_revoke_sessions(tq_user_ds *ds, const char *user_id, int64_t through, tq_ds_cb cb, void *data);

typedef struct tq_user_fields {
    const char *email;                  /* insert: valid and lower-cased */
    const char *password_hash;          /* insert: crypto_pwhash_str output */
    bool set_first_name, set_last_name; /* update: change these (a NULL value clears) */
    const char *first_name, *last_name; /* insert: NULL = none */
    int active;                         /* update: -1 unchanged, 0, 1 */
} tq_user_fields;

/* r->value: the new (active) user; CONFLICT when the email is taken */
void tq_user_ds_insert(tq_user_ds *ds, const tq_user_fields *f, tq_ds_cb cb, void *data);
/* r->value: the user after the change, or null when no user has the id. Nothing to
 * change: the row as it is (updated_at untouched). */
void tq_user_ds_update(tq_user_ds *ds, const char *id, const tq_user_fields *f, tq_ds_cb cb, void *data);

typedef struct tq_product_fields {
    const char *name;                   /* update: NULL = unchanged */
    bool set_description;               /* update: description changes (a NULL value clears) */
    const char *description;            /* insert: NULL = none */
    const char *price;                  /* canonical decimal; update: NULL = unchanged */
    bool set_stock;                     /* update: stock changes; insert: always */
    int64_t stock_quantity;
    int active;                         /* update: -1 unchanged, 0, 1 */
} tq_product_fields;

/* r->value: the new (active) product as stored */
void tq_product_ds_insert(tq_product_ds *ds, const tq_product_fields *f, tq_ds_cb cb, void *data);
/* as tq_user_ds_update */
void tq_product_ds_update(tq_product_ds *ds, const char *id, const tq_product_fields *f, tq_ds_cb cb, void *data);
/* One atomic UPDATE: r->value the product after the change; null when no product has
 * the id; BAD_USER_INPUT (nothing changed) when the stock would leave 0..2147483647. */
void tq_product_ds_adjust_stock(tq_product_ds *ds, const char *id, int64_t delta, tq_ds_cb cb, void *data);
/* r->value: true when the row was deleted, null when no product has the id */
void tq_product_ds_delete(tq_product_ds *ds, const char *id, tq_ds_cb cb, void *data);

/* ---- the status of a token's user, for the request gate (status.c) ---- */

typedef struct tq_user_status {
    bool active;               /* the user exists and is active */
    bool sessions_revoked;     /* logout(allSessions) ran: */
    int64_t revoked_through;   /* tokens with iat at or before this second are revoked */
    bool token_revoked;        /* the jti asked about was revoked by logout */
} tq_user_status;

/* error_code NULL: st holds the answer; else an extensions.code and a client-safe
 * message (st NULL). */
typedef void (*tq_user_status_cb)(void *data, const char *error_code, const char *error_message,
                                  const tq_user_status *st);

/* The status of user_id (and of the token jti, unless NULL) in tenant_id's database,
 * through db's pool: all uuids. When this worker knows it for the last second, fills
 * *out and returns true (cb is not called); else returns false and cb gets it on a later
 * loop turn, from one lookup per pool per turn shared with other requests. A change
 * reaches every worker of every process within a second. */
bool tq_user_status_get(tq_db *db, const char *tenant_id, const char *user_id, const char *jti, tq_user_status *out,
                        tq_user_status_cb cb, void *data);
/* Forgets what this worker knows of a user or token id (after this worker changed it:
 * the change then applies here at once, elsewhere within the second). */
void tq_user_status_forget(tq_worker *w, const char *tenant_id, const char *id);

/* ---- nodes: users first, then products ---- */

/* ids: canonical uuids; r->value: a list, one entry per id (object or null) */
void tq_node_ds_find(tq_db *db, const char *const *ids, uint32_t n, tq_ds_cb cb, void *data);

/* Registers the data sources' per-worker state (pending reads and lookup batches) with
 * the workers; once, before they start. */
void tq_ds_init(tq_workers *ws);

/* Escapes %, _ and \ so that text matches itself in ILIKE, and wraps it in %; the
 * pattern is in arena a. */
char *tq_ds_contains_pattern(tq_arena *a, const char *text, size_t len);

#endif
