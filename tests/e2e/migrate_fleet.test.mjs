// migrate_fleet.test.mjs - `tenantql migrate` across a fleet, and the server's schema-version
// gate. N tenants (200 in the optimised build) in schemas of one shared database, all one
// migration behind (003_revocation undone, bookkeeping included); tenant m0 has a table in
// the way of that migration, so it fails. Then: --dry-run changes nothing; --canary 5
// stops after the failing canary with the rest untouched; --parallel 8 migrates all but
// m0, records each outcome in the registry and exits 1 naming m0; a second run skips what
// the registry says is done, takes again a tenant a killed migrator left migrating, and
// --recheck visits all. The gate: a tenant recorded at an old version, or migrating, gets
// 503 TENANT_MIGRATING with Retry-After while another is served, and is served again
// within a second of its migration.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, startDev, stopDev, gql, until, lockTable, schemaCopiesSql } from './lib/harness.mjs';

const N = Number(process.env.TQ_MIGRATE_TENANTS || 200);
const SHARED = 'tenant_fleet';
const LATEST = 3;
const PENDING = 'schema/tenant/003_revocation.sql';
let dev, userId;
const tokens = new Map();

/** Undoes 003_revocation in a schema (statements for psql). */
const undo003 = (schema) => `ALTER TABLE ${schema}.users DROP COLUMN sessions_revoked_at;
  DROP TABLE ${schema}.revoked_tokens; DELETE FROM ${schema}.tenantql_migrations WHERE version = 3;`;

const psqlInput = (db, input) => dev.psqlScript(input, db);

/** Runs `tenantql migrate` with args; returns { status, lines (parsed JSON), summary, stderr }. */
function migrate(...args) {
  const r = spawnSync(BIN, ['migrate', '--format', 'json', ...args], {
    encoding: 'utf8', env: { ...process.env, TENANTQL_REGISTRY: dev.registry }, maxBuffer: 1 << 26,
  });
  const objects = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const summary = objects.find((o) => o.summary)?.summary;
  return { status: r.status, lines: objects.filter((o) => !o.summary), summary, stderr: r.stderr, stdout: r.stdout };
}

const row = (name) => {
  const [version, migrating, migratedAt, error] = dev.psql(`SELECT coalesce(schema_version::text, 'null'), migrating,
    coalesce(migrated_at::text, 'null'), coalesce(migrate_error, 'null') FROM tenants WHERE name = '${name}'`)[0].split('\t');
  return { version, migrating: migrating === 't', migratedAt, error };
};
const hasRevocation = (i) => dev.psql(`SELECT to_regclass('tenant_m${i}.revoked_tokens') IS NOT NULL`, SHARED)[0] === 't';

before(async () => {
  dev = await startDev();
  dev.tenantql('tenant', 'create', 'tpl', '--placement', 'schema', '--database', SHARED);
  dev.psql(`INSERT INTO tenant_tpl.users (email, password, first_name) VALUES ('who@fleet.example', 'x', 'M')`, SHARED);
  userId = dev.psql('SELECT id FROM tenant_tpl.users', SHARED)[0];
  psqlInput(SHARED, undo003('tenant_tpl'));
  const tables = dev.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'tenant_tpl'", SHARED);
  const sql = schemaCopiesSql(tables, N);
  // m0's migration fails: a table of that name is already there
  sql.push('CREATE TABLE tenant_m0.revoked_tokens (x int);');
  psqlInput(SHARED, sql.join('\n'));
  dev.psql('DROP SCHEMA tenant_tpl CASCADE', SHARED);
  dev.psql(`DELETE FROM tenants WHERE name = 'tpl'`);
  const sock = join(dev.dir, 'pg', 'run');
  dev.psql(`INSERT INTO tenants (name, db_host, db_port, db_name, db_user, db_password, placement, db_schema)
    SELECT 'm' || i, '${sock}', ${dev.pgPort}, '${SHARED}', 'tenantql', '', 'schema', 'tenant_m' || i
    FROM generate_series(0, ${N - 1}) i`);
  // tenant creation records the version (acme, globex): start from a registry that knows none
  dev.psql('UPDATE tenants SET schema_version = NULL, migrated_at = NULL');
  for (const [name, id] of dev.psql("SELECT name, id FROM tenants WHERE name LIKE 'm%'").map((l) => l.split('\t')))
    tokens.set(name, dev.token({ tenantId: id, sub: userId }));
});
after(() => stopDev(dev));

const TOTAL = () => Number(dev.psql('SELECT count(*) FROM tenants')[0]);

test('--dry-run lists each tenant\'s version and pending migrations, and changes nothing', () => {
  const r = migrate('--dry-run', '--parallel', '4');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.lines.length, TOTAL());
  const m5 = r.lines.find((l) => l.tenant === 'm5');
  assert.deepEqual({ from: m5.from, to: m5.to, applied: m5.applied, error: m5.error, pending: m5.pending },
    { from: 2, to: LATEST, applied: 1, error: null, pending: [PENDING] });
  assert.equal(r.summary.dry_run, true);
  assert.equal(r.summary.migrated, N, 'every fleet tenant is behind');
  assert.equal(dev.psql('SELECT count(*) FROM tenants WHERE schema_version IS NOT NULL OR migrated_at IS NOT NULL OR migrating')[0], '0');
  assert.equal(hasRevocation(5), false);
  assert.equal(dev.psql(`SELECT count(*) FROM tenant_m5.tenantql_migrations`, SHARED)[0], '2');
});

test('--canary 5: a failing canary stops the run, exit 1, the rest untouched', () => {
  const r = migrate('--canary', '5', '--parallel', '3');
  assert.equal(r.status, 1, r.stdout);
  assert.equal(r.lines.length, 5, 'only the canaries were visited');
  assert.ok(r.lines.some((l) => l.tenant === 'm0' && /already exists/.test(l.error)), JSON.stringify(r.lines));
  assert.equal(r.summary.canary_failed, true);
  assert.equal(r.summary.untouched, TOTAL() - 5);
  assert.deepEqual(r.summary.failed_tenants, ['m0']);
  assert.equal(dev.psql('SELECT count(*) FROM tenants WHERE migrated_at IS NOT NULL')[0], '5');
  const m0 = row('m0');
  assert.equal(m0.version, '2');
  assert.equal(m0.migrating, false);
  assert.match(m0.error, /revoked_tokens.*already exists/);
  // an untouched tenant: neither its row nor its schema changed
  const last = `m${N - 1}`;
  assert.deepEqual(row(last), { version: 'null', migrating: false, migratedAt: 'null', error: 'null' });
  assert.equal(hasRevocation(N - 1), false);
});

test('--parallel 8: all but the failing tenant migrated and recorded; exit 1 names it', () => {
  const before = TOTAL();
  const r = migrate('--parallel', '8');
  assert.equal(r.status, 1, r.stdout);
  assert.deepEqual(r.summary.failed_tenants, ['m0']);
  assert.equal(r.summary.failed, 1);
  assert.equal(r.summary.skipped, 4, 'the four canaries that succeeded are not visited again');
  assert.equal(r.summary.skipped + r.lines.length, before);
  for (const l of r.lines) {
    assert.deepEqual(Object.keys(l), ['tenant', 'from', 'to', 'applied', 'ms', 'error']);
    if (l.tenant !== 'm0' && /^m/.test(l.tenant)) assert.deepEqual([l.from, l.to, l.applied, l.error], [2, 3, 1, null]);
  }
  assert.equal(dev.psql(`SELECT count(*) FROM tenants WHERE name <> 'm0' AND (schema_version IS DISTINCT FROM ${LATEST}
    OR migrated_at IS NULL OR migrate_error IS NOT NULL OR migrating)`)[0], '0');
  assert.ok(hasRevocation(N - 1));
  const m0 = row('m0');
  assert.equal(m0.version, '2');
  assert.match(m0.error, /already exists/);
  assert.doesNotMatch(m0.error, /password|host=/);
});

test('resume: done tenants are skipped, a killed migrator\'s tenant is taken again, --recheck visits all', () => {
  dev.psql('DROP TABLE tenant_m0.revoked_tokens', SHARED);
  dev.psql(`UPDATE tenants SET migrating = true WHERE name = 'm3'`); // as a killed migrator leaves it
  const r = migrate();
  assert.equal(r.status, 0, r.stdout);
  assert.deepEqual(r.lines.map((l) => l.tenant).sort(), ['m0', 'm3']);
  assert.deepEqual(r.lines.find((l) => l.tenant === 'm3').applied, 0);
  assert.equal(r.summary.skipped, TOTAL() - 2);
  assert.deepEqual(row('m0').version, String(LATEST));
  assert.equal(row('m0').error, 'null');
  assert.equal(row('m3').migrating, false);
  const again = migrate('--format', 'text');
  assert.equal(again.status, 0);
  assert.match(again.stdout, new RegExp(`${TOTAL()} tenant\\(s\\): 0 migrated, 0 current, ${TOTAL()} skipped`));
  const all = migrate('--recheck', '--parallel', '16');
  assert.equal(all.status, 0);
  assert.equal(all.lines.length, TOTAL());
  assert.equal(all.summary.current, TOTAL());
});

const ME = '{ me { email } }';
const metric = async () => {
  const text = await dev.metrics();
  return Number(text.match(/^tenantql_refusals_total\{reason="tenant_migrating"\} (\d+)$/m)[1]);
};

test('gate: an old version or migrating gets 503 TENANT_MIGRATING with Retry-After, others are served', async () => {
  const ok = await gql(dev.url, ME, { token: tokens.get('m2') });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const refusedBefore = await metric();

  // m1 put back to version 2, as a server of this build finds a tenant not migrated yet
  // (the row first: the gate, not a query meeting the missing column, must refuse it)
  dev.psql(`UPDATE tenants SET schema_version = 2 WHERE name = 'm1'`);
  const old = await until((r) => r.status === 503, () => gql(dev.url, ME, { token: tokens.get('m1') }), 2000);
  psqlInput(SHARED, undo003('tenant_m1'));
  assert.equal(old.status, 503);
  assert.equal(old.body.errors[0].extensions.code, 'TENANT_MIGRATING');
  assert.match(old.headers.get('retry-after'), /^[1-9]\d*$/);
  assert.equal((await gql(dev.url, ME, { token: tokens.get('m2') })).status, 200, 'only that tenant');
  assert.match(dev.stderr(), /request [0-9a-f]+-\d+: refused: tenant m1 is at schema version 2/);

  // migrated while the server runs: served again within a second
  const r = migrate('--parallel', '2');
  assert.equal(r.status, 0, r.stdout);
  const t0 = Date.now();
  const back = await until((x) => x.status === 200, () => gql(dev.url, ME, { token: tokens.get('m1') }), 1000);
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.ok(Date.now() - t0 <= 1100, `served again after ${Date.now() - t0} ms`);
  assert.equal(back.body.data.me.email, 'who@fleet.example');

  // migrating = true: refused, then served once it is cleared
  dev.psql(`UPDATE tenants SET migrating = true WHERE name = 'm4'`);
  const busy = await until((x) => x.status === 503, () => gql(dev.url, ME, { token: tokens.get('m4') }), 2000);
  assert.equal(busy.status, 503);
  assert.equal(busy.body.errors[0].extensions.code, 'TENANT_MIGRATING');
  assert.equal(busy.headers.get('retry-after'), '1');
  assert.equal((await gql(dev.url, ME, { token: tokens.get('m2') })).status, 200);
  dev.psql(`UPDATE tenants SET migrating = false WHERE name = 'm4'`);
  const served = await until((x) => x.status === 200, () => gql(dev.url, ME, { token: tokens.get('m4') }), 1000);
  assert.equal(served.status, 200);

  // a version newer than this server knows is outside the range too; unknown (NULL) is served
  dev.psql(`UPDATE tenants SET schema_version = ${LATEST + 1} WHERE name = 'm6'`);
  assert.equal((await until((x) => x.status === 503, () => gql(dev.url, ME, { token: tokens.get('m6') }), 2000)).status, 503);
  dev.psql(`UPDATE tenants SET schema_version = NULL WHERE name = 'm6'`);
  assert.equal((await until((x) => x.status === 200, () => gql(dev.url, ME, { token: tokens.get('m6') }), 2000)).status, 200);
  assert.ok(await metric() >= refusedBefore + 3);
});

test('a tenant recorded current whose tables are behind: 503 TENANT_MIGRATING with Retry-After from the query', async () => {
  psqlInput(SHARED, undo003('tenant_m8')); // the registry still says 3
  const r = await gql(dev.url, ME, { token: tokens.get('m8') });
  assert.equal(r.status, 503, JSON.stringify(r.body));
  assert.equal(r.body.errors[0].extensions.code, 'TENANT_MIGRATING');
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(migrate('--recheck').status, 0, 'a recheck finds and migrates it');
  const back = await until((x) => x.status === 200, () => gql(dev.url, ME, { token: tokens.get('m8') }), 1000);
  assert.equal(back.status, 200, 'served within a second');
});

test('Ctrl-C: the tenant under way finishes and is recorded, no other starts, none is left migrating', async () => {
  const behind = ['m10', 'm11', 'm12', 'm13'];
  psqlInput(SHARED, behind.map((n) => undo003(`tenant_${n}`)).join('\n'));
  dev.psql(`UPDATE tenants SET schema_version = 2 WHERE name IN ('${behind.join("','")}')`);
  const lock = await lockTable(dev, SHARED, 'tenant_m10.users'); // m10's migration waits for it
  const child = spawn(BIN, ['migrate', '--parallel', '1', '--format', 'json'],
    { env: { ...process.env, TENANTQL_REGISTRY: dev.registry }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const marked = await until((v) => v === 't', () => dev.psql(`SELECT migrating FROM tenants WHERE name = 'm10'`)[0], 5000);
  assert.equal(marked, 't', 'm10 is being migrated');
  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 200));
  await lock.end();
  assert.equal(await exited, 1);
  const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const summary = lines.pop().summary;
  assert.deepEqual(lines.map((l) => [l.tenant, l.applied, l.error]), [['m10', 1, null]]);
  assert.equal(summary.stopped, true);
  assert.ok(summary.untouched >= behind.length - 1);
  assert.equal(summary.skipped + 1 + summary.untouched, TOTAL(), 'one visited, the others not started');
  assert.equal(dev.psql('SELECT count(*) FROM tenants WHERE migrating')[0], '0');
  assert.equal(row('m10').version, String(LATEST));
  assert.equal(row('m11').version, '2');
  assert.equal(migrate().status, 0, 'the next run does the rest');
  assert.equal(row('m13').version, String(LATEST));
});
