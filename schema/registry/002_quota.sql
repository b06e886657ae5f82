-- 002_quota.sql - what one tenant may use of each server process (see README, "Quotas
-- and rate limits"): {"rate": requests per second, "burst": requests at once after a
-- pause, "in_flight": requests being served at once, "db_ms_per_s": milliseconds of
-- database time per second}. A key left out takes the server's default; 0 is no limit.
-- A column of its own rather than keys of pool_options: a quota is what the tenant may
-- use, not how to reach its database, and changing one never looks like a change of
-- connection settings. Servers read it live, like the rest of the row.

ALTER TABLE tenants ADD COLUMN quota jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(quota) = 'object');
