/*
 * admin.h - the admin API's parts inside the http module (admin.c, admin_jobs.c,
 * admin_tenants.c): a listener of its own on a loop of its own, a platform token on every
 * tenant call, and the blocking registry work of each call on a few job threads, so that
 * neither a slow CREATE DATABASE nor a pg_dump ever stalls a loop.
 */
#ifndef TENANTQL_HTTP_ADMIN_H
#define TENANTQL_HTTP_ADMIN_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>

#include "internal.h"
#include "tenantql/strbuf.h"

/* Admin calls waiting for a job thread, across the server: beyond it, 503 at once. An
 * operator's tooling rarely has more than a few calls out; a runaway script gets refused
 * instead of queuing work for hours. */
#define TQ_ADMIN_QUEUE_MAX 64
/* Request bodies: a tenant's settings are a few hundred bytes. */
#define TQ_ADMIN_MAX_BODY 65536
/* Open admin connections; more are closed at once. */
#define TQ_ADMIN_MAX_CONNECTIONS 64
/* GET /tenants answers at most this many tenants (?limit=), then a cursor (?after=). */
#define TQ_ADMIN_LIST_DEFAULT 100
#define TQ_ADMIN_LIST_MAX 1000
/* How long POST /tenants waits for this server's registry cache to hold the new tenant
 * (the registry thread applies a committed row within a second). */
#define TQ_ADMIN_CREATE_WAIT_MS 5000
/* How often the admin thread drops tenants whose offboarding grace period is over. */
#define TQ_ADMIN_SWEEP_MS 60000

typedef enum admin_call {
    ADMIN_LIST,
    ADMIN_GET,
    ADMIN_CREATE,
    ADMIN_PATCH,
    ADMIN_PAUSE,
    ADMIN_RESUME,
    ADMIN_DELETE,
    ADMIN_SWEEP, /* the periodic drop of offboarded tenants; no client */
} admin_call;

typedef struct admin_job admin_job;

/* One admin call: made on the admin loop, run on a job thread, answered on the loop. */
struct admin_job {
    h2o_multithread_message_t msg; /* hand-back to the admin loop */
    admin_job *next;               /* in the queue */
    admin_call call;
    tq_server *server;
    char name[64];                 /* the tenant of /tenants/{name}, "" for the list */
    char *body;                    /* the request body (malloc'ed, NUL-terminated), or NULL */
    size_t body_len;
    char after[64];                /* GET /tenants: the cursor */
    int limit;                     /* GET /tenants: at most this many */
    char operator_sub[TQ_JWT_MAX_PLATFORM_SUB + 1]; /* who asked, for the log */
    char id[TQ_REQUEST_ID_SIZE];   /* request id, for the log */
    /* the answer, filled on the job thread */
    int status;
    tq_strbuf answer;              /* JSON */
    const char *retry_after;       /* static text, or NULL */
    /* the request, NULL once its client has gone (the req pool's dispose clears it) */
    h2o_req_t *req;
    struct admin_job **guard;      /* in the req pool: points back here while both live */
};

/* ---- job threads (admin_jobs.c) ---- */

typedef struct admin_jobs admin_jobs;

/* Starts n threads; each connects to the registry (conninfo) when it first needs to and
 * again after the connection breaks. done is called on the admin loop's receiver. NULL
 * with err on failure. */
admin_jobs *tq_admin_jobs_start(int n, const char *conninfo, h2o_multithread_receiver_t *done, char *err,
                                size_t errlen);
/* Queues a job; false when the queue is full (the caller answers 503). */
bool tq_admin_jobs_submit(admin_jobs *j, admin_job *job);
/* Jobs queued or running. */
int tq_admin_jobs_pending(admin_jobs *j);
/* Finishes the running jobs, drops the queued ones (each still handed back, status 503),
 * joins the threads. */
void tq_admin_jobs_stop(admin_jobs *j);

/* ---- the tenant calls, on a job thread (admin_tenants.c) ---- */

/* Runs job on the blocking registry connection; fills status and answer. */
void tq_admin_run(admin_job *job, PGconn *registry);
/* Writes {"error":{"code":code,"message":msg}} (msg escaped) to b. */
void tq_admin_error_json(tq_strbuf *b, const char *code, const char *msg);

/* ---- the module (admin.c) ---- */

/* Opens the admin listener and registers its paths (before the workers start): 0, or -1
 * with err (an address that does not parse or is in use). With --admin-listen off it
 * does nothing. */
int tq_admin_open(tq_server *s, char *err, size_t errlen);
/* Starts the admin thread (its loop serves the listener) and the job threads. */
int tq_admin_start(tq_server *s, char *err, size_t errlen);
/* Stops accepting, finishes running jobs and answers, joins the thread. */
void tq_admin_stop(tq_server *s);
/* Frees what tq_admin_open made. */
void tq_admin_close(tq_server *s);

/* The OpenAPI document the admin API serves (admin.c; static). */
extern const char tq_admin_openapi_path[];

#endif
