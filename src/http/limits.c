/*
 * limits.c - the execution budget as the server applies it: the limits from the
 * configuration (--max-depth, --max-fields, --max-aliases, --max-cost), the verdict on an
 * operation's measure in `enforce` or `measure` mode, the QUERY_TOO_COMPLEX error clients
 * get, and the counters /metrics shows (tenantql_limit_exceeded_total). The answer cap
 * (--max-response-bytes) is the executor's; it is counted here too.
 */
#include <inttypes.h>
#include <stdio.h>

#include "internal.h"
#include "tenantql/json_writer.h"
#include "tenantql/log.h"

static const char *const limit_names[TQ_HTTP_LIMITS] = {"depth", "fields", "aliases", "cost", "response_bytes"};

static uint64_t maximum(const tq_live *c, tq_budget_limit l)
{
    switch (l) {
    case TQ_LIMIT_DEPTH:
        return (uint64_t)c->max_depth;
    case TQ_LIMIT_FIELDS:
        return (uint64_t)c->max_fields;
    case TQ_LIMIT_ALIASES:
        return (uint64_t)c->max_aliases;
    default:
        return (uint64_t)c->max_cost;
    }
}

static void count(tq_server *s, const tq_live *c, int limit)
{
    atomic_fetch_add(&s->limits_exceeded[limit][c->limits], 1);
}

/* What the client reads: one error, the limit, its maximum and the measure. */
static void write_refusal(tq_strbuf *b, tq_budget_limit l, uint64_t max, uint64_t actual)
{
    char message[256];
    switch (l) {
    case TQ_LIMIT_DEPTH:
        snprintf(message, sizeof(message),
                 "The operation is too deep: %" PRIu64 " levels of fields with its fragments expanded; at most %" PRIu64
                 " are allowed.",
                 actual, max);
        break;
    case TQ_LIMIT_FIELDS:
        snprintf(message, sizeof(message),
                 "The operation selects too many fields: %" PRIu64 " with its fragments expanded; at most %" PRIu64
                 " are allowed.",
                 actual, max);
        break;
    case TQ_LIMIT_ALIASES:
        snprintf(message, sizeof(message),
                 "The operation has too many aliases: %" PRIu64 " with its fragments expanded; at most %" PRIu64
                 " are allowed.",
                 actual, max);
        break;
    default:
        snprintf(message, sizeof(message),
                 "The operation would cost too much: %" PRIu64 " (1 per field, list fields times their items); at "
                 "most %" PRIu64 " is allowed.",
                 actual, max);
    }
    tq_strbuf_lit(b, "{\"errors\":[{\"message\":");
    tq_json_write_cstr(b, message);
    tq_strbuf_printf(b,
                     ",\"extensions\":{\"code\":\"QUERY_TOO_COMPLEX\",\"limit\":{\"name\":\"%s\",\"max\":%" PRIu64
                     ",\"actual\":%" PRIu64 "}}}]}",
                     limit_names[l], max, actual);
}

bool tq_limits_admit(tq_server *s, const char *request_id, const tq_budget_measure *m, tq_strbuf *refusal)
{
    const tq_live *c = tq_live_here(); /* the limits in force on this worker (SIGHUP may change them) */
    char over[256];
    size_t len = 0;
    int first = -1;
    for (int l = 0; l < TQ_LIMIT_COUNT_; l++) {
        uint64_t max = maximum(c, (tq_budget_limit)l);
        if (m->value[l] <= max)
            continue;
        if (first < 0)
            first = l;
        count(s, c, l);
        int n = snprintf(over + len, sizeof(over) - len, "%s%s %" PRIu64 " > %" PRIu64, len ? ", " : "", limit_names[l],
                         m->value[l], max);
        len = n > 0 && (size_t)n < sizeof(over) - len ? len + (size_t)n : len;
    }
    if (first < 0)
        return true;
    /* one line per request, whichever limits it passes */
    const char *what = c->limits == TQ_LIMITS_MEASURE ? "over the budget, run anyway (measure)" : "refused";
    tq_log_limited(TQ_LOG_INFO, "limits", what, "request %s: %s: %s", request_id, what, over);
    if (c->limits == TQ_LIMITS_MEASURE)
        return true;
    write_refusal(refusal, (tq_budget_limit)first, maximum(c, (tq_budget_limit)first), m->value[first]);
    return false;
}

void tq_limits_count_answer_cap(tq_server *s, const char *request_id, size_t bytes)
{
    atomic_fetch_add(&s->limits_exceeded[TQ_LIMIT_COUNT_][TQ_LIMITS_ENFORCE], 1);
    tq_log_limited(TQ_LOG_INFO, "limits", "answer cut off", "request %s: answer cut off: more than %ld bytes (%zu counted)",
                   request_id, tq_live_here()->max_response_bytes, bytes);
}

void tq_limits_write_metrics(tq_server *s, tq_strbuf *b)
{
    static const char *const modes[] = {"enforce", "measure"};
    tq_strbuf_lit(b, "# HELP tenantql_limit_exceeded_total Operations over a limit, by limit and by what was done "
                     "(enforce: refused; measure: run and logged).\n# TYPE tenantql_limit_exceeded_total counter\n");
    for (int l = 0; l < TQ_HTTP_LIMITS; l++)
        for (int mode = 0; mode < 2; mode++)
            tq_strbuf_printf(b, "tenantql_limit_exceeded_total{limit=\"%s\",mode=\"%s\"} %lu\n", limit_names[l],
                             modes[mode], atomic_load(&s->limits_exceeded[l][mode]));
}
