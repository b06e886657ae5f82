-- 004_pause.sql - moving a tenant with its traffic running (see README, "Moving a
-- tenant").
--
-- paused: while true, servers hold the tenant's new requests (each waits, re-reading its
-- record every few tens of milliseconds, at most --pause-max-wait-ms) instead of running
-- them; requests already running finish. `tenant move` sets it while it copies the last
-- changes and clears it in the same UPDATE that points the row at the new place;
-- `tenant pause` / `tenant resume` set it by hand. Servers read it live, like the rest of
-- the row; a registry without the column reads as not paused.
--
-- moved_from: where the tenant's previous copy is after a move, until `tenant move NAME
-- --finish` drops it: {"placement", "host", "port", "db", "schema", "user", "password",
-- "moved_at", "tables": {table: {"rows", "sum"}}}. The tables' row counts and checksums
-- are the old copy's at the switch: --finish drops it only when they still hold (nothing
-- wrote to it afterwards). Not read by servers. A move refuses to start while it is set,
-- so there is never more than one old copy to remember.

ALTER TABLE tenants
    ADD COLUMN paused boolean NOT NULL DEFAULT false,
    ADD COLUMN moved_from jsonb CHECK (moved_from IS NULL OR jsonb_typeof(moved_from) = 'object');
