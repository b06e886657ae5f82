/*
 * options.h - command-line options described once, in a table (after PgBouncer's CfKey
 * table): each entry gives an option's flag, its TENANTQL_* environment variable, its
 * type, default and bounds, its help text, and where its value lands in a struct (an
 * offsetof). From that one description come the defaults, parsing (environment first,
 * then --flags, so a flag wins), the bounds check and its error messages, --help, and the
 * Markdown rows of README's option tables.
 *
 * Adding an option is one table entry plus the struct field it fills:
 *
 *     {TQ_OPT_FIELD(tq_server_config, max_body_bytes), .name = "max-body", .env = "TENANTQL_MAX_BODY",
 *      .type = TQ_OPT_BYTES, .metavar = "BYTES", .def = 1048576, .min = 1024, .max = LONG_MAX,
 *      .help = "larger bodies get 413"},
 */
#ifndef TENANTQL_OPTIONS_H
#define TENANTQL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum tq_opt_type {
    TQ_OPT_STRING, /* const char *: points into argv or the environment (valid for the process) */
    TQ_OPT_INT,    /* int or long (4 or 8 bytes): a whole number within [min, max] */
    TQ_OPT_BYTES,  /* like TQ_OPT_INT (a plain number of bytes); help shows bounds in KiB/MiB/GiB */
    TQ_OPT_FLAG,   /* bool: --flag alone sets it; the environment takes 1/0, true/false, yes/no, on/off */
    TQ_OPT_ONOFF,  /* bool: --flag on|off (also true/false, yes/no, 1/0) */
    TQ_OPT_CHOICE, /* int or enum: the index of the value among .choices (exact names) */
} tq_opt_type;

enum {
    TQ_OPTF_REQUIRED = 1 << 0, /* parsing fails unless the flag or the variable gives it */
    TQ_OPTF_ZERO_OFF = 1 << 1, /* 0 is accepted below .min and means "off" */
    TQ_OPTF_SECRET = 1 << 2,   /* its value is never repeated in a message */
    TQ_OPTF_RELOAD = 1 << 3,   /* a running server applies a new value on SIGHUP (config.c) */
};

typedef struct tq_opt {
    const char *name; /* flag without "--"; NULL ends a table */
    const char *env;  /* environment variable, or NULL */
    tq_opt_type type;
    size_t offset;                      /* where the value lands in the target struct (TQ_OPT_FIELD) */
    size_t size;                        /* sizeof that field, checked against the type by tq_opts_table_check */
    const char *metavar;                /* the value's name in help, e.g. "HOST:PORT"; not used by FLAG */
    const char *def_str;                /* STRING: the default (NULL: none) */
    long long def;                      /* INT, BYTES: the default; FLAG, ONOFF: 0 or 1; CHOICE: the index */
    long long (*compute_default)(void); /* INT: a default known only at run time (then set .default_doc) */
    long long min, max;                 /* INT, BYTES: bounds, inclusive */
    const char *const *choices;         /* CHOICE: the names, NULL-terminated */
    unsigned flags;                     /* TQ_OPTF_* */
    const char *default_doc;            /* Markdown shown as the default instead of the value (computed or absent) */
    const char *help;                   /* Markdown (`code`, **bold**, [link](#anchor)); help prints it as plain text */
} tq_opt;

/* .offset and .size of a field of struct type T (nested members work: js.secret). */
#define TQ_OPT_FIELD(T, member) .offset = offsetof(T, member), .size = sizeof(((T *)0)->member)

/* A table and the struct its offsets point into. With only (NULL-terminated names), just
 * those entries of the table take part: a command borrows a few of another's options. */
typedef struct tq_opt_group {
    const tq_opt *opts;
    void *target;
    const char *const *only;
} tq_opt_group;

typedef struct tq_opt_command {
    const char *usage;   /* "tenantql serve [options]" */
    const char *summary; /* one paragraph */
    const tq_opt_group *groups;
    size_t ngroups;
    /* The STRING option naming a configuration file (e.g. "config"), or NULL: none. Its
     * entries fill what neither a flag nor a variable gave: flag > variable > file >
     * default. */
    const char *config_option;
    /* Where the file's text goes: the string values taken from it point into it, and the
     * caller frees it (free) once the target is no longer used. NULL: the file's strings
     * would dangle, so give one whenever config_option is given. */
    char **config_text;
} tq_opt_command;

/* Writes every entry's default into target (the other bytes are left alone). */
void tq_opts_defaults(const tq_opt *opts, void *target);

/*
 * For each group: defaults, then the environment, then argv's flags (argv[0] is the
 * subcommand). Every value is checked as it is read: a malformed or out-of-bounds value
 * is refused with a message naming the flag, its variable and its bounds; afterwards
 * missing TQ_OPTF_REQUIRED options are refused. Positional arguments are compacted to
 * the front of argv[1..] and their count returned through *npositional. --help prints
 * help, --help-markdown the first group's Markdown table.
 * Returns 0 to go on, 1 when help was printed, -1 after printing an error to stderr.
 */
int tq_opts_parse(const tq_opt_command *cmd, int argc, char **argv, int *npositional);

/* Checks every entry's value in target against its bounds and TQ_OPTF_REQUIRED: 0, or -1
 * with err naming the first bad option ("--threads (TENANTQL_THREADS) must be between 1
 * and 256"). */
int tq_opts_check(const tq_opt *opts, const void *target, char *err, size_t errlen);

/* tq_opts_parse without printing errors: -1 with the message in err (no "tenantql: "
 * prefix). --help still prints to stdout and returns 1. */
int tq_opts_parse_quiet(const tq_opt_command *cmd, int argc, char **argv, int *npositional, char *err,
                        size_t errlen);

/* ---- configuration files (options_file.c) ----
 *
 * A file holds options by their long names, one a line:
 *
 *     # a comment
 *     listen = 0.0.0.0:8080
 *     cors-origins = "https://a.example https://b.example"   # quotes keep spaces and #
 *
 * A line is blank, a comment (# to the end of the line), or NAME = VALUE with an optional
 * comment after it. NAME is letters, digits and '-'. VALUE is bare (no '"' or '#'; spaces
 * around it are dropped; not empty) or double-quoted (anything but '"', no escapes; ""
 * is the empty string). A name given twice, a NUL byte, a control character, a line over
 * TQ_OPTS_FILE_MAX_LINE bytes or a file over TQ_OPTS_FILE_MAX_BYTES is refused. */
#define TQ_OPTS_FILE_MAX_BYTES (256 * 1024)
#define TQ_OPTS_FILE_MAX_LINE 4096
#define TQ_OPTS_FILE_MAX_ENTRIES 1024

typedef struct tq_opts_file_entry {
    const char *name;  /* points into the file's text */
    const char *value; /* points into the file's text */
    int line;          /* 1-based */
} tq_opts_file_entry;

typedef struct tq_opts_file {
    char path[4096];   /* as given, for messages */
    char *text;        /* the names and values, NUL-terminated in place; malloc'ed */
    tq_opts_file_entry *entries;
    size_t n;
} tq_opts_file;

/* Parses len bytes of data (label names it in messages) into out: 0, or -1 with err
 * ("label:line: ..."), which never repeats a value. Free out with tq_opts_file_free. */
int tq_opts_file_parse(const char *label, const char *data, size_t len, tq_opts_file *out, char *err,
                       size_t errlen);

/* Reads and parses the file at path: 0, or -1 with err. Refused: not a regular file, over
 * TQ_OPTS_FILE_MAX_BYTES, or writable by every user (anyone could then set the keys). */
int tq_opts_file_read(const char *path, tq_opts_file *out, char *err, size_t errlen);

/* Frees what out holds (text too, unless taken: set out->text to NULL first). */
void tq_opts_file_free(tq_opts_file *out);

/* Reads on/off, true/false, yes/no, 1/0 (any case; "" is off): 0, or -1 for anything else. */
int tq_opts_parse_bool(const char *s, bool *out);

/* Prints usage, summary and every option with its default, bounds and variable. */
void tq_opts_print_help(FILE *out, const tq_opt_command *cmd);

/* Prints a Markdown table (flag, environment, default, meaning) of the entries of opts
 * (those named in only, when only is not NULL). */
void tq_opts_print_markdown(FILE *out, const tq_opt *opts, const char *const *only);

/* Checks that a table is well formed - unique names and variables, sizes that fit the
 * types, defaults within bounds, choices present - for unit tests: 0, or -1 with err. */
int tq_opts_table_check(const tq_opt *opts, char *err, size_t errlen);

#endif
