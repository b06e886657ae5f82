// lifecycle.test.mjs - a tenant's life (README, "Adding a tenant" and "Offboarding a
// tenant"): creation from the server's template database (placement database) or in one
// round trip (placement schema) is quick, records the schema version, and the new tenant
// is served within a second; the template is never open to connections and is migrated
// again when behind; `tenant set-pool` takes valid pool options only; `tenant delete`
// deactivates and exports (a pg_dump archive that restores, mode 0600), idempotently;
// `tenant delete --drop` is refused before offboarding and within the grace period, and
// then drops the database or schema (and its role) and the row; `tenant drop-expired`
// drops those whose grace period is over.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDev, stopDev, gql, until, pgBinDir, sanitized } from './lib/harness.mjs';

const Q = '{ users(first: 5) { totalCount } }';
const LATEST = 3; // schema/tenant/003_revocation.sql
let dev, sock, slow;

before(async () => {
  dev = await startDev();
  sock = join(dev.dir, 'pg', 'run');
  // the CLI itself starts slower under the sanitizers; the SQL is the same
  slow = sanitized(dev.child.pid) ? 3 : 1;
});
after(() => stopDev(dev));

/** Runs the CLI expecting failure; returns its stderr. */
function cliFails(...args) {
  try {
    dev.tenantql(...args);
  } catch (e) {
    assert.equal(e.status, 1, String(e.stderr));
    return String(e.stderr);
  }
  assert.fail(`tenantql ${args.join(' ')} succeeded`);
}

const row = (name, cols) => dev.psql(`SELECT ${cols} FROM tenants WHERE name = '${name}'`)[0];

/** Creates a tenant with the CLI and checks it is served within a second; returns the creation time (ms). */
async function createServed(name, ...args) {
  const t0 = process.hrtime.bigint();
  dev.tenantql('tenant', 'create', name, ...args);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const created = Date.now();
  const token = dev.token({ tenantId: dev.tenantId(name) });
  const r = await until((x) => x.status === 200, () => gql(dev.url, Q, { token }), 1000);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(Date.now() - created <= 1100, `served ${Date.now() - created} ms after its creation`);
  assert.equal(row(name, "schema_version, migrated_at IS NOT NULL"), `${LATEST}\tt`);
  return ms;
}

test('placement database: a copy of the template, served within a second; the template stays closed', async () => {
  const ms = await createServed('tpl_a');
  // the first creation also made and migrated the template; the second is one CREATE DATABASE
  const ms2 = await createServed('tpl_b');
  console.log(`created in ${ms.toFixed(0)} ms (making the template), then ${ms2.toFixed(0)} ms`);
  assert.ok(ms2 < 1000 * slow, `creation took ${ms2} ms`);
  const [allow, comment] = dev.psql(`SELECT datallowconn, shobj_description(oid, 'pg_database') FROM pg_database
    WHERE datname = 'tenantql_template'`)[0].split('\t');
  assert.equal(allow, 'f', 'nobody may connect to the template');
  assert.equal(comment, `tenantql tenant schema version ${LATEST}`);
  // a copy has the tenant's tables and their migration record
  assert.deepEqual(dev.psql('SELECT max(version) FROM tenantql_migrations', 'tenant_tpl_b'), [String(LATEST)]);
  dev.psql("INSERT INTO users (email, password) VALUES ('a@tpl.example', 'x')", 'tenant_tpl_b');
  const r = await gql(dev.url, Q, { token: dev.token({ tenantId: dev.tenantId('tpl_b') }) });
  assert.equal(r.body.data.users.totalCount, 1);
});

test('a template behind the newest migration is migrated again before it is copied', async () => {
  dev.psql("COMMENT ON DATABASE tenantql_template IS 'tenantql tenant schema version 1'", 'postgres');
  await createServed('tpl_c');
  assert.equal(dev.psql(`SELECT datallowconn::text || ' ' || shobj_description(oid, 'pg_database') FROM pg_database
    WHERE datname = 'tenantql_template'`)[0], `false tenantql tenant schema version ${LATEST}`);
});

test('placement schema: made and migrated in one round trip, served within a second', async () => {
  const ms = await createServed('sch_a', '--placement', 'schema');
  const ms2 = await createServed('sch_b', '--placement', 'schema', '--role');
  console.log(`schema tenants created in ${ms.toFixed(0)} ms and ${ms2.toFixed(0)} ms (with a role)`);
  assert.ok(ms < 1000 * slow && ms2 < 1000 * slow, `creation took ${ms} and ${ms2} ms`);
  assert.deepEqual(dev.psql('SELECT max(version) FROM tenant_sch_a.tenantql_migrations', 'tenantql_shared'),
    [String(LATEST)]);
  // the same name again is refused, and a schema left behind by someone is migrated, not refused
  assert.match(cliFails('tenant', 'create', 'sch_a', '--placement', 'schema'), /already exists/);
  dev.psql('CREATE SCHEMA tenant_sch_left', 'tenantql_shared');
  await createServed('sch_left', '--placement', 'schema');
});

test('tenant set-pool replaces pool options; unknown keys and bad values are refused', () => {
  dev.tenantql('tenant', 'set-pool', 'tpl_a', '{"max": 3, "statements": "unnamed"}');
  assert.equal(row('tpl_a', 'pool_options::text'), '{"max": 3, "statements": "unnamed"}');
  assert.match(cliFails('tenant', 'set-pool', 'tpl_a', '{"maxx": 3}'), /unknown pool option "maxx"/);
  assert.match(cliFails('tenant', 'set-pool', 'tpl_a', '{"max": 0}'), /pool_options.max must be an integer in 1..1000/);
  assert.match(cliFails('tenant', 'set-pool', 'tpl_a', '{"statements": "named"}'), /"prepared" or "unnamed"/);
  assert.match(cliFails('tenant', 'set-pool', 'tpl_a', '[1]'), /JSON object/);
  assert.match(cliFails('tenant', 'set-pool', 'nobody', '{}'), /no tenant named "nobody"/);
  assert.equal(row('tpl_a', 'pool_options::text'), '{"max": 3, "statements": "unnamed"}');
});

/** Restores an export into a new database; returns its row counts of users and products in schema. */
function restoredCounts(file, db, schema) {
  dev.psql(`CREATE DATABASE ${db}`, 'postgres');
  execFileSync(join(pgBinDir(), 'pg_restore'), ['--no-owner', '--no-privileges', '--exit-on-error',
    '--dbname', `host=${sock} port=${dev.pgPort} user=tenantql dbname=${db}`, file]);
  return dev.psql(`SELECT (SELECT count(*) FROM ${schema}.users) || ' ' || (SELECT count(*) FROM ${schema}.products)`, db)[0];
}

for (const placement of ['database', 'schema']) {
  test(`offboarding (${placement}): deactivate and export, which restores; then drop after the grace period`, async () => {
    const name = `off_${placement}`;
    const extra = placement === 'schema' ? ['--placement', 'schema', '--role'] : [];
    await createServed(name, ...extra);
    const token = dev.token({ tenantId: dev.tenantId(name) });
    dev.tenantPsql(name, `INSERT INTO users (email, password) SELECT 'u' || i || '@off.example', 'x'
      FROM generate_series(1, 37) i; INSERT INTO products (name, price) SELECT 'p' || i, i FROM generate_series(1, 5) i`);
    const dir = join(dev.dir, `exports-${placement}`, 'nested');

    // dropping before offboarding is refused
    assert.match(cliFails('tenant', 'delete', name, '--drop', '--force'), /is not offboarded/);

    const out = dev.tenantql('tenant', 'delete', name, '--export-dir', dir).trim().split('\t');
    assert.equal(out[0], name);
    assert.equal(out[1], 'offboarded');
    const file = out[2];
    assert.match(file, new RegExp(`^${dir}/${name}-\\d{8}T\\d{6}Z\\.dump$`));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(row(name, 'active, offboarded_at IS NOT NULL, export_path'), `f\tt\t${file}`);
    const r = await until((x) => x.status === 403, () => gql(dev.url, Q, { token }), 1000);
    assert.equal(r.status, 403, 'an offboarded tenant is refused');
    assert.match(dev.tenantql('tenant', 'list'), new RegExp(`${name}\\s+\\S+\\s+offboarded`));

    // asked again: the same export, nothing done
    assert.equal(dev.tenantql('tenant', 'delete', name, '--export-dir', dir).trim().split('\t')[2], file);

    // the archive restores into a fresh database, every row there
    const schema = placement === 'schema' ? `tenant_${name}` : 'public';
    assert.equal(restoredCounts(file, `restored_${placement}`, schema), '37 5');

    // within the grace period: refused, saying until when
    assert.match(cliFails('tenant', 'delete', name, '--drop'), /grace period until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    assert.ok(dev.psql(`SELECT 1 FROM tenants WHERE name = '${name}'`).length === 1);
    if (placement === 'database') {
      dev.tenantql('tenant', 'delete', name, '--drop', '--force');
      assert.deepEqual(dev.psql(`SELECT 1 FROM pg_database WHERE datname = 'tenant_${name}'`), []);
    } else {
      // a grace period that is over needs no --force
      await new Promise((res) => setTimeout(res, 1100));
      dev.tenantql('tenant', 'delete', name, '--drop', '--grace-s', '1');
      assert.deepEqual(dev.psql(`SELECT 1 FROM pg_namespace WHERE nspname = 'tenant_${name}'`, 'tenantql_shared'), []);
      assert.deepEqual(dev.psql(`SELECT 1 FROM pg_roles WHERE rolname = 'tq_t_${name}'`), [], 'its role is gone');
      assert.ok(dev.psql("SELECT count(*) FROM tenant_sch_a.users", 'tenantql_shared').length === 1, 'others stay');
    }
    assert.deepEqual(dev.psql(`SELECT 1 FROM tenants WHERE name = '${name}'`), []);
    assert.ok(existsSync(file), 'the export stays');
    assert.match(cliFails('tenant', 'delete', name, '--drop', '--force'), /no tenant named/);
  });
}

test('tenant drop-expired drops the tenants whose grace period is over, and those alone', async () => {
  for (const n of ['exp_old', 'exp_new']) {
    dev.tenantql('tenant', 'create', n);
    dev.tenantql('tenant', 'delete', n, '--export-dir', join(dev.dir, 'exports-exp'));
  }
  dev.psql("UPDATE tenants SET offboarded_at = now() - interval '8 days' WHERE name = 'exp_old'");
  assert.equal(dev.tenantql('tenant', 'drop-expired').trim(), '1 dropped');
  assert.deepEqual(dev.psql("SELECT name FROM tenants WHERE name LIKE 'exp_%'"), ['exp_new']);
  assert.deepEqual(dev.psql("SELECT 1 FROM pg_database WHERE datname = 'tenant_exp_old'"), []);
  assert.equal(dev.tenantql('tenant', 'drop-expired').trim(), '0 dropped');
});

test('a failing export leaves the tenant as it was', () => {
  dev.tenantql('tenant', 'create', 'nodump');
  // a file where the directory should be
  assert.match(cliFails('tenant', 'delete', 'nodump', '--export-dir', '/dev/null/x'), /export directory/);
  assert.equal(row('nodump', 'active, offboarded_at IS NULL'), 't\tt');
  // pg_dump itself failing: its database is gone
  dev.psql('DROP DATABASE tenant_nodump', 'postgres');
  assert.match(cliFails('tenant', 'delete', 'nodump', '--export-dir', join(dev.dir, 'exports-fail')), /pg_dump failed.*tenant_nodump/s);
  assert.equal(row('nodump', 'active, offboarded_at IS NULL'), 't\tt');
});
