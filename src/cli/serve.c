/*
 * serve.c - `tenantql serve`: parses serve's option table (tq_server_options) straight
 * into the server's configuration and runs the server.
 */
#include <stdio.h>

#include "cli.h"
#include "tenantql/log.h"
#include "tenantql/server.h"

int tq_cmd_serve(int argc, char **argv)
{
    tq_server_config cfg;
    tq_server_config_init(&cfg);
    const tq_opt_group groups[] = {{tq_server_options, &cfg, NULL}};
    const tq_opt_command cmd = {
        "tenantql serve [options]",
        "Serves the GraphQL API at /graphql. Tenants come from the registry database; each request names its\n"
        "tenant through the tenantId claim of its bearer token.",
        groups, 1};
    int npos, rc = tq_opts_parse(&cmd, argc, argv, &npos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (npos > 0) {
        fprintf(stderr, "tenantql serve: unexpected argument \"%s\"\n", argv[1]);
        return 2;
    }
    tq_log_set_level(cfg.log_level);
    return tq_server_run(&cfg);
}
