/*
 * options.c - the option-table engine (see options.h): defaults, environment, flags,
 * bounds, --help and README's Markdown, all read from the same entries so that they
 * cannot disagree.
 */
#include "tenantql/options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HELP_WIDTH 100   /* columns of --help */
#define HELP_INDENT 33   /* where an option's text starts */
#define FIRST_OPTION 256 /* getopt codes of the table's entries start here (above any char) */
#define TEXT_MAX 2048    /* one option's help, bounds and default as text */

/* ---- values in the target struct ---- */

static void *field(const tq_opt *o, void *target)
{
    return (char *)target + o->offset;
}

static const void *cfield(const tq_opt *o, const void *target)
{
    return (const char *)target + o->offset;
}

static bool is_integer(tq_opt_type t)
{
    return t == TQ_OPT_INT || t == TQ_OPT_BYTES || t == TQ_OPT_CHOICE;
}

/* Integers are stored by size: int32_t or int64_t (long, size_t, unsigned long long on LP64). */
static void store_int(const tq_opt *o, void *target, long long v)
{
    if (o->size == sizeof(int32_t)) {
        int32_t n = (int32_t)v;
        memcpy(field(o, target), &n, sizeof(n));
    } else {
        int64_t n = (int64_t)v;
        memcpy(field(o, target), &n, sizeof(n));
    }
}

static long long load_int(const tq_opt *o, const void *target)
{
    if (o->size == sizeof(int32_t)) {
        int32_t n;
        memcpy(&n, cfield(o, target), sizeof(n));
        return n;
    }
    int64_t n;
    memcpy(&n, cfield(o, target), sizeof(n));
    return n;
}

static void store_str(const tq_opt *o, void *target, const char *s)
{
    memcpy(field(o, target), &s, sizeof(s));
}

static const char *load_str(const tq_opt *o, const void *target)
{
    const char *s;
    memcpy(&s, cfield(o, target), sizeof(s));
    return s;
}

static void store_bool(const tq_opt *o, void *target, bool b)
{
    memcpy(field(o, target), &b, sizeof(b));
}

static long long default_int(const tq_opt *o)
{
    return o->compute_default != NULL ? o->compute_default() : o->def;
}

static void default_one(const tq_opt *o, void *target)
{
    if (o->type == TQ_OPT_STRING)
        store_str(o, target, o->def_str);
    else if (o->type == TQ_OPT_FLAG || o->type == TQ_OPT_ONOFF)
        store_bool(o, target, o->def != 0);
    else
        store_int(o, target, default_int(o));
}

void tq_opts_defaults(const tq_opt *opts, void *target)
{
    for (const tq_opt *o = opts; o->name != NULL; o++)
        default_one(o, target);
}

/* ---- bounds ---- */

static size_t count_choices(const tq_opt *o)
{
    size_t n = 0;
    while (o->choices != NULL && o->choices[n] != NULL)
        n++;
    return n;
}

static long long type_max(const tq_opt *o)
{
    return o->size == sizeof(int32_t) ? INT32_MAX : INT64_MAX;
}

static bool in_bounds(const tq_opt *o, long long v)
{
    if (o->type == TQ_OPT_CHOICE)
        return v >= 0 && (size_t)v < count_choices(o);
    return (v >= o->min && v <= o->max) || (v == 0 && (o->flags & TQ_OPTF_ZERO_OFF));
}

/* "a, b or c" from the choices, each wrapped in quote (e.g. "`"). */
static void choices_text(const tq_opt *o, const char *quote, char *buf, size_t len)
{
    size_t n = count_choices(o), used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(buf + used, len - used, "%s%s%s%s", sep, quote, o->choices[i], quote);
        used += w > 0 ? (size_t)w : 0;
    }
}

/* The accepted values as the tail of "--x must be ...": "between 1 and 256", "on or off". */
static void bounds_sentence(const tq_opt *o, char *buf, size_t len)
{
    const char *zero = (o->flags & TQ_OPTF_ZERO_OFF) ? "0 (off) or " : "";
    if (o->type == TQ_OPT_CHOICE)
        choices_text(o, "", buf, len);
    else if (o->type == TQ_OPT_ONOFF)
        snprintf(buf, len, "on or off");
    else if (o->type == TQ_OPT_FLAG)
        snprintf(buf, len, "1/0, true/false, yes/no or on/off");
    else if (o->max >= type_max(o))
        snprintf(buf, len, "%sat least %lld", zero, o->min);
    else
        snprintf(buf, len, "%sbetween %lld and %lld", zero, o->min, o->max);
}

/* A byte count the way people read it: "64 MiB" when exact, else the number. */
static void bytes_text(long long v, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    int u = -1;
    while (u < 3 && v != 0 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, len, "%lld", v);
    else
        snprintf(buf, len, "%lld %s", v, units[u]);
}

static void number_text(const tq_opt *o, long long v, char *buf, size_t len)
{
    if (o->type == TQ_OPT_BYTES)
        bytes_text(v, buf, len);
    else
        snprintf(buf, len, "%lld", v);
}

/* The bounds for help and README: "1–256", "≥ 1 KiB", "0 = off, or 5–1000000"; "" when none. */
static void bounds_range(const tq_opt *o, const char *dash, char *buf, size_t len)
{
    buf[0] = '\0';
    if (o->type != TQ_OPT_INT && o->type != TQ_OPT_BYTES)
        return;
    char lo[32], hi[32];
    number_text(o, o->min, lo, sizeof(lo));
    number_text(o, o->max, hi, sizeof(hi));
    const char *zero = (o->flags & TQ_OPTF_ZERO_OFF) ? "0 = off, or " : "";
    if (o->max >= type_max(o))
        snprintf(buf, len, "%s≥ %s", zero, lo);
    else
        snprintf(buf, len, "%s%s%s%s", zero, lo, dash, hi);
}

/* ---- reading values ---- */

int tq_opts_parse_bool(const char *s, bool *out)
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

/* Where a value comes from: a variable's name, a "file:line" (a prefix of the message),
 * or nothing for a flag. */
typedef struct value_source {
    const char *env;
    const char *file_line;
} value_source;

/* "(got "x")" or "(got "x" from TENANTQL_X)": where a refused value came from. A secret
 * option's value is never repeated (it may be the secret with one character wrong). */
static void refuse(const tq_opt *o, const char *value, value_source src, const char *why, char *err, size_t errlen)
{
    bool hide = (o->flags & TQ_OPTF_SECRET) != 0;
    const char *shown = hide ? "(not shown)" : value;
    const char *q = hide ? "" : "\"";
    if (src.file_line != NULL)
        snprintf(err, errlen, "%s: --%s must be %s (got %s%s%s)", src.file_line, o->name, why, q, shown, q);
    else if (src.env != NULL)
        snprintf(err, errlen, "--%s must be %s (got %s%s%s from %s)", o->name, why, q, shown, q, src.env);
    else
        snprintf(err, errlen, "--%s must be %s (got %s%s%s)", o->name, why, q, shown, q);
}

static int parse_integer(const tq_opt *o, const char *value, long long *out)
{
    if (o->type == TQ_OPT_CHOICE) {
        for (size_t i = 0; o->choices[i] != NULL; i++)
            if (strcmp(value, o->choices[i]) == 0)
                return *out = (long long)i, 0;
        return -1;
    }
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Stores value (NULL: a FLAG given alone) into target; src says where it came from.
 * Refuses with a message in err. */
static int assign(const tq_opt *o, void *target, const char *value, value_source src, char *err, size_t errlen)
{
    char why[256];
    bounds_sentence(o, why, sizeof(why));
    if (o->type == TQ_OPT_STRING) {
        store_str(o, target, value);
        return 0;
    }
    if (o->type == TQ_OPT_FLAG || o->type == TQ_OPT_ONOFF) {
        bool b = true;
        if (value != NULL && tq_opts_parse_bool(value, &b) != 0) {
            refuse(o, value, src, why, err, errlen);
            return -1;
        }
        store_bool(o, target, b);
        return 0;
    }
    long long v;
    if (parse_integer(o, value, &v) != 0) {
        if (o->type == TQ_OPT_CHOICE)
            refuse(o, value, src, why, err, errlen);
        else
            refuse(o, value, src, "a whole number", err, errlen);
        return -1;
    }
    if (!in_bounds(o, v)) {
        refuse(o, value, src, why, err, errlen);
        return -1;
    }
    store_int(o, target, v);
    return 0;
}

/* A required string must not be empty either. */
static bool has_value(const tq_opt *o, const void *target)
{
    const char *s = o->type == TQ_OPT_STRING ? load_str(o, target) : "";
    return s != NULL && *s != '\0';
}

static void required_message(const tq_opt *o, char *err, size_t errlen)
{
    if (o->env != NULL)
        snprintf(err, errlen, "--%s (%s) is required", o->name, o->env);
    else
        snprintf(err, errlen, "--%s is required", o->name);
}

int tq_opts_check(const tq_opt *opts, const void *target, char *err, size_t errlen)
{
    for (const tq_opt *o = opts; o->name != NULL; o++) {
        if ((o->flags & TQ_OPTF_REQUIRED) && !has_value(o, target)) {
            required_message(o, err, errlen);
            return -1;
        }
        if (is_integer(o->type) && !in_bounds(o, load_int(o, target))) {
            char why[256];
            bounds_sentence(o, why, sizeof(why));
            snprintf(err, errlen, "--%s must be %s (got %lld)", o->name, why, load_int(o, target));
            return -1;
        }
    }
    return 0;
}

/* ---- the command line ---- */

typedef struct active_opt {
    const tq_opt *opt;
    void *target;
    bool given;
} active_opt;

static bool takes_part(const tq_opt_group *g, const tq_opt *o)
{
    if (g->only == NULL)
        return true;
    for (const char *const *n = g->only; *n != NULL; n++)
        if (strcmp(*n, o->name) == 0)
            return true;
    return false;
}

/* The entries of every group that take part, in order; malloc'ed, count in *n. */
static active_opt *collect(const tq_opt_command *cmd, size_t *n)
{
    size_t total = 0;
    for (size_t g = 0; g < cmd->ngroups; g++)
        for (const tq_opt *o = cmd->groups[g].opts; o->name != NULL; o++)
            total++;
    active_opt *all = calloc(total + 1, sizeof(*all));
    if (all == NULL)
        return NULL;
    *n = 0;
    for (size_t g = 0; g < cmd->ngroups; g++)
        for (const tq_opt *o = cmd->groups[g].opts; o->name != NULL; o++)
            if (takes_part(&cmd->groups[g], o))
                all[(*n)++] = (active_opt){o, cmd->groups[g].target, false};
    return all;
}

static void apply_defaults(active_opt *all, size_t n)
{
    for (size_t i = 0; i < n; i++)
        default_one(all[i].opt, all[i].target);
}

static int apply_environment(active_opt *all, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = all[i].opt->env ? getenv(all[i].opt->env) : NULL;
        if (v == NULL)
            continue;
        if (assign(all[i].opt, all[i].target, v, (value_source){all[i].opt->env, NULL}, err, errlen) != 0)
            return -1;
        all[i].given = true;
    }
    return 0;
}

static int check_required(const active_opt *all, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const tq_opt *o = all[i].opt;
        if ((o->flags & TQ_OPTF_REQUIRED) && (!all[i].given || !has_value(o, all[i].target))) {
            required_message(o, err, errlen);
            return -1;
        }
    }
    return 0;
}

enum { CODE_HELP = 'h', CODE_MARKDOWN = 'm', CODE_POSITIONAL = 1 };

static struct option *long_options(const active_opt *all, size_t n)
{
    struct option *longopts = calloc(n + 3, sizeof(*longopts));
    if (longopts == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int has_arg = all[i].opt->type == TQ_OPT_FLAG ? no_argument : required_argument;
        longopts[i] = (struct option){all[i].opt->name, has_arg, NULL, (int)(i + FIRST_OPTION)};
    }
    longopts[n] = (struct option){"help", no_argument, NULL, CODE_HELP};
    longopts[n + 1] = (struct option){"help-markdown", no_argument, NULL, CODE_MARKDOWN};
    return longopts;
}

static void unknown_option(int argc, char **argv, char *err, size_t errlen)
{
    if (optopt >= FIRST_OPTION || (optopt == 0 && optind - 1 < argc && argv[optind - 1] != NULL))
        snprintf(err, errlen, "option %s needs a value or is unknown (see --help)", argv[optind - 1]);
    else
        snprintf(err, errlen, "unknown option (see --help)");
}

/* The getopt loop: 0, 1 after help, -1 after an error. */
static int apply_flags(const tq_opt_command *cmd, active_opt *all, size_t n, int argc, char **argv, int *npos,
                       char *err, size_t errlen)
{
    struct option *longopts = long_options(all, n);
    if (longopts == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int ret = 0;
    optind = 0; /* glibc: 0 starts afresh (a reload parses the same command line again) */
    opterr = 0;
    /* "-" keeps positional arguments in order (code 1) instead of permuting them */
    for (int c; ret == 0 && (c = getopt_long(argc, argv, "-h", longopts, NULL)) != -1;) {
        if (c == CODE_POSITIONAL) {
            argv[1 + (*npos)++] = optarg;
        } else if (c == CODE_HELP) {
            tq_opts_print_help(stdout, cmd);
            ret = 1;
        } else if (c == CODE_MARKDOWN) {
            if (cmd->ngroups > 0)
                tq_opts_print_markdown(stdout, cmd->groups[0].opts, cmd->groups[0].only);
            ret = 1;
        } else if (c >= FIRST_OPTION) {
            active_opt *a = &all[c - FIRST_OPTION];
            ret = assign(a->opt, a->target, optarg, (value_source){NULL, NULL}, err, errlen);
            a->given = true;
        } else {
            unknown_option(argc, argv, err, errlen);
            ret = -1;
        }
    }
    free(longopts);
    return ret;
}

/* ---- the configuration file ---- */

static active_opt *find_active(active_opt *all, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].opt->name, name) == 0)
            return &all[i];
    return NULL;
}

/* Fills what neither a flag nor a variable gave from the file's entries: 0, or -1 with
 * err naming file:line and the option. */
static int apply_file_entries(active_opt *all, size_t n, const char *config_name, const tq_opts_file *f,
                              char *err, size_t errlen)
{
    for (size_t i = 0; i < f->n; i++) {
        const tq_opts_file_entry *e = &f->entries[i];
        char where[PATH_MAX + 32];
        snprintf(where, sizeof(where), "%s:%d", f->path, e->line);
        active_opt *a = find_active(all, n, e->name);
        if (a == NULL) {
            snprintf(err, errlen, "%s: unknown option \"%s\"", where, e->name);
            return -1;
        }
        if (strcmp(e->name, config_name) == 0) {
            snprintf(err, errlen, "%s: --%s cannot be set in the configuration file", where, e->name);
            return -1;
        }
        if (a->given)
            continue; /* a flag or a variable wins over the file */
        if (a->opt->type == TQ_OPT_FLAG && e->value[0] == '\0') {
            snprintf(err, errlen, "%s: --%s needs a value (on or off)", where, e->name);
            return -1;
        }
        if (assign(a->opt, a->target, e->value, (value_source){NULL, where}, err, errlen) != 0)
            return -1;
        a->given = true;
    }
    return 0;
}

/* When the command has a configuration option and it names a file: reads it and applies
 * it beneath the flags and the variables. */
static int apply_file(const tq_opt_command *cmd, active_opt *all, size_t n, char *err, size_t errlen)
{
    if (cmd->config_option == NULL)
        return 0;
    active_opt *c = find_active(all, n, cmd->config_option);
    const char *path = c != NULL && c->opt->type == TQ_OPT_STRING ? load_str(c->opt, c->target) : NULL;
    if (path == NULL || *path == '\0')
        return 0;
    tq_opts_file f;
    if (tq_opts_file_read(path, &f, err, errlen) != 0)
        return -1;
    int rc = apply_file_entries(all, n, cmd->config_option, &f, err, errlen);
    if (rc == 0 && cmd->config_text != NULL) {
        *cmd->config_text = f.text; /* the file's string values point into it */
        f.text = NULL;
    }
    tq_opts_file_free(&f);
    return rc;
}

int tq_opts_parse_quiet(const tq_opt_command *cmd, int argc, char **argv, int *npositional, char *err,
                        size_t errlen)
{
    size_t n = 0;
    int npos = 0;
    active_opt *all = collect(cmd, &n);
    if (all == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    apply_defaults(all, n);
    int ret = apply_environment(all, n, err, errlen);
    if (ret == 0)
        ret = apply_flags(cmd, all, n, argc, argv, &npos, err, errlen);
    if (ret == 0)
        ret = apply_file(cmd, all, n, err, errlen);
    if (ret == 0)
        ret = check_required(all, n, err, errlen);
    free(all);
    if (npositional != NULL)
        *npositional = npos;
    return ret;
}

int tq_opts_parse(const tq_opt_command *cmd, int argc, char **argv, int *npositional)
{
    char err[PATH_MAX + 512];
    int ret = tq_opts_parse_quiet(cmd, argc, argv, npositional, err, sizeof(err));
    if (ret < 0)
        fprintf(stderr, "tenantql: %s\n", err);
    return ret;
}

/* ---- help and README ---- */

/* Markdown to plain text: `code` and **bold** lose their marks, [text](#anchor) keeps
 * its text, "\|" becomes "|". */
static void plain_text(const char *md, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = md; *p != '\0' && o + 1 < len; p++) {
        if (*p == '`' || (p[0] == '*' && p[1] == '*')) {
            p += *p == '*';
            continue;
        }
        if (*p == '\\' && p[1] == '|')
            continue;
        if (*p == '[' && strchr(p, ']') != NULL && strchr(p, ']')[1] == '(') {
            const char *close = strchr(p, ']');
            size_t w = (size_t)(close - p - 1);
            w = w < len - 1 - o ? w : len - 1 - o;
            memcpy(out + o, p + 1, w);
            o += w;
            const char *paren = strchr(close, ')');
            p = paren != NULL ? paren : close;
            continue;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

/* The default as Markdown: default_doc, or the value ("—" when there is none). */
static void default_markdown(const tq_opt *o, char *buf, size_t len)
{
    if (o->default_doc != NULL)
        snprintf(buf, len, "%s", o->default_doc);
    else if (o->type == TQ_OPT_STRING && o->def_str != NULL)
        snprintf(buf, len, "`%s`", o->def_str);
    else if (o->type == TQ_OPT_STRING)
        snprintf(buf, len, "—");
    else if (o->type == TQ_OPT_FLAG)
        snprintf(buf, len, "%s", o->def ? "on" : "off");
    else if (o->type == TQ_OPT_ONOFF)
        snprintf(buf, len, "`%s`", o->def ? "on" : "off");
    else if (o->type == TQ_OPT_CHOICE)
        snprintf(buf, len, "`%s`", o->choices[o->def]);
    else
        snprintf(buf, len, "%lld", o->def);
}

/* "--name METAVAR" as help shows it; "on|off" for ONOFF, nothing for FLAG. */
static void flag_text(const tq_opt *o, const char *bar, char *buf, size_t len)
{
    if (o->type == TQ_OPT_FLAG)
        snprintf(buf, len, "--%s", o->name);
    else if (o->type == TQ_OPT_ONOFF)
        snprintf(buf, len, "--%s on%soff", o->name, bar);
    else
        snprintf(buf, len, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
}

/* Prints text from column HELP_INDENT, wrapped at HELP_WIDTH; the cursor is at column col. */
static void print_wrapped(FILE *out, const char *text, int col)
{
    const char *p = text;
    while (*p != '\0') {
        if (col >= HELP_INDENT) {
            fprintf(out, "\n");
            col = 0;
        }
        fprintf(out, "%*s", HELP_INDENT - col, "");
        int room = HELP_WIDTH - HELP_INDENT, take = (int)strlen(p);
        if (take > room) {
            take = room;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0)
                take = room;
        }
        fprintf(out, "%.*s\n", take, p);
        p += take;
        while (*p == ' ')
            p++;
        col = 0;
    }
}

/* Appends "; part" (or "part" first) to buf. */
static void add_part(char *buf, size_t len, const char *part)
{
    size_t used = strlen(buf);
    if (*part != '\0' && used < len)
        snprintf(buf + used, len - used, "%s%s", used > 0 ? "; " : "", part);
}

/* The bracket after an option's help: "1 to 256; default cores; env TENANTQL_THREADS". */
static void help_facts(const tq_opt *o, char *buf, size_t len)
{
    char part[512];
    buf[0] = '\0';
    if (o->type == TQ_OPT_CHOICE)
        choices_text(o, "", part, sizeof(part));
    else
        bounds_range(o, " to ", part, sizeof(part));
    add_part(buf, len, part);
    if (o->flags & TQ_OPTF_REQUIRED) {
        add_part(buf, len, "required");
    } else if (o->type != TQ_OPT_STRING || o->def_str != NULL || o->default_doc != NULL) {
        char md[512];
        default_markdown(o, md, sizeof(md));
        snprintf(part, sizeof(part), "default %s", md);
        add_part(buf, len, part);
    }
    if (o->env != NULL) {
        snprintf(part, sizeof(part), "env %s", o->env);
        add_part(buf, len, part);
    }
    if (o->flags & TQ_OPTF_RELOAD)
        add_part(buf, len, "SIGHUP reloads it");
}

static void print_option_help(FILE *out, const tq_opt *o)
{
    char flag[128], facts[1024], md[TEXT_MAX], text[TEXT_MAX];
    flag_text(o, "|", flag, sizeof(flag));
    help_facts(o, facts, sizeof(facts));
    snprintf(md, sizeof(md), "%s [%s]", o->help, facts);
    plain_text(md, text, sizeof(text));
    fprintf(out, "  %s", flag);
    print_wrapped(out, text, 2 + (int)strlen(flag));
}

void tq_opts_print_help(FILE *out, const tq_opt_command *cmd)
{
    fprintf(out, "usage: %s\n\n%s\n\noptions:\n", cmd->usage, cmd->summary);
    for (size_t g = 0; g < cmd->ngroups; g++)
        for (const tq_opt *o = cmd->groups[g].opts; o->name != NULL; o++)
            if (takes_part(&cmd->groups[g], o))
                print_option_help(out, o);
    fprintf(out, "  %-30s %s\n", "--help", "show this help");
    fprintf(out, "  %-30s %s\n", "--help-markdown", "these options as the Markdown table of README");
}

void tq_opts_print_markdown(FILE *out, const tq_opt *opts, const char *const *only)
{
    tq_opt_group g = {opts, NULL, only};
    fprintf(out, "| flag | environment | default | meaning |\n|---|---|---|---|\n");
    for (const tq_opt *o = opts; o->name != NULL; o++) {
        if (!takes_part(&g, o))
            continue;
        char flag[128], def[512], range[128];
        flag_text(o, "\\|", flag, sizeof(flag));
        default_markdown(o, def, sizeof(def));
        bounds_range(o, "–", range, sizeof(range));
        if (o->type == TQ_OPT_CHOICE)
            choices_text(o, "`", range, sizeof(range));
        const char *reload = (o->flags & TQ_OPTF_RELOAD) ? "; `SIGHUP` reloads it" : "";
        fprintf(out, "| `%s` | %s%s%s | %s | %s%s%s%s%s |\n", flag, o->env ? "`" : "—", o->env ? o->env : "",
                o->env ? "`" : "", def, o->help, *range ? " (" : "", range, *range ? ")" : "", reload);
    }
}

/* ---- the table itself ---- */

static bool size_fits(const tq_opt *o)
{
    if (o->type == TQ_OPT_STRING)
        return o->size == sizeof(const char *);
    if (o->type == TQ_OPT_FLAG || o->type == TQ_OPT_ONOFF)
        return o->size == sizeof(bool);
    return o->size == sizeof(int32_t) || o->size == sizeof(int64_t);
}

static bool bounds_fit(const tq_opt *o)
{
    if (o->type == TQ_OPT_CHOICE)
        return count_choices(o) > 0 && in_bounds(o, o->def);
    if (o->type != TQ_OPT_INT && o->type != TQ_OPT_BYTES)
        return true;
    if (o->min > o->max || o->max > type_max(o) || o->min < -type_max(o) - 1)
        return false;
    /* a computed default is documented instead of shown, and checked when it is used */
    return o->compute_default != NULL ? o->default_doc != NULL : in_bounds(o, o->def);
}

/* The first thing wrong with one entry, or NULL. */
static const char *entry_problem(const tq_opt *o)
{
    if (!size_fits(o))
        return "the field's size does not fit the type";
    if (o->help == NULL)
        return "no help text";
    if (o->metavar == NULL && (o->type == TQ_OPT_STRING || o->type == TQ_OPT_INT || o->type == TQ_OPT_BYTES))
        return "no metavar";
    if (o->env != NULL && strncmp(o->env, "TENANTQL_", 9) != 0)
        return "its variable does not start with TENANTQL_";
    if (!bounds_fit(o))
        return "bounds that do not fit the field, or a default outside them";
    return NULL;
}

int tq_opts_table_check(const tq_opt *opts, char *err, size_t errlen)
{
    for (const tq_opt *o = opts; o->name != NULL; o++) {
        const char *problem = entry_problem(o);
        if (problem != NULL) {
            snprintf(err, errlen, "--%s: %s", o->name, problem);
            return -1;
        }
        for (const tq_opt *p = opts; p != o; p++) {
            if (strcmp(p->name, o->name) == 0 || (p->env && o->env && strcmp(p->env, o->env) == 0)) {
                snprintf(err, errlen, "--%s: its name or variable is used twice", o->name);
                return -1;
            }
        }
    }
    return 0;
}
