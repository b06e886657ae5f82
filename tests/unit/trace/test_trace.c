/* test_trace.c - the trace module without a server: --trace-sample and --otlp-endpoint
 * read strictly, the sampling decision (ratio and parent-based), the span cap, and export
 * to a loopback receiver of the test's own (the OTLP JSON it gets), or to nobody (dropped
 * and counted); every tracer stops without leaks. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tenantql/clock.h"
#include "tenantql/trace.h"
#include "tq_test.h"
#include "tq_test_pg.h"

static void test_sample(void)
{
    char err[256];
    double v;
    const char *good[] = {"0", "1", "0.01", ".5", "1.0", "0.000001"};
    const double want[] = {0, 1, 0.01, 0.5, 1, 0.000001};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK(tq_trace_parse_sample(good[i], &v, err, sizeof(err)) == 0 && v == want[i]);
    const char *bad[] = {"", "-0.1", "1.01", "abc", "nan", "inf", "0.5x", " 0.5", "1e400", "+0.5", "2", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(tq_trace_parse_sample(bad[i], &v, err, sizeof(err)) == -1);
        CHECK(strstr(err, "--trace-sample") != NULL);
    }
}

static void test_endpoint(void)
{
    char err[256];
    const char *good[] = {"http://127.0.0.1:4318/v1/traces", "http://collector", "http://[::1]:4318",
                          "http://h:1/p", "http://otel-collector.monitoring.svc:4318/v1/traces"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK(tq_trace_check_endpoint(good[i], err, sizeof(err)) == 0);
    const char *bad[] = {"https://x/v1/traces", "http://", "http://:80", "http://h:0", "http://h:65536", "http://h:80x",
                         "ftp://h", "http://h/p q", "http://h/p\r\nX: y", "http://[::1", "HTTP://h", "", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(tq_trace_check_endpoint(bad[i], err, sizeof(err)) == -1);
        CHECK(strstr(err, "--otlp-endpoint") != NULL);
    }
}

/* A port where nobody listens (bound, then closed). */
static int closed_port(void)
{
    return tq_test_free_port();
}

static tq_tracer *tracer_at(int port, double sample)
{
    char url[64], err[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", port);
    tq_tracer_config cfg = {url, sample};
    tq_tracer *tr = tq_tracer_start(&cfg, err, sizeof(err));
    CHECK(tr != NULL);
    return tr;
}

/* The value of a metric line in the tracer's /metrics text, or -1. */
static long metric(tq_tracer *tr, const char *name)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_tracer_write_metrics(tr, &b);
    char line[128];
    snprintf(line, sizeof(line), "\n%s ", name); /* a sample's line, not its # HELP */
    const char *at = strstr(tq_strbuf_cstr(&b), line);
    long v = at != NULL ? atol(at + strlen(line)) : -1;
    tq_strbuf_free(&b);
    return v;
}

static void test_sampling(void)
{
    tq_tracer *tr = tracer_at(closed_port(), 0.25);
    tq_arena a;
    tq_arena_init(&a, 4096);
    int sampled = 0;
    for (int i = 0; i < 4000; i++) {
        tq_trace t = {0};
        tq_trace_begin(&t, tr, "POST", NULL, 0, tq_clock_us(), &a);
        sampled += tq_trace_sampled(&t);
        CHECK(t.tracer == tr);
        CHECK(tq_trace_sql_comment(&t) == NULL || tq_trace_sampled(&t));
        t.sampled = false; /* nothing handed over */
    }
    CHECK(sampled > 800 && sampled < 1200);
    /* parent-based: the caller's flag decides, whatever the ratio */
    tq_trace t = {0};
    const char *on = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const char *off = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    tq_trace_begin(&t, tr, "GET", off, strlen(off), tq_clock_us(), &a);
    CHECK(!tq_trace_sampled(&t) && t.has_parent);
    char hex[TQ_TRACE_ID_HEX_SIZE];
    CHECK(tq_trace_id_hex(&t, hex));
    CHECK_STR(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(tq_trace_begin_span(&t, "x") == -1);
    tq_trace_finish(&t, &(tq_trace_request){"acme", "r1"});
    t = (tq_trace){0};
    tq_trace_begin(&t, tr, "GET", on, strlen(on), tq_clock_us(), &a);
    CHECK(tq_trace_sampled(&t));
    CHECK(strncmp(tq_trace_sql_comment(&t), "/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-", 51) == 0);
    CHECK(strcmp(tq_trace_sql_comment(&t) + 67, "-01'*/") == 0);
    char tp[TQ_TRACEPARENT_LEN + 1];
    CHECK(tq_trace_response_header(&t, tp) && strncmp(tp, on, 36) == 0 && strcmp(tp + 52, "-01") == 0);
    t.sampled = false;
    /* tracing off: nothing at all */
    tq_trace none = {0};
    tq_trace_begin(&none, NULL, "GET", on, strlen(on), tq_clock_us(), &a);
    CHECK(!tq_trace_id_hex(&none, hex) && hex[0] == '\0');
    CHECK(!tq_trace_response_header(&none, tp));
    tq_trace_finish(&none, &(tq_trace_request){NULL, "r"});
    tq_arena_free(&a);
    tq_tracer_stop(tr);
}

/* ---- a receiver: one POST per connection, answered 200, its body kept ---- */

typedef struct receiver {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    char *bodies[16];
    int nbodies;
    char content_type[64];
} receiver;

static void *receive(void *arg)
{
    receiver *rv = arg;
    for (;;) {
        int c = accept(rv->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        size_t cap = 1 << 20, have = 0;
        char *buf = malloc(cap + 1);
        long want = -1;
        char *body = NULL;
        while (have < cap) {
            ssize_t r = read(c, buf + have, cap - have);
            if (r <= 0)
                break;
            have += (size_t)r;
            buf[have] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            if (end != NULL && want < 0) {
                char *cl = strcasestr(buf, "content-length: ");
                want = cl ? atol(cl + 16) : 0;
                body = end + 4;
                char *ct = strcasestr(buf, "content-type: ");
                if (ct != NULL)
                    sscanf(ct + 14, "%63[^\r]", rv->content_type);
            }
            if (body != NULL && (long)(buf + have - body) >= want)
                break;
        }
        const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
        if (write(c, ok, sizeof(ok) - 1) < 0)
            perror("write");
        close(c);
        pthread_mutex_lock(&rv->lock);
        if (body != NULL && rv->nbodies < 16)
            rv->bodies[rv->nbodies++] = strdup(body);
        pthread_mutex_unlock(&rv->lock);
        free(buf);
    }
}

static void receiver_start(receiver *rv)
{
    memset(rv, 0, sizeof(*rv));
    pthread_mutex_init(&rv->lock, NULL);
    rv->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    bind(rv->fd, (struct sockaddr *)&a, sizeof(a));
    listen(rv->fd, 16);
    getsockname(rv->fd, (struct sockaddr *)&a, &len);
    rv->port = ntohs(a.sin_port);
    pthread_create(&rv->thread, NULL, receive, rv);
}

static void receiver_stop(receiver *rv)
{
    shutdown(rv->fd, SHUT_RDWR);
    close(rv->fd);
    pthread_join(rv->thread, NULL);
    for (int i = 0; i < rv->nbodies; i++)
        free(rv->bodies[i]);
    pthread_mutex_destroy(&rv->lock);
}

static const char *attr(json_t *span, const char *key)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(span, "attributes"), i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0) {
            json_t *v = json_object_get(a, "value");
            json_t *s = json_object_get(v, "stringValue");
            return s ? json_string_value(s) : json_string_value(json_object_get(v, "intValue"));
        }
    }
    return NULL;
}

static void test_export(void)
{
    receiver rv;
    receiver_start(&rv);
    tq_tracer *tr = tracer_at(rv.port, 1);
    tq_arena a;
    tq_arena_init(&a, 4096);
    tq_trace t = {0};
    const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    tq_trace_begin(&t, tr, "POST", tp, strlen(tp), tq_clock_us(), &a);
    int p = tq_trace_begin_span(&t, "graphql.parse");
    tq_trace_set_cached(&t, p, false);
    tq_trace_end_span(&t, p, false);
    tq_trace_operation(&t, "query", "Products\"Odd", 12);
    uint64_t now = tq_clock_us();
    tq_trace_statement(&t, "products_first", now, now + 10, now + 30, false);
    tq_trace_statement(&t, "never_sent", now, 0, now + 50, true);
    for (int i = 0; i < TQ_TRACE_MAX_SPANS; i++) /* 60 more fit; the rest are dropped */
        tq_trace_begin_span(&t, "filler");
    tq_trace_answered(&t, 503);
    char hex[TQ_TRACE_ID_HEX_SIZE];
    tq_trace_finish(&t, &(tq_trace_request){"acme", "req-1"});
    CHECK(tq_trace_id_hex(&t, hex)); /* still readable for the access log */
    CHECK(tq_trace_sql_comment(&t) == NULL);
    uint64_t until = tq_clock_ms() + 5000;
    while (metric(tr, "tenantql_trace_spans_exported_total") < 1 + TQ_TRACE_MAX_SPANS && tq_clock_ms() < until)
        usleep(20000);
    CHECK(metric(tr, "tenantql_trace_spans_exported_total") == 1 + TQ_TRACE_MAX_SPANS);
    CHECK(metric(tr, "tenantql_trace_spans_dropped_total{reason=\"span_limit\"}") == 4);
    pthread_mutex_lock(&rv.lock);
    CHECK(rv.nbodies == 1);
    json_t *doc = rv.nbodies ? json_loads(rv.bodies[0], 0, NULL) : NULL;
    pthread_mutex_unlock(&rv.lock);
    CHECK_STR(rv.content_type, "application/json");
    CHECK(doc != NULL);
    json_t *rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
    json_t *res = json_object_get(rs, "resource");
    CHECK_STR(attr(res, "service.name"), "tenantql");
    json_t *spans = json_object_get(json_array_get(json_object_get(rs, "scopeSpans"), 0), "spans");
    CHECK(json_array_size(spans) == 1 + TQ_TRACE_MAX_SPANS);
    json_t *root = json_array_get(spans, 0);
    CHECK_STR(json_string_value(json_object_get(root, "traceId")), "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK_STR(json_string_value(json_object_get(root, "parentSpanId")), "00f067aa0ba902b7");
    CHECK_STR(json_string_value(json_object_get(root, "name")), "query Products\"Odd");
    CHECK(json_integer_value(json_object_get(root, "kind")) == 2);
    CHECK(json_integer_value(json_object_get(json_object_get(root, "status"), "code")) == 2); /* a 503 */
    CHECK_STR(attr(root, "http.response.status_code"), "503");
    CHECK_STR(attr(root, "tenantql.tenant"), "acme");
    CHECK_STR(attr(root, "tenantql.request_id"), "req-1");
    CHECK(json_is_string(json_object_get(root, "startTimeUnixNano")));
    const char *root_id = json_string_value(json_object_get(root, "spanId"));
    json_t *parse = json_array_get(spans, 1), *wait = json_array_get(spans, 2), *stmt = json_array_get(spans, 3),
           *unsent = json_array_get(spans, 4);
    CHECK_STR(json_string_value(json_object_get(parse, "name")), "graphql.parse");
    CHECK_STR(json_string_value(json_object_get(parse, "parentSpanId")), root_id);
    CHECK_STR(attr(parse, "graphql.operation.name"), "Products\"Odd");
    CHECK_STR(json_string_value(json_object_get(wait, "name")), "db.connection_wait");
    CHECK_STR(json_string_value(json_object_get(stmt, "name")), "products_first");
    CHECK_STR(attr(stmt, "db.system"), "postgresql");
    CHECK(json_integer_value(json_object_get(stmt, "kind")) == 3);
    long long s0 = atoll(json_string_value(json_object_get(stmt, "startTimeUnixNano")));
    long long s1 = atoll(json_string_value(json_object_get(stmt, "endTimeUnixNano")));
    CHECK(s1 - s0 == 20000);
    CHECK_STR(json_string_value(json_object_get(unsent, "name")), "db.connection_wait");
    CHECK(json_integer_value(json_object_get(json_object_get(unsent, "status"), "code")) == 2);
    json_decref(doc);
    tq_arena_free(&a);
    tq_tracer_stop(tr);
    receiver_stop(&rv);
}

/* Nobody listens: batches fail at once, are dropped and counted; the stop is quick. */
static void test_down(void)
{
    tq_tracer *tr = tracer_at(closed_port(), 1);
    tq_arena a;
    tq_arena_init(&a, 4096);
    for (int i = 0; i < 10; i++) {
        tq_trace t = {0};
        tq_trace_begin(&t, tr, "POST", NULL, 0, tq_clock_us(), &a);
        tq_trace_end_span(&t, tq_trace_begin_span(&t, "graphql.parse"), false);
        tq_trace_answered(&t, 200);
        tq_trace_finish(&t, &(tq_trace_request){NULL, "r"});
    }
    uint64_t until = tq_clock_ms() + 5000;
    while (metric(tr, "tenantql_trace_spans_dropped_total{reason=\"export_failed\"}") < 20 && tq_clock_ms() < until)
        usleep(20000);
    CHECK(metric(tr, "tenantql_trace_spans_dropped_total{reason=\"export_failed\"}") == 20);
    CHECK(metric(tr, "tenantql_trace_spans_exported_total") == 0);
    /* queued at stop, with nobody to take them: dropped within the bound */
    tq_trace t = {0};
    tq_trace_begin(&t, tr, "POST", NULL, 0, tq_clock_us(), &a);
    tq_trace_finish(&t, &(tq_trace_request){NULL, "r"});
    uint64_t t0 = tq_clock_ms();
    tq_tracer_stop(tr);
    CHECK(tq_clock_ms() - t0 < TQ_TRACE_STOP_MS + 500);
    tq_arena_free(&a);
    CHECK(metric(NULL, "tenantql_trace_spans_exported_total") == 0); /* tracing off: zeros */
}

int main(void)
{
    test_sample();
    test_endpoint();
    test_sampling();
    test_export();
    test_down();
    return TQ_TEST_REPORT();
}
