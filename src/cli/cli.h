/*
 * cli.h - the subcommands of the tenantql binary. Each parses its options through an
 * option table (tenantql/options.h): --flag or its TENANTQL_* environment variable, a
 * flag winning over the environment.
 */
#ifndef TENANTQL_CLI_H
#define TENANTQL_CLI_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "tenantql/jwt.h"
#include "tenantql/options.h"

/* A token for the named tenant (looked up in the registry), signed by signer
 * (tq_jwt_issue); malloc'ed, or NULL with err filled. Used by `token` and `dev`'s banner. */
char *tq_issue_token(PGconn *registry, const tq_jwt_verifier *signer, const char *tenant, const char *sub, long ttl,
                     char *err, size_t errlen);

/* Parses a command's options (options.h) and counts its positional arguments (then in
 * argv[1..]): -1 to go on, else the exit status (0 after --help, 2 after printing why). */
int tq_cli_parse(const tq_opt_command *cmd, int npositional, int argc, char **argv);
/* Prints the command's usage to stderr; returns 2 (the exit status of a bad command line). */
int tq_cli_usage(const tq_opt_command *cmd);

/* A command line kept for reading it again (SIGHUP): argv's pointers, copied. */
typedef struct tq_cli_saved {
    int argc;
    char **argv;
} tq_cli_saved;
/* Parses argc/argv into target, the configuration file's text into *text: 0, 1 (help), or
 * -1 with err. */
typedef int (*tq_cli_parse_fn)(int argc, char **argv, void *target, char **text, int *npos, char *err,
                               size_t errlen);
/* Runs parse on a copy of the saved command line: 0, or -1 with err. */
int tq_cli_parse_again(const tq_cli_saved *saved, tq_cli_parse_fn parse, void *target, char **text, char *err,
                       size_t errlen);

int tq_cmd_serve(int argc, char **argv);
int tq_cmd_migrate(int argc, char **argv);
int tq_cmd_tenant(int argc, char **argv);
int tq_cmd_token(int argc, char **argv);
int tq_cmd_dev(int argc, char **argv);
int tq_cmd_secrets(int argc, char **argv);

#endif
