/*
 * options_file.c - configuration files of options (grammar in options.h): a bounded read
 * and a strict line parser. Strict because a file is edited by hand and reloaded into a
 * running server: a typo must be refused with its line, not read as something else.
 * Messages name the line and the option, never a value (a value may be a secret).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tenantql/options.h"

void tq_opts_file_free(tq_opts_file *out)
{
    free(out->text);
    free(out->entries);
    out->text = NULL;
    out->entries = NULL;
    out->n = 0;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static char *skip_spaces(char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

/* A line's bytes are printable or tab (and UTF-8): anything else is refused. */
static bool line_ok(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* After a value: only spaces and an optional comment. */
static bool rest_ok(char *p)
{
    p = skip_spaces(p);
    return *p == '\0' || *p == '#';
}

/* The value at p (NUL-terminated in place): its start, or NULL with why. */
static char *parse_value(char *p, const char **why)
{
    p = skip_spaces(p);
    if (*p == '"') {
        char *close = strchr(p + 1, '"');
        if (close == NULL) {
            *why = "a quoted value without its closing quote";
            return NULL;
        }
        *close = '\0';
        if (!rest_ok(close + 1)) {
            *why = "text after the closing quote (only a # comment may follow)";
            return NULL;
        }
        return p + 1;
    }
    char *end = p + strcspn(p, "#\"");
    if (*end == '"') {
        *why = "a quote inside a bare value (quote the whole value)";
        return NULL;
    }
    while (end > p && is_space(end[-1]))
        end--;
    if (end == p) {
        *why = "no value (write \"\" for an empty one)";
        return NULL;
    }
    *end = '\0';
    return p;
}

/* One line (NUL-terminated, without its newline): 0 with *e filled or left empty (a blank
 * or comment line), -1 with why. */
static int parse_line(char *line, tq_opts_file_entry *e, const char **why)
{
    char *p = skip_spaces(line);
    e->name = NULL;
    if (*p == '\0' || *p == '#')
        return 0;
    char *name = p;
    while (is_name_char(*p))
        p++;
    if (p == name) {
        *why = "expected NAME = VALUE";
        return -1;
    }
    char *name_end = p;
    p = skip_spaces(p);
    if (*p != '=') {
        *why = is_space(*name_end) || *p == '\0' ? "expected '=' after the option's name"
                                                 : "an option's name is letters, digits and '-'";
        return -1;
    }
    *name_end = '\0';
    char *value = parse_value(p + 1, why);
    if (value == NULL)
        return -1;
    e->name = name;
    e->value = value;
    return 0;
}

static const tq_opts_file_entry *find_entry(const tq_opts_file *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->entries[i].name, name) == 0)
            return &f->entries[i];
    return NULL;
}

/* The name for a message: it passed is_name_char, so it is safe to print; cut long. */
static void name_text(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%.64s%s", name, strlen(name) > 64 ? "..." : "");
}

/* Adds the entry of line number ln: 0, or -1 with err (a duplicate, too many). */
static int add_entry(tq_opts_file *f, const char *label, int ln, const tq_opts_file_entry *e, char *err, size_t errlen)
{
    char name[80];
    name_text(e->name, name, sizeof(name));
    const tq_opts_file_entry *first = find_entry(f, e->name);
    if (first != NULL) {
        snprintf(err, errlen, "%s:%d: %s is given twice (first at line %d)", label, ln, name, first->line);
        return -1;
    }
    if (f->n == TQ_OPTS_FILE_MAX_ENTRIES) {
        snprintf(err, errlen, "%s:%d: more than %d options", label, ln, TQ_OPTS_FILE_MAX_ENTRIES);
        return -1;
    }
    f->entries[f->n] = *e;
    f->entries[f->n++].line = ln;
    return 0;
}

/* Splits the copied text into lines and parses each: 0, or -1 with err. */
static int parse_lines(tq_opts_file *f, const char *label, size_t len, char *err, size_t errlen)
{
    char *p = f->text, *end = f->text + len;
    for (int ln = 1; p < end; ln++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl != NULL ? nl : end;
        size_t n = (size_t)(stop - p);
        if (n > 0 && p[n - 1] == '\r')
            n--; /* a file written on Windows */
        if (n > TQ_OPTS_FILE_MAX_LINE) {
            snprintf(err, errlen, "%s:%d: a line longer than %d bytes", label, ln, TQ_OPTS_FILE_MAX_LINE);
            return -1;
        }
        if (!line_ok(p, n)) {
            snprintf(err, errlen, "%s:%d: a control character or NUL byte", label, ln);
            return -1;
        }
        p[n] = '\0';
        tq_opts_file_entry e;
        const char *why = NULL;
        if (parse_line(p, &e, &why) != 0) {
            snprintf(err, errlen, "%s:%d: %s", label, ln, why);
            return -1;
        }
        if (e.name != NULL && add_entry(f, label, ln, &e, err, errlen) != 0)
            return -1;
        p = stop + 1;
    }
    return 0;
}

int tq_opts_file_parse(const char *label, const char *data, size_t len, tq_opts_file *out, char *err, size_t errlen)
{
    *out = (tq_opts_file){0};
    snprintf(out->path, sizeof(out->path), "%s", label);
    if (len > TQ_OPTS_FILE_MAX_BYTES) {
        snprintf(err, errlen, "%s: larger than %d bytes", label, TQ_OPTS_FILE_MAX_BYTES);
        return -1;
    }
    out->text = malloc(len + 1);
    out->entries = calloc(TQ_OPTS_FILE_MAX_ENTRIES, sizeof(*out->entries));
    if (out->text == NULL || out->entries == NULL) {
        tq_opts_file_free(out);
        snprintf(err, errlen, "%s: out of memory", label);
        return -1;
    }
    memcpy(out->text, data, len);
    out->text[len] = '\0';
    if (parse_lines(out, out->path, len, err, errlen) != 0) {
        tq_opts_file_free(out);
        return -1;
    }
    return 0;
}

/* Reads at most TQ_OPTS_FILE_MAX_BYTES + 1 bytes of fd into buf: the count, or -1. */
static ssize_t read_bounded(int fd, char *buf)
{
    size_t got = 0;
    while (got <= TQ_OPTS_FILE_MAX_BYTES) {
        ssize_t r = read(fd, buf + got, TQ_OPTS_FILE_MAX_BYTES + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* The file's checks before reading: a regular file, not writable by everyone. */
static int check_file(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (st.st_mode & S_IWOTH) {
        snprintf(err, errlen, "%s: writable by every user (chmod o-w it): refused", path);
        return -1;
    }
    return 0;
}

int tq_opts_file_read(const char *path, tq_opts_file *out, char *err, size_t errlen)
{
    *out = (tq_opts_file){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read the configuration file %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    ssize_t n = -1;
    if (check_file(fd, path, err, errlen) == 0) {
        buf = malloc(TQ_OPTS_FILE_MAX_BYTES + 1);
        n = buf != NULL ? read_bounded(fd, buf) : -1;
        if (n < 0)
            snprintf(err, errlen, "cannot read the configuration file %s: %s", path,
                     buf == NULL ? "out of memory" : strerror(errno));
    }
    close(fd);
    int rc = n < 0 ? -1 : tq_opts_file_parse(path, buf, (size_t)n, out, err, errlen);
    free(buf);
    return rc;
}
