/*
 * log.h - one line per event on stderr: time, level, module, message. Thread-safe (one
 * write(2) per line). The level is process-wide and set once at start-up.
 */
#ifndef TENANTQL_LOG_H
#define TENANTQL_LOG_H

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

#endif
