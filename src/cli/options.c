/*
 * options.c - table-driven option parsing for the subcommands: environment first, then
 * flags, then a check that numbers are numbers. Keeping one table per command gives
 * --help, flags and TENANTQL_* variables from a single description.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, 0;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, 0;
    return -1;
}

int tq_options_parse_bool(const char *s, bool *out)
{
    return parse_bool(s, out);
}

static int assign(const tq_option *o, const char *value, const char *source)
{
    switch (o->type) {
    case TQ_OPT_STRING:
        *(const char **)o->target = value;
        return 0;
    case TQ_OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0') {
            fprintf(stderr, "tenantql: %s: \"%s\" is not a whole number\n", source, value);
            return -1;
        }
        *(long *)o->target = v;
        return 0;
    }
    case TQ_OPT_FLAG:
        if (value == NULL) {
            *(bool *)o->target = true;
            return 0;
        }
        if (parse_bool(value, (bool *)o->target) != 0) {
            fprintf(stderr, "tenantql: %s: \"%s\" is not a boolean (use 1/0, true/false)\n", source, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

static void print_help(const tq_command_help *help, const tq_option *opts)
{
    printf("usage: %s\n\n%s\n", help->usage, help->summary);
    if (opts[0].name != NULL)
        printf("\noptions:\n");
    for (const tq_option *o = opts; o->name != NULL; o++) {
        char flag[64];
        if (o->type == TQ_OPT_FLAG)
            snprintf(flag, sizeof(flag), "--%s", o->name);
        else
            snprintf(flag, sizeof(flag), "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
        printf("  %-30s %s", flag, o->help);
        if (o->env != NULL)
            printf(" [env %s]", o->env);
        printf("\n");
    }
    printf("  %-30s %s\n", "--help", "show this help");
}

int tq_options_parse(const tq_command_help *help, const tq_option *opts, int argc, char **argv, int *npositional)
{
    size_t n = 0;
    while (opts[n].name != NULL)
        n++;

    for (size_t i = 0; i < n; i++) {
        const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
        if (v != NULL && assign(&opts[i], v, opts[i].env) != 0)
            return -1;
    }

    struct option *longopts = calloc(n + 2, sizeof(*longopts));
    for (size_t i = 0; i < n; i++)
        longopts[i] = (struct option){opts[i].name, opts[i].type == TQ_OPT_FLAG ? no_argument : required_argument, NULL,
                                      (int)(i + 256)};
    longopts[n] = (struct option){"help", no_argument, NULL, 'h'};

    int npos = 0, ret = 0;
    optind = 1;
    opterr = 0;
    /* "-" keeps positional arguments in order (code 1) instead of permuting them */
    for (;;) {
        int c = getopt_long(argc, argv, "-h", longopts, NULL);
        if (c == -1)
            break;
        if (c == 1) {
            argv[1 + npos++] = optarg;
        } else if (c == 'h') {
            print_help(help, opts);
            ret = 1;
            break;
        } else if (c >= 256) {
            char source[80];
            snprintf(source, sizeof(source), "--%s", opts[c - 256].name);
            if (assign(&opts[c - 256], optarg, source) != 0) {
                ret = -1;
                break;
            }
        } else {
            if (optopt >= 256 || (optopt == 0 && argv[optind - 1] != NULL))
                fprintf(stderr, "tenantql: option %s needs a value or is unknown (see --help)\n", argv[optind - 1]);
            else
                fprintf(stderr, "tenantql: unknown option (see --help)\n");
            ret = -1;
            break;
        }
    }
    free(longopts);
    if (npositional != NULL)
        *npositional = npos;
    return ret;
}
