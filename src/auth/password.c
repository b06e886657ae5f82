/*
 * password.c - Argon2id hashing and verification on a small pool of hashing threads,
 * with results handed back to the asking worker's loop (see password.h).
 *
 * The queue is one FIFO per share key (pw_key, found through a map of key digests) plus
 * the ring of keys that have jobs waiting; a hashing thread takes the oldest job of the
 * key at the head of the ring and moves that key to the back (round robin). A key leaves
 * the ring, and is freed, when its last job is taken.
 *
 * Lifetimes: a job is malloc'ed by the worker that asks, travels to a hashing thread
 * through the queue, comes back through the worker's receiver (its slot) and is freed
 * there after its callback. The password copy inside it is wiped as soon as the hash is
 * computed. A worker that goes away (its dispose hook) is removed from the set
 * of registered workers under the module lock; a job finishing for a worker that is no
 * longer registered is freed without a callback.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantql/log.h"
#include "tenantql/map.h"
#include "tenantql/password.h"
#include "tenantql/thread.h"

#define KEY_DIGEST 16 /* BLAKE2b bytes a share key is reduced to */

/* The module's state on one worker (its slot): the receiver of finished jobs. */
typedef struct pw_worker {
    tq_worker *w;
    h2o_multithread_receiver_t rx;
} pw_worker;

typedef struct pw_job pw_job;
typedef struct pw_key pw_key;

/* A share key with jobs waiting: its FIFO, and its place in the ring of turns. */
struct pw_key {
    uint8_t digest[KEY_DIGEST];      /* the map's key */
    h2o_linklist_t jobs;             /* pw_job.in_key, oldest first */
    size_t queued;
    h2o_linklist_t turn;             /* pw.ring */
};

struct pw_job {
    h2o_multithread_message_t msg;   /* hand-back to the worker */
    h2o_linklist_t in_key;           /* its key's FIFO while queued */
    pw_job *next;                    /* lists of jobs taken out of the queue */
    pw_key *key;                     /* while queued */
    uint8_t digest[KEY_DIGEST];
    pw_worker *worker;
    bool verify;
    bool has_stored;                 /* verify: stored holds a usable hash */
    tq_password_status status;
    char *password;                  /* wiped and freed once used */
    size_t len;
    char stored[crypto_pwhash_STRBYTES];
    char hash[crypto_pwhash_STRBYTES];
    tq_password_hash_cb hash_cb;
    tq_password_verify_cb verify_cb;
    void *data;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    tq_map keys;                     /* digest -> pw_key, for keys with jobs waiting */
    h2o_linklist_t ring;             /* pw_key.turn: whose turn is next, at the head */
    size_t queued, max_queued;       /* all keys together */
    size_t max_per_key;
    atomic_ulong hashed, verified, busy;
    bool running, stopping;
    pthread_t *threads;
    int nthreads;
    unsigned long long opslimit;
    size_t memlimit;
    char dummy[crypto_pwhash_STRBYTES]; /* hash of a random password, made at start */
    pw_worker **workers;             /* registered receivers */
    size_t nworkers, cap;
    int slot;                        /* the module's worker slot */
} pw = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .ring = {&pw.ring, &pw.ring}, .slot = -1};

void tq_password_config_init(tq_password_config *cfg)
{
    cfg->threads = TQ_PASSWORD_DEFAULT_THREADS;
    cfg->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    cfg->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

static void job_free(pw_job *j)
{
    if (j->password != NULL) {
        sodium_memzero(j->password, j->len);
        free(j->password);
    }
    sodium_memzero(j->hash, sizeof(j->hash));
    free(j);
}

/* ---- the queue (all with pw.lock held) ---- */

static pw_key *key_of(const uint8_t *digest, bool create)
{
    pw_key *k = tq_map_get(&pw.keys, digest, KEY_DIGEST);
    if (k != NULL || !create)
        return k;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        abort(); /* like the arenas: no way to answer without memory */
    memcpy(k->digest, digest, KEY_DIGEST);
    h2o_linklist_init_anchor(&k->jobs);
    h2o_linklist_insert(&pw.ring, &k->turn); /* a new key takes its turn after the others */
    tq_map_put(&pw.keys, k->digest, KEY_DIGEST, k);
    return k;
}

static void enqueue(pw_job *j, pw_key *k)
{
    j->key = k;
    h2o_linklist_insert(&k->jobs, &j->in_key);
    k->queued++;
    pw.queued++;
}

/* Takes j out of its key's FIFO; a key left without jobs leaves the ring and is freed. */
static void dequeue(pw_job *j)
{
    pw_key *k = j->key;
    h2o_linklist_unlink(&j->in_key);
    j->key = NULL;
    k->queued--;
    pw.queued--;
    if (k->queued > 0)
        return;
    h2o_linklist_unlink(&k->turn);
    tq_map_remove(&pw.keys, k->digest, KEY_DIGEST);
    free(k);
}

/* The next job in turn: the oldest of the key at the head of the ring, whose turn then
 * moves to the back. NULL when nothing waits. */
static pw_job *take_next(void)
{
    if (h2o_linklist_is_empty(&pw.ring))
        return NULL;
    pw_key *k = H2O_STRUCT_FROM_MEMBER(pw_key, turn, pw.ring.next);
    pw_job *j = H2O_STRUCT_FROM_MEMBER(pw_job, in_key, k->jobs.next);
    h2o_linklist_unlink(&k->turn);
    h2o_linklist_insert(&pw.ring, &k->turn);
    dequeue(j);
    return j;
}

/* The key with the most jobs waiting (the first of equals in turn order). */
static pw_key *longest_key(void)
{
    pw_key *longest = NULL;
    for (h2o_linklist_t *l = pw.ring.next; l != &pw.ring; l = l->next) {
        pw_key *k = H2O_STRUCT_FROM_MEMBER(pw_key, turn, l);
        if (longest == NULL || k->queued > longest->queued)
            longest = k;
    }
    return longest;
}

/* Room for one more job of the key with `mine` jobs waiting: under the total, or by
 * pushing out the newest job of a queue longer than it would be. The pushed-out job is
 * returned (to be answered BUSY outside the lock); *room says whether there is room. */
static pw_job *make_room(size_t mine, bool *room)
{
    *room = pw.queued < pw.max_queued;
    if (*room)
        return NULL;
    pw_key *longest = longest_key();
    if (longest == NULL || mine + 1 >= longest->queued)
        return NULL;
    pw_job *victim = H2O_STRUCT_FROM_MEMBER(pw_job, in_key, longest->jobs.prev);
    dequeue(victim);
    *room = true;
    return victim;
}

/* ---- worker side ---- */

/* Caller holds pw.lock. */
static bool is_registered_locked(const pw_worker *w)
{
    for (size_t i = 0; i < pw.nworkers; i++)
        if (pw.workers[i] == w)
            return true;
    return false;
}

static void on_finished(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    pw_worker *w = H2O_STRUCT_FROM_MEMBER(pw_worker, rx, rx);
    pthread_mutex_lock(&pw.lock);
    bool live = is_registered_locked(w);
    pthread_mutex_unlock(&pw.lock);
    while (!h2o_linklist_is_empty(messages)) {
        pw_job *j = H2O_STRUCT_FROM_MEMBER(pw_job, msg.link, messages->next);
        h2o_linklist_unlink(&j->msg.link);
        if (live && j->verify)
            j->verify_cb(j->data, j->status);
        else if (live)
            j->hash_cb(j->data, j->status, j->status == TQ_PASSWORD_OK ? j->hash : NULL);
        job_free(j);
    }
}

static int password_worker_init(tq_worker *tw, void *arg, char *err, size_t errlen)
{
    pw_worker *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->w = tw;
    h2o_multithread_register_receiver(tq_worker_queue(tw), &w->rx, on_finished);
    pthread_mutex_lock(&pw.lock);
    if (pw.nworkers == pw.cap) {
        pw.cap = pw.cap ? pw.cap * 2 : 8;
        pw.workers = realloc(pw.workers, pw.cap * sizeof(*pw.workers));
    }
    pw.workers[pw.nworkers++] = w;
    pthread_mutex_unlock(&pw.lock);
    tq_worker_set_state(tw, pw.slot, w);
    return 0;
}

/* With pw.lock held: takes w's queued jobs out of the queue, as a list. */
static pw_job *take_queued_jobs_locked(const pw_worker *w)
{
    pw_job *taken = NULL;
    for (h2o_linklist_t *kl = pw.ring.next; kl != &pw.ring;) {
        pw_key *k = H2O_STRUCT_FROM_MEMBER(pw_key, turn, kl);
        kl = kl->next; /* dequeue may free k */
        for (h2o_linklist_t *jl = k->jobs.next; jl != &k->jobs;) {
            pw_job *j = H2O_STRUCT_FROM_MEMBER(pw_job, in_key, jl);
            bool last = jl->next == &k->jobs;
            jl = jl->next;
            if (j->worker != w)
                continue;
            dequeue(j); /* may free k: then j was its last job */
            j->next = taken;
            taken = j;
            if (last)
                break;
        }
    }
    return taken;
}

/* At the drain deadline: jobs still queued for this worker complete at once as FAILED,
 * so that their requests end (a job already hashing finishes and is delivered). */
static size_t password_worker_cut_off(tq_worker *tw, void *arg)
{
    pw_worker *w = tq_worker_state(tw, pw.slot);
    pthread_mutex_lock(&pw.lock);
    pw_job *taken = take_queued_jobs_locked(w);
    pthread_mutex_unlock(&pw.lock);
    while (taken != NULL) {
        pw_job *next = taken->next;
        taken->status = TQ_PASSWORD_FAILED;
        h2o_multithread_send_message(&w->rx, &taken->msg);
        taken = next;
    }
    return 0;
}

/* Drops w's queued and undelivered jobs (their callbacks do not run). */
static void password_worker_dispose(tq_worker *tw, void *arg)
{
    pw_worker *w = tq_worker_state(tw, pw.slot);
    if (w == NULL)
        return;
    pthread_mutex_lock(&pw.lock);
    for (size_t i = 0; i < pw.nworkers; i++)
        if (pw.workers[i] == w) {
            pw.workers[i] = pw.workers[--pw.nworkers];
            break;
        }
    pw_job *dropped = take_queued_jobs_locked(w);
    pthread_mutex_unlock(&pw.lock);
    while (dropped != NULL) {
        pw_job *next = dropped->next;
        job_free(dropped);
        dropped = next;
    }
    /* nothing can be sent to w any more; let the loop hand over (and free, since w is
     * no longer registered) what was sent before, as unregistering needs an empty box */
    for (int i = 0; i < 1000 && !h2o_linklist_is_empty(&w->rx._messages); i++)
        h2o_evloop_run(tq_worker_loop(tw), 0);
    h2o_multithread_unregister_receiver(tq_worker_queue(tw), &w->rx);
    tq_worker_set_state(tw, pw.slot, NULL);
    free(w);
}

/* Hands a finished job back to its worker, or frees it when the worker is gone. */
static void deliver(pw_job *j)
{
    pthread_mutex_lock(&pw.lock);
    bool live = is_registered_locked(j->worker);
    if (live)
        h2o_multithread_send_message(&j->worker->rx, &j->msg);
    pthread_mutex_unlock(&pw.lock);
    if (!live)
        job_free(j);
}

static bool usable_hash(const char *s)
{
    size_t n = strnlen(s, crypto_pwhash_STRBYTES);
    return n < crypto_pwhash_STRBYTES && (strncmp(s, "$argon2id$", 10) == 0 || strncmp(s, "$argon2i$", 9) == 0);
}

/* Completes j at once (BUSY, FAILED): its callback runs on a later turn of its loop. */
static void complete_now(pw_job *j, tq_password_status st)
{
    if (st == TQ_PASSWORD_BUSY)
        atomic_fetch_add(&pw.busy, 1);
    j->status = st;
    h2o_multithread_send_message(&j->worker->rx, &j->msg);
}

/* Queues j under its key, or completes it at once (BUSY, FAILED). */
static void submit(pw_job *j, tq_password_key key, const char *password, size_t len)
{
    crypto_generichash(j->digest, KEY_DIGEST, (const unsigned char *)key.key, key.len, NULL, 0);
    j->len = len;
    j->password = malloc(len ? len : 1);
    if (j->password != NULL)
        memcpy(j->password, password, len);
    pthread_mutex_lock(&pw.lock);
    if (!pw.running || j->password == NULL) {
        pthread_mutex_unlock(&pw.lock);
        complete_now(j, TQ_PASSWORD_FAILED);
        return;
    }
    pw_key *k = key_of(j->digest, false);
    size_t mine = k != NULL ? k->queued : 0;
    bool room = false;
    pw_job *pushed_out = mine < pw.max_per_key ? make_room(mine, &room) : NULL;
    if (room) {
        enqueue(j, key_of(j->digest, true));
        pthread_cond_signal(&pw.wake);
    }
    pthread_mutex_unlock(&pw.lock);
    if (pushed_out != NULL) {
        /* another worker's job, maybe: handed back only while that worker is registered */
        atomic_fetch_add(&pw.busy, 1);
        pushed_out->status = TQ_PASSWORD_BUSY;
        deliver(pushed_out);
    }
    if (!room)
        complete_now(j, TQ_PASSWORD_BUSY);
}

static pw_job *job_new(tq_worker *w, void *data)
{
    pw_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort(); /* like the arenas: no way to answer without memory */
    j->worker = tq_worker_state(w, pw.slot);
    j->data = data;
    return j;
}

void tq_password_hash_async(tq_worker *w, tq_password_key key, const char *password, size_t len, tq_password_hash_cb cb,
                            void *data)
{
    pw_job *j = job_new(w, data);
    j->hash_cb = cb;
    submit(j, key, password, len);
}

void tq_password_verify_async(tq_worker *w, tq_password_key key, const char *stored, const char *password, size_t len,
                              tq_password_verify_cb cb, void *data)
{
    pw_job *j = job_new(w, data);
    j->verify = true;
    j->verify_cb = cb;
    if (stored != NULL && usable_hash(stored)) {
        memcpy(j->stored, stored, strlen(stored) + 1);
        j->has_stored = true;
    }
    submit(j, key, password, len);
}

void tq_password_get_stats(tq_password_stats *out)
{
    out->hashed = atomic_load(&pw.hashed);
    out->verified = atomic_load(&pw.verified);
    out->busy = atomic_load(&pw.busy);
    pthread_mutex_lock(&pw.lock);
    out->queued = pw.queued;
    out->keys = tq_map_count(&pw.keys);
    pthread_mutex_unlock(&pw.lock);
}

/* ---- hashing threads ---- */

static void run_job(pw_job *j)
{
    if (j->verify) {
        /* without a usable stored hash, the dummy costs the same as a real check */
        const char *against = j->has_stored ? j->stored : pw.dummy;
        int rc = crypto_pwhash_str_verify(against, j->password, j->len);
        j->status = j->has_stored && rc == 0 ? TQ_PASSWORD_OK : TQ_PASSWORD_MISMATCH;
        atomic_fetch_add(&pw.verified, 1);
    } else {
        int rc = crypto_pwhash_str(j->hash, j->password, j->len, pw.opslimit, pw.memlimit);
        j->status = rc == 0 ? TQ_PASSWORD_OK : TQ_PASSWORD_FAILED;
        atomic_fetch_add(&pw.hashed, 1);
        if (rc != 0)
            tq_log_error("password", "hashing failed (out of memory?)");
    }
    sodium_memzero(j->password, j->len);
    free(j->password);
    j->password = NULL;
}

static void *hash_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&pw.lock);
        pw_job *j = NULL;
        while (!pw.stopping && (j = take_next()) == NULL)
            pthread_cond_wait(&pw.wake, &pw.lock);
        pthread_mutex_unlock(&pw.lock);
        if (j == NULL)
            return NULL; /* stopping: tq_password_stop drops what is still queued */
        run_job(j);
        deliver(j);
    }
}

static int check_config(const tq_password_config *cfg, char *err, size_t errlen)
{
    if (cfg->threads < 1 || cfg->threads > TQ_PASSWORD_MAX_THREADS) {
        snprintf(err, errlen, "--hash-threads must be between 1 and %d", TQ_PASSWORD_MAX_THREADS);
        return -1;
    }
    if (cfg->opslimit < crypto_pwhash_OPSLIMIT_MIN || cfg->opslimit > crypto_pwhash_OPSLIMIT_MAX ||
        cfg->opslimit > 100) {
        snprintf(err, errlen, "--hash-opslimit must be between %llu and 100",
                 (unsigned long long)crypto_pwhash_OPSLIMIT_MIN);
        return -1;
    }
    if (cfg->memlimit < crypto_pwhash_MEMLIMIT_MIN || cfg->memlimit > ((size_t)4 << 30)) {
        snprintf(err, errlen, "--hash-memlimit must be between %zu bytes and 4 GiB", (size_t)crypto_pwhash_MEMLIMIT_MIN);
        return -1;
    }
    return 0;
}

int tq_password_start(const tq_password_config *cfg, tq_workers *ws, char *err, size_t errlen)
{
    if (check_config(cfg, err, errlen) != 0)
        return -1;
    unsigned char secret[32];
    randombytes_buf(secret, sizeof(secret));
    int rc = crypto_pwhash_str(pw.dummy, (const char *)secret, sizeof(secret), cfg->opslimit, cfg->memlimit);
    sodium_memzero(secret, sizeof(secret));
    if (rc != 0) {
        snprintf(err, errlen, "cannot hash with --hash-memlimit %zu: out of memory", cfg->memlimit);
        return -1;
    }
    pthread_mutex_lock(&pw.lock);
    pw.opslimit = cfg->opslimit;
    pw.memlimit = cfg->memlimit;
    tq_map_init(&pw.keys, NULL);
    h2o_linklist_init_anchor(&pw.ring);
    pw.queued = 0;
    pw.max_queued = (size_t)cfg->threads * TQ_PASSWORD_QUEUE_PER_THREAD;
    /* one key never holds more than half: another key always finds room by pushing out */
    pw.max_per_key = pw.max_queued / 2 > 0 ? pw.max_queued / 2 : 1;
    pw.stopping = false;
    pw.running = true;
    pw.threads = calloc((size_t)cfg->threads, sizeof(pthread_t));
    pw.nthreads = 0;
    pthread_mutex_unlock(&pw.lock);
    int created = 0;
    while (created < cfg->threads && tq_thread_start(&pw.threads[created], hash_thread, NULL) == 0)
        created++;
    pw.nthreads = created;
    if (created < cfg->threads) {
        snprintf(err, errlen, "cannot start the password hashing threads");
        tq_password_stop();
        return -1;
    }
    static const tq_worker_module hooks = {"password", password_worker_init, NULL, NULL, password_worker_cut_off,
                                           password_worker_dispose, NULL};
    if (ws != NULL)
        pw.slot = tq_workers_add_module(ws, &hooks);
    tq_log_info("password", "%d hashing thread(s), Argon2id opslimit %llu, memlimit %zu KiB", cfg->threads,
                cfg->opslimit, cfg->memlimit / 1024);
    return 0;
}

void tq_password_stop(void)
{
    pthread_mutex_lock(&pw.lock);
    if (!pw.running) {
        pthread_mutex_unlock(&pw.lock);
        return;
    }
    pw.stopping = true;
    pw.running = false;
    pthread_cond_broadcast(&pw.wake);
    pthread_mutex_unlock(&pw.lock);
    for (int i = 0; i < pw.nthreads; i++)
        pthread_join(pw.threads[i], NULL);
    free(pw.threads);
    pw.threads = NULL;
    pw.nthreads = 0;
    pthread_mutex_lock(&pw.lock);
    pw_job *j;
    while ((j = take_next()) != NULL)
        job_free(j);
    tq_map_dispose(&pw.keys);
    free(pw.workers);
    pw.workers = NULL;
    pw.nworkers = pw.cap = 0;
    sodium_memzero(pw.dummy, sizeof(pw.dummy));
    pthread_mutex_unlock(&pw.lock);
}
