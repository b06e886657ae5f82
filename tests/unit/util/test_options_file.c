/*
 * test_options_file.c - util/options_file.c and --config in tq_opts_parse: the grammar
 * (comments, quotes, spaces, CRLF, no final newline), hostile input (a huge line, NUL
 * bytes, control characters, an oversize file, a world-writable file), unknown and
 * duplicate names, values refused with file:line and never repeated for a secret, and the
 * precedence flag > variable > file > default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tenantql/options.h"
#include "tq_test.h"

static char err[8192];

static int parse_text(const char *text, size_t len, tq_opts_file *f)
{
    err[0] = '\0';
    return tq_opts_file_parse("t.conf", text, len, f, err, sizeof(err));
}

static int parse_str(const char *text, tq_opts_file *f)
{
    return parse_text(text, strlen(text), f);
}

static void test_grammar(void)
{
    tq_opts_file f;
    const char *text = "# comment\n"
                       "\n"
                       "   \t\n"
                       "listen = 0.0.0.0:8080\n"
                       "  threads=4   # trailing comment\n"
                       "cors-origins = \"https://a.example https://b.example # not a comment\"  # one\r\n"
                       "jwt-issuer = \"\"\n"
                       "jwt-alg =HS256"; /* no final newline */
    CHECK(parse_str(text, &f) == 0);
    CHECK(f.n == 5);
    if (f.n == 5) {
        CHECK_STR(f.entries[0].name, "listen");
        CHECK_STR(f.entries[0].value, "0.0.0.0:8080");
        CHECK(f.entries[0].line == 4);
        CHECK_STR(f.entries[1].name, "threads");
        CHECK_STR(f.entries[1].value, "4");
        CHECK_STR(f.entries[2].value, "https://a.example https://b.example # not a comment");
        CHECK(f.entries[2].line == 6);
        CHECK_STR(f.entries[3].value, "");
        CHECK_STR(f.entries[4].name, "jwt-alg");
        CHECK_STR(f.entries[4].value, "HS256");
        CHECK(f.entries[4].line == 8);
    }
    tq_opts_file_free(&f);
    CHECK(parse_str("", &f) == 0 && f.n == 0);
    tq_opts_file_free(&f);
}

static void refused(const char *text, const char *want)
{
    tq_opts_file f;
    CHECK(parse_str(text, &f) == -1);
    CHECK_STR(err, want);
    CHECK(f.text == NULL && f.entries == NULL);
}

static void test_refusals(void)
{
    refused("listen 0.0.0.0:80\n", "t.conf:1: expected '=' after the option's name");
    refused("\n\n= x\n", "t.conf:3: expected NAME = VALUE");
    refused("list_en = 1\n", "t.conf:1: an option's name is letters, digits and '-'");
    refused("listen =\n", "t.conf:1: no value (write \"\" for an empty one)");
    refused("listen = # nothing\n", "t.conf:1: no value (write \"\" for an empty one)");
    refused("jwt-secret = \"abc\n", "t.conf:1: a quoted value without its closing quote");
    refused("jwt-secret = \"abc\" def\n", "t.conf:1: text after the closing quote (only a # comment may follow)");
    refused("jwt-secret = ab\"c\"\n", "t.conf:1: a quote inside a bare value (quote the whole value)");
    refused("threads = 1\nlisten = a:1\nthreads = 2\n", "t.conf:3: threads is given twice (first at line 1)");
    refused("a = 1\nb = \x1b[31m\n", "t.conf:2: a control character or NUL byte");
    refused("a = 1\rb = 2\n", "t.conf:1: a control character or NUL byte");
}

static void test_hostile(void)
{
    tq_opts_file f;
    /* a NUL byte in the middle of a line, and at the end of the file */
    static const char nul[] = "a = 1\nb = x\0y\n";
    CHECK(parse_text(nul, sizeof(nul) - 1, &f) == -1);
    CHECK_STR(err, "t.conf:2: a control character or NUL byte");
    static const char nul_end[] = "a = 1\n\0";
    CHECK(parse_text(nul_end, sizeof(nul_end) - 1, &f) == -1);
    CHECK_STR(err, "t.conf:2: a control character or NUL byte");
    /* a line just at the cap, and one byte over */
    size_t len = TQ_OPTS_FILE_MAX_LINE;
    char *line = malloc(len + 16);
    memcpy(line, "a = ", 4);
    memset(line + 4, 'x', len - 4);
    line[len] = '\n';
    CHECK(parse_text(line, len + 1, &f) == 0 && f.n == 1 && strlen(f.entries[0].value) == len - 4);
    tq_opts_file_free(&f);
    line[len] = 'x';
    line[len + 1] = '\n';
    CHECK(parse_text(line, len + 2, &f) == -1);
    CHECK(strstr(err, "t.conf:1: a line longer than") != NULL);
    free(line);
    /* a file over the cap is refused before anything is read into entries */
    char *big = calloc(1, TQ_OPTS_FILE_MAX_BYTES + 2);
    memset(big, '#', TQ_OPTS_FILE_MAX_BYTES + 1);
    CHECK(parse_text(big, TQ_OPTS_FILE_MAX_BYTES + 1, &f) == -1);
    CHECK(strstr(err, "larger than") != NULL);
    free(big);
    /* more entries than the cap */
    size_t n = TQ_OPTS_FILE_MAX_ENTRIES + 1, used = 0;
    char *many = malloc(n * 16);
    for (size_t i = 0; i < n; i++)
        used += (size_t)sprintf(many + used, "o%zu = 1\n", i);
    CHECK(parse_text(many, used, &f) == -1);
    CHECK(strstr(err, "more than 1024 options") != NULL);
    free(many);
    /* a huge name is cut in messages */
    char dup[600] = "";
    char name[200];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(dup, sizeof(dup), "%s = 1\n%s = 2\n", name, name);
    CHECK(parse_str(dup, &f) == -1);
    CHECK(strlen(err) < 120 && strstr(err, "...") != NULL);
}

/* ---- through tq_opts_parse ---- */

typedef struct conf {
    const char *config;
    const char *name;
    const char *secret;
    int count;
    long size;
    bool flag;
} conf;

#define F(member) TQ_OPT_FIELD(conf, member)

static const tq_opt table[] = {
    {F(config), .name = "config", .env = "TENANTQL_TF_CONFIG", .type = TQ_OPT_STRING, .metavar = "FILE", .help = "c"},
    {F(name), .name = "name", .env = "TENANTQL_TF_NAME", .type = TQ_OPT_STRING, .metavar = "N", .def_str = "dflt",
     .help = "n"},
    {F(secret), .name = "secret", .type = TQ_OPT_STRING, .metavar = "S", .flags = TQ_OPTF_SECRET, .help = "s"},
    {F(count), .name = "count", .env = "TENANTQL_TF_COUNT", .type = TQ_OPT_INT, .metavar = "N", .def = 1, .min = 1,
     .max = 100, .flags = TQ_OPTF_SECRET, .help = "a secret number"},
    {F(size), .name = "size", .env = "TENANTQL_TF_SIZE", .type = TQ_OPT_INT, .metavar = "N", .def = 5, .min = 0,
     .max = 1000, .help = "s"},
    {F(flag), .name = "flag", .type = TQ_OPT_FLAG, .help = "f"},
    {0},
};

static char path[64];

static void write_conf(const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* Parses argv (NULL-terminated, after "cmd") into c: tq_opts_parse_quiet's result. */
static int run(conf *c, char **text, const char *const *args)
{
    char *argv[16] = {"cmd"};
    int argc = 1;
    for (; args[argc - 1] != NULL; argc++)
        argv[argc] = (char *)args[argc - 1];
    *c = (conf){0};
    *text = NULL;
    const tq_opt_group groups[] = {{table, c, NULL}};
    const tq_opt_command cmd = {"cmd", "A test.", groups, 1, "config", text};
    int npos;
    err[0] = '\0';
    return tq_opts_parse_quiet(&cmd, argc, argv, &npos, err, sizeof(err));
}

static void test_precedence(void)
{
    conf c;
    char *text;
    write_conf("name = from-file\ncount = 7\nsize = 9\nflag = on\nsecret = \"s3cr3t\"\n", 0600);
    setenv("TENANTQL_TF_COUNT", "8", 1);
    CHECK(run(&c, &text, (const char *[]){"--config", path, "--size", "10", NULL}) == 0);
    CHECK_STR(c.name, "from-file"); /* the file beats the default */
    CHECK(c.count == 8);            /* the variable beats the file */
    CHECK(c.size == 10);            /* the flag beats the file */
    CHECK(c.flag);
    CHECK_STR(c.secret, "s3cr3t");
    free(text);
    setenv("TENANTQL_TF_CONFIG", path, 1); /* the file named by its variable */
    setenv("TENANTQL_TF_SIZE", "11", 1);
    CHECK(run(&c, &text, (const char *[]){"--count", "9", NULL}) == 0);
    CHECK(c.count == 9 && c.size == 11);
    CHECK_STR(c.name, "from-file");
    free(text);
    unsetenv("TENANTQL_TF_CONFIG");
    unsetenv("TENANTQL_TF_SIZE");
    unsetenv("TENANTQL_TF_COUNT");
    /* no file: defaults */
    CHECK(run(&c, &text, (const char *[]){NULL}) == 0 && text == NULL);
    CHECK_STR(c.name, "dflt");
}

static void test_file_refusals(void)
{
    conf c;
    char *text;
    char want[256];
    write_conf("name = x\nbogus = 1\n", 0600);
    CHECK(run(&c, &text, (const char *[]){"--config", path, NULL}) == -1);
    snprintf(want, sizeof(want), "%s:2: unknown option \"bogus\"", path);
    CHECK_STR(err, want);
    write_conf("size = 5000\n", 0600);
    CHECK(run(&c, &text, (const char *[]){"--config", path, NULL}) == -1);
    snprintf(want, sizeof(want), "%s:1: --size must be between 0 and 1000 (got \"5000\")", path);
    CHECK_STR(err, want);
    write_conf("\n\ncount = 4242\n", 0600); /* a secret option's value is not repeated */
    CHECK(run(&c, &text, (const char *[]){"--config", path, NULL}) == -1);
    snprintf(want, sizeof(want), "%s:3: --count must be between 1 and 100 (got (not shown))", path);
    CHECK_STR(err, want);
    CHECK(strstr(err, "4242") == NULL);
    write_conf("config = /etc/other\n", 0600);
    CHECK(run(&c, &text, (const char *[]){"--config", path, NULL}) == -1);
    CHECK(strstr(err, ":1: --config cannot be set in the configuration file") != NULL);
    write_conf("flag = \"\"\n", 0600);
    CHECK(run(&c, &text, (const char *[]){"--config", path, NULL}) == -1);
    CHECK(strstr(err, "--flag needs a value") != NULL);
    write_conf("name = x\n", 0666);
    CHECK(run(&c, &text, (const char *[]){"--config", path, NULL}) == -1);
    CHECK(strstr(err, "writable by every user") != NULL);
    CHECK(run(&c, &text, (const char *[]){"--config", "/nonexistent/x.conf", NULL}) == -1);
    CHECK_STR(err, "cannot read the configuration file /nonexistent/x.conf: No such file or directory");
    CHECK(run(&c, &text, (const char *[]){"--config", "/tmp", NULL}) == -1);
    CHECK_STR(err, "/tmp: not a regular file");
    /* a flag's bad value is refused before the file is read */
    CHECK(run(&c, &text, (const char *[]){"--config", "/nonexistent/x.conf", "--size", "x", NULL}) == -1);
    CHECK_STR(err, "--size must be a whole number (got \"x\")");
}

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/tq-test-conf-%d", (int)getpid());
    test_grammar();
    test_refusals();
    test_hostile();
    test_precedence();
    test_file_refusals();
    unlink(path);
    return TQ_TEST_REPORT();
}
