/*
 * cluster.h - several `tenantql serve` processes sharing one registry (README, "Several
 * processes"): each registers itself in the registry's `instances` table with a
 * heartbeat, counts the live processes, and takes its share of a cluster-wide cap on
 * connections to tenant databases (--cluster-max-connections) as the global cap of its
 * pools. The module's state is one per process, owned here; its thread holds a blocking
 * libpq connection of its own to the registry.
 *
 * Off (the default, tq_cluster_join never called): nothing is registered, the cap is
 * --max-connections per process, and tq_cluster_instances() is 1.
 */
#ifndef TENANTQL_CLUSTER_H
#define TENANTQL_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tq_cluster_options {
    const char *conninfo; /* the registry's libpq conninfo */
    int max_connections;  /* the cluster-wide cap (> 0): the same for every process */
    int timeout_ms;       /* a process whose heartbeat is older than this is dead */
} tq_cluster_options;

/* Registers this process (blocking: start-up, after tq_pools_init and before the workers
 * start) and makes the pools' global cap the share it may take now: 0 while the others
 * still hold the whole cap. 0, or -1 with err filled. */
int tq_cluster_join(const tq_cluster_options *o, char *err, size_t errlen);
/* Starts the heartbeat thread. 0, or -1. */
int tq_cluster_start(void);
/* Before the workers stop: the cap stays where it is from now on (heartbeats go on, so
 * the others do not take this process's share while it drains). */
void tq_cluster_detach(void);
/* After the workers stopped (every connection closed): stops the thread and deletes this
 * process's row, so the others' shares grow at once. */
void tq_cluster_leave(void);

/* Whether this process is part of a cluster (tq_cluster_join succeeded). Any thread. */
bool tq_cluster_on(void);
/* The live processes at the last heartbeat, this one included; 1 when off. Any thread. */
int tq_cluster_instances(void);
/* The share the cluster cap gives this process now (floor(cap / instances), at least 1),
 * and the cap it enforces (the share, or less while the others have not yet shrunk
 * theirs); -1 when off. Any thread. */
int tq_cluster_target(void);
int tq_cluster_share(void);
/* Heartbeats that failed (the registry unreachable or slow). Any thread. */
unsigned long tq_cluster_heartbeat_failures(void);

#endif
