/*
 * test_pool.c - the tenant pools against a real PostgreSQL (a private cluster this test
 * starts and stops): queries run and come back on the asking worker, a pool never opens
 * more than it needs nor more than its max, the acquire timeout, a database that is down,
 * the global cap with eviction, cancelling a running query, and an idle pool's retirement.
 * One worker, run on this thread.
 */
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tenantql/pg_cluster.h"
#include "tenantql/pool.h"
#include "tq_test.h"
#include "tq_test_pg.h"

#define CAP 4

typedef struct outcome {
    tq_db_query q;
    int done;
    tq_db_status status;
    char sqlstate[6];
} outcome;

static tq_workers *group;
static tq_worker *w;
static char sockdir[PATH_MAX], port_text[16];

static const tq_stmt stmt_one = {0, "one", "SELECT 1", 0};
static const tq_stmt stmt_sleep = {1, "sleep", "SELECT pg_sleep($1::float8)", 1};

static void on_done(tq_db_query *q, tq_db_status status, PGresult *res)
{
    outcome *o = (outcome *)q;
    o->done++;
    o->status = status;
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(o->sqlstate, sizeof(o->sqlstate), "%s", st ? st : "");
    PQclear(res);
}

static void ask(tq_pool *p, outcome *o, const tq_stmt *stmt, const char *param)
{
    memset(o, 0, sizeof(*o));
    o->q.stmt = stmt;
    o->q.params[0] = param;
    o->q.cb = on_done;
    tq_pool_query(p, w, &o->q);
}

/* Runs the loop until every outcome is done (or 20 s pass). */
static void wait_all(outcome *o, int n)
{
    uint64_t deadline = tq_worker_now(w) + 20000;
    for (;;) {
        int done = 0;
        for (int i = 0; i < n; i++)
            done += o[i].done > 0;
        if (done == n || tq_worker_now(w) > deadline)
            return;
        h2o_evloop_run(tq_worker_loop(w), 10);
    }
}

static void run_for(uint64_t ms)
{
    uint64_t until = tq_worker_now(w) + ms;
    while (tq_worker_now(w) < until)
        h2o_evloop_run(tq_worker_loop(w), 10);
}

/* A tenant's share of a database reached through port: max connections for the share,
 * db_max for the database (a database of its own when db_max is 0). */
static tq_pool *make_share(const char *label, const char *port, int max, int db_max, int acquire_ms)
{
    const char *keywords[] = {"host", "port", "user", "dbname", "options", NULL};
    const char *values[] = {sockdir, port, "tenantql", "postgres", "-c statement_timeout=10000", NULL};
    tq_pool_options opts = TQ_POOL_OPTIONS_DEFAULT;
    opts.max = max;
    opts.acquire_timeout_ms = acquire_ms;
    opts.idle_timeout_ms = 300;
    tq_pool_target target = {keywords, values, db_max ? "shared" : label, db_max ? db_max : max, "public"};
    return tq_pool_create(label, &target, &opts);
}

static tq_pool *make_pool(const char *label, const char *port, int max, int acquire_ms)
{
    return make_share(label, port, max, 0, acquire_ms);
}

static tq_pool_stats stats(tq_pool *p)
{
    tq_pool_stats st;
    tq_pool_get_stats(p, &st);
    return st;
}

static void test_runs_and_grows_only_as_needed(void)
{
    tq_pool *p = make_pool("a", port_text, 5, 5000);
    outcome o[2];
    ask(p, &o[0], &stmt_one, NULL);
    CHECK(o[0].done == 0); /* never inside the call */
    wait_all(o, 1);
    CHECK(o[0].done == 1 && o[0].status == TQ_DB_OK);
    CHECK(stats(p).total == 1 && stats(p).idle == 1);
    /* two at once with one idle: the idle one serves one, a second opens, no more */
    ask(p, &o[0], &stmt_sleep, "0.1");
    ask(p, &o[1], &stmt_sleep, "0.1");
    wait_all(o, 2);
    CHECK(o[0].status == TQ_DB_OK && o[1].status == TQ_DB_OK);
    CHECK(stats(p).created == 2);
    CHECK(tq_pools_evictions() == 0);
    tq_pool_retire(p);
}

static void test_max_and_acquire_timeout(void)
{
    tq_pool *p = make_pool("b", port_text, 2, 300);
    outcome o[3];
    ask(p, &o[0], &stmt_sleep, "1");
    ask(p, &o[1], &stmt_sleep, "1");
    ask(p, &o[2], &stmt_one, NULL);
    wait_all(&o[2], 1);
    CHECK(o[2].status == TQ_DB_BUSY); /* after the acquire timeout, the two still busy */
    CHECK(stats(p).total <= 2);
    wait_all(o, 2);
    CHECK(o[0].status == TQ_DB_OK && o[1].status == TQ_DB_OK);
    tq_pool_retire(p);
}

static void test_database_down(void)
{
    tq_pool *p = make_pool("down", "1", 2, 5000); /* nothing listens on port 1 */
    outcome o[2];
    ask(p, &o[0], &stmt_one, NULL);
    wait_all(o, 1);
    CHECK(o[0].status == TQ_DB_UNAVAILABLE);
    /* within the back-off the pool answers at once, without trying again */
    ask(p, &o[1], &stmt_one, NULL);
    wait_all(&o[1], 1);
    CHECK(o[1].status == TQ_DB_UNAVAILABLE && stats(p).created == 0 && stats(p).total == 0);
    tq_pool_retire(p);
}

static void test_cap_evicts_idle(void)
{
    tq_pool *a = make_pool("cap-a", port_text, CAP, 5000), *b = make_pool("cap-b", port_text, 2, 5000);
    outcome o[CAP];
    for (int i = 0; i < CAP; i++)
        ask(a, &o[i], &stmt_sleep, "0.2");
    wait_all(o, CAP);
    CHECK(stats(a).idle == CAP && tq_pools_open_connections() <= CAP);
    unsigned long before = tq_pools_evictions();
    ask(b, &o[0], &stmt_one, NULL);
    wait_all(o, 1);
    CHECK(o[0].status == TQ_DB_OK);
    CHECK(tq_pools_evictions() == before + 1);
    CHECK(tq_pools_open_connections() <= CAP);
    tq_pool_retire(a);
    tq_pool_retire(b);
}

static void test_cancel(void)
{
    tq_pool *p = make_pool("cancel", port_text, 1, 5000);
    outcome o[2];
    ask(p, &o[0], &stmt_sleep, "5");
    ask(p, &o[1], &stmt_one, NULL); /* waits behind it */
    run_for(200);
    tq_pool_cancel(&o[1].q);
    tq_pool_cancel(&o[0].q);
    uint64_t t0 = tq_worker_now(w);
    wait_all(o, 2);
    CHECK(o[1].status == TQ_DB_CANCELLED);
    CHECK(o[0].status == TQ_DB_SQL_ERROR && strcmp(o[0].sqlstate, "57014") == 0);
    CHECK(tq_worker_now(w) - t0 < 3000);
    /* the connection came back and serves the next query */
    ask(p, &o[0], &stmt_one, NULL);
    wait_all(o, 1);
    CHECK(o[0].status == TQ_DB_OK && stats(p).created == 1);
    tq_pool_retire(p);
}

static void test_retire_if_idle(void)
{
    tq_pool *p = make_pool("idle", port_text, 1, 5000);
    outcome o;
    ask(p, &o, &stmt_one, NULL);
    wait_all(&o, 1);
    tq_pool_borrow(p);
    CHECK(!tq_pool_retire_if_idle(p)); /* a connection, and a borrower */
    run_for(1500);                     /* the janitor closes the idle connection */
    CHECK(stats(p).total == 0);
    CHECK(!tq_pool_retire_if_idle(p)); /* still borrowed */
    tq_pool_return(p);
    CHECK(tq_pool_retire_if_idle(p));
}

/* Completion order across outcomes, for the fairness test. */
static int finished_seq;
typedef struct ordered {
    outcome o; /* first: the pool hands back &o.q */
    int seq;
} ordered;

static void on_ordered(tq_db_query *q, tq_db_status status, PGresult *res)
{
    on_done(q, status, res);
    ((ordered *)q)->seq = ++finished_seq;
}

static void ask_ordered(tq_pool *p, ordered *o, const tq_stmt *stmt, const char *param)
{
    memset(o, 0, sizeof(*o));
    o->o.q.stmt = stmt;
    o->o.q.params[0] = param;
    o->o.q.cb = on_ordered;
    tq_pool_query(p, w, &o->o.q);
}

/* Two tenants share a database of one connection: a tenant with a queue of queries does
 * not keep the other waiting behind all of them (released connections serve the waiting
 * tenants in turn). */
static void test_shares_take_turns(void)
{
    tq_pool *a = make_share("turn-a", port_text, 1, 1, 5000), *b = make_share("turn-b", port_text, 1, 1, 5000);
    ordered oa[6], ob;
    finished_seq = 0;
    for (int i = 0; i < 6; i++)
        ask_ordered(a, &oa[i], &stmt_sleep, "0.02");
    run_for(10);
    ask_ordered(b, &ob, &stmt_one, NULL);
    outcome *all[7];
    for (int i = 0; i < 6; i++)
        all[i] = &oa[i].o;
    all[6] = &ob.o;
    for (int i = 0; i < 7; i++)
        wait_all(all[i], 1);
    CHECK(ob.o.status == TQ_DB_OK);
    CHECK(ob.seq <= 3); /* after a's running query and at most one more, not after all six */
    CHECK(stats(a).total == 1 && stats(a).in_use == 0 && stats(b).in_use == 0);
    CHECK(strcmp(stats(a).database, "shared") == 0);
    tq_pool_retire(a);
    tq_pool_retire(b);
}

/* A share holds at most its max of the database's connections; the rest serve others. */
static void test_share_max_within_database(void)
{
    tq_pool *a = make_share("smax-a", port_text, 2, 4, 5000), *b = make_share("smax-b", port_text, 2, 4, 5000);
    outcome oa[4], ob[2];
    for (int i = 0; i < 4; i++)
        ask(a, &oa[i], &stmt_sleep, "0.2");
    run_for(50);
    CHECK(stats(a).in_use == 2 && stats(a).waiting == 2);
    ask(b, &ob[0], &stmt_sleep, "0.05");
    ask(b, &ob[1], &stmt_sleep, "0.05");
    wait_all(ob, 2);
    CHECK(ob[0].status == TQ_DB_OK && ob[1].status == TQ_DB_OK);
    CHECK(oa[2].done == 0); /* b was served by the database's other connections meanwhile */
    wait_all(oa, 4);
    for (int i = 0; i < 4; i++)
        CHECK(oa[i].status == TQ_DB_OK);
    CHECK(stats(a).total <= 4);
    tq_pool_retire(a);
    tq_pool_retire(b);
}

/* Two tenants' statements deadlock on a shared database of two connections: PostgreSQL
 * breaks the deadlock (40P01) by failing one, and both connections then serve both
 * tenants again (each query its own implicit transaction: nothing is left behind). */
static void test_deadlock_between_tenants(void)
{
    static const tq_stmt stmt_locks = {4, "locks",
                                       "SELECT pg_advisory_xact_lock($1::bigint), pg_sleep(0.3),"
                                       " pg_advisory_xact_lock($2::bigint)",
                                       2};
    tq_pool *a = make_share("dl-a", port_text, 1, 2, 5000), *b = make_share("dl-b", port_text, 1, 2, 5000);
    outcome o[2];
    memset(o, 0, sizeof(o));
    o[0].q.stmt = o[1].q.stmt = &stmt_locks;
    o[0].q.params[0] = o[1].q.params[1] = "1";
    o[0].q.params[1] = o[1].q.params[0] = "2";
    o[0].q.cb = o[1].q.cb = on_done;
    tq_pool_query(a, w, &o[0].q);
    tq_pool_query(b, w, &o[1].q);
    wait_all(o, 2);
    int deadlocked = (strcmp(o[0].sqlstate, "40P01") == 0) + (strcmp(o[1].sqlstate, "40P01") == 0);
    CHECK(deadlocked == 1);
    CHECK((o[0].status == TQ_DB_OK) + (o[1].status == TQ_DB_OK) == 1);
    for (int i = 0; i < 3; i++) {
        ask(a, &o[0], &stmt_one, NULL);
        ask(b, &o[1], &stmt_one, NULL);
        wait_all(o, 2);
        CHECK(o[0].status == TQ_DB_OK && o[1].status == TQ_DB_OK);
    }
    CHECK(stats(a).total == 2 && stats(a).created == 2);
    tq_pool_retire(a);
    tq_pool_retire(b);
}

/* In a shared database, a query goes to an idle connection that already prepared its
 * statement in its tenant's schema, not just to the most recently used one. */
static void test_affinity_to_prepared(void)
{
    tq_pool *a = make_share("aff-a", port_text, 2, 2, 5000), *b = make_share("aff-b", port_text, 2, 2, 5000);
    outcome o[2];
    for (int i = 0; i < 2; i++) { /* a's statement: seen, then prepared, on one connection */
        ask(a, &o[0], &stmt_one, NULL);
        wait_all(o, 1);
    }
    ask(b, &o[0], &stmt_sleep, "0.05"); /* two connections now */
    ask(b, &o[1], &stmt_sleep, "0.05");
    wait_all(o, 2);
    for (int round = 0; round < 4; round++) {
        ask(b, &o[0], &stmt_one, NULL); /* makes some connection the most recently used */
        wait_all(o, 1);
        unsigned long p0, u0, r0, p1, u1, r1;
        tq_pgconn_statement_counts(&p0, &u0, &r0);
        ask(a, &o[0], &stmt_one, NULL);
        wait_all(o, 1);
        tq_pgconn_statement_counts(&p1, &u1, &r1);
        CHECK(o[0].status == TQ_DB_OK && p1 == p0 + 1 && u1 == u0 && r1 == r0); /* met its plan */
    }
    CHECK(stats(a).total == 2);
    tq_pool_retire(a);
    tq_pool_retire(b);
}

/* Fifty tenants on one connection, interleaved, including a failing statement and a
 * cancelled one: every query gets its own answer and the holds all come back. */
static void test_fifty_shares_one_connection(void)
{
    enum { N = 50 };
    static const tq_stmt stmt_echo = {2, "echo", "SELECT $1::text", 1};
    static const tq_stmt stmt_fail = {3, "fail", "SELECT 1 / $1::int", 1};
    tq_pool *p[N];
    char labels[N][16];
    outcome o[N], f, c;
    for (int i = 0; i < N; i++) {
        snprintf(labels[i], sizeof(labels[i]), "fifty-%d", i);
        p[i] = make_share(labels[i], port_text, 1, 1, 5000);
    }
    ask(p[0], &c, &stmt_sleep, "5");
    ask(p[1], &f, &stmt_fail, "0");
    for (int i = 0; i < N; i++)
        ask(p[(i * 7) % N], &o[i], &stmt_echo, labels[(i * 7) % N]);
    run_for(100);
    tq_pool_cancel(&c.q);
    wait_all(&c, 1);
    wait_all(&f, 1);
    wait_all(o, N);
    CHECK(c.status == TQ_DB_SQL_ERROR && strcmp(c.sqlstate, "57014") == 0);
    CHECK(f.status == TQ_DB_SQL_ERROR && strcmp(f.sqlstate, "22012") == 0);
    for (int i = 0; i < N; i++)
        CHECK(o[i].status == TQ_DB_OK);
    for (int i = 0; i < N; i++)
        CHECK(stats(p[i]).in_use == 0 && stats(p[i]).waiting == 0);
    CHECK(stats(p[0]).total == 1 && stats(p[0]).created == 1);
    for (int i = 0; i < N; i++)
        tq_pool_retire(p[i]);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    char err[512];
    tq_test_pg pg;
    if (tq_test_pg_start(&pg, "tq-pool") != 0)
        return 1;
    snprintf(sockdir, sizeof(sockdir), "%s", pg.cluster.sockdir);
    snprintf(port_text, sizeof(port_text), "%s", pg.port_text);

    group = tq_workers_new(1, 1000);
    tq_pools_init(group, CAP);
    CHECK(tq_workers_open_inline(group, err, sizeof(err)) == 0);
    w = tq_workers_at(group, 0);
    test_runs_and_grows_only_as_needed();
    test_max_and_acquire_timeout();
    test_database_down();
    test_cap_evicts_idle();
    test_cancel();
    test_retire_if_idle();
    test_shares_take_turns();
    test_share_max_within_database();
    test_fifty_shares_one_connection();
    test_affinity_to_prepared();
    test_deadlock_between_tenants();
    run_for(1500); /* retired pools close their connections and go */
    tq_workers_close_inline(group);
    tq_pools_destroy();
    tq_pgconn_cancel_shutdown();
    tq_workers_free(group);
    tq_test_pg_stop(&pg);
    return TQ_TEST_REPORT();
}
