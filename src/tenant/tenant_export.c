/*
 * tenant_export.c - a pg_dump archive of a tenant's database or schema (offboarding,
 * tenant_lifecycle.c). pg_dump runs as a child process started with posix_spawn (no
 * shell: nothing of the tenant's row is ever parsed as a command), its password in the
 * child's environment (PGPASSWORD) and never in its arguments, which any user may read
 * in /proc. Its error output is kept, bounded, for the error message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lifecycle_internal.h"

extern char **environ;

#define PG_DUMP_INSTALLED "/usr/lib/postgresql/15/bin/pg_dump"
#define MAX_ENV 1024     /* environment entries handed on to pg_dump */
#define STDERR_KEEP 1024 /* bytes of pg_dump's error output kept for the message */

/* mkdir -p, new directories 0700 (exports hold every row of a tenant). */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        snprintf(err, errlen, "export directory name too long");
        return -1;
    }
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot make export directory %s: %s", path, strerror(errno));
            return -1;
        }
        *p = c;
        if (c == '\0')
            return 0;
    }
}

/* The child's environment: ours without PG* variables (a PGOPTIONS or PGSERVICE of the
 * caller's must not change what is dumped), then the password and a connect timeout.
 * Entries point into environ and into pw_entry; the array is malloc'ed. */
static char **child_env(char *pw_entry)
{
    char **env = calloc(MAX_ENV + 4, sizeof(char *));
    if (env == NULL)
        return NULL;
    int n = 0;
    for (char **e = environ; *e != NULL && n < MAX_ENV; e++)
        if (strncmp(*e, "PG", 2) != 0)
            env[n++] = *e;
    env[n++] = pw_entry;
    env[n++] = "PGCONNECT_TIMEOUT=10";
    env[n++] = "PGAPPNAME=tenantql export";
    return env;
}

/* Reads the child's error output to its end, keeping the first STDERR_KEEP bytes. */
static void drain(int fd, char *keep, size_t keeplen)
{
    size_t have = 0;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t take = have + 1 < keeplen ? keeplen - 1 - have : 0;
        if (take > (size_t)n)
            take = (size_t)n;
        memcpy(keep + have, buf, take);
        have += take;
    }
    keep[have] = '\0';
    while (have > 0 && (keep[have - 1] == '\n' || keep[have - 1] == ' '))
        keep[--have] = '\0';
}

/* Runs pg_dump of place p into file; 0, or -1 with err filled (its error output). */
static int run_pg_dump(const tq_tenant_place *p, const char *file, char *err, size_t errlen)
{
    const char *bin = access(PG_DUMP_INSTALLED, X_OK) == 0 ? PG_DUMP_INSTALLED : "pg_dump";
    const char *argv[] = {bin,
                          "--format=custom",
                          "--no-password",
                          "--file",
                          file,
                          "--host",
                          p->host,
                          "--port",
                          p->port,
                          "--username",
                          p->user,
                          "--dbname",
                          p->db,
                          p->schema_placed ? "--schema" : NULL,
                          p->schema,
                          NULL};
    size_t pwlen = strlen(p->password) + sizeof("PGPASSWORD=");
    char *pw_entry = malloc(pwlen);
    char **env = pw_entry ? child_env(pw_entry) : NULL;
    int fds[2] = {-1, -1};
    if (env == NULL || pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot start pg_dump: %s", env == NULL ? "out of memory" : strerror(errno));
        free(pw_entry);
        free(env);
        return -1;
    }
    snprintf(pw_entry, pwlen, "PGPASSWORD=%s", p->password);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, bin, &fa, NULL, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    explicit_bzero(pw_entry, pwlen);
    free(pw_entry);
    free(env);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(err, errlen, "cannot start %s: %s", bin, strerror(rc));
        return -1;
    }
    char out[STDERR_KEEP];
    drain(fds[0], out, sizeof(out));
    close(fds[0]);
    int status = 0;
    pid_t waited;
    while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (waited < 0) { /* SIGCHLD ignored by the process: the child's status is lost */
        snprintf(err, errlen, "cannot wait for pg_dump: %s", strerror(errno));
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    snprintf(err, errlen, "pg_dump failed (%s %d): %s", WIFEXITED(status) ? "exit status" : "signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), out[0] ? out : "no message");
    return -1;
}

/* Makes what was written to path durable: its data, then the directory entry. */
static int sync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int tq_tenant_export(const tq_tenant_place *p, const char *name, const char *dir, char *path_out, size_t path_len,
                     char *err, size_t errlen)
{
    char real[PATH_MAX];
    if (make_dirs(dir, err, errlen) != 0)
        return -1;
    if (realpath(dir, real) == NULL) {
        snprintf(err, errlen, "export directory %s: %s", dir, strerror(errno));
        return -1;
    }
    char stamp[32], final[PATH_MAX], tmp[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
    int n1 = snprintf(final, sizeof(final), "%s/%s-%s.dump", real, name, stamp);
    int n2 = snprintf(tmp, sizeof(tmp), "%s/.%s-%s.dump.partial", real, name, stamp);
    if (n1 >= (int)sizeof(final) || n2 >= (int)sizeof(tmp) || (size_t)n1 >= path_len) {
        snprintf(err, errlen, "export path too long");
        return -1;
    }
    /* made here, 0600, so that pg_dump (which opens it for writing) keeps that mode */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    close(fd);
    int rc = run_pg_dump(p, tmp, err, errlen);
    if (rc == 0 && (sync_path(tmp, O_RDONLY) != 0 || rename(tmp, final) != 0 || sync_path(real, O_RDONLY) != 0)) {
        snprintf(err, errlen, "cannot store export %s: %s", final, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        unlink(tmp);
        return -1;
    }
    snprintf(path_out, path_len, "%s", final);
    return 0;
}
