/*
 * serve.c - `tenantql serve`: parses serve's option table (tq_server_options) straight
 * into the server's configuration - flags, then variables, then the --config file - and
 * runs the server. The command line is kept so that SIGHUP can read it all again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tenantql/log.h"
#include "tenantql/server.h"

#define SERVE_USAGE "tenantql serve [options]"

static int parse_serve(int argc, char **argv, tq_server_config *cfg, char **text, int *npos, char *err, size_t errlen)
{
    tq_server_config_init(cfg);
    const tq_opt_group groups[] = {{tq_server_options, cfg, NULL}};
    const tq_opt_command cmd = {
        SERVE_USAGE,
        "Serves the GraphQL API at /graphql. Tenants come from the registry database; each request names its\n"
        "tenant through the tenantId claim of its bearer token. Options come from flags, TENANTQL_* variables\n"
        "and --config FILE, in that order of precedence; SIGHUP reloads what can change without a restart.",
        groups,
        1,
        "config",
        text};
    return tq_opts_parse_quiet(&cmd, argc, argv, npos, err, errlen);
}

int tq_cli_parse_again(const tq_cli_saved *saved, tq_cli_parse_fn parse, void *target, char **text, char *err,
                       size_t errlen)
{
    /* parsing moves positional arguments in argv: a fresh copy each time */
    char **argv = calloc((size_t)saved->argc + 1, sizeof(*argv));
    if (argv == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(argv, saved->argv, (size_t)saved->argc * sizeof(*argv));
    int npos = 0, rc = parse(saved->argc, argv, target, text, &npos, err, errlen);
    free(argv);
    return rc == 0 ? 0 : -1;
}

static int serve_parse_fn(int argc, char **argv, void *target, char **text, int *npos, char *err, size_t errlen)
{
    return parse_serve(argc, argv, target, text, npos, err, errlen);
}

static int reparse_serve(void *arg, tq_server_config *out, char **text, char *err, size_t errlen)
{
    return tq_cli_parse_again(arg, serve_parse_fn, out, text, err, errlen);
}

int tq_cmd_serve(int argc, char **argv)
{
    tq_cli_saved saved = {argc, calloc((size_t)argc + 1, sizeof(char *))};
    if (saved.argv == NULL)
        return 1;
    memcpy(saved.argv, argv, (size_t)argc * sizeof(char *));
    tq_server_config cfg;
    char *text = NULL, err[4608];
    int npos, rc = parse_serve(argc, argv, &cfg, &text, &npos, err, sizeof(err));
    if (rc != 0 || npos > 0) {
        if (rc < 0)
            fprintf(stderr, "tenantql: %s\n", err);
        else if (rc == 0)
            fprintf(stderr, "tenantql serve: unexpected argument \"%s\"\n", argv[1]);
        free(text);
        free(saved.argv);
        return rc > 0 ? 0 : 2;
    }
    cfg.reparse = reparse_serve;
    cfg.reparse_arg = &saved;
    tq_log_set_level(cfg.log_level);
    rc = tq_server_run(&cfg);
    free(text);
    free(saved.argv);
    return rc;
}
