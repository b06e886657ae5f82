/*
 * log.h - one line per event on stderr: time, level, module, message. Thread-safe (one
 * write(2) per line). The level is process-wide and set once at start-up.
 *
 * Lines a client can cause (a refused token, a bad request) go through tq_log_limited:
 * per reason, at most a few lines per window are written; the rest are counted, and once
 * the window is over one line says how many similar lines were suppressed. So anonymous
 * clients cannot choose the size of the log, and the operator still sees every reason.
 */
#ifndef TENANTQL_LOG_H
#define TENANTQL_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum tq_log_level {
    TQ_LOG_DEBUG,
    TQ_LOG_INFO,
    TQ_LOG_WARN,
    TQ_LOG_ERROR,
} tq_log_level;

/* Returns 0, or -1 when name is not one of debug, info, warn, error. */
int tq_log_set_level_name(const char *name);
void tq_log_set_level(tq_log_level level);
int tq_log_enabled(tq_log_level level);
void tq_log(tq_log_level level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define tq_log_debug(mod, ...) (tq_log_enabled(TQ_LOG_DEBUG) ? tq_log(TQ_LOG_DEBUG, mod, __VA_ARGS__) : (void)0)
#define tq_log_info(mod, ...) tq_log(TQ_LOG_INFO, mod, __VA_ARGS__)
#define tq_log_warn(mod, ...) tq_log(TQ_LOG_WARN, mod, __VA_ARGS__)
#define tq_log_error(mod, ...) tq_log(TQ_LOG_ERROR, mod, __VA_ARGS__)

/* ---- rate-limited lines ---- */

#define TQ_LOG_LIMIT_DEFAULT_LINES 10 /* per reason per window */
#define TQ_LOG_LIMIT_DEFAULT_WINDOW_MS 10000
#define TQ_LOG_LIMIT_REASONS 64 /* distinct module+reason pairs counted apart; more share one count */

/* At most `lines` lines per reason per window_ms (lines 0: no limit). Set once at start-up
 * (and by tests); the counts start afresh. */
void tq_log_set_limit(int lines, int window_ms);

/* Like tq_log, for lines a client can cause. `reason` names the kind of event (a few words
 * without the request's details, e.g. "token refused: expired"): lines with the same
 * module and reason share one budget per window, and the "suppressed" line names it. */
void tq_log_limited(tq_log_level level, const char *module, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "N similar suppressed" for every reason whose window is over (all: every reason
 * with suppressed lines, window over or not, e.g. at exit). Called about once a second by
 * whoever runs the process (the server's main thread); any thread. */
void tq_log_flush_suppressed(bool all);

/* Lines suppressed so far, all reasons together (for tests and /metrics). */
uint64_t tq_log_suppressed_total(void);

#endif
