/*
 * worker.h - one worker thread: its event loop, its h2o context and the message
 * receivers through which other threads hand it work (a pooled connection, a shutdown
 * request). Everything reachable from a worker is touched only by that worker's thread,
 * except the receivers, which are h2o's thread-safe queues.
 */
#ifndef TENANTQL_WORKER_H
#define TENANTQL_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <h2o.h>

struct tq_server;
struct tq_token_cache;
struct tq_doc_cache;
struct tq_ds_worker;

typedef struct tq_ds_worker tq_ds_worker;

typedef struct tq_worker {
    int id;                              /* 0 .. threads-1 */
    struct tq_server *server;
    pthread_t thread;
    h2o_context_t ctx;                   /* ctx.loop is the worker's loop */
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    h2o_multithread_receiver_t pool_rx;  /* connections handed over by other workers */
    h2o_multithread_receiver_t evict_rx; /* idle connections to close for another tenant */
    h2o_multithread_receiver_t wake_rx;  /* shutdown */
    h2o_multithread_receiver_t password_rx; /* finished password hashes (auth/password.c) */
    h2o_timeout_t timeouts[8];           /* h2o timers have a fixed duration each: one per */
    uint64_t timeout_ms[8];              /* distinct duration in use (see tq_worker_timeout) */
    int ntimeouts;
    h2o_timeout_t janitor_timeout;       /* periodic pool maintenance */
    h2o_timeout_entry_t janitor_entry;
    struct tq_token_cache *tokens;       /* bearer tokens this worker has verified */
    struct tq_doc_cache *docs;           /* documents this worker has parsed and found valid */
    struct tq_ds_worker *ds;             /* the data sources' lookup batches (datasource/batch.c) */
    size_t connections;                  /* accepted HTTP connections still open */
    size_t requests_in_flight;           /* GraphQL requests not yet answered */
    volatile bool stopping;
    int start_rc;                        /* worker start-up: 0, or -1 with start_err */
    char start_err[256];
} tq_worker;

static inline h2o_loop_t *tq_worker_loop(tq_worker *w)
{
    return w->ctx.loop;
}

/* The worker's timer bucket for a duration (created on first use; durations beyond the
 * eighth distinct one share the closest bucket). */
h2o_timeout_t *tq_worker_timeout(tq_worker *w, uint64_t ms);

/* Monotonic-enough loop time in ms (h2o's, updated once per loop iteration). */
static inline uint64_t tq_worker_now(tq_worker *w)
{
    return h2o_now(w->ctx.loop);
}

#endif
