/*
 * main.c - entry point: dispatches to the subcommands of the tenantql binary.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", tq_cmd_serve, "run the GraphQL server"},
    {"migrate", tq_cmd_migrate, "bring the registry and every tenant database to the newest migration"},
    {"tenant", tq_cmd_tenant, "create, list or deactivate tenants"},
    {"secrets", tq_cmd_secrets, "seal tenant database passwords with a new key (rotate-key), make a key"},
    {"token", tq_cmd_token, "print a signed token for a tenant (development and scripts)"},
    {"dev", tq_cmd_dev, "start a private PostgreSQL cluster with demo tenants and serve it"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tenantql COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n\"tenantql COMMAND --help\" describes each command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("tenantql " TENANTQL_VERSION "\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tenantql: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
