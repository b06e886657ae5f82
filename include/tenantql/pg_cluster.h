/*
 * pg_cluster.h - a private PostgreSQL cluster in a directory of our own, for `tenantql
 * dev` (and the tests, which drive the same binary). PostgreSQL refuses to run as root,
 * so when we are root the cluster's programs run as the "postgres" system user.
 */
#ifndef TENANTQL_PG_CLUSTER_H
#define TENANTQL_PG_CLUSTER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tq_pg_cluster {
    char dir[PATH_MAX];      /* what holds the cluster (e.g. <checkout>/.tenantql) */
    char datadir[PATH_MAX];
    char sockdir[PATH_MAX];
    char logfile[PATH_MAX];
    char bindir[PATH_MAX];   /* initdb, pg_ctl */
    int port;
    bool drop_privileges;    /* run PostgreSQL's programs as uid/gid */
    uid_t uid;
    gid_t gid;
    bool started_here;       /* we started it, so we stop it */
} tq_pg_cluster;

/* Resolves paths and the user to run as; creates dir. */
int tq_pg_cluster_prepare(tq_pg_cluster *c, const char *dir, int port, char *err, size_t errlen);
/* initdb when the data directory is new; returns 1 if it created the cluster, 0 if it existed. */
int tq_pg_cluster_init(tq_pg_cluster *c, char *err, size_t errlen);
/* Starts the server (reuses one already running on this data directory). */
int tq_pg_cluster_start(tq_pg_cluster *c, char *err, size_t errlen);
/* Fast shutdown; only when this process started it. */
int tq_pg_cluster_stop(tq_pg_cluster *c);

/* "host=<sockdir> port=<port> user=tenantql dbname=<db>" */
void tq_pg_cluster_conninfo(const tq_pg_cluster *c, const char *db, char *out, size_t outlen);

#endif
