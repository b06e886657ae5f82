/*
 * worker.c - worker threads, their loops and their modules' hooks (see worker.h).
 *
 * Life of a worker thread:
 *   make the loop and the queue, run the modules' init hooks, report to the starter;
 *   serve until told to stop;
 *   drain: stop hooks, then run the loop while any module is busy, at most the drain
 *   timeout; at the deadline cut off what still runs and give it a short grace to end;
 *   keep the loop running until every other worker has got this far (a worker may still
 *   hand work to another until then: an idle connection a request on another worker
 *   steals, a connection released for another worker's waiter), then dispose the
 *   modules, the timers and the loop.
 * Everything of a loop is made, run and disposed on its own thread: h2o sockets take
 * their buffers from the creating thread's recycling allocator.
 */
#include "tenantql/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/log.h"
#include "tenantql/thread.h"

#define CUT_OFF_GRACE_MS 3000 /* after cutting off: time for cancelled work to come back */

struct tq_worker {
    int id;
    tq_workers *group;
    pthread_t thread;
    h2o_loop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t wake_rx;  /* shutdown reaches the loop through it */
    atomic_bool stopping;
    h2o_timeout_t timeouts[TQ_WORKER_MAX_TIMEOUTS];
    uint64_t timeout_ms[TQ_WORKER_MAX_TIMEOUTS];
    int ntimeouts;
    void *state[TQ_WORKER_MAX_MODULES];
    int start_rc;                        /* 0, or -1 with start_err */
    char start_err[256];
    size_t cut_off;                      /* requests cut off at the drain deadline */
    int ninitialised;                    /* modules whose init hook succeeded (inline use) */
};

struct tq_workers {
    tq_worker *workers;
    int n;
    long drain_timeout_ms;
    tq_worker_module modules[TQ_WORKER_MAX_MODULES];
    int nmodules;
    pthread_barrier_t barrier;           /* start-up: every worker tried, then the verdict */
    bool barrier_made;
    atomic_int drained;                  /* workers past draining (they keep their loops running) */
    bool start_failed;
    bool started;
};

/* ---- accessors ---- */

int tq_workers_count(const tq_workers *ws)
{
    return ws->n;
}

tq_worker *tq_workers_at(tq_workers *ws, int i)
{
    return &ws->workers[i];
}

int tq_worker_id(const tq_worker *w)
{
    return w->id;
}

tq_workers *tq_worker_group(tq_worker *w)
{
    return w->group;
}

h2o_loop_t *tq_worker_loop(tq_worker *w)
{
    return w->loop;
}

h2o_multithread_queue_t *tq_worker_queue(tq_worker *w)
{
    return w->queue;
}

uint64_t tq_worker_now(tq_worker *w)
{
    return h2o_now(w->loop);
}

bool tq_worker_stopping(const tq_worker *w)
{
    return atomic_load(&w->stopping);
}

void *tq_worker_state(tq_worker *w, int slot)
{
    return w->state[slot];
}

void tq_worker_set_state(tq_worker *w, int slot, void *state)
{
    w->state[slot] = state;
}

h2o_timeout_t *tq_worker_timeout(tq_worker *w, uint64_t ms)
{
    for (int i = 0; i < w->ntimeouts; i++)
        if (w->timeout_ms[i] == ms)
            return &w->timeouts[i];
    if (w->ntimeouts < TQ_WORKER_MAX_TIMEOUTS) {
        int i = w->ntimeouts++;
        w->timeout_ms[i] = ms;
        h2o_timeout_init(w->loop, &w->timeouts[i], ms);
        return &w->timeouts[i];
    }
    int best = 0;
    for (int i = 1; i < w->ntimeouts; i++)
        if (llabs((long long)w->timeout_ms[i] - (long long)ms) < llabs((long long)w->timeout_ms[best] - (long long)ms))
            best = i;
    return &w->timeouts[best];
}

/* ---- the group ---- */

tq_workers *tq_workers_new(int n, long drain_timeout_ms)
{
    tq_workers *ws = calloc(1, sizeof(*ws));
    ws->n = n;
    ws->drain_timeout_ms = drain_timeout_ms;
    ws->workers = calloc((size_t)n, sizeof(tq_worker));
    for (int i = 0; i < n; i++) {
        ws->workers[i].id = i;
        ws->workers[i].group = ws;
    }
    return ws;
}

int tq_workers_add_module(tq_workers *ws, const tq_worker_module *m)
{
    if (ws->started || ws->nmodules == TQ_WORKER_MAX_MODULES) {
        tq_log_error("worker", "module %s registered too late or one too many", m->name);
        abort();
    }
    ws->modules[ws->nmodules] = *m;
    return ws->nmodules++;
}

void tq_workers_free(tq_workers *ws)
{
    if (ws == NULL)
        return;
    if (ws->barrier_made) /* every thread has been joined: none is inside it */
        pthread_barrier_destroy(&ws->barrier);
    free(ws->workers);
    free(ws);
}

/* ---- one worker's life ---- */

static void on_wake(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    /* the wake-up is the message: the loop re-checks its stopping flag */
    (void)rx;
    (void)messages;
}

/* Makes the loop and runs the init hooks; stops at the first failure, remembering how
 * many modules came up (they alone are disposed). */
static int worker_init(tq_worker *w, int *initialised)
{
    tq_workers *ws = w->group;
    w->loop = h2o_evloop_create();
    w->queue = h2o_multithread_create_queue(w->loop);
    h2o_multithread_register_receiver(w->queue, &w->wake_rx, on_wake);
    for (*initialised = 0; *initialised < ws->nmodules; (*initialised)++) {
        const tq_worker_module *m = &ws->modules[*initialised];
        if (m->init != NULL && m->init(w, m->arg, w->start_err, sizeof(w->start_err)) != 0)
            return -1;
    }
    return 0;
}

static bool any_busy(tq_worker *w, int nmodules)
{
    for (int i = nmodules - 1; i >= 0; i--) {
        const tq_worker_module *m = &w->group->modules[i];
        if (m->busy != NULL && m->busy(w, m->arg))
            return true;
    }
    return false;
}

static void run_while_busy(tq_worker *w, int nmodules, uint64_t deadline)
{
    while (any_busy(w, nmodules) && h2o_now(w->loop) < deadline)
        h2o_evloop_run(w->loop, 20);
}

static void drain(tq_worker *w, int nmodules)
{
    tq_workers *ws = w->group;
    for (int i = nmodules - 1; i >= 0; i--)
        if (ws->modules[i].stop != NULL)
            ws->modules[i].stop(w, ws->modules[i].arg);
    uint64_t deadline = h2o_now(w->loop) + (uint64_t)ws->drain_timeout_ms;
    run_while_busy(w, nmodules, deadline);
    if (!any_busy(w, nmodules))
        return;
    for (int i = nmodules - 1; i >= 0; i--)
        if (ws->modules[i].cut_off != NULL)
            w->cut_off += ws->modules[i].cut_off(w, ws->modules[i].arg);
    run_while_busy(w, nmodules, h2o_now(w->loop) + CUT_OFF_GRACE_MS);
    if (any_busy(w, nmodules))
        tq_log_warn("worker", "worker %d: still busy %d ms after cutting off; disposing anyway", w->id,
                    CUT_OFF_GRACE_MS);
}

/* Entries still linked when a bucket goes would make h2o assert; their owners are gone
 * or never coming back, so they are unlinked (their callbacks do not run). */
static void dispose_timeout(tq_worker *w, h2o_timeout_t *t)
{
    size_t pending = 0;
    while (!h2o_linklist_is_empty(&t->_entries)) {
        h2o_timeout_entry_t *e = H2O_STRUCT_FROM_MEMBER(h2o_timeout_entry_t, _link, t->_entries.next);
        h2o_timeout_unlink(e);
        pending++;
    }
    if (pending > 0)
        tq_log_debug("worker", "worker %d: %zu timer(s) of %llu ms unlinked at exit", w->id, pending,
                     (unsigned long long)t->timeout);
    h2o_timeout_dispose(w->loop, t);
}

static void worker_dispose(tq_worker *w, int nmodules)
{
    tq_workers *ws = w->group;
    for (int i = nmodules - 1; i >= 0; i--)
        if (ws->modules[i].dispose != NULL)
            ws->modules[i].dispose(w, ws->modules[i].arg);
    for (int i = 0; i < w->ntimeouts; i++)
        dispose_timeout(w, &w->timeouts[i]);
    w->ntimeouts = 0;
    h2o_multithread_unregister_receiver(w->queue, &w->wake_rx);
    h2o_multithread_destroy_queue(w->queue);
    h2o_evloop_run(w->loop, 0);
    h2o_evloop_destroy(w->loop);
    w->loop = NULL;
    w->queue = NULL;
}

static void *worker_main(void *arg)
{
    tq_worker *w = arg;
    tq_workers *ws = w->group;
    int initialised = 0;
    w->start_rc = worker_init(w, &initialised);
    pthread_barrier_wait(&ws->barrier); /* every worker has tried */
    pthread_barrier_wait(&ws->barrier); /* the starter has decided */
    if (w->start_rc == 0 && !ws->start_failed) {
        while (!atomic_load(&w->stopping))
            h2o_evloop_run(w->loop, INT32_MAX);
        drain(w, initialised);
    }
    /* nobody hands work to a disposed worker, and a drained one still serves the others */
    atomic_fetch_add(&ws->drained, 1);
    while (atomic_load(&ws->drained) < ws->n)
        h2o_evloop_run(w->loop, 10);
    worker_dispose(w, initialised);
    return NULL;
}

int tq_workers_start(tq_workers *ws, char *err, size_t errlen)
{
    ws->started = true;
    pthread_barrier_init(&ws->barrier, NULL, (unsigned)ws->n + 1);
    ws->barrier_made = true;
    for (int i = 0; i < ws->n; i++)
        tq_thread_start(&ws->workers[i].thread, worker_main, &ws->workers[i]);
    pthread_barrier_wait(&ws->barrier);
    int rc = 0;
    for (int i = 0; i < ws->n && rc == 0; i++)
        if (ws->workers[i].start_rc != 0) {
            snprintf(err, errlen, "%s", ws->workers[i].start_err);
            rc = -1;
        }
    ws->start_failed = rc != 0;
    pthread_barrier_wait(&ws->barrier);
    if (rc != 0)
        for (int i = 0; i < ws->n; i++)
            pthread_join(ws->workers[i].thread, NULL);
    return rc;
}

void tq_workers_stop(tq_workers *ws)
{
    for (int i = 0; i < ws->n; i++) {
        atomic_store(&ws->workers[i].stopping, true);
        h2o_multithread_send_message(&ws->workers[i].wake_rx, NULL);
    }
    size_t cut = 0;
    for (int i = 0; i < ws->n; i++) {
        pthread_join(ws->workers[i].thread, NULL);
        cut += ws->workers[i].cut_off;
    }
    if (cut > 0)
        tq_log_warn("worker", "%zu request(s) still running at the drain deadline were cut off", cut);
}

/* ---- inline: worker 0 on the caller's thread (tests, tools) ---- */

int tq_workers_open_inline(tq_workers *ws, char *err, size_t errlen)
{
    ws->started = true;
    tq_worker *w = &ws->workers[0];
    atomic_store(&w->stopping, false);
    if (worker_init(w, &w->ninitialised) != 0) {
        snprintf(err, errlen, "%s", w->start_err);
        worker_dispose(w, w->ninitialised);
        return -1;
    }
    return 0;
}

void tq_workers_close_inline(tq_workers *ws)
{
    tq_worker *w = &ws->workers[0];
    atomic_store(&w->stopping, true);
    worker_dispose(w, w->ninitialised);
}
