-- 003_placement.sql - where a tenant's tables live (see README, "Placement"): placement
-- 'database' is the tenant's own database (its tables in schema public, db_schema
-- 'public'); placement 'schema' is a schema of its own (db_schema, tenant_<name> by
-- default) inside a database that many tenants share, all of them reaching it with the
-- same role so that they can share connections. Servers read both columns live, like the
-- rest of the row; a registry not yet migrated reads as database/public.
-- db_schema ends up in connection options and SQL as an identifier (search_path), hence
-- the narrow pattern, which servers check again. The partial unique index keeps two
-- tenants out of one schema; it leaves database-placed rows alone, which this migration
-- does not constrain any more than before.

ALTER TABLE tenants
    ADD COLUMN placement text NOT NULL DEFAULT 'database'
        CHECK (placement IN ('database', 'schema')),
    ADD COLUMN db_schema text NOT NULL DEFAULT 'public'
        CHECK (db_schema ~ '^[a-z_][a-z0-9_]{0,62}$'),
    ADD CONSTRAINT tenants_placement_schema
        CHECK ((placement = 'database') = (db_schema = 'public'));

CREATE UNIQUE INDEX tenants_schema_unique ON tenants (db_host, db_port, db_name, db_schema)
    WHERE placement = 'schema';
