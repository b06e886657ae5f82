/*
 * test_linesink.c - util/linesink.c: lines reach the file whole and in order; a reader
 * that takes nothing costs dropped lines, never a blocked writer; close gives up on such
 * a reader within its grace; a line longer than the buffer is dropped; reopening after a
 * rotation writes on into the new file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tenantql/linesink.h"
#include "tq_test.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void test_lines_in_order(void)
{
    char path[] = "/tmp/tq-linesink-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    char err[128];
    tq_linesink *s = tq_linesink_open(path, 1 << 16, err, sizeof(err));
    CHECK(s != NULL);
    char line[64];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(line, sizeof(line), "line %d\n", i);
        while (!tq_linesink_write(s, line, (size_t)n)) /* a 64 KiB buffer may fill: the writer catches up */
            usleep(1000);
    }
    tq_linesink_close(s);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    int expect = 0, got;
    while (fscanf(f, "line %d\n", &got) == 1) {
        CHECK(got == expect);
        expect++;
    }
    CHECK(expect == 1000);
    fclose(f);
    unlink(path);
}

static void test_stuck_reader(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    /* the sink writes to standard output; make that the pipe nobody reads */
    int saved = dup(STDOUT_FILENO);
    dup2(p[1], STDOUT_FILENO);
    char err[128];
    tq_linesink *s = tq_linesink_open("-", 1 << 16, err, sizeof(err));
    CHECK(s != NULL);
    char line[200];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\n';
    double t0 = now_s();
    for (int i = 0; i < 20000; i++) /* 4 MB: far more than the pipe and the buffers hold */
        tq_linesink_write(s, line, sizeof(line));
    CHECK(now_s() - t0 < 1.0); /* never waited for the reader */
    CHECK(tq_linesink_dropped(s) > 0);
    CHECK(tq_linesink_written(s) + tq_linesink_dropped(s) == 20000);
    /* too long for the buffer at all */
    char *big = malloc((1 << 16) + 1);
    memset(big, 'y', (1 << 16) + 1);
    uint64_t before = tq_linesink_dropped(s);
    CHECK(!tq_linesink_write(s, big, (1 << 16) + 1));
    CHECK(tq_linesink_dropped(s) == before + 1);
    free(big);
    double t1 = now_s();
    tq_linesink_close(s);
    double took = now_s() - t1;
    CHECK(took < 5.0); /* the grace (2 s) and a poll interval, not forever */
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(p[0]);
    close(p[1]);
}

/* Reads a whole (small) file into buf; its length, 0 if it is missing. */
static size_t slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

static void test_reopen(void)
{
    char path[] = "/tmp/tq-linesink-XXXXXX", moved[64], buf[256];
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    snprintf(moved, sizeof(moved), "%s.1", path);
    char err[128];
    tq_linesink *s = tq_linesink_open(path, 4096, err, sizeof(err));
    CHECK(s != NULL);
    CHECK(tq_linesink_write(s, "before\n", 7));
    for (int i = 0; i < 100 && slurp(path, buf, sizeof(buf)) == 0; i++)
        usleep(20000);
    CHECK(rename(path, moved) == 0); /* what logrotate does */
    tq_linesink_reopen(s);
    CHECK(tq_linesink_write(s, "after\n", 6));
    tq_linesink_close(s);
    CHECK(slurp(moved, buf, sizeof(buf)) == 7 && strcmp(buf, "before\n") == 0);
    CHECK(slurp(path, buf, sizeof(buf)) == 6 && strcmp(buf, "after\n") == 0);
    unlink(path);
    unlink(moved);
}

static void test_open_fails(void)
{
    char err[128];
    CHECK(tq_linesink_open("/nonexistent-dir/x.log", 1024, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "cannot open /nonexistent-dir/x.log") != NULL);
}

int main(void)
{
    test_lines_in_order();
    test_stuck_reader();
    test_reopen();
    test_open_fails();
    return TQ_TEST_REPORT();
}
