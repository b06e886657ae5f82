/*
 * migrate_cmd.c - `tenantql migrate`: tq_migrate_all's options from the command line, and
 * its report in one of three forms: a progress bar on a terminal, one JSON object per
 * tenant (and a summary) for programs, or a line of text per tenant.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tenantql/clock.h"
#include "tenantql/json_writer.h"
#include "tenantql/migrate.h"
#include "tenantql/options.h"
#include "tenantql/secret.h"
#include "tenantql/strbuf.h"

typedef enum report_format { FORMAT_AUTO, FORMAT_PROGRESS, FORMAT_JSON, FORMAT_TEXT } report_format;
static const char *const format_names[] = {"auto", "progress", "json", "text", NULL};

typedef struct migrate_options {
    const char *registry;
    const char *secrets_key_file;
    long parallel, canary;
    bool dry_run, recheck;
    int format;
} migrate_options;

#define MO(member) TQ_OPT_FIELD(migrate_options, member)

static const tq_opt migrate_option_table[] = {
    {MO(registry), .name = "registry", .env = "TENANTQL_REGISTRY", .type = TQ_OPT_STRING, .metavar = "CONNINFO",
     .flags = TQ_OPTF_REQUIRED, .help = "libpq conninfo or URI of the registry database"},
    {MO(secrets_key_file), .name = "secrets-key-file", .env = "TENANTQL_SECRETS_KEY_FILE", .type = TQ_OPT_STRING,
     .metavar = "FILE", .default_doc = "the keys in `TENANTQL_SECRETS_KEY`, else none",
     .help = "key ring that opens the tenants' sealed database passwords (see README, \"Secrets\")"},
    {MO(parallel), .name = "parallel", .type = TQ_OPT_INT, .metavar = "N", .def = 4, .min = TQ_MIGRATE_PARALLEL_MIN,
     .max = TQ_MIGRATE_PARALLEL_MAX,
     .help = "tenants migrated at once, by as many threads, each with a registry connection and a tenant connection"},
    {MO(canary), .name = "canary", .type = TQ_OPT_INT, .metavar = "N", .def = 0, .min = 0, .max = 1000000,
     .help = "migrate N tenants first; if any of them fails, stop (exit status 1) before the others"},
    {MO(dry_run), .name = "dry-run", .type = TQ_OPT_FLAG,
     .help = "print each tenant's version and the migrations it would get; change nothing (the registry included)"},
    {MO(recheck), .name = "recheck", .type = TQ_OPT_FLAG,
     .help = "connect to tenants whose registry row says current too (else they are skipped)"},
    {MO(format), .name = "format", .type = TQ_OPT_CHOICE, .metavar = "FORMAT", .choices = format_names,
     .def = FORMAT_AUTO,
     .help = "`progress`: a progress bar on stderr, failures and a summary on stdout; `json`: one object per tenant "
             "and a summary object, one per line; `text`: a line per tenant; `auto`: `progress` when stderr is a "
             "terminal (`text` for `--dry-run`), else `json`"},
    {0},
};

/* What the report keeps between callbacks (they never run two at once). */
typedef struct report {
    report_format format;
    bool dry_run;
    int total, to_visit, done, failed;
    uint64_t started_ms, drawn_ms;
    char **failed_names; /* every failed tenant's name, for the summary */
    int nfailed_names;
    bool bar_shown;
} report;

static void json_int_or_null(tq_strbuf *b, int v)
{
    if (v < 0)
        tq_strbuf_lit(b, "null");
    else
        tq_json_write_int(b, v);
}

/* The migrations a tenant at version `from` would get, as a JSON array. */
static void json_pending(tq_strbuf *b, int from, int to)
{
    tq_strbuf_lit(b, "[");
    for (int v = from + 1; from >= 0 && v <= to; v++) {
        if (v > from + 1)
            tq_strbuf_lit(b, ",");
        const char *name = tq_migrate_name(TQ_MIGRATIONS_TENANT, v);
        tq_json_write_cstr(b, name != NULL ? name : "?");
    }
    tq_strbuf_lit(b, "]");
}

static void print_json_tenant(const tq_migrate_result *res, bool dry_run)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_strbuf_lit(&b, "{\"tenant\":");
    tq_json_write_cstr(&b, res->tenant);
    tq_strbuf_lit(&b, ",\"from\":");
    json_int_or_null(&b, res->from);
    tq_strbuf_lit(&b, ",\"to\":");
    json_int_or_null(&b, res->to);
    tq_strbuf_printf(&b, ",\"applied\":%d,\"ms\":%ld,\"error\":", res->applied, res->ms);
    if (res->error != NULL)
        tq_json_write_cstr(&b, res->error);
    else
        tq_strbuf_lit(&b, "null");
    if (dry_run) {
        tq_strbuf_lit(&b, ",\"pending\":");
        json_pending(&b, res->from, res->to);
    }
    tq_strbuf_lit(&b, "}\n");
    fputs(tq_strbuf_cstr(&b), stdout);
    fflush(stdout);
    tq_strbuf_free(&b);
}

static void print_text_tenant(const tq_migrate_result *res, bool dry_run)
{
    if (res->error != NULL)
        printf("tenant %s: failed: %s\n", res->tenant, res->error);
    else if (dry_run && res->applied > 0)
        printf("tenant %s: at version %d, would apply %d migration(s) up to version %d (first: %s)\n", res->tenant,
               res->from, res->applied, res->to, tq_migrate_name(TQ_MIGRATIONS_TENANT, res->from + 1));
    else if (dry_run)
        printf("tenant %s: at version %d, nothing to apply\n", res->tenant, res->from);
    else
        printf("tenant %s: %d migration(s) applied, at version %d\n", res->tenant, res->applied, res->to);
    fflush(stdout);
}

/* The bar: done/total, failures and rate, redrawn in place at most 10 times a second
 * (and once at the end). */
static void draw_bar(report *rp, bool final)
{
    uint64_t now = tq_clock_ms();
    if (!final && rp->bar_shown && now - rp->drawn_ms < 100)
        return;
    rp->drawn_ms = now;
    rp->bar_shown = true;
    enum { WIDTH = 30 };
    int filled = rp->to_visit > 0 ? (int)((long)WIDTH * rp->done / rp->to_visit) : WIDTH;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    double secs = (double)(now - rp->started_ms) / 1000.0;
    fprintf(stderr, "\r\033[Kmigrate [%s] %d/%d  %d failed  %.0f tenants/s", bar, rp->done, rp->to_visit, rp->failed,
            secs > 0 ? rp->done / secs : 0.0);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

static void on_plan(void *ctx, int total, int to_visit)
{
    report *rp = ctx;
    rp->total = total;
    rp->to_visit = to_visit;
    rp->started_ms = tq_clock_ms();
    if (rp->format == FORMAT_PROGRESS)
        draw_bar(rp, false);
}

static void on_tenant(void *ctx, const tq_migrate_result *res)
{
    report *rp = ctx;
    rp->done++;
    if (res->error != NULL) {
        rp->failed++;
        char **grown = realloc(rp->failed_names, sizeof(char *) * (size_t)(rp->nfailed_names + 1));
        if (grown != NULL) {
            rp->failed_names = grown;
            rp->failed_names[rp->nfailed_names++] = strdup(res->tenant);
        }
    }
    if (rp->format == FORMAT_JSON) {
        print_json_tenant(res, rp->dry_run);
    } else if (rp->format == FORMAT_TEXT) {
        print_text_tenant(res, rp->dry_run);
    } else {
        if (res->error != NULL) {
            /* a failure above the bar, which is drawn again below it */
            fputs("\r\033[K", stderr);
            fflush(stderr);
            print_text_tenant(res, false);
            rp->bar_shown = false;
        }
        draw_bar(rp, false);
    }
}

static void json_summary(const report *rp, const tq_migrate_summary *s)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_strbuf_printf(&b,
                     "{\"summary\":{\"tenants\":%d,\"migrated\":%d,\"current\":%d,\"skipped\":%d,\"failed\":%d,"
                     "\"untouched\":%d,\"canary_failed\":%s,\"stopped\":%s,\"dry_run\":%s,\"ms\":%ld,"
                     "\"registry\":{\"from\":%d,\"to\":%d,\"applied\":%d},\"failed_tenants\":[",
                     s->total, s->migrated, s->current, s->skipped, s->failed, s->untouched,
                     s->canary_failed ? "true" : "false", s->stopped ? "true" : "false", rp->dry_run ? "true" : "false",
                     s->ms, s->registry_from, s->registry_to, s->registry_applied);
    for (int i = 0; i < rp->nfailed_names; i++) {
        if (i > 0)
            tq_strbuf_lit(&b, ",");
        tq_json_write_cstr(&b, rp->failed_names[i]);
    }
    tq_strbuf_lit(&b, "]}}\n");
    fputs(tq_strbuf_cstr(&b), stdout);
    tq_strbuf_free(&b);
}

static void text_summary(const report *rp, const tq_migrate_summary *s)
{
    printf("registry: %d migration(s) %s, at version %d\n", s->registry_applied, rp->dry_run ? "pending" : "applied",
           rp->dry_run ? s->registry_from : s->registry_to);
    printf("%d tenant(s): %d %s, %d current, %d skipped (current per the registry), %d failed", s->total, s->migrated,
           rp->dry_run ? "behind" : "migrated", s->current, s->skipped, s->failed);
    for (int i = 0; i < rp->nfailed_names; i++)
        printf("%s%s", i == 0 ? ": " : ", ", rp->failed_names[i]);
    printf(" (%ld ms)\n", s->ms);
    if (s->canary_failed)
        printf("a canary failed: stopped; %d tenant(s) left untouched\n", s->untouched);
    if (s->stopped)
        printf("interrupted: %d tenant(s) left untouched\n", s->untouched);
}

/* Ctrl-C or SIGTERM: the tenants under way finish and are recorded (none is left marked
 * migrating, which servers would refuse until the next run), no other one starts. */
static volatile sig_atomic_t migrate_interrupted;

static void on_migrate_signal(int sig)
{
    (void)sig;
    migrate_interrupted = 1;
}

static report_format pick_format(const migrate_options *mo)
{
    if (mo->format != FORMAT_AUTO)
        return (report_format)mo->format;
    if (!isatty(STDERR_FILENO))
        return FORMAT_JSON;
    return mo->dry_run ? FORMAT_TEXT : FORMAT_PROGRESS;
}

int tq_cmd_migrate(int argc, char **argv)
{
    migrate_options mo;
    const tq_opt_group groups[] = {{migrate_option_table, &mo, NULL}};
    const tq_opt_command cmd = {
        "tenantql migrate [--parallel N] [--canary N] [--dry-run] [--recheck] [--format FORMAT] [options]",
        "Applies missing migrations to the registry, then to every tenant (N at once), recording each tenant's\n"
        "outcome in its registry row. Tenants the registry records as current are skipped (--recheck: connect\n"
        "anyway). Exit status 1 when a tenant failed. See README, \"Migrations\".",
        groups, 1};
    int rc = tq_cli_parse(&cmd, 0, argc, argv);
    if (rc >= 0)
        return rc;
    char err[512];
    if (tq_secret_install_from(mo.secrets_key_file, err, sizeof(err)) != 0) {
        fprintf(stderr, "tenantql: %s\n", err);
        return 2;
    }
    report rp = {.format = pick_format(&mo), .dry_run = mo.dry_run};
    tq_migrate_fleet fleet = {.registry = mo.registry,
                              .parallel = (int)mo.parallel,
                              .canary = (int)mo.canary,
                              .dry_run = mo.dry_run,
                              .recheck = mo.recheck,
                              .on_plan = on_plan,
                              .on_tenant = on_tenant,
                              .ctx = &rp,
                              .stop = &migrate_interrupted};
    tq_migrate_summary sum;
    struct sigaction sa = {.sa_handler = on_migrate_signal, .sa_flags = SA_RESTART}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rc = tq_migrate_all(&fleet, &sum, err, sizeof(err));
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rp.format == FORMAT_PROGRESS && rp.bar_shown)
        draw_bar(&rp, true);
    if (rc != 0)
        fprintf(stderr, "tenantql: migrate: %s\n", err);
    else if (rp.format == FORMAT_JSON)
        json_summary(&rp, &sum);
    else
        text_summary(&rp, &sum);
    for (int i = 0; i < rp.nfailed_names; i++)
        free(rp.failed_names[i]);
    free(rp.failed_names);
    return rc != 0 || sum.failed > 0 || sum.canary_failed || sum.stopped ? 1 : 0;
}
