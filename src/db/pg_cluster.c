/*
 * pg_cluster.c - private PostgreSQL cluster management (see pg_cluster.h), by running the
 * server's own initdb and pg_ctl.
 */
#include "tenantql/pg_cluster.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tenantql/log.h"

#define CLUSTER_SUPERUSER "tenantql"

static bool is_executable(const char *path)
{
    return access(path, X_OK) == 0;
}

/* initdb is usually not on PATH on Debian: look in /usr/lib/postgresql/<newest>/bin. */
static int find_bindir(char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    while (path != NULL && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/pg_ctl", (int)n, path);
        char real[PATH_MAX];
        if (is_executable(buf) && realpath(buf, real) != NULL) {
            char *slash = strrchr(real, '/');
            *slash = '\0';
            snprintf(buf, sizeof(buf), "%s/initdb", real);
            if (is_executable(buf)) {
                snprintf(out, outlen, "%s", real);
                return 0;
            }
        }
        path = colon ? colon + 1 : NULL;
    }
    int best = 0;
    DIR *d = opendir("/usr/lib/postgresql");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        int v = atoi(e->d_name);
        snprintf(buf, sizeof(buf), "/usr/lib/postgresql/%s/bin/initdb", e->d_name);
        if (v > best && is_executable(buf))
            best = v;
    }
    if (d != NULL)
        closedir(d);
    if (best == 0)
        return -1;
    snprintf(out, outlen, "/usr/lib/postgresql/%d/bin", best);
    return 0;
}

/* Runs argv (as the cluster user when dropping privileges); returns its exit status. */
static int run(const tq_pg_cluster *c, char *const argv[], bool quiet)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (c->drop_privileges && (setgroups(0, NULL) != 0 || setgid(c->gid) != 0 || setuid(c->uid) != 0))
            _exit(126);
        if (quiet) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, STDOUT_FILENO);
            close(devnull);
        }
        /* the child inherits our cwd, which the cluster user may not be allowed to enter */
        if (chdir(c->dir) != 0 && chdir("/") != 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Whether the cluster user can reach and write dir (a checkout under /root cannot be). */
static bool reachable_by_cluster_user(const tq_pg_cluster *c, const char *dir)
{
    if (!c->drop_privileges)
        return true;
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(c->gid) != 0 || setuid(c->uid) != 0)
            _exit(1);
        _exit(access(dir, R_OK | W_OK | X_OK) == 0 ? 0 : 1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int make_dir(const tq_pg_cluster *c, const char *path, mode_t mode, bool owned_by_cluster_user)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        return -1;
    if (owned_by_cluster_user && c->drop_privileges && chown(path, c->uid, c->gid) != 0)
        return -1;
    return 0;
}

int tq_pg_cluster_prepare(tq_pg_cluster *c, const char *dir, int port, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->port = port;
    if (find_bindir(c->bindir, sizeof(c->bindir)) != 0) {
        snprintf(err, errlen, "PostgreSQL server programs (initdb, pg_ctl) not found: install postgresql");
        return -1;
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (pw == NULL) {
            snprintf(err, errlen, "running as root, but there is no \"postgres\" user to run PostgreSQL as");
            return -1;
        }
        c->drop_privileges = true;
        c->uid = pw->pw_uid;
        c->gid = pw->pw_gid;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (realpath(dir, c->dir) == NULL) {
        snprintf(err, errlen, "cannot resolve %s: %s", dir, strerror(errno));
        return -1;
    }
    char pgdir[PATH_MAX];
    snprintf(pgdir, sizeof(pgdir), "%s/pg", c->dir);
    if (make_dir(c, pgdir, 0700, true) != 0 || !reachable_by_cluster_user(c, pgdir)) {
        snprintf(err, errlen,
                 "the postgres user cannot use %s (is the checkout under a private directory such as /root?): "
                 "choose another place with --dir",
                 pgdir);
        return -1;
    }
    snprintf(c->datadir, sizeof(c->datadir), "%s/data", pgdir);
    snprintf(c->sockdir, sizeof(c->sockdir), "%s/run", pgdir);
    snprintf(c->logfile, sizeof(c->logfile), "%s/postgresql.log", pgdir);
    if (strlen(c->sockdir) > 90) {
        snprintf(err, errlen, "%s is too long for a unix socket path: choose a shorter --dir", c->sockdir);
        return -1;
    }
    if (make_dir(c, c->sockdir, 0700, true) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", c->sockdir, strerror(errno));
        return -1;
    }
    return 0;
}

int tq_pg_cluster_init(tq_pg_cluster *c, char *err, size_t errlen)
{
    char version[PATH_MAX];
    snprintf(version, sizeof(version), "%s/PG_VERSION", c->datadir);
    if (access(version, F_OK) == 0)
        return 0;
    char initdb[PATH_MAX];
    snprintf(initdb, sizeof(initdb), "%s/initdb", c->bindir);
    char *const argv[] = {initdb, "-D", c->datadir, "-U", CLUSTER_SUPERUSER, "--auth-local=trust",
                          "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-instructions", NULL};
    int rc = run(c, argv, true);
    if (rc != 0) {
        snprintf(err, errlen, "initdb failed (exit %d)", rc);
        return -1;
    }
    /* durability of a development cluster is not worth an fsync per commit */
    char conf[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/postgresql.auto.conf", c->datadir);
    FILE *f = fopen(conf, "a");
    if (f != NULL) {
        fputs("synchronous_commit = off\nmax_connections = 200\nshared_buffers = 128MB\n", f);
        fclose(f);
    }
    return 1;
}

static int pg_ctl(tq_pg_cluster *c, const char *action, bool quiet)
{
    char prog[PATH_MAX], opts[PATH_MAX + 64];
    snprintf(prog, sizeof(prog), "%s/pg_ctl", c->bindir);
    snprintf(opts, sizeof(opts), "-p %d -k %s -h 127.0.0.1", c->port, c->sockdir);
    if (strcmp(action, "start") == 0) {
        char *const argv[] = {prog, "-D", c->datadir, "-l", c->logfile, "-w", "-t", "60", "-o", opts, "start", NULL};
        return run(c, argv, quiet);
    }
    if (strcmp(action, "stop") == 0) {
        char *const argv[] = {prog, "-D", c->datadir, "-m", "fast", "-w", "-t", "60", "stop", NULL};
        return run(c, argv, quiet);
    }
    char *const argv[] = {prog, "-D", c->datadir, "status", NULL};
    return run(c, argv, quiet);
}

int tq_pg_cluster_start(tq_pg_cluster *c, char *err, size_t errlen)
{
    if (pg_ctl(c, "status", true) == 0) {
        tq_log_info("cluster", "PostgreSQL already running on %s; using it", c->datadir);
        c->started_here = true; /* left over from an interrupted run: ours to stop */
        return 0;
    }
    /* the log file is written by the server process, as the cluster user */
    int fd = open(c->logfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        if (c->drop_privileges && fchown(fd, c->uid, c->gid) != 0)
            tq_log_warn("cluster", "cannot hand %s to the postgres user", c->logfile);
        close(fd);
    }
    if (pg_ctl(c, "start", true) != 0) {
        snprintf(err, errlen, "PostgreSQL did not start on port %d; see %s", c->port, c->logfile);
        return -1;
    }
    c->started_here = true;
    return 0;
}

int tq_pg_cluster_stop(tq_pg_cluster *c)
{
    if (!c->started_here)
        return 0;
    c->started_here = false;
    return pg_ctl(c, "stop", true) == 0 ? 0 : -1;
}

void tq_pg_cluster_conninfo(const tq_pg_cluster *c, const char *db, char *out, size_t outlen)
{
    snprintf(out, outlen, "host=%s port=%d user=" CLUSTER_SUPERUSER " dbname=%s", c->sockdir, c->port, db);
}
