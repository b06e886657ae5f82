-- 005_tenant_role.sql - a role per tenant in a shared database (see README, "Defence in
-- depth: a role per tenant"). db_role, when set, is a NOLOGIN role that may use the
-- tenant's schema and nothing else; the server runs each of the tenant's statements with
-- that role set for the statement's transaction alone (set_config('role', db_role,
-- true)), so PostgreSQL itself refuses another tenant's schema should a statement ever
-- be bound to the wrong one. NULL (the default): statements run as the
-- shared login role, kept apart by the schema bound in their text alone.
-- Only placement 'schema' has a use for it: a tenant with a database of its own is kept
-- apart by its database (and its own login role, if given one). The name goes into a
-- role switch on every statement, hence the narrow pattern (no pg_ names: PostgreSQL's
-- own roles), which servers check again. Roles are per server, so two tenants of one
-- server never share one: a shared role would reach both tenants' schemas.

ALTER TABLE tenants
    ADD COLUMN db_role text
        CHECK (db_role ~ '^[a-z_][a-z0-9_]{0,62}$' AND db_role !~ '^pg_'),
    ADD CONSTRAINT tenants_role_schema
        CHECK (db_role IS NULL OR placement = 'schema');

CREATE UNIQUE INDEX tenants_role_unique ON tenants (db_host, db_port, db_role)
    WHERE db_role IS NOT NULL;
