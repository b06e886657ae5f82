/*
 * test_password.c - the hashing threads: hash then verify, mismatches (also with no
 * stored hash or a broken one), callbacks only on the asking worker's loop and never
 * inside the call, BUSY when the queue is full, and a disposed worker's jobs dropped.
 */
#include <string.h>

#include "tenantql/password.h"
#include "tq_test.h"

typedef struct outcome {
    int calls;
    tq_password_status st;
    char hash[crypto_pwhash_STRBYTES];
} outcome;

static void on_hash(void *data, tq_password_status st, const char *hash)
{
    outcome *o = data;
    o->calls++;
    o->st = st;
    if (hash != NULL)
        snprintf(o->hash, sizeof(o->hash), "%s", hash);
}

static void on_verify(void *data, tq_password_status st)
{
    outcome *o = data;
    o->calls++;
    o->st = st;
}

static tq_workers *group; /* one worker, run on this thread */

static tq_worker *worker_open(void)
{
    char err[256];
    CHECK(tq_workers_open_inline(group, err, sizeof(err)) == 0);
    return tq_workers_at(group, 0);
}

static void worker_close(void)
{
    tq_workers_close_inline(group);
}

/* Runs w's loop until *calls reaches want (or 20 s pass). */
static void run_until(tq_worker *w, const int *calls, int want)
{
    uint64_t deadline = h2o_now(tq_worker_loop(w)) + 20000;
    while (*calls < want && h2o_now(tq_worker_loop(w)) < deadline)
        h2o_evloop_run(tq_worker_loop(w), 10);
}

static void test_round_trip(tq_worker *w)
{
    outcome h = {0}, ok = {0}, bad = {0}, none = {0}, broken = {0};
    tq_password_hash_async(w, "correct horse", 13, on_hash, &h);
    CHECK(h.calls == 0); /* never inside the call */
    run_until(w, &h.calls, 1);
    CHECK(h.calls == 1 && h.st == TQ_PASSWORD_OK);
    CHECK(strncmp(h.hash, "$argon2id$v=19$m=8192,t=1,p=1$", 30) == 0);

    tq_password_verify_async(w, h.hash, "correct horse", 13, on_verify, &ok);
    tq_password_verify_async(w, h.hash, "correct horsE", 13, on_verify, &bad);
    tq_password_verify_async(w, NULL, "correct horse", 13, on_verify, &none);
    tq_password_verify_async(w, "$2y$10$notargon", "correct horse", 13, on_verify, &broken);
    int *all[] = {&ok.calls, &bad.calls, &none.calls, &broken.calls};
    for (int i = 0; i < 4; i++)
        run_until(w, all[i], 1);
    CHECK(ok.calls == 1 && ok.st == TQ_PASSWORD_OK);
    CHECK(bad.calls == 1 && bad.st == TQ_PASSWORD_MISMATCH);
    CHECK(none.calls == 1 && none.st == TQ_PASSWORD_MISMATCH);
    CHECK(broken.calls == 1 && broken.st == TQ_PASSWORD_MISMATCH);

    /* lengths, not NUL terminators, delimit passwords */
    outcome nul = {0};
    tq_password_hash_async(w, "a\0b", 3, on_hash, &nul);
    run_until(w, &nul.calls, 1);
    outcome cut = {0};
    tq_password_verify_async(w, nul.hash, "a", 1, on_verify, &cut);
    run_until(w, &cut.calls, 1);
    CHECK(cut.st == TQ_PASSWORD_MISMATCH);
}

static void test_busy(tq_worker *w)
{
    enum { N = 300 }; /* one thread queues 64 */
    static outcome o[N];
    int done = 0, busy = 0, okc = 0;
    for (int i = 0; i < N; i++)
        tq_password_verify_async(w, NULL, "pw", 2, on_verify, &o[i]);
    uint64_t deadline = h2o_now(tq_worker_loop(w)) + 60000;
    do {
        h2o_evloop_run(tq_worker_loop(w), 10);
        done = 0;
        for (int i = 0; i < N; i++)
            done += o[i].calls;
    } while (done < N && h2o_now(tq_worker_loop(w)) < deadline);
    for (int i = 0; i < N; i++) {
        busy += o[i].st == TQ_PASSWORD_BUSY;
        okc += o[i].st == TQ_PASSWORD_MISMATCH;
    }
    CHECK(done == N);
    CHECK(busy > 0 && okc >= TQ_PASSWORD_QUEUE_PER_THREAD && busy + okc == N);
}

static void test_dispose_drops(void)
{
    tq_worker *w = worker_open();
    static outcome o[20];
    for (int i = 0; i < 20; i++)
        tq_password_verify_async(w, NULL, "pw", 2, on_verify, &o[i]);
    worker_close(); /* queued, running and delivered jobs: freed, no callback */
    int calls = 0;
    for (int i = 0; i < 20; i++)
        calls += o[i].calls;
    CHECK(calls == 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    tq_password_config cfg;
    tq_password_config_init(&cfg);
    CHECK(cfg.threads == 2 && cfg.opslimit == crypto_pwhash_OPSLIMIT_INTERACTIVE &&
          cfg.memlimit == crypto_pwhash_MEMLIMIT_INTERACTIVE);
    char err[256];
    group = tq_workers_new(1, 1000);
    cfg.threads = 0;
    CHECK(tq_password_start(&cfg, NULL, err, sizeof(err)) == -1);
    cfg.threads = 1;
    cfg.opslimit = 1;
    cfg.memlimit = 8u << 20; /* fast enough for a test */
    CHECK(tq_password_start(&cfg, group, err, sizeof(err)) == 0);
    tq_worker *w = worker_open();
    test_round_trip(w);
    test_busy(w);
    worker_close();
    test_dispose_drops();
    tq_password_stop();
    /* stopped: jobs fail at once (on the loop) instead of hanging */
    w = worker_open();
    outcome late = {0};
    tq_password_hash_async(w, "pw", 2, on_hash, &late);
    run_until(w, &late.calls, 1);
    CHECK(late.calls == 1 && late.st == TQ_PASSWORD_FAILED);
    worker_close();
    tq_workers_free(group);
    return TQ_TEST_REPORT();
}
