/*
 * test_log.c - util/log.c: the line format, long lines cut with their newline kept, and
 * rate-limited lines (a budget per module and reason per window, the "N similar
 * suppressed" line once the window is over or on a final flush, the bounded table of
 * reasons, no limit at 0). stderr goes to a temporary file the test reads back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tenantql/log.h"
#include "tq_test.h"

static FILE *captured;
static int saved_stderr;

static void capture_start(void)
{
    fflush(stderr);
    captured = tmpfile();
    saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(captured), STDERR_FILENO);
}

/* Stops capturing; returns what was written (malloc'd). */
static char *capture_end(void)
{
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    off_t n = lseek(fileno(captured), 0, SEEK_END);
    if (n < 0)
        n = 0;
    char *text = calloc(1, (size_t)n + 1);
    if (pread(fileno(captured), text, (size_t)n, 0) != n)
        text[0] = '\0';
    fclose(captured);
    return text;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void test_format(void)
{
    capture_start();
    tq_log_info("mod", "hello %d", 42);
    tq_log_debug("mod", "not shown at info");
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tq_log_warn("big", "%s", big);
    char *text = capture_end();
    CHECK(count(text, "\n") == 2);
    CHECK(strstr(text, " info  mod: hello 42\n") != NULL);
    CHECK(strstr(text, "not shown") == NULL);
    const char *second = strchr(text, '\n') + 1;
    CHECK(strstr(second, " warn  big: xxx") != NULL);
    CHECK(strlen(second) <= 2048 && second[strlen(second) - 1] == '\n');
    /* 2026-01-02T03:04:05.678Z */
    CHECK(strlen(text) > 24 && text[4] == '-' && text[10] == 'T' && text[23] == 'Z');
    free(text);
}

static void test_limited(void)
{
    tq_log_set_limit(3, 300);
    uint64_t before = tq_log_suppressed_total();
    capture_start();
    for (int i = 0; i < 100; i++)
        tq_log_limited(TQ_LOG_INFO, "auth", "token refused: expired", "request %d: token refused: expired", i);
    for (int i = 0; i < 5; i++)
        tq_log_limited(TQ_LOG_INFO, "auth", "token refused: bad signature", "request %d: token refused: bad", i);
    tq_log_limited(TQ_LOG_INFO, "http", "token refused: expired", "another module, another budget");
    tq_log_flush_suppressed(false); /* windows not over: nothing yet */
    char *text = capture_end();
    CHECK(count(text, "token refused: expired\n") == 3);
    CHECK(strstr(text, "request 2: token refused: expired") && !strstr(text, "request 3: token refused: expired"));
    CHECK(count(text, "token refused: bad\n") == 3);
    CHECK(strstr(text, "another module") != NULL);
    CHECK(strstr(text, "suppressed") == NULL);
    CHECK(tq_log_suppressed_total() - before == 99);
    free(text);

    sleep_ms(350);
    capture_start();
    tq_log_flush_suppressed(false);
    tq_log_flush_suppressed(false); /* said once */
    text = capture_end();
    CHECK(count(text, "\n") == 2);
    CHECK(strstr(text, " info  auth: 97 similar line(s) suppressed in the last 1 s: token refused: expired") != NULL);
    CHECK(strstr(text, "auth: 2 similar line(s) suppressed in the last 1 s: token refused: bad signature") != NULL);
    free(text);

    /* a new window: the budget is back */
    capture_start();
    for (int i = 0; i < 4; i++)
        tq_log_limited(TQ_LOG_INFO, "auth", "token refused: expired", "again %d", i);
    tq_log_flush_suppressed(true); /* at exit: what is counted is said, window over or not */
    text = capture_end();
    CHECK(count(text, "again ") == 3);
    CHECK(strstr(text, "1 similar line(s) suppressed") != NULL);
    free(text);

    /* a line that arrives after its window ended says what its window suppressed first */
    capture_start();
    for (int i = 0; i < 5; i++)
        tq_log_limited(TQ_LOG_WARN, "auth", "late", "late %d", i);
    sleep_ms(350);
    tq_log_limited(TQ_LOG_WARN, "auth", "late", "late after");
    text = capture_end();
    const char *summary = strstr(text, "2 similar line(s) suppressed");
    const char *after = strstr(text, "late after");
    CHECK(summary != NULL && after != NULL && summary < after);
    CHECK(strstr(text, " warn  auth: 2 similar") != NULL);
    free(text);
}

static void test_bounded_table(void)
{
    tq_log_set_limit(1, 60000);
    capture_start();
    char reason[32];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 200; i++) {
            snprintf(reason, sizeof(reason), "reason %d", i);
            tq_log_limited(TQ_LOG_INFO, "t", reason, "%s", reason);
        }
    tq_log_flush_suppressed(true);
    char *text = capture_end();
    /* 63 reasons of their own, one line each; the rest share the last entry's budget */
    CHECK(count(text, "t: reason ") == TQ_LOG_LIMIT_REASONS);
    CHECK(strstr(text, "suppressed in the last") != NULL);
    CHECK(strstr(text, "other reasons (more than 63)") != NULL);
    free(text);
}

static void test_no_limit(void)
{
    tq_log_set_limit(0, 1000);
    capture_start();
    for (int i = 0; i < 50; i++)
        tq_log_limited(TQ_LOG_INFO, "auth", "x", "line %d", i);
    tq_log_flush_suppressed(true);
    char *text = capture_end();
    CHECK(count(text, "\n") == 50);
    free(text);
    /* below the level: neither written nor counted */
    tq_log_set_limit(1, 1000);
    uint64_t before = tq_log_suppressed_total();
    for (int i = 0; i < 10; i++)
        tq_log_limited(TQ_LOG_DEBUG, "auth", "x", "debug %d", i);
    CHECK(tq_log_suppressed_total() == before);
}

int main(void)
{
    test_format();
    test_limited();
    test_bounded_table();
    test_no_limit();
    return TQ_TEST_REPORT();
}
