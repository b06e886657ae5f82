/*
 * tq_trace_cost.c - what tracing costs in CPU, without a server or the noise of a loaded
 * machine's HTTP benchmark (bench/traces gives the whole picture): a request's trace as
 * graphql_handler.c records it - unsampled, and sampled with parse, validate, budget and
 * two statements (7 spans with the root; a cached document is not validated) - timed on the calling thread, then the exporter
 * thread's CPU per span to encode and POST them to a sink (a child process that answers
 * 200). Prints ns per request and per span.
 *
 *   build/tests/tools/tq_trace_cost [requests]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tenantql/clock.h"
#include "tenantql/log.h"
#include "tenantql/trace.h"

static uint64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static uint64_t process_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* The sink: answers each connection's POST with 200 once its body is in. */
static void sink(int fd)
{
    static char buf[1 << 16];
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            _exit(0);
        size_t have = 0;
        long want = -1, head = 0;
        for (;;) {
            ssize_t r = read(c, buf + (have < sizeof(buf) - 1 ? have : 0), sizeof(buf) - 1 - (have < sizeof(buf) - 1 ? have : 0));
            if (r <= 0)
                break;
            if (want < 0) {
                buf[have + (size_t)r] = '\0';
                char *end = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "content-length: ");
                if (end != NULL && cl != NULL) {
                    want = atol(cl + 16);
                    head = end + 4 - buf;
                }
            }
            have += (size_t)r;
            if (want >= 0 && (long)have - head >= want)
                break;
        }
        const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (write(c, ok, sizeof(ok) - 1) < 0)
            _exit(1);
        close(c);
    }
}

static int start_sink(pid_t *pid)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0)
        return -1;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *pid = fork();
    if (*pid == 0)
        sink(fd);
    close(fd);
    return ntohs(a.sin_port);
}

/* One request as graphql_handler.c records it. */
static void one_request(tq_tracer *tr, tq_arena *a)
{
    tq_trace t = {0};
    tq_trace_begin(&t, tr, "POST", NULL, 0, tq_clock_us(), a);
    char tp[TQ_TRACEPARENT_LEN + 1], hex[TQ_TRACE_ID_HEX_SIZE];
    tq_trace_response_header(&t, tp);
    int s = tq_trace_begin_span(&t, "graphql.parse");
    tq_trace_set_cached(&t, s, true);
    tq_trace_end_span(&t, s, false);
    tq_trace_operation(&t, "query", "Point", 5);
    tq_trace_end_span(&t, tq_trace_begin_span(&t, "graphql.budget"), false);
    uint64_t now = tq_clock_us();
    tq_trace_statement(&t, "user_status", now, now + 5, now + 80, false);
    tq_trace_statement(&t, "user_by_id", now + 90, now + 95, now + 180, false);
    tq_trace_answered(&t, 200);
    tq_trace_id_hex(&t, hex); /* the access log's */
    tq_trace_finish(&t, &(tq_trace_request){"acme", "0a1b2c3d-42"});
}

static long metric(tq_tracer *tr, const char *name)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_tracer_write_metrics(tr, &b);
    char line[128];
    snprintf(line, sizeof(line), "\n%s ", name);
    const char *at = strstr(tq_strbuf_cstr(&b), line);
    long v = at ? atol(at + strlen(line)) : -1;
    tq_strbuf_free(&b);
    return v;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    tq_log_set_level(TQ_LOG_WARN);
    pid_t sink_pid = 0;
    int port = start_sink(&sink_pid);
    char url[64], err[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", port);
    tq_arena a;
    tq_arena_init(&a, 8192);

    tq_tracer *off = tq_tracer_start(&(tq_tracer_config){url, 0}, err, sizeof(err));
    uint64_t t0 = thread_ns();
    for (long i = 0; i < n; i++)
        one_request(off, &a);
    uint64_t unsampled = thread_ns() - t0;
    tq_tracer_stop(off);

    tq_tracer *on = tq_tracer_start(&(tq_tracer_config){url, 1}, err, sizeof(err));
    uint64_t worker = 0, p0 = process_ns();
    long done = 0, spans = 0;
    while (done < n) {
        /* in rounds the queue holds: what a drop saved would flatter the exporter */
        uint64_t w0 = thread_ns();
        for (int i = 0; i < 1000 && done < n; i++, done++) {
            one_request(on, &a);
            if ((done & 127) == 0) {
                tq_arena_free(&a); /* a request's arena ends with it */
                tq_arena_init(&a, 8192);
            }
        }
        worker += thread_ns() - w0;
        spans = done * 7;
        while (metric(on, "tenantql_trace_spans_exported_total") +
                   metric(on, "tenantql_trace_spans_dropped_total{reason=\"queue_full\"}") +
                   metric(on, "tenantql_trace_spans_dropped_total{reason=\"export_failed\"}") <
               spans - 4 * TQ_TRACE_BATCH_SPANS)
            usleep(1000);
    }
    tq_tracer_stop(on); /* sends the rest */
    uint64_t exporter = process_ns() - p0 - worker;
    kill(sink_pid, SIGTERM);
    waitpid(sink_pid, NULL, 0);
    tq_arena_free(&a);
    printf("unsampled request: %.0f ns on its worker\n", (double)unsampled / n);
    printf("sampled request (7 spans): %.0f ns on its worker; exporter thread %.0f ns per request (%.0f ns per "
           "span, encoding and POSTing); %ld requests\n",
           (double)worker / n, (double)exporter / n, (double)exporter / (n * 7.0), n);
    return 0;
}
