-- registry.sql - the central registry: one row per tenant, naming the database that
-- holds that tenant's data and how to reach it. Applied by `tenantql migrate` (and by
-- `tenantql dev`) as registry migration 1; changes to the registry come as new files.

CREATE TABLE tenants (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text        NOT NULL UNIQUE
                             CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$'),
    db_host      text        NOT NULL,
    db_port      integer     NOT NULL DEFAULT 5432 CHECK (db_port BETWEEN 1 AND 65535),
    db_name      text        NOT NULL,
    db_user      text        NOT NULL,
    db_password  text        NOT NULL DEFAULT '',
    pool_options jsonb       NOT NULL DEFAULT '{}'::jsonb
                             CHECK (jsonb_typeof(pool_options) = 'object'),
    active       boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION tenants_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TRIGGER tenants_touch BEFORE UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_touch();

-- Running servers LISTEN on this channel and re-read the named tenant, so that a new,
-- changed or deactivated tenant takes effect without a restart.
CREATE FUNCTION tenants_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tenantql_tenants',
                      CASE WHEN TG_OP = 'DELETE' THEN OLD.id::text ELSE NEW.id::text END);
    RETURN NULL;
END $$;

CREATE TRIGGER tenants_notify AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_notify();
