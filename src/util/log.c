/*
 * log.c - line-oriented logging to stderr (see log.h). Each line is formatted into a
 * stack buffer and written with one write(2), so lines from worker threads never
 * interleave.
 */
#include "tenantql/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* written once before the worker threads start, read-only afterwards */
static tq_log_level min_level = TQ_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int tq_log_set_level_name(const char *name)
{
    for (int i = 0; i <= TQ_LOG_ERROR; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            min_level = (tq_log_level)i;
            return 0;
        }
    }
    return -1;
}

void tq_log_set_level(tq_log_level level)
{
    min_level = level;
}

int tq_log_enabled(tq_log_level level)
{
    return level >= min_level;
}

void tq_log(tq_log_level level, const char *module, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
                     level_names[level], module);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : ((size_t)m < sizeof(line) - (size_t)n - 1 ? (size_t)m : sizeof(line) - (size_t)n - 2));
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
