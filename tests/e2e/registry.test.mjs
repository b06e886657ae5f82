// registry.test.mjs - the connection manager against the live registry and its limits:
// a new tenant and new credentials take effect within a second; bad pool_options are
// reported when the row is loaded; with max 1 and the only connection stuck, the next
// request of that tenant fails with TENANT_BUSY after its acquire timeout while other
// tenants are served; a tenant whose database is down fails fast without piling up
// requests, and the others do not notice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDev, stopDev, gql, freePort } from './lib/harness.mjs';

const Q = '{ users(first: 1) { edges { node { email } } } }';
let dev, sock;

before(async () => {
  dev = await startDev();
  sock = join(dev.dir, 'pg', 'run');
});
after(() => stopDev(dev));

/** Asks until the answer satisfies ok or ms pass; returns { r, ms }. */
async function until(ok, ask, ms = 2000) {
  const t0 = Date.now();
  let r;
  do { r = await ask(); } while (!ok(r) && Date.now() - t0 < ms);
  return { r, ms: Date.now() - t0 };
}

test('a tenant added to the registry is served within a second, without a restart', async () => {
  // database first, registry row last: the row is what the server is told about
  dev.tenantql('tenant', 'create', 'hooli');
  const token = dev.token({ tenantId: dev.tenantId('hooli') });
  dev.psql("INSERT INTO users (email, password) VALUES ('who@hooli.example', 'x')", 'tenant_hooli');
  const { r, ms } = await until((x) => x.status === 200, () => gql(dev.url, Q, { token }));
  assert.equal(r.status, 200);
  assert.equal(r.body.data.users.edges[0].node.email, 'who@hooli.example');
  assert.ok(ms < 1000, `served after ${ms} ms`);
});

test('new credentials in the registry are used within a second; old connections are let go', async () => {
  // one role that must give a password even on the local socket (the cluster trusts the rest)
  const hba = join(dev.dir, 'pg', 'data', 'pg_hba.conf');
  writeFileSync(hba, 'local all pw_role scram-sha-256\n' + readFileSync(hba, 'utf8'));
  dev.psql("CREATE ROLE pw_role LOGIN PASSWORD 'first-secret'", 'postgres');
  dev.psql('SELECT pg_reload_conf()', 'postgres');
  dev.tenantql('tenant', 'create', 'pw', '--db-host', sock, '--db-port', String(dev.pgPort),
    '--db-user', 'pw_role', '--db-password', 'first-secret');
  dev.psql('GRANT ALL ON ALL TABLES IN SCHEMA public TO pw_role', 'tenant_pw');
  dev.psql("INSERT INTO users (email, password) VALUES ('who@pw.example', 'x')", 'tenant_pw');
  const token = dev.token({ tenantId: dev.tenantId('pw') });
  let { r } = await until((x) => x.status === 200, () => gql(dev.url, Q, { token }));
  assert.equal(r.status, 200, JSON.stringify(r.body));

  // the password changes in PostgreSQL and in the registry at once
  dev.psql("ALTER ROLE pw_role PASSWORD 'second-secret'", 'postgres');
  const changed = Date.now();
  dev.psql("UPDATE tenants SET db_password = 'second-secret' WHERE name = 'pw'");
  await sleep(1000);
  const stale = Number(dev.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = 'pw_role'
    AND backend_start < to_timestamp(${changed / 1000})`)[0]);
  assert.equal(stale, 0, 'connections made with the old credentials are closed');
  ({ r } = await until((x) => x.status === 200, () => gql(dev.url, Q, { token }), 500));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // and a wrong password is an unavailable tenant, not a crash
  dev.psql("UPDATE tenants SET db_password = 'wrong' WHERE name = 'pw'");
  ({ r } = await until((x) => x.status !== 200, () => gql(dev.url, '{ users(first: 2) { totalCount } }', { token })));
  assert.equal(r.status, 503);
  assert.equal(r.body.errors[0].extensions.code, 'TENANT_UNAVAILABLE');
  assert.doesNotMatch(JSON.stringify(r.body), /password|authentication|pw_role/i, 'no connection detail leaks');
});

test('bad and unknown pool_options are reported when the tenant is loaded, and the defaults used', async () => {
  dev.tenantql('tenant', 'create', 'oddopts', '--pool-options', '{"max": "ten", "idle_timeout": 5}');
  const token = dev.token({ tenantId: dev.tenantId('oddopts') });
  const { r } = await until((x) => x.status === 200, () => gql(dev.url, Q, { token }));
  assert.equal(r.status, 200);
  const log = dev.stderr();
  assert.match(log, /tenant oddopts: pool_options\.max must be an integer/);
  assert.match(log, /tenant oddopts: unknown pool option "idle_timeout"/);
});

test('max 1 with its connection stuck: the next request is TENANT_BUSY after the acquire timeout, others are served', async () => {
  dev.tenantql('tenant', 'create', 'stuck', '--pool-options', '{"max": 1, "acquire_timeout_ms": 700}');
  const token = dev.token({ tenantId: dev.tenantId('stuck') });
  assert.equal((await until((x) => x.status === 200, () => gql(dev.url, Q, { token }))).r.status, 200);

  // a lock held by another session makes the tenant's only connection wait
  const locker = spawn('psql', ['-X', '-q', `host=${sock} port=${dev.pgPort} user=tenantql dbname=tenant_stuck`],
    { stdio: ['pipe', 'ignore', 'ignore'] });
  const lockerExited = new Promise((r) => locker.once('exit', r)); // may exit before it is awaited
  locker.stdin.write('BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;\n');
  await until((n) => n > 0, async () => Number(dev.psql(
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = 'tenant_stuck' AND l.mode = 'AccessExclusiveLock' AND l.granted")[0]), 3000);

  const first = gql(dev.url, '{ users(first: 3) { totalCount } }', { token }); // holds the connection, waiting
  await sleep(100);
  const t0 = Date.now();
  const second = await gql(dev.url, '{ users(first: 4) { totalCount } }', { token });
  const waited = Date.now() - t0;
  assert.equal(second.status, 503);
  assert.equal(second.body.errors[0].extensions.code, 'TENANT_BUSY');
  assert.ok(waited >= 600, `failed after ${waited} ms, before the acquire timeout`);

  // meanwhile another tenant is served at once
  const other = await gql(dev.url, '{ me { email } }', { token: dev.tokens.acme });
  assert.deepEqual(other.body, { data: { me: { email: 'admin@acme.example' } } });

  locker.stdin.end();
  const done = await first;
  assert.equal(done.status, 200, 'the stuck request completes once the lock goes');
  await lockerExited;
});

test('a tenant whose database is down fails fast with TENANT_UNAVAILABLE; the others are unaffected', async () => {
  const nowhere = await freePort(); // nothing listens there
  // registered directly: `tenant create` would (rightly) refuse a server it cannot reach
  dev.psql(`INSERT INTO tenants (name, db_host, db_port, db_name, db_user, db_password)
    VALUES ('down', '127.0.0.1', ${nowhere}, 'tenant_down', 'tenantql', 'x')`);
  const token = dev.token({ tenantId: dev.tenantId('down') });
  const { r } = await until((x) => x.status !== 403, () => gql(dev.url, Q, { token }));
  assert.equal(r.status, 503);
  assert.equal(r.body.errors[0].extensions.code, 'TENANT_UNAVAILABLE');

  // 50 requests at once: each answered quickly, none left waiting for a timeout
  const t0 = Date.now();
  const [downs, ups] = await Promise.all([
    Promise.all(Array.from({ length: 50 }, (_, i) => gql(dev.url, `{ users(first: ${i % 10}) { totalCount } }`, { token }))),
    Promise.all(Array.from({ length: 20 }, () => gql(dev.url, '{ me { email } }', { token: dev.tokens.globex }))),
  ]);
  const ms = Date.now() - t0;
  assert.ok(downs.every((x) => x.status === 503 && x.body.errors[0].extensions.code === 'TENANT_UNAVAILABLE'));
  assert.ok(ups.every((x) => x.status === 200 && x.body.data.me.email === 'admin@globex.example'));
  assert.ok(ms < 3000, `70 requests took ${ms} ms: the down tenant's requests piled up`);
});

test("a tenant's pool is torn down once idle past its timeout, and made afresh when needed", async () => {
  dev.tenantql('tenant', 'create', 'brief', '--pool-options', '{"idle_timeout_ms": 300}');
  const token = dev.token({ tenantId: dev.tenantId('brief') });
  assert.equal((await until((x) => x.status === 200, () => gql(dev.url, Q, { token }))).r.status, 200);
  const metrics = async () => dev.metrics();
  assert.match(await metrics(), /tenantql_pool_connections\{tenant="brief"\} 1/);
  // the connection closes after 300 ms idle, the pool record within the next sweeps
  // (its request counters stay: only the pool's series go)
  const listed = (text) => text.includes('tenantql_pool_connections{tenant="brief"}');
  const { r: gone, ms } = await until((text) => !listed(text), metrics, 8000);
  assert.ok(!listed(gone), `pool still listed after ${ms} ms`);
  assert.match(dev.stderr(), /tenant brief: pool created/);
  const again = await gql(dev.url, Q, { token });
  assert.equal(again.status, 200);
  assert.equal(dev.stderr().match(/tenant brief: pool created/g).length, 2, 'a new pool for the next request');
});

test('after all of that every demo tenant still answers', async () => {
  for (const t of ['acme', 'globex']) {
    const r = await gql(dev.url, '{ me { email } }', { token: dev.tokens[t] });
    assert.deepEqual(r.body, { data: { me: { email: `admin@${t}.example` } } });
  }
});
