/*
 * log.c - line-oriented logging to stderr (see log.h). Each line is formatted into a
 * stack buffer and written with one write(2), so lines from worker threads never
 * interleave.
 *
 * Rate-limited lines keep a small table of module+reason pairs, each with the start of its
 * window, the lines written in it and the lines suppressed. The table is bounded
 * (TQ_LOG_LIMIT_REASONS; reasons are fixed texts chosen by the code, never by a client, so
 * it is not expected to fill; if it does, the newest reasons share its last entry).
 */
#include "tenantql/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tenantql/clock.h"

#define LINE_MAX_BYTES 2048

/* set at start-up and by a SIGHUP reload while every thread logs: atomic (relaxed: a
 * line logged at the old level just after a change does no harm) */
static _Atomic int min_level_value = TQ_LOG_INFO;
#define min_level ((tq_log_level)atomic_load_explicit(&min_level_value, memory_order_relaxed))

static void store_level(tq_log_level level)
{
    atomic_store_explicit(&min_level_value, (int)level, memory_order_relaxed);
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int tq_log_set_level_name(const char *name)
{
    for (int i = 0; i <= TQ_LOG_ERROR; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            store_level((tq_log_level)i);
            return 0;
        }
    }
    return -1;
}

void tq_log_set_level(tq_log_level level)
{
    store_level(level);
}

int tq_log_enabled(tq_log_level level)
{
    return level >= min_level;
}

static void vlog(tq_log_level level, const char *module, const char *fmt, va_list ap)
{
    char line[LINE_MAX_BYTES];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
                     level_names[level], module);
    if (n < 0 || (size_t)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    size_t room = sizeof(line) - (size_t)n - 1; /* one byte kept for the newline */
    int m = vsnprintf(line + n, room, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m < room ? (size_t)m : room - 1);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void tq_log(tq_log_level level, const char *module, const char *fmt, ...)
{
    if (level < min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, module, fmt, ap);
    va_end(ap);
}

/* ---- rate-limited lines ---- */

typedef struct limit_entry {
    char module[24];
    char reason[80];
    tq_log_level level;       /* of the first line: the "suppressed" line's level */
    uint64_t window_start;    /* tq_clock_ms */
    unsigned lines;           /* written in this window */
    unsigned long suppressed; /* in this window */
} limit_entry;

/* A "suppressed" line to write once the table's lock is released. */
typedef struct summary {
    char module[24];
    char reason[80];
    tq_log_level level;
    unsigned long suppressed;
    uint64_t elapsed_ms;
} summary;

static struct {
    pthread_mutex_t lock; /* the entries */
    int lines;            /* per reason per window; 0: no limit */
    uint64_t window_ms;
    limit_entry entries[TQ_LOG_LIMIT_REASONS];
    int n;
    _Atomic uint64_t suppressed_total;
} limits = {.lock = PTHREAD_MUTEX_INITIALIZER,
            .lines = TQ_LOG_LIMIT_DEFAULT_LINES,
            .window_ms = TQ_LOG_LIMIT_DEFAULT_WINDOW_MS};

void tq_log_set_limit(int lines, int window_ms)
{
    pthread_mutex_lock(&limits.lock);
    limits.lines = lines < 0 ? 0 : lines;
    limits.window_ms = window_ms > 0 ? (uint64_t)window_ms : 1;
    limits.n = 0;
    pthread_mutex_unlock(&limits.lock);
}

uint64_t tq_log_suppressed_total(void)
{
    return atomic_load(&limits.suppressed_total);
}

static void write_summary(const summary *s)
{
    if (s->suppressed == 0 || s->level < min_level)
        return;
    tq_log(s->level, s->module,
           "%lu similar line(s) suppressed in the last %llu s: %s (at most %d a reason per %llu s)", s->suppressed,
           (unsigned long long)((s->elapsed_ms + 999) / 1000), s->reason, limits.lines,
           (unsigned long long)(limits.window_ms / 1000 ? limits.window_ms / 1000 : 1));
}

/* With the lock held: closes e's window at `now`, moving its count into out. */
static void close_window_locked(limit_entry *e, uint64_t now, summary *out)
{
    memcpy(out->module, e->module, sizeof(out->module));
    memcpy(out->reason, e->reason, sizeof(out->reason));
    out->level = e->level;
    out->suppressed = e->suppressed;
    out->elapsed_ms = now - e->window_start;
    e->window_start = now;
    e->lines = 0;
    e->suppressed = 0;
}

/* With the lock held: the entry of module+reason, made on first use; when the table is
 * full, its last entry (which then counts for every newer reason). */
static limit_entry *entry_locked(tq_log_level level, const char *module, const char *reason, uint64_t now)
{
    for (int i = 0; i < limits.n; i++) {
        limit_entry *e = &limits.entries[i];
        if (strncmp(e->module, module, sizeof(e->module) - 1) == 0 &&
            strncmp(e->reason, reason, sizeof(e->reason) - 1) == 0)
            return e;
    }
    if (limits.n == TQ_LOG_LIMIT_REASONS) {
        limit_entry *last = &limits.entries[TQ_LOG_LIMIT_REASONS - 1];
        snprintf(last->reason, sizeof(last->reason), "other reasons (more than %d)", TQ_LOG_LIMIT_REASONS - 1);
        return last;
    }
    limit_entry *e = &limits.entries[limits.n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->module, sizeof(e->module), "%s", module);
    snprintf(e->reason, sizeof(e->reason), "%s", reason);
    e->level = level;
    e->window_start = now;
    return e;
}

void tq_log_limited(tq_log_level level, const char *module, const char *reason, const char *fmt, ...)
{
    if (level < min_level)
        return;
    summary done = {.suppressed = 0};
    uint64_t now = tq_clock_ms();
    pthread_mutex_lock(&limits.lock);
    bool write_it = limits.lines == 0;
    if (!write_it) {
        limit_entry *e = entry_locked(level, module, reason, now);
        if (now - e->window_start >= limits.window_ms)
            close_window_locked(e, now, &done);
        write_it = e->lines < (unsigned)limits.lines;
        if (write_it)
            e->lines++;
        else
            e->suppressed++;
    }
    pthread_mutex_unlock(&limits.lock);
    write_summary(&done);
    if (!write_it) {
        atomic_fetch_add(&limits.suppressed_total, 1);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vlog(level, module, fmt, ap);
    va_end(ap);
}

void tq_log_flush_suppressed(bool all)
{
    summary out[TQ_LOG_LIMIT_REASONS];
    int nout = 0;
    uint64_t now = tq_clock_ms();
    pthread_mutex_lock(&limits.lock);
    for (int i = 0; i < limits.n; i++) {
        limit_entry *e = &limits.entries[i];
        if (e->suppressed > 0 && (all || now - e->window_start >= limits.window_ms))
            close_window_locked(e, now, &out[nout++]);
    }
    pthread_mutex_unlock(&limits.lock);
    for (int i = 0; i < nout; i++)
        write_summary(&out[i]);
}
