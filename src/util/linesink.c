/*
 * linesink.c - a bounded line buffer drained by a writer thread (see linesink.h).
 *
 * Two buffers: producers fill `fill` under the lock; the writer takes it (swapping in its
 * own, emptied one) and writes with the lock released, so a write(2) that blocks holds up
 * nobody but the writer. The writer wakes every FLUSH_MS, or early when the buffer is
 * half full: a few large writes a second rather than one per line.
 */
#include "tenantql/linesink.h"
#include "tenantql/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_MS 200
/* At close, how long the writer keeps trying a reader that takes nothing (a full pipe):
 * the server's shutdown must not wait on whoever reads its standard output. */
#define CLOSE_GRACE_MS 2000
/* A pipe with room for one write of PIPE_BUF polls writable; writing no more than that
 * at once never blocks on it, so the writer can notice that it is asked to stop. */
#define CHUNK 4096

typedef struct line_buf {
    char *data;
    size_t len;
} line_buf;

struct tq_linesink {
    int fd;
    bool own_fd;
    char *path;                 /* for reopening; NULL: standard output */
    atomic_bool reopen;         /* tq_linesink_reopen asked; the writer does it */
    size_t capacity;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    line_buf fill, drain;       /* fill: under lock; drain: the writer's */
    bool stopping;              /* under lock */
    atomic_bool giving_up;      /* set once close's grace has passed: unwritten bytes are lost */
    atomic_ullong dropped, written;
    bool write_failed;          /* reported once */
};

/* Writes all of buf, retrying short writes; gives up on an error (a closed pipe), or when
 * close's grace has passed and the reader still takes nothing. */
static void write_all(tq_linesink *s, const char *buf, size_t len)
{
    while (len > 0) {
        struct pollfd p = {.fd = s->fd, .events = POLLOUT};
        int ready = poll(&p, 1, FLUSH_MS);
        if (ready == 0 || (ready < 0 && errno == EINTR)) {
            if (atomic_load(&s->giving_up))
                return;
            continue;
        }
        ssize_t n = write(s->fd, buf, len < CHUNK ? len : CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!s->write_failed) {
                s->write_failed = true;
                char msg[160];
                int m = snprintf(msg, sizeof(msg), "linesink: write failed (%s); lines are lost until it works\n",
                                 strerror(errno));
                if (write(STDERR_FILENO, msg, (size_t)m) < 0) { /* nowhere else to tell */
                }
            }
            return;
        }
        buf += n;
        len -= (size_t)n;
        s->write_failed = false;
    }
}

/* Opens the file again (after rotation moved it away); the old one stays if that fails. */
static void reopen_file(tq_linesink *s)
{
    int fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        char msg[512];
        int m = snprintf(msg, sizeof(msg), "linesink: cannot reopen %s (%s); still writing to the old file\n", s->path,
                         strerror(errno));
        if (write(STDERR_FILENO, msg, (size_t)m) < 0) { /* nowhere else to tell */
        }
        return;
    }
    close(s->fd);
    s->fd = fd;
}

static void *writer_main(void *arg)
{
    tq_linesink *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        /* until FLUSH_MS pass with something to write, the buffer is half full, or close */
        while (!s->stopping && s->fill.len < s->capacity / 2) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += FLUSH_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&s->wake, &s->lock, &until) != 0 && s->fill.len > 0)
                break;
        }
        if (s->stopping && (s->fill.len == 0 || atomic_load(&s->giving_up)))
            break;
        line_buf full = s->fill;
        s->fill = s->drain;
        s->fill.len = 0;
        pthread_mutex_unlock(&s->lock);
        if (s->own_fd && atomic_exchange(&s->reopen, false))
            reopen_file(s);
        write_all(s, full.data, full.len);
        pthread_mutex_lock(&s->lock);
        s->drain = full;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

tq_linesink *tq_linesink_open(const char *path, size_t capacity, char *err, size_t errlen)
{
    tq_linesink *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->fill.data = malloc(capacity)) == NULL || (s->drain.data = malloc(capacity)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->capacity = capacity;
    if (strcmp(path, "-") == 0) {
        s->fd = STDOUT_FILENO;
    } else {
        s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (s->fd < 0) {
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
            goto fail;
        }
        s->own_fd = true;
        if ((s->path = strdup(path)) == NULL) {
            close(s->fd);
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    pthread_mutex_init(&s->lock, NULL);
    /* the flush interval on the monotonic clock: a wall clock set back must not stall it */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (tq_thread_start(&s->thread, writer_main, s) != 0) {
        snprintf(err, errlen, "cannot start the log writer thread");
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->wake);
        if (s->own_fd)
            close(s->fd);
        free(s->path);
        goto fail;
    }
    return s;
fail:
    if (s != NULL) {
        free(s->fill.data);
        free(s->drain.data);
    }
    free(s);
    return NULL;
}

bool tq_linesink_write(tq_linesink *s, const char *line, size_t len)
{
    pthread_mutex_lock(&s->lock);
    bool fits = len <= s->capacity - s->fill.len;
    if (fits) {
        size_t before = s->fill.len;
        memcpy(s->fill.data + s->fill.len, line, len);
        s->fill.len += len;
        /* the writer wakes by itself every FLUSH_MS; waking it for each line would cost a
         * futex wake and a write(2) per line: only a half-full buffer calls it early */
        if (before < s->capacity / 2 && s->fill.len >= s->capacity / 2)
            pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add_explicit(fits ? &s->written : &s->dropped, 1, memory_order_relaxed);
    return fits;
}

uint64_t tq_linesink_dropped(const tq_linesink *s)
{
    return atomic_load_explicit(&s->dropped, memory_order_relaxed);
}

uint64_t tq_linesink_written(const tq_linesink *s)
{
    return atomic_load_explicit(&s->written, memory_order_relaxed);
}

void tq_linesink_close(tq_linesink *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    /* the writer normally ends at once; one stuck on a reader is told to give up */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CLOSE_GRACE_MS / 1000;
    if (pthread_timedjoin_np(s->thread, NULL, &until) != 0) {
        atomic_store(&s->giving_up, true);
        pthread_join(s->thread, NULL);
    }
    if (s->own_fd)
        close(s->fd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s->fill.data);
    free(s->drain.data);
    free(s->path);
    free(s);
}

void tq_linesink_reopen(tq_linesink *s)
{
    if (s != NULL)
        atomic_store(&s->reopen, true);
}
