/*
 * tq_test_pg.h - a private PostgreSQL cluster for unit tests that need a real server:
 * made in a fresh temporary directory on a free port, started, and stopped and removed at
 * the end. Header-only, like tq_test.h.
 */
#ifndef TQ_TEST_PG_H
#define TQ_TEST_PG_H

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tenantql/pg_cluster.h"

typedef struct tq_test_pg {
    tq_pg_cluster cluster;
    char dir[64];
    char port_text[16];
} tq_test_pg;

static inline int tq_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* Makes and starts a cluster in /tmp/<prefix>-XXXXXX; 0, or -1 after printing why. The
 * cluster's socket directory is pg->cluster.sockdir, its port pg->port_text. */
static inline int tq_test_pg_start(tq_test_pg *pg, const char *prefix)
{
    char err[512];
    snprintf(pg->dir, sizeof(pg->dir), "/tmp/%s-XXXXXX", prefix);
    /* the cluster runs as the postgres user when the test runs as root: it must reach the directory */
    if (mkdtemp(pg->dir) == NULL || chmod(pg->dir, 0755) != 0)
        return -1;
    int port = tq_test_free_port();
    snprintf(pg->port_text, sizeof(pg->port_text), "%d", port);
    if (tq_pg_cluster_prepare(&pg->cluster, pg->dir, port, err, sizeof(err)) != 0 ||
        tq_pg_cluster_init(&pg->cluster, err, sizeof(err)) < 0 ||
        tq_pg_cluster_start(&pg->cluster, err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot start PostgreSQL: %s\n", err);
        return -1;
    }
    return 0;
}

static inline void tq_test_pg_stop(tq_test_pg *pg)
{
    tq_pg_cluster_stop(&pg->cluster);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", pg->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", pg->dir);
}

#endif
