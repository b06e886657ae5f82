/*
 * worker.h - the worker threads and the event loop each one runs, beneath every module
 * that does per-thread work (db, tenant, datasource, auth, http).
 *
 * A worker owns its loop (h2o's evloop), a message queue through which other threads
 * hand it work (h2o_multithread receivers are registered on it), its timer buckets (an
 * h2o 2.2 timer has one fixed duration per bucket) and its life: start, serve, drain,
 * dispose, all on its own thread.
 *
 * Modules keep their per-thread state in a slot of the worker, as h2o keeps a handler's
 * state per context: a module registers its hooks once, before the workers start
 * (tq_workers_add_module), and reads its state with tq_worker_state(w, slot). Hooks run
 * on the worker's own thread:
 *   init     bottom-up (registration order), before the worker serves
 *   stop     top-down, when shutdown begins: take no new work
 *   busy     while draining: the module still finishes work; draining waits (bounded)
 *   cut_off  top-down, at the drain deadline: end what still runs
 *   dispose  top-down, after every worker has drained: free the per-thread state
 * Between draining and disposing the workers wait for each other, so no worker disposes
 * what another one may still send it.
 */
#ifndef TENANTQL_WORKER_H
#define TENANTQL_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

typedef struct tq_worker tq_worker;
typedef struct tq_workers tq_workers;

typedef struct tq_worker_module {
    const char *name;
    /* 0, or -1 with a message in err: the workers do not start */
    int (*init)(tq_worker *w, void *arg, char *err, size_t errlen);
    void (*stop)(tq_worker *w, void *arg);
    bool (*busy)(tq_worker *w, void *arg);
    /* returns how many requests it cut off (for the log), 0 for modules without requests */
    size_t (*cut_off)(tq_worker *w, void *arg);
    void (*dispose)(tq_worker *w, void *arg);
    void *arg;                            /* passed to every hook */
} tq_worker_module;

#define TQ_WORKER_MAX_MODULES 8

/* A group of n workers; drain_timeout_ms bounds how long a stopping worker waits for
 * busy modules before cutting off what still runs. */
tq_workers *tq_workers_new(int n, long drain_timeout_ms);
/* Registers a module (copied); returns its slot. Only before tq_workers_start. */
int tq_workers_add_module(tq_workers *ws, const tq_worker_module *m);
/* Starts the threads and runs every init hook; 0 once all serve, or -1 with the first
 * failure in err (the threads have then stopped and disposed what they made). */
int tq_workers_start(tq_workers *ws, char *err, size_t errlen);
/* Drains every worker (stop, wait while busy, cut off at the deadline), disposes and
 * joins them; logs how many requests were cut off. Blocks. */
void tq_workers_stop(tq_workers *ws);
/* After tq_workers_stop, or when tq_workers_start failed. */
void tq_workers_free(tq_workers *ws);

/* For tests and tools: worker 0 of ws on the calling thread instead of a thread of its
 * own. Open makes its loop and runs the init hooks (0, or -1 with err); the caller then
 * runs the loop itself (h2o_evloop_run(tq_worker_loop(w), ms)); close runs the dispose
 * hooks without draining. May be repeated. */
int tq_workers_open_inline(tq_workers *ws, char *err, size_t errlen);
void tq_workers_close_inline(tq_workers *ws);

int tq_workers_count(const tq_workers *ws);
/* Worker i (0 .. count-1); valid until tq_workers_free. */
tq_worker *tq_workers_at(tq_workers *ws, int i);

/* ---- on a worker's own thread (tq_worker_id and tq_worker_group: any thread) ---- */

int tq_worker_id(const tq_worker *w);
tq_workers *tq_worker_group(tq_worker *w);
/* Valid until the worker is disposed. */
h2o_loop_t *tq_worker_loop(tq_worker *w);
/* The queue for h2o_multithread_register_receiver; valid until the worker is disposed. */
h2o_multithread_queue_t *tq_worker_queue(tq_worker *w);
/* The worker's timer bucket for a duration, made on first use (buckets beyond
 * TQ_WORKER_MAX_TIMEOUTS distinct durations share the closest one); 0 runs an entry at
 * the end of the current loop turn. Valid until the worker is disposed. */
#define TQ_WORKER_MAX_TIMEOUTS 12
h2o_timeout_t *tq_worker_timeout(tq_worker *w, uint64_t ms);
/* Loop time in ms (h2o's clock, refreshed once per loop turn). */
uint64_t tq_worker_now(tq_worker *w);
/* True once shutdown has begun. */
bool tq_worker_stopping(const tq_worker *w);
/* A module's state on this worker (NULL until the module sets it). */
void *tq_worker_state(tq_worker *w, int slot);
void tq_worker_set_state(tq_worker *w, int slot, void *state);

#endif
