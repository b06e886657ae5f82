/*
 * password.h - Argon2id password hashing (libsodium crypto_pwhash_str) off the event
 * loops. One hash costs tens of milliseconds and tens of MiB at the interactive limits:
 * run on a worker's loop it would stall every request of that worker, so jobs go to a
 * small pool of hashing threads and their results come back to the asking worker's
 * loop as a message.
 *
 * The module is started once by the server (tq_password_start) and stopped after the
 * workers have drained (tq_password_stop). Callbacks run on the loop of the worker that
 * asked, never on a hashing thread and never inside the call that queued the job. A job
 * always completes (ok or not) unless the module is stopped or its worker disposed
 * first, so a request waiting for one is never left hanging.
 *
 * Every job has a share key (login and createUser use the tenant's name as the client
 * sent it, so that names of tenants that do not exist are keys too). Jobs wait in one
 * queue per key and the hashing threads serve the keys in turn (round robin), so a flood
 * under one key costs any other key at most the wait for the next free thread, never the
 * whole queue. Bounds (a few seconds of work per hashing thread):
 *   - all keys together: TQ_PASSWORD_QUEUE_PER_THREAD jobs per hashing thread;
 *   - one key: half of that total, so one name can never fill the queue alone;
 *   - when the total is full, a job whose key has fewer jobs waiting than the longest
 *     queue pushes out that queue's newest job (which completes as BUSY); otherwise it
 *     completes at once with TQ_PASSWORD_BUSY.
 * So only the heaviest keys are answered BUSY, and a key with nothing waiting gets in.
 */
#ifndef TENANTQL_PASSWORD_H
#define TENANTQL_PASSWORD_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#include "tenantql/worker.h"

#define TQ_PASSWORD_DEFAULT_THREADS 2
#define TQ_PASSWORD_MAX_THREADS 64
#define TQ_PASSWORD_QUEUE_PER_THREAD 64 /* jobs waiting per hashing thread, all keys together */

typedef struct tq_password_config {
    int threads;                 /* hashing threads (default 2) */
    unsigned long long opslimit; /* default crypto_pwhash_OPSLIMIT_INTERACTIVE */
    size_t memlimit;             /* default crypto_pwhash_MEMLIMIT_INTERACTIVE */
} tq_password_config;

void tq_password_config_init(tq_password_config *cfg);

/* Starts the hashing threads and registers the module's per-worker receivers with ws
 * (NULL: none, for tests that only hash); before the workers start. 0, or -1 with a
 * message in err (bad limits, no memory for the dummy hash). Needs sodium_init() first. */
int tq_password_start(const tq_password_config *cfg, tq_workers *ws, char *err, size_t errlen);
/* Waits for running jobs, drops queued ones (their callbacks do not run). */
void tq_password_stop(void);

typedef enum tq_password_status {
    TQ_PASSWORD_OK,       /* hashed; or verified: the password matches */
    TQ_PASSWORD_MISMATCH, /* verify: it does not (or nothing usable was stored) */
    TQ_PASSWORD_BUSY,     /* the queue is full: nothing was computed */
    TQ_PASSWORD_FAILED,   /* out of memory, or the module is not running */
} tq_password_status;

/* hash: a NUL-terminated crypto_pwhash_str string when st is OK (valid only during the
 * callback), else NULL */
typedef void (*tq_password_hash_cb)(void *data, tq_password_status st, const char *hash);
/* An unusable stored hash or no stored hash at all (stored == NULL) costs one full hash
 * too (against a dummy made at start with the configured limits), then answers
 * MISMATCH: an unknown email takes as long as a wrong password. */
typedef void (*tq_password_verify_cb)(void *data, tq_password_status st);

/* The job's share of the hashing threads: key[0..key_len) (any bytes; reduced to a digest,
 * so its length costs nothing but the digest). */
typedef struct tq_password_key {
    const char *key;
    size_t len;
} tq_password_key;

/* The password is copied (and the copy wiped after use); so is stored. */
void tq_password_hash_async(tq_worker *w, tq_password_key key, const char *password, size_t len, tq_password_hash_cb cb,
                            void *data);
void tq_password_verify_async(tq_worker *w, tq_password_key key, const char *stored, const char *password, size_t len,
                              tq_password_verify_cb cb, void *data);

/* Counters since start (any thread): what was computed and what was refused. */
typedef struct tq_password_stats {
    unsigned long hashed;   /* new hashes computed (createUser) */
    unsigned long verified; /* checks computed (login: one per attempt, dummy included) */
    unsigned long busy;     /* jobs answered BUSY (refused, or pushed out of a full queue) */
    unsigned long queued;   /* jobs waiting now */
    unsigned long keys;     /* keys with jobs waiting now */
} tq_password_stats;
void tq_password_get_stats(tq_password_stats *out);

#endif
