-- 006_lifecycle.sql - a tenant's life at fleet scale (see README, "Migrations" and
-- "Admin API").
--
-- schema_version: the newest tenant migration the tenant's database (or schema) has, as
-- `tenantql migrate` (or tenant creation) last recorded it; NULL while unknown (rows of
-- a registry older than this migration until the next `tenantql migrate`). Servers
-- serve a tenant whose version is within the range they know, or unknown; outside it
-- the tenant's requests get 503 TENANT_MIGRATING.
-- migrating: true while a migrator works on the tenant (set before its first statement,
-- cleared in the UPDATE that records the outcome); servers answer TENANT_MIGRATING
-- meanwhile. A migrator that dies leaves it set; the next `tenantql migrate` clears it.
-- migrated_at, migrate_error: when the last migration of the tenant ended, and why it
-- failed (NULL when it succeeded). Never read by servers.
--
-- offboarded_at, export_path: offboarding (DELETE /tenants/{name}, `tenant delete`) is
-- two steps: the first deactivates the tenant, writes a pg_dump archive of its database
-- or schema to export_path and sets offboarded_at; the second (after the grace period,
-- or asked for again) drops the database or schema and the row.

ALTER TABLE tenants
    ADD COLUMN schema_version integer CHECK (schema_version IS NULL OR schema_version >= 0),
    ADD COLUMN migrating boolean NOT NULL DEFAULT false,
    ADD COLUMN migrated_at timestamptz,
    ADD COLUMN migrate_error text,
    ADD COLUMN offboarded_at timestamptz,
    ADD COLUMN export_path text;
