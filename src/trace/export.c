/*
 * export.c - the tracer: a bounded queue of finished requests' spans, and a thread of its
 * own that batches them (TQ_TRACE_BATCH_SPANS, or whatever is there after
 * TQ_TRACE_FLUSH_MS) and POSTs each batch to the collector with blocking sockets under a
 * deadline (TQ_TRACE_TIMEOUT_MS for connecting, sending and the answer's status line).
 *
 * Workers take the queue's lock only to append (the exporter holds it only to detach a
 * batch, never across the network), so a slow or dead collector costs them nothing: the
 * queue fills, and what does not fit is dropped and counted. A failed batch is dropped
 * too (no retry: the next batch is already coming). The exporter logs when the collector
 * stops answering and when it answers again, not every failure.
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "tenantql/clock.h"
#include "tenantql/log.h"
#include "tenantql/thread.h"

#define MAX_HOST 255
#define MAX_PATH 1024

struct tq_tracer {
    char host[MAX_HOST + 1];
    char port[8];
    char path[MAX_PATH + 1];
    uint64_t threshold;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* guarded by lock */
    trace_entry *head, **tail;
    uint64_t queued;            /* spans in the queue */
    bool stopping;
    uint64_t stop_by_ms;        /* tq_clock_ms: shutdown's bound */
    /* the exporter thread's */
    bool down;                  /* the last batch failed (logged once until one succeeds) */
    atomic_ulong exported;
    atomic_ulong dropped[TRACE_DROP_REASONS_];
};

static const char *const drop_names[TRACE_DROP_REASONS_] = {"queue_full", "export_failed", "span_limit", "shutdown"};

/* ---- configuration ---- */

int tq_trace_parse_sample(const char *text, double *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double v = text != NULL && ((*text >= '0' && *text <= '9') || *text == '.') ? strtod(text, &end) : NAN;
    if (isnan(v) || errno != 0 || *end != '\0' || v < 0 || v > 1) {
        snprintf(err, errlen, "--trace-sample must be a ratio from 0 to 1 (0.01 records one trace in 100), got \"%s\"",
                 text ? text : "");
        return -1;
    }
    *out = v;
    return 0;
}

/* Splits http://HOST[:PORT][/PATH] into tr's host, port and path (default /v1/traces). */
static int parse_endpoint(const char *url, char *host, char *port, char *path, char *err, size_t errlen)
{
    const char *p = url != NULL && strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (p == NULL) {
        snprintf(err, errlen, "--otlp-endpoint must be an http:// URL (OTLP over HTTP, no TLS), got \"%s\"",
                 url ? url : "");
        return -1;
    }
    const char *host_end;
    if (*p == '[') { /* [IPv6] */
        host_end = strchr(p, ']');
        if (host_end == NULL)
            goto bad;
        p++;
    } else {
        host_end = p + strcspn(p, ":/?#");
    }
    size_t hl = (size_t)(host_end - p);
    if (hl == 0 || hl > MAX_HOST)
        goto bad;
    memcpy(host, p, hl);
    host[hl] = '\0';
    p = host_end + (*host_end == ']');
    strcpy(port, "80");
    if (*p == ':') {
        size_t pl = strspn(p + 1, "0123456789");
        long n = pl > 0 && pl <= 5 ? strtol(p + 1, NULL, 10) : 0;
        if (n < 1 || n > 65535)
            goto bad;
        snprintf(port, 8, "%ld", n);
        p += 1 + pl;
    }
    if (*p == '\0')
        p = "/v1/traces";
    if (*p != '/' || strlen(p) > MAX_PATH || strpbrk(p, " \r\n#") != NULL)
        goto bad;
    strcpy(path, p);
    return 0;
bad:
    snprintf(err, errlen, "--otlp-endpoint: cannot read \"%s\" as http://HOST[:PORT][/PATH]", url);
    return -1;
}

int tq_trace_check_endpoint(const char *url, char *err, size_t errlen)
{
    char host[MAX_HOST + 1], port[8], path[MAX_PATH + 1];
    return parse_endpoint(url, host, port, path, err, errlen);
}

uint64_t trace_threshold(const tq_tracer *tr)
{
    return tr->threshold;
}

/* ---- the queue ---- */

void trace_count_dropped(tq_tracer *tr, trace_drop_reason why, uint64_t spans)
{
    atomic_fetch_add_explicit(&tr->dropped[why], spans, memory_order_relaxed);
}

void trace_enqueue(tq_tracer *tr, trace_entry *e)
{
    uint32_t n = trace_entry_spans(e);
    pthread_mutex_lock(&tr->lock);
    bool room = !tr->stopping && tr->queued + n <= TQ_TRACE_QUEUE_SPANS;
    if (room) {
        *tr->tail = e;
        tr->tail = &e->next;
        bool full = tr->queued < TQ_TRACE_BATCH_SPANS && tr->queued + n >= TQ_TRACE_BATCH_SPANS;
        tr->queued += n;
        if (full)
            pthread_cond_signal(&tr->wake);
    }
    pthread_mutex_unlock(&tr->lock);
    if (!room) {
        trace_count_dropped(tr, TRACE_DROP_QUEUE_FULL, n);
        free(e);
    }
}

/* Detaches whole entries from the queue's head up to a batch's spans (at least one
 * entry). Under the lock. */
static trace_entry *take_batch(tq_tracer *tr, uint64_t *spans)
{
    trace_entry *first = tr->head, **link = &tr->head;
    *spans = 0;
    while (*link != NULL && (*spans == 0 || *spans + trace_entry_spans(*link) <= TQ_TRACE_BATCH_SPANS)) {
        *spans += trace_entry_spans(*link);
        link = &(*link)->next;
    }
    tr->head = *link;
    *link = NULL;
    if (tr->head == NULL)
        tr->tail = &tr->head;
    tr->queued -= *spans;
    return first;
}

static void free_list(trace_entry *e)
{
    while (e != NULL) {
        trace_entry *next = e->next;
        free(e);
        e = next;
    }
}

/* ---- one POST ---- */

/* Milliseconds left until deadline (tq_clock_ms), at least 0. */
static int left_ms(uint64_t deadline)
{
    uint64_t now = tq_clock_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
    struct pollfd p = {fd, events, 0};
    int rc;
    do
        rc = poll(&p, 1, left_ms(deadline));
    while (rc < 0 && errno == EINTR);
    return rc > 0 ? 0 : -1;
}

static int connect_to(tq_tracer *tr, uint64_t deadline, char *why, size_t whylen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(tr->host, tr->port, &hints, &res);
    if (rc != 0) {
        snprintf(why, whylen, "cannot resolve %s: %s", tr->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    snprintf(why, whylen, "cannot connect to %s:%s", tr->host, tr->port);
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int err = 0;
        socklen_t len = sizeof(err);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
            (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 0 ||
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
            snprintf(why, whylen, "cannot connect to %s:%s: %s", tr->host, tr->port,
                     err != 0 ? strerror(err) : errno == EINPROGRESS ? "timed out" : strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, deadline) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* The answer's status code (from "HTTP/1.x NNN"), or -1. */
static int read_status(int fd, uint64_t deadline)
{
    char buf[64];
    size_t have = 0;
    while (have < 12) {
        if (wait_fd(fd, POLLIN, deadline) != 0)
            return -1;
        ssize_t r = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    buf[have] = '\0';
    if (strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return -1;
    return atoi(buf + 9);
}

/* POSTs body; 0 when the collector answered 2xx, else -1 with why. */
static int post(tq_tracer *tr, const char *body, size_t len, uint64_t deadline, char *why, size_t whylen)
{
    int fd = connect_to(tr, deadline, why, whylen);
    if (fd < 0)
        return -1;
    char head[MAX_HOST + MAX_PATH + 256];
    int hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\nUser-Agent: tenantql\r\n\r\n",
                      tr->path, strchr(tr->host, ':') ? "[" : "", tr->host, strchr(tr->host, ':') ? "]" : "", tr->port,
                      len);
    int status = -1;
    if (send_all(fd, head, (size_t)hl, deadline) == 0 && send_all(fd, body, len, deadline) == 0)
        status = read_status(fd, deadline);
    close(fd);
    if (status >= 200 && status < 300)
        return 0;
    if (status > 0)
        snprintf(why, whylen, "the collector at %s:%s%s answered %d", tr->host, tr->port, tr->path, status);
    else
        snprintf(why, whylen, "no answer from the collector at %s:%s within %d ms", tr->host, tr->port,
                 TQ_TRACE_TIMEOUT_MS);
    return -1;
}

/* Sends one batch (spans counted by the caller), counts and logs its fate. */
static void export_batch(tq_tracer *tr, trace_entry *list, uint64_t spans, uint64_t deadline)
{
    tq_strbuf body = TQ_STRBUF_INIT;
    trace_encode(list, &body);
    char why[512];
    if (post(tr, body.data, body.len, deadline, why, sizeof(why)) == 0) {
        atomic_fetch_add_explicit(&tr->exported, spans, memory_order_relaxed);
        if (tr->down)
            tq_log_info("trace", "the collector answers again: exporting spans");
        tr->down = false;
    } else {
        trace_count_dropped(tr, TRACE_DROP_EXPORT_FAILED, spans);
        if (!tr->down)
            tq_log_warn("trace", "%s: spans are dropped until it answers (tenantql_trace_spans_dropped_total)", why);
        tr->down = true;
    }
    tq_strbuf_free(&body);
}

/* ---- the exporter thread ---- */

static void wait_until(tq_tracer *tr, uint64_t deadline_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t wait = (uint64_t)left_ms(deadline_ms);
    ts.tv_sec += (time_t)(wait / 1000);
    ts.tv_nsec += (long)(wait % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&tr->wake, &tr->lock, &ts);
}

static void *exporter_main(void *arg)
{
    tq_tracer *tr = arg;
    pthread_mutex_lock(&tr->lock);
    for (;;) {
        uint64_t flush_at = tq_clock_ms() + TQ_TRACE_FLUSH_MS;
        while (!tr->stopping && tr->queued < TQ_TRACE_BATCH_SPANS && tq_clock_ms() < flush_at)
            wait_until(tr, flush_at);
        if (tr->head == NULL) {
            if (tr->stopping)
                break;
            continue;
        }
        if (tr->stopping && tq_clock_ms() >= tr->stop_by_ms) {
            trace_count_dropped(tr, TRACE_DROP_SHUTDOWN, tr->queued);
            free_list(tr->head);
            tr->head = NULL;
            tr->tail = &tr->head;
            tr->queued = 0;
            break;
        }
        uint64_t spans;
        trace_entry *batch = take_batch(tr, &spans);
        uint64_t deadline = tq_clock_ms() + TQ_TRACE_TIMEOUT_MS;
        if (tr->stopping && deadline > tr->stop_by_ms)
            deadline = tr->stop_by_ms;
        pthread_mutex_unlock(&tr->lock);
        export_batch(tr, batch, spans, deadline);
        free_list(batch);
        pthread_mutex_lock(&tr->lock);
    }
    pthread_mutex_unlock(&tr->lock);
    return NULL;
}

tq_tracer *tq_tracer_start(const tq_tracer_config *cfg, char *err, size_t errlen)
{
    tq_tracer *tr = calloc(1, sizeof(*tr));
    if (tr == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (parse_endpoint(cfg->endpoint, tr->host, tr->port, tr->path, err, errlen) != 0) {
        free(tr);
        return NULL;
    }
    /* sampled when the id's 56 random low bits fall below ratio x 2^56 */
    double s = cfg->sample < 0 ? 0 : cfg->sample > 1 ? 1 : cfg->sample;
    tr->threshold = (uint64_t)ldexp(s, 56);
    tr->tail = &tr->head;
    pthread_mutex_init(&tr->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&tr->wake, &ca);
    pthread_condattr_destroy(&ca);
    int rc = tq_thread_start(&tr->thread, exporter_main, tr); /* signals are the main thread's */
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the trace exporter thread: %s", strerror(rc));
        pthread_cond_destroy(&tr->wake);
        pthread_mutex_destroy(&tr->lock);
        free(tr);
        return NULL;
    }
    tq_log_info("trace", "exporting traces to http://%s:%s%s, sampling %g of new traces (parent-based)", tr->host,
                tr->port, tr->path, s);
    return tr;
}

void tq_tracer_stop(tq_tracer *tr)
{
    if (tr == NULL)
        return;
    pthread_mutex_lock(&tr->lock);
    tr->stopping = true;
    tr->stop_by_ms = tq_clock_ms() + TQ_TRACE_STOP_MS;
    pthread_cond_signal(&tr->wake);
    pthread_mutex_unlock(&tr->lock);
    pthread_join(tr->thread, NULL);
    free_list(tr->head); /* none: the thread leaves only an empty queue */
    pthread_cond_destroy(&tr->wake);
    pthread_mutex_destroy(&tr->lock);
    unsigned long dropped = 0;
    for (int i = 0; i < TRACE_DROP_REASONS_; i++)
        dropped += atomic_load(&tr->dropped[i]);
    tq_log_info("trace", "exporter stopped: %lu span(s) exported, %lu dropped", atomic_load(&tr->exported), dropped);
    free(tr);
}

void tq_tracer_write_metrics(tq_tracer *tr, tq_strbuf *b)
{
    tq_strbuf_lit(b, "# HELP tenantql_trace_spans_exported_total Spans the OTLP collector accepted (--otlp-endpoint).\n"
                     "# TYPE tenantql_trace_spans_exported_total counter\n");
    tq_strbuf_printf(b, "tenantql_trace_spans_exported_total %lu\n", tr ? atomic_load(&tr->exported) : 0UL);
    tq_strbuf_lit(b, "# HELP tenantql_trace_spans_dropped_total Spans not exported, by reason (queue_full, "
                     "export_failed, span_limit, shutdown).\n"
                     "# TYPE tenantql_trace_spans_dropped_total counter\n");
    for (int i = 0; i < TRACE_DROP_REASONS_; i++)
        tq_strbuf_printf(b, "tenantql_trace_spans_dropped_total{reason=\"%s\"} %lu\n", drop_names[i],
                         tr ? atomic_load(&tr->dropped[i]) : 0UL);
}
