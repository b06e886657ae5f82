-- 007_instances.sql - several `tenantql serve` processes sharing one registry (see
-- README, "Several processes").
--
-- One row per live server process started with --cluster-max-connections: it inserts its
-- row at start, sets heartbeat_at = now() about three times per --cluster-timeout-ms, and
-- deletes the row on a clean shutdown. A row whose heartbeat_at is older than the
-- timeout belongs to a dead process; any live process deletes it. Times are the registry's
-- clock (now()), never a server's, so the servers' clocks need not agree.
--
-- claim: the connections to tenant databases the process may hold: never less than what
-- it holds or may open (its cap, and the connections still open above it while it
-- shrinks). A process raises its cap only inside a transaction holding the advisory lock
-- below, and only while every claim together stays within the cluster cap; lowering is
-- immediate. So the sum of connections the processes hold never exceeds the cluster cap
-- (cluster_max, each process's own option: they must agree).
-- instances: the live processes the process counted at its last heartbeat (its share is
-- the cluster cap divided by it).
-- Changes are announced on the channel tenantql_instances (payload: the id of the process
-- that changed something), so that the others re-read at once.

CREATE TABLE instances (
    id           uuid PRIMARY KEY,
    host         text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    cluster_max  integer NOT NULL CHECK (cluster_max > 0),
    claim        integer NOT NULL DEFAULT 0 CHECK (claim >= 0),
    instances    integer NOT NULL DEFAULT 1 CHECK (instances > 0)
);
