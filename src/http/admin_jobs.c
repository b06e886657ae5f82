/*
 * admin_jobs.c - the admin API's job threads: each holds one blocking connection to the
 * registry (made when first needed, made again after it breaks) and runs admin calls one
 * at a time from a bounded queue, then hands each back to the admin loop. Blocking libpq,
 * CREATE DATABASE and pg_dump belong here, never on a loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "tenantql/log.h"
#include "tenantql/thread.h"

struct admin_jobs {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    admin_job *head, **tail; /* queued, oldest first */
    int queued, running;
    bool stopping;
    char *conninfo;
    h2o_multithread_receiver_t *done;
    int nthreads;
    pthread_t threads[];
};

/* The thread's registry connection, usable: the one it has, or a new one. */
static PGconn *registry_conn(admin_jobs *j, PGconn **conn)
{
    if (*conn != NULL && PQstatus(*conn) == CONNECTION_OK)
        return *conn;
    PQfinish(*conn);
    *conn = PQconnectdb(j->conninfo);
    if (PQstatus(*conn) != CONNECTION_OK) {
        /* the message names host and port, never the password */
        tq_log_warn("admin", "cannot reach the registry: %.*s", (int)strcspn(PQerrorMessage(*conn), "\n"),
                    PQerrorMessage(*conn));
        PQfinish(*conn);
        *conn = NULL;
    }
    return *conn;
}

static admin_job *take_locked(admin_jobs *j)
{
    admin_job *job = j->head;
    j->head = job->next;
    if (j->head == NULL)
        j->tail = &j->head;
    j->queued--;
    return job;
}

static void *job_thread(void *arg)
{
    admin_jobs *j = arg;
    PGconn *conn = NULL;
    pthread_mutex_lock(&j->lock);
    for (;;) {
        while (j->head == NULL && !j->stopping)
            pthread_cond_wait(&j->wake, &j->lock);
        if (j->head == NULL)
            break;
        admin_job *job = take_locked(j);
        j->running++;
        pthread_mutex_unlock(&j->lock);
        PGconn *c = registry_conn(j, &conn);
        if (c != NULL) {
            tq_admin_run(job, c);
        } else {
            job->status = 503;
            job->retry_after = "5";
            tq_admin_error_json(&job->answer, "REGISTRY_UNAVAILABLE", "The tenant registry cannot be reached.");
        }
        pthread_mutex_lock(&j->lock);
        j->running--;
        h2o_multithread_send_message(j->done, &job->msg);
    }
    pthread_mutex_unlock(&j->lock);
    PQfinish(conn);
    return NULL;
}

admin_jobs *tq_admin_jobs_start(int n, const char *conninfo, h2o_multithread_receiver_t *done, char *err,
                                size_t errlen)
{
    admin_jobs *j = calloc(1, sizeof(*j) + (size_t)n * sizeof(pthread_t));
    if (j == NULL || (j->conninfo = strdup(conninfo)) == NULL) {
        free(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    j->tail = &j->head;
    j->done = done;
    for (; j->nthreads < n; j->nthreads++) {
        if (tq_thread_start(&j->threads[j->nthreads], job_thread, j) != 0) {
            snprintf(err, errlen, "cannot start the admin job threads");
            tq_admin_jobs_stop(j);
            return NULL;
        }
    }
    return j;
}

bool tq_admin_jobs_submit(admin_jobs *j, admin_job *job)
{
    pthread_mutex_lock(&j->lock);
    bool room = !j->stopping && j->queued + j->running < TQ_ADMIN_QUEUE_MAX;
    if (room) {
        job->next = NULL;
        *j->tail = job;
        j->tail = &job->next;
        j->queued++;
        pthread_cond_signal(&j->wake);
    }
    pthread_mutex_unlock(&j->lock);
    return room;
}

int tq_admin_jobs_pending(admin_jobs *j)
{
    pthread_mutex_lock(&j->lock);
    int n = j->queued + j->running;
    pthread_mutex_unlock(&j->lock);
    return n;
}

void tq_admin_jobs_stop(admin_jobs *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    j->stopping = true;
    while (j->head != NULL) { /* queued: never run, answered 503 */
        admin_job *job = take_locked(j);
        job->status = 503;
        job->retry_after = "5";
        tq_admin_error_json(&job->answer, "SHUTTING_DOWN", "The server is stopping.");
        h2o_multithread_send_message(j->done, &job->msg);
    }
    pthread_cond_broadcast(&j->wake);
    pthread_mutex_unlock(&j->lock);
    for (int i = 0; i < j->nthreads; i++)
        pthread_join(j->threads[i], NULL);
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->lock);
    free(j->conninfo);
    free(j);
}
