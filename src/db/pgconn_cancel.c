/*
 * pgconn_cancel.c - the thread that sends cancel requests (see pgconn.h).
 *
 * libpq 15's PQcancel opens a connection of its own to the server and waits for it to be
 * accepted: blocking work that must not run on a worker's loop. One thread sends them in
 * order; it is started on first use. The queue is bounded: cancelling is an optimisation
 * (statement_timeout ends a query anyway), so a request beyond the bound is dropped and
 * counted rather than queued behind a flood.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "internal.h"
#include "tenantql/log.h"
#include "tenantql/pgconn.h"
#include "tenantql/thread.h"

#define CANCEL_QUEUE_MAX 1024

typedef struct cancel_job {
    PGcancel *cancel;
    struct cancel_job *next;
} cancel_job;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    cancel_job *head, *tail;
    size_t queued;
    bool started, stopping;
    pthread_t thread;
    atomic_ulong sent, dropped;
} cancels = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void *cancel_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cancels.lock);
    for (;;) {
        while (!cancels.stopping && cancels.head == NULL)
            pthread_cond_wait(&cancels.wake, &cancels.lock);
        if (cancels.stopping)
            break;
        cancel_job *j = cancels.head;
        cancels.head = j->next;
        if (cancels.head == NULL)
            cancels.tail = NULL;
        cancels.queued--;
        pthread_mutex_unlock(&cancels.lock);
        char err[256];
        if (!PQcancel(j->cancel, err, sizeof(err)))
            tq_log_info("db", "cancel request failed: %s", err);
        atomic_fetch_add(&cancels.sent, 1);
        PQfreeCancel(j->cancel);
        free(j);
        pthread_mutex_lock(&cancels.lock);
    }
    pthread_mutex_unlock(&cancels.lock);
    return NULL;
}

/* With the lock held. */
static bool start_thread_locked(void)
{
    if (cancels.started)
        return true;
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    cancels.started = tq_thread_start(&cancels.thread, cancel_thread, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return cancels.started;
}

void pgconn_cancel_submit(PGcancel *cancel)
{
    if (cancel == NULL)
        return;
    cancel_job *j = malloc(sizeof(*j));
    pthread_mutex_lock(&cancels.lock);
    if (j == NULL || cancels.stopping || cancels.queued >= CANCEL_QUEUE_MAX || !start_thread_locked()) {
        pthread_mutex_unlock(&cancels.lock);
        atomic_fetch_add(&cancels.dropped, 1);
        PQfreeCancel(cancel);
        free(j);
        return;
    }
    *j = (cancel_job){cancel, NULL};
    if (cancels.tail != NULL)
        cancels.tail->next = j;
    else
        cancels.head = j;
    cancels.tail = j;
    cancels.queued++;
    pthread_cond_signal(&cancels.wake);
    pthread_mutex_unlock(&cancels.lock);
}

void tq_pgconn_cancel_shutdown(void)
{
    pthread_mutex_lock(&cancels.lock);
    bool started = cancels.started;
    cancels.stopping = true;
    pthread_cond_signal(&cancels.wake);
    pthread_mutex_unlock(&cancels.lock);
    if (started)
        pthread_join(cancels.thread, NULL);
    pthread_mutex_lock(&cancels.lock);
    while (cancels.head != NULL) {
        cancel_job *j = cancels.head;
        cancels.head = j->next;
        PQfreeCancel(j->cancel);
        free(j);
    }
    cancels.tail = NULL;
    cancels.queued = 0;
    cancels.started = false;
    cancels.stopping = false; /* a later server in the same process (tests) may start it again */
    pthread_mutex_unlock(&cancels.lock);
}

unsigned long tq_pgconn_cancels_sent(void)
{
    return atomic_load(&cancels.sent);
}
