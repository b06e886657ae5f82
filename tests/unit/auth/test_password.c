/*
 * test_password.c - the hashing threads: hash then verify, mismatches (also with no
 * stored hash or a broken one), callbacks only on the asking worker's loop and never
 * inside the call, BUSY when the queue is full, the keys served in turn (a flood under
 * one key neither delays another key by more than a job nor takes its room), the
 * counters, and a disposed worker's jobs dropped.
 */
#include <string.h>

#include "tenantql/password.h"
#include "tq_test.h"

#define KEY(s) ((tq_password_key){s, sizeof(s) - 1})

typedef struct outcome {
    int calls;
    tq_password_status st;
    int seq; /* completion order of the jobs that were computed (1, 2, ...) */
    char hash[crypto_pwhash_STRBYTES];
} outcome;

static int completed; /* jobs computed so far, for outcome.seq */

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
    if (st != TQ_PASSWORD_BUSY)
        o->seq = ++completed;
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
    tq_password_hash_async(w, KEY("t"), "correct horse", 13, on_hash, &h);
    CHECK(h.calls == 0); /* never inside the call */
    run_until(w, &h.calls, 1);
    CHECK(h.calls == 1 && h.st == TQ_PASSWORD_OK);
    CHECK(strncmp(h.hash, "$argon2id$v=19$m=8192,t=1,p=1$", 30) == 0);

    tq_password_verify_async(w, KEY("t"), h.hash, "correct horse", 13, on_verify, &ok);
    tq_password_verify_async(w, KEY("t"), h.hash, "correct horsE", 13, on_verify, &bad);
    tq_password_verify_async(w, KEY("t"), NULL, "correct horse", 13, on_verify, &none);
    tq_password_verify_async(w, KEY("t"), "$2y$10$notargon", "correct horse", 13, on_verify, &broken);
    int *all[] = {&ok.calls, &bad.calls, &none.calls, &broken.calls};
    for (int i = 0; i < 4; i++)
        run_until(w, all[i], 1);
    CHECK(ok.calls == 1 && ok.st == TQ_PASSWORD_OK);
    CHECK(bad.calls == 1 && bad.st == TQ_PASSWORD_MISMATCH);
    CHECK(none.calls == 1 && none.st == TQ_PASSWORD_MISMATCH);
    CHECK(broken.calls == 1 && broken.st == TQ_PASSWORD_MISMATCH);

    /* lengths, not NUL terminators, delimit passwords */
    outcome nul = {0};
    tq_password_hash_async(w, KEY("t"), "a\0b", 3, on_hash, &nul);
    run_until(w, &nul.calls, 1);
    outcome cut = {0};
    tq_password_verify_async(w, KEY("t"), nul.hash, "a", 1, on_verify, &cut);
    run_until(w, &cut.calls, 1);
    CHECK(cut.st == TQ_PASSWORD_MISMATCH);
}

static void test_busy(tq_worker *w)
{
    enum { N = 300 }; /* one thread queues 64 */
    static outcome o[N];
    int done = 0, busy = 0, okc = 0;
    for (int i = 0; i < N; i++)
        tq_password_verify_async(w, KEY("t"), NULL, "pw", 2, on_verify, &o[i]);
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
    /* one key: at most half the queue (plus what the thread took meanwhile) */
    CHECK(busy > 0 && okc >= TQ_PASSWORD_QUEUE_PER_THREAD / 2 && busy + okc == N);
}

/* Runs w's loop until every one of o[0..n) has been called back (or 60 s pass). */
static void run_all(tq_worker *w, outcome *o, int n)
{
    uint64_t deadline = h2o_now(tq_worker_loop(w)) + 60000;
    int done;
    do {
        h2o_evloop_run(tq_worker_loop(w), 10);
        done = 0;
        for (int i = 0; i < n; i++)
            done += o[i].calls;
    } while (done < n && h2o_now(tq_worker_loop(w)) < deadline);
    CHECK(done == n);
}

static int count_status(const outcome *o, int n, tq_password_status st)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += o[i].st == st;
    return c;
}

/* One hashing thread: 64 jobs in all, 32 per key. A flood of 100 jobs under one key gets
 * at most its 32 (plus the one running) and BUSY for the rest; another key's jobs, sent
 * after the flood, are all computed, each within two jobs of the flood's. */
static void test_fair_turns(tq_worker *w)
{
    enum { FLOOD = 100, OTHER = 5 };
    static outcome flood[FLOOD], other[OTHER];
    tq_password_stats before, queued, after;
    tq_password_get_stats(&before);
    int base = completed;
    for (int i = 0; i < FLOOD; i++)
        tq_password_verify_async(w, KEY("nosuch"), NULL, "pw", 2, on_verify, &flood[i]);
    for (int i = 0; i < OTHER; i++)
        tq_password_verify_async(w, KEY("acme"), NULL, "pw", 2, on_verify, &other[i]);
    tq_password_get_stats(&queued);
    CHECK(queued.queued <= 32 + OTHER && queued.keys <= 2);
    run_all(w, flood, FLOOD);
    run_all(w, other, OTHER);
    int flood_done = count_status(flood, FLOOD, TQ_PASSWORD_MISMATCH);
    CHECK(flood_done >= 32 && flood_done <= 34);
    CHECK(count_status(flood, FLOOD, TQ_PASSWORD_BUSY) == FLOOD - flood_done);
    CHECK(count_status(other, OTHER, TQ_PASSWORD_MISMATCH) == OTHER);
    /* turns alternate: acme's k-th job comes after at most k + 2 of the flood's (the one
     * running when acme's were queued, then one per turn), + 1 for a slow start */
    for (int k = 0; k < OTHER; k++)
        CHECK(other[k].seq - base <= 2 * k + 4);
    tq_password_get_stats(&after);
    CHECK(after.verified - before.verified == (unsigned long)(flood_done + OTHER));
    CHECK(after.busy - before.busy == (unsigned long)(FLOOD - flood_done));
    CHECK(after.queued == 0 && after.keys == 0);
}

/* A full queue: a key with fewer jobs waiting than the longest queue pushes out that
 * queue's newest job (answered BUSY) instead of being refused. */
static void test_push_out(tq_worker *w)
{
    enum { N = 40 };
    static outcome a[N], b[N], c[N];
    for (int i = 0; i < N; i++)
        tq_password_verify_async(w, KEY("a"), NULL, "pw", 2, on_verify, &a[i]);
    for (int i = 0; i < N; i++)
        tq_password_verify_async(w, KEY("b"), NULL, "pw", 2, on_verify, &b[i]);
    for (int i = 0; i < N; i++)
        tq_password_verify_async(w, KEY("c"), NULL, "pw", 2, on_verify, &c[i]);
    tq_password_stats st;
    tq_password_get_stats(&st);
    CHECK(st.queued <= 64 && st.keys == 3);
    run_all(w, a, N);
    run_all(w, b, N);
    run_all(w, c, N);
    int da = count_status(a, N, TQ_PASSWORD_MISMATCH), db = count_status(b, N, TQ_PASSWORD_MISMATCH),
        dc = count_status(c, N, TQ_PASSWORD_MISMATCH);
    /* without pushing out, c would find the queue full (a and b hold 32 each) */
    CHECK(dc >= 18);
    CHECK(da <= 32 + 2 && db <= 32 + 2);
    CHECK(da + db + dc <= 64 + 3);
    /* whoever was pushed out was answered, never dropped */
    CHECK(count_status(a, N, TQ_PASSWORD_BUSY) == N - da && count_status(b, N, TQ_PASSWORD_BUSY) == N - db);
    /* the jobs pushed out were a's and b's newest */
    CHECK(a[0].st == TQ_PASSWORD_MISMATCH && b[0].st == TQ_PASSWORD_MISMATCH && c[0].st == TQ_PASSWORD_MISMATCH);
}

static void test_dispose_drops(void)
{
    tq_worker *w = worker_open();
    static outcome o[20];
    for (int i = 0; i < 20; i++)
        tq_password_verify_async(w, KEY("t"), NULL, "pw", 2, on_verify, &o[i]);
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
    test_fair_turns(w);
    test_push_out(w);
    worker_close();
    test_dispose_drops();
    tq_password_stop();
    /* stopped: jobs fail at once (on the loop) instead of hanging */
    w = worker_open();
    outcome late = {0};
    tq_password_hash_async(w, KEY("t"), "pw", 2, on_hash, &late);
    run_until(w, &late.calls, 1);
    CHECK(late.calls == 1 && late.st == TQ_PASSWORD_FAILED);
    worker_close();
    tq_workers_free(group);
    return TQ_TEST_REPORT();
}
