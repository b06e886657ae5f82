/*
 * cli.h - the subcommands of the tenantql binary and the option parser they share.
 * Every option can be given as --flag or through its TENANTQL_* environment variable;
 * a flag wins over the environment.
 */
#ifndef TENANTQL_CLI_H
#define TENANTQL_CLI_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "tenantql/server.h"

typedef enum tq_opt_type {
    TQ_OPT_STRING, /* target: const char ** */
    TQ_OPT_INT,    /* target: long * */
    TQ_OPT_FLAG,   /* target: bool *; the env var takes 1/0, true/false, yes/no, on/off */
} tq_opt_type;

typedef struct tq_option {
    const char *name;    /* long flag without "--" */
    const char *env;     /* environment variable, or NULL */
    tq_opt_type type;
    void *target;
    const char *metavar; /* shown in --help, e.g. "HOST:PORT" */
    const char *help;
} tq_option;

typedef struct tq_command_help {
    const char *usage;   /* "tenantql serve [options]" */
    const char *summary; /* one paragraph */
} tq_command_help;

/* Parses argv (argv[0] is the subcommand). Positional arguments are compacted to the
 * front of argv[1..] and their count returned through *npositional. Returns 0 to go on,
 * 1 when --help was printed, -1 after printing an error. The option table ends with a
 * zeroed entry. */
int tq_options_parse(const tq_command_help *help, const tq_option *opts, int argc, char **argv, int *npositional);
/* Reads on/off, true/false, yes/no, 1/0 (any case); 0, or -1 for anything else. */
int tq_options_parse_bool(const char *s, bool *out);

/* The options of `serve`, shared with `dev`. */
typedef struct tq_serve_options {
    tq_server_config cfg;
    long threads, drain_ms, request_timeout_ms, refresh_ms, max_connections, doc_cache_entries;
    long hash_threads, hash_opslimit, hash_memlimit, login_rate_limit, login_rate_window_s;
    const char *log_level;
    const char *introspection;
    const char *graphiql;
} tq_serve_options;

#define TQ_SERVE_NOPTIONS 28
void tq_serve_options_init(tq_serve_options *o);
/* Fills table[0..TQ_SERVE_NOPTIONS) with the serve options bound to o. */
void tq_serve_options_table(tq_serve_options *o, tq_option *table);
/* Checks the parsed values and produces the server configuration. */
int tq_serve_options_finish(tq_serve_options *o, tq_server_config *out);

/* Signs a token for the named tenant (looked up in the registry) with signer's signing
 * key; malloc'ed, or NULL with err filled. Used by `token` and by `dev`'s banner. */
char *tq_issue_token(PGconn *registry, const tq_jwt_verifier *signer, const char *tenant, const char *sub,
                     long ttl, char *err, size_t errlen);

int tq_cmd_serve(int argc, char **argv);
int tq_cmd_migrate(int argc, char **argv);
int tq_cmd_tenant(int argc, char **argv);
int tq_cmd_token(int argc, char **argv);
int tq_cmd_dev(int argc, char **argv);

#endif
