/*
 * test_options.c - util/options.c on a small table of every type: defaults, environment
 * then flags, bounds and their messages, positional arguments, --help, Markdown, and the
 * table checks that keep a new entry honest.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tenantql/options.h"
#include "tq_test.h"

typedef struct sample {
    const char *name;
    int count;
    long big;
    size_t bytes;
    bool flag, onoff;
    int level;
    int limit;
    const char *must;
} sample;

#define F(member) TQ_OPT_FIELD(sample, member)

static const char *const levels[] = {"low", "mid", "high", NULL};

static long long computed(void)
{
    return 7;
}

static const tq_opt table[] = {
    {F(name), .name = "name", .env = "TENANTQL_T_NAME", .type = TQ_OPT_STRING, .metavar = "NAME", .def_str = "x",
     .help = "a `name`"},
    {F(count), .name = "count", .env = "TENANTQL_T_COUNT", .type = TQ_OPT_INT, .metavar = "N", .min = 1, .max = 100,
     .compute_default = computed, .default_doc = "seven", .help = "how many"},
    {F(big), .name = "big", .type = TQ_OPT_INT, .metavar = "N", .def = 5, .min = -10, .max = LONG_MAX,
     .help = "a long"},
    {F(bytes), .name = "bytes", .type = TQ_OPT_BYTES, .metavar = "BYTES", .def = 2048, .min = 1024, .max = 1LL << 30,
     .help = "a size"},
    {F(flag), .name = "flag", .env = "TENANTQL_T_FLAG", .type = TQ_OPT_FLAG, .help = "a flag"},
    {F(onoff), .name = "onoff", .env = "TENANTQL_T_ONOFF", .type = TQ_OPT_ONOFF, .def = 1, .help = "on or off"},
    {F(level), .name = "level", .type = TQ_OPT_CHOICE, .choices = levels, .def = 1, .help = "a level"},
    {F(limit), .name = "limit", .type = TQ_OPT_INT, .metavar = "N", .def = 10, .min = 5, .max = 50,
     .flags = TQ_OPTF_ZERO_OFF, .help = "a limit"},
    {0},
};

static const tq_opt required_table[] = {
    {F(must), .name = "must", .env = "TENANTQL_T_MUST", .type = TQ_OPT_STRING, .metavar = "X",
     .flags = TQ_OPTF_REQUIRED, .help = "needed"},
    {0},
};

/* What was written to f. */
static const char *captured(FILE *f)
{
    static char buf[4096];
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    return buf;
}

/* Runs tq_opts_parse on "cmd" followed by args (NULL-terminated) with stderr captured;
 * returns what it returns, with stderr's text in *err (valid until the next call). */
static int run_parse(const tq_opt_command *cmd, const char *const *args, int *npos, const char **err)
{
    char *argv[32] = {"cmd"};
    int argc = 1;
    for (; args[argc - 1] != NULL && argc < 31; argc++)
        argv[argc] = (char *)args[argc - 1];
    FILE *f = tmpfile();
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(f), 2);
    int rc = tq_opts_parse(cmd, argc, argv, npos);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    *err = captured(f);
    fclose(f);
    return rc;
}

/* run_parse over the whole sample table. */
static int parse(sample *s, const char *const *args, int *npos, const char **err)
{
    const tq_opt_group groups[] = {{table, s, NULL}};
    const tq_opt_command cmd = {"cmd [options]", "A test.", groups, 1};
    return run_parse(&cmd, args, npos, err);
}

static void test_defaults(void)
{
    sample s;
    memset(&s, 0xff, sizeof(s));
    tq_opts_defaults(table, &s);
    CHECK_STR(s.name, "x");
    CHECK(s.count == 7 && s.big == 5 && s.bytes == 2048 && !s.flag && s.onoff && s.level == 1 && s.limit == 10);
}

static void test_environment_then_flags(void)
{
    sample s = {0};
    int npos;
    const char *err;
    setenv("TENANTQL_T_COUNT", "5", 1);
    setenv("TENANTQL_T_NAME", "from-env", 1);
    setenv("TENANTQL_T_FLAG", "yes", 1);
    setenv("TENANTQL_T_ONOFF", "off", 1);
    const char *const args[] = {"--count", "9",       "pos1", "--big",   "-3", "--bytes", "4096",
                                "pos2",    "--level", "high", "--limit", "0",  NULL};
    CHECK(parse(&s, args, &npos, &err) == 0);
    CHECK(s.count == 9);           /* the flag wins */
    CHECK_STR(s.name, "from-env"); /* the environment over the default */
    CHECK(s.flag && !s.onoff && s.big == -3 && s.bytes == 4096 && s.level == 2 && s.limit == 0);
    CHECK(npos == 2);
    CHECK_STR(err, "");
    unsetenv("TENANTQL_T_COUNT");
    unsetenv("TENANTQL_T_NAME");
    unsetenv("TENANTQL_T_FLAG");
    unsetenv("TENANTQL_T_ONOFF");
}

static void refused(const char *const *args, const char *want)
{
    sample s = {0};
    int npos;
    const char *err;
    CHECK(parse(&s, args, &npos, &err) == -1);
    CHECK_STR(err, want);
}

static void test_refusals(void)
{
    refused((const char *const[]){"--count", "0", NULL}, "tenantql: --count must be between 1 and 100 (got \"0\")\n");
    refused((const char *const[]){"--count", "12x", NULL}, "tenantql: --count must be a whole number (got \"12x\")\n");
    refused((const char *const[]){"--count", "99999999999999999999", NULL},
            "tenantql: --count must be a whole number (got \"99999999999999999999\")\n");
    refused((const char *const[]){"--big", "-11", NULL}, "tenantql: --big must be at least -10 (got \"-11\")\n");
    refused((const char *const[]){"--onoff", "sometimes", NULL},
            "tenantql: --onoff must be on or off (got \"sometimes\")\n");
    refused((const char *const[]){"--level", "HIGH", NULL},
            "tenantql: --level must be low, mid or high (got \"HIGH\")\n");
    refused((const char *const[]){"--limit", "3", NULL},
            "tenantql: --limit must be 0 (off) or between 5 and 50 (got \"3\")\n");
    refused((const char *const[]){"--nope", NULL},
            "tenantql: option --nope needs a value or is unknown (see --help)\n");
    setenv("TENANTQL_T_FLAG", "maybe", 1);
    refused((const char *const[]){NULL},
            "tenantql: --flag must be 1/0, true/false, yes/no or on/off (got \"maybe\" from TENANTQL_T_FLAG)\n");
    unsetenv("TENANTQL_T_FLAG");
}

static void test_required(void)
{
    sample s = {0};
    int npos;
    char *argv[] = {"cmd", NULL};
    const tq_opt_group groups[] = {{required_table, &s, NULL}};
    const tq_opt_command cmd = {"cmd", "A test.", groups, 1};
    char err[256];
    CHECK(tq_opts_check(required_table, &s, err, sizeof(err)) == -1);
    CHECK_STR(err, "--must (TENANTQL_T_MUST) is required");
    setenv("TENANTQL_T_MUST", "here", 1);
    CHECK(tq_opts_parse(&cmd, 1, argv, &npos) == 0);
    CHECK_STR(s.must, "here");
    CHECK(tq_opts_check(required_table, &s, err, sizeof(err)) == 0);
    unsetenv("TENANTQL_T_MUST");
}

static void test_check(void)
{
    sample s;
    tq_opts_defaults(table, &s);
    char err[256];
    CHECK(tq_opts_check(table, &s, err, sizeof(err)) == 0);
    s.bytes = 100;
    CHECK(tq_opts_check(table, &s, err, sizeof(err)) == -1);
    CHECK_STR(err, "--bytes must be between 1024 and 1073741824 (got 100)");
    s.bytes = SIZE_MAX; /* read back as negative: still out of bounds */
    CHECK(tq_opts_check(table, &s, err, sizeof(err)) == -1);
    s.bytes = 2048;
    s.level = 3;
    CHECK(tq_opts_check(table, &s, err, sizeof(err)) == -1);
    CHECK_STR(err, "--level must be low, mid or high (got 3)");
}

static void test_only(void)
{
    sample s = {0};
    static const char *const only[] = {"count", NULL};
    const tq_opt_group groups[] = {{table, &s, only}};
    const tq_opt_command cmd = {"cmd", "A test.", groups, 1};
    int npos;
    const char *err;
    CHECK(run_parse(&cmd, (const char *const[]){"--count", "3", NULL}, &npos, &err) == 0);
    CHECK(s.count == 3 && s.name == NULL && s.big == 0); /* the others are left alone */
    CHECK(run_parse(&cmd, (const char *const[]){"--big", "3", NULL}, &npos, &err) == -1);
}

static void test_markdown_and_help(void)
{
    char *md = NULL, *help = NULL;
    size_t mdlen = 0, helplen = 0;
    FILE *f = open_memstream(&md, &mdlen);
    tq_opts_print_markdown(f, table, NULL);
    fclose(f);
    CHECK(strstr(md, "| flag | environment | default | meaning |\n|---|---|---|---|\n") == md);
    CHECK(strstr(md, "| `--name NAME` | `TENANTQL_T_NAME` | `x` | a `name` |\n") != NULL);
    CHECK(strstr(md, "| `--count N` | `TENANTQL_T_COUNT` | seven | how many (1–100) |\n") != NULL);
    CHECK(strstr(md, "| `--big N` | — | 5 | a long (≥ -10) |\n") != NULL);
    CHECK(strstr(md, "| `--bytes BYTES` | — | 2048 | a size (1 KiB–1 GiB) |\n") != NULL);
    CHECK(strstr(md, "| `--flag` | `TENANTQL_T_FLAG` | off | a flag |\n") != NULL);
    CHECK(strstr(md, "| `--onoff on\\|off` | `TENANTQL_T_ONOFF` | `on` | on or off |\n") != NULL);
    CHECK(strstr(md, "| `--level VALUE` | — | `mid` | a level (`low`, `mid` or `high`) |\n") != NULL);
    CHECK(strstr(md, "| `--limit N` | — | 10 | a limit (0 = off, or 5–50) |\n") != NULL);
    free(md);

    static const tq_opt_group groups[] = {{table, NULL, NULL}};
    static const tq_opt_command cmd = {"cmd [options]", "A test.", groups, 1};
    f = open_memstream(&help, &helplen);
    tq_opts_print_help(f, &cmd);
    fclose(f);
    CHECK(strstr(help, "usage: cmd [options]\n\nA test.\n\noptions:\n") == help);
    CHECK(strstr(help, "  --name NAME                    a name [default x; env TENANTQL_T_NAME]\n") != NULL);
    CHECK(strstr(help, "  --count N                      how many [1 to 100; default seven; env TENANTQL_T_COUNT]\n") !=
          NULL);
    CHECK(strstr(help, "  --level VALUE                  a level [low, mid or high; default mid]\n") != NULL);
    free(help);
}

static void test_table_check(void)
{
    char err[256];
    CHECK(tq_opts_table_check(table, err, sizeof(err)) == 0);
    CHECK(tq_opts_table_check(required_table, err, sizeof(err)) == 0);
    tq_opt bad[3] = {table[1], table[1], {0}};
    CHECK(tq_opts_table_check(bad, err, sizeof(err)) == -1);
    CHECK_STR(err, "--count: its name or variable is used twice");
    tq_opt wrong_size[2] = {table[2], {0}};
    wrong_size[0].size = 2;
    CHECK(tq_opts_table_check(wrong_size, err, sizeof(err)) == -1);
    CHECK_STR(err, "--big: the field's size does not fit the type");
    tq_opt outside[2] = {table[3], {0}};
    outside[0].def = 10;
    CHECK(tq_opts_table_check(outside, err, sizeof(err)) == -1);
    tq_opt too_wide[2] = {table[1], {0}};
    too_wide[0].max = (long long)INT32_MAX + 1; /* an int field */
    CHECK(tq_opts_table_check(too_wide, err, sizeof(err)) == -1);
    tq_opt no_doc[2] = {table[1], {0}};
    no_doc[0].default_doc = NULL;
    CHECK(tq_opts_table_check(no_doc, err, sizeof(err)) == -1);
    tq_opt env[2] = {table[0], {0}};
    env[0].env = "NAME";
    CHECK(tq_opts_table_check(env, err, sizeof(err)) == -1);
}

int main(void)
{
    test_defaults();
    test_environment_then_flags();
    test_refusals();
    test_required();
    test_check();
    test_only();
    test_markdown_and_help();
    test_table_check();
    return TQ_TEST_REPORT();
}
