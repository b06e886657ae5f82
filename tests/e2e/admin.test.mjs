// admin.test.mjs - the admin API end to end on its own listener: a platform token and
// nothing else gets in; tenants created in both placements answer queries within a
// second; patch, pause (requests wait, then are served), offboarding with an export that
// restores, then the drop; /metrics and the probes moved off the public port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDev, stopDev, gql, until, pgBinDir } from './lib/harness.mjs';
import { TEST_SECRETS } from './lib/secrets.mjs';

let dev, admin, platform;
const TENANT_PASSWORD = TEST_SECRETS.adminTenantPassword; // never in an answer or a log

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tq-e2e-'));
  dev = await startDev({ dir, args: ['--export-dir', join(dir, 'exports')] });
  admin = dev.adminOrigin;
  platform = dev.platformToken();
});
after(() => stopDev(dev));

async function call(method, path, { body, token = platform, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(`${admin}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, headers: res.headers, body: json, text };
}

const Q = '{ products(first: 1) { totalCount } }';
const served = (tenantId) => async () => gql(dev.url, Q, { token: dev.token({ tenantId }) });

test('the probes and /metrics are on the admin listener only; /openapi.json describes the API', async () => {
  const base = dev.url.replace(/\/graphql$/, '');
  for (const path of ['/metrics', '/healthz', '/readyz']) {
    const r = await fetch(`${base}${path}`);
    await r.arrayBuffer();
    assert.equal(r.status, 404, `${path} on the public port`);
  }
  assert.equal((await fetch(`${admin}/healthz`)).status, 200);
  assert.match(await dev.metrics(), /^tenantql_tenants \d+$/m);
  const doc = await call('GET', '/openapi.json', { token: null });
  assert.equal(doc.status, 200);
  assert.match(doc.body.openapi, /^3\./);
  for (const p of ['/tenants', '/tenants/{name}', '/tenants/{name}/pause', '/tenants/{name}/resume']) {
    assert.ok(doc.body.paths[p], `${p} documented`);
  }
  assert.equal((await call('GET', '/nowhere')).status, 404);
});

test('only a valid platform token gets in', async () => {
  const none = await call('GET', '/tenants', { token: null });
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'UNAUTHENTICATED');
  assert.equal(none.headers.get('www-authenticate'), 'Bearer');
  const tenant = await call('GET', '/tenants', { token: dev.tokens.acme });
  assert.equal(tenant.status, 403, 'a tenant token');
  assert.equal(tenant.body.error.code, 'FORBIDDEN');
  const both = await call('GET', '/tenants', { token: dev.platformToken({ tenantId: dev.tenantId('acme') }) });
  assert.equal(both.status, 403, 'scope platform with a tenantId is a tenant token');
  const otherScope = await call('GET', '/tenants', { token: dev.platformToken({ scope: 'read write' }) });
  assert.equal(otherScope.status, 403, 'no platform scope');
  const past = Math.floor(Date.now() / 1000) - 3600;
  const expired = await call('GET', '/tenants', { token: dev.platformToken({ iat: past - 60, exp: past }) });
  assert.equal(expired.status, 401, 'expired');
  const [h, p] = platform.split('.');
  const forged = await call('GET', '/tenants', { token: `${h}.${p}.${'A'.repeat(43)}` });
  assert.equal(forged.status, 401, 'forged signature');
  const none2 = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  assert.equal((await call('GET', '/tenants', { token: `${none2}.${p}.` })).status, 401, 'alg none');
  // a platform token is no use at /graphql: it names no tenant
  const r = await gql(dev.url, Q, { token: platform });
  assert.equal(r.status, 401);
  assert.match(dev.stderr(), /admin: request [0-9a-f]+-\d+: platform token refused: expired/);
});

test('create in both placements: queryable within a second; 409 for a taken name, 400 for bad bodies', async () => {
  for (const placement of ['database', 'schema']) {
    const name = `adm_${placement}`;
    const t0 = Date.now();
    const r = await call('POST', '/tenants', { body: { name, placement, pool_options: { max: 3 }, quota: { rate: 500 } } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.name, name);
    assert.equal(r.body.placement, placement);
    assert.equal(r.body.state, 'active');
    assert.deepEqual(r.body.pool_options, { max: 3 });
    assert.equal(r.body.server.password, undefined, 'never a password');
    const q = await until((x) => x.status === 200 && !x.body.errors, served(r.body.id), 1000);
    assert.equal(q.status, 200, `${placement}: served within a second of the answer (${JSON.stringify(q.body)})`);
    assert.deepEqual(q.body.data, { products: { totalCount: 0 } });
    assert.ok(Date.now() - t0 < 5000);
  }
  const taken = await call('POST', '/tenants', { body: { name: 'adm_database' } });
  assert.equal(taken.status, 409, JSON.stringify(taken.body));
  assert.equal(taken.body.error.code, 'CONFLICT');
  for (const body of [{ name: 'Bad Name' }, { name: 'ok_name', bogus: 1 }, { placement: 'schema' }, [1],
    { name: 'ok_name', placement: 'moon' }, { name: 'ok_name', pool_options: 'max=3' }]) {
    const bad = await call('POST', '/tenants', { body });
    assert.equal(bad.status, 400, `${JSON.stringify(body)} -> ${JSON.stringify(bad.body)}`);
    assert.equal(bad.body.error.code, 'BAD_REQUEST');
  }
  const notJson = await fetch(`${admin}/tenants`, { method: 'POST', headers: { authorization: `Bearer ${platform}` }, body: '{' });
  assert.equal(notJson.status, 400);
  await notJson.arrayBuffer();
});

test('tenants created at the same moment are each served at once (no notification left behind)', async () => {
  // two job threads create two tenants side by side: one row's notification may reach the
  // registry thread while it re-reads the other; each answer must still mean "served"
  const create = async (name) => {
    const t0 = Date.now();
    const r = await call('POST', '/tenants', { body: { name, placement: 'schema' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.ok(Date.now() - t0 < 2000, `${name} answered after ${Date.now() - t0} ms`);
    const q = await gql(dev.url, Q, { token: dev.token({ tenantId: r.body.id }) });
    assert.equal(q.status, 200, `${name} served at once: ${JSON.stringify(q.body)}`);
  };
  for (let i = 0; i < 25; i++) await Promise.all([create(`adm_pair${i}a`), create(`adm_pair${i}b`)]);
  assert.doesNotMatch(dev.stderr(), /not yet served here/);
});

test('a password given at creation never comes back, nor reaches the log', async () => {
  dev.psql(`CREATE ROLE adm_pw_user LOGIN PASSWORD '${TENANT_PASSWORD}'`);
  dev.psql('GRANT CREATE ON DATABASE tenantql_shared TO adm_pw_user');
  const r = await call('POST', '/tenants', {
    body: { name: 'adm_pw', server: { user: 'adm_pw_user', password: TENANT_PASSWORD, database: 'adm_pw_db' } },
  });
  assert.ok([201, 500, 409].includes(r.status), JSON.stringify(r.body));
  const listed = await call('GET', '/tenants?limit=1000');
  for (const text of [r.text, listed.text, dev.stderr(), dev.stdout()]) {
    assert.ok(!text.includes(TENANT_PASSWORD), 'the password is nowhere');
  }
});

test('bounds: a body over 64 KiB is refused unread; at most 64 admin connections are open', async () => {
  const big = await fetch(`${admin}/tenants`, { method: 'POST', headers: { authorization: `Bearer ${platform}` },
    body: JSON.stringify({ name: 'x', pad: 'y'.repeat(70000) }) });
  await big.arrayBuffer();
  assert.equal(big.status, 413);
  // 70 idle connections: the first 64 stay open, the rest are closed at once
  const { connect } = await import('node:net');
  const port = Number(new URL(admin).port);
  let closed = 0;
  const socks = await Promise.all(Array.from({ length: 70 }, () => new Promise((resolve) => {
    const sk = connect(port, '127.0.0.1', () => resolve(sk));
    sk.on('error', () => resolve(sk));
    sk.on('end', () => { closed++; });
    sk.resume();
  })));
  await new Promise((r) => setTimeout(r, 500));
  for (const sk of socks) sk.destroy();
  // (this test file's own kept-alive connections count too)
  assert.ok(closed >= 6 && closed <= 12, `${closed} of 70 connections closed by the server`);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await fetch(`${admin}/healthz`)).status, 200, 'served again once they are gone');
});

test('list with a cursor, one tenant with its live pool figures, 404 for unknown', async () => {
  const first = await call('GET', '/tenants?limit=2');
  assert.equal(first.status, 200);
  assert.equal(first.body.tenants.length, 2);
  assert.equal(first.body.next, first.body.tenants[1].name);
  const rest = await call('GET', `/tenants?limit=1000&after=${first.body.next}`);
  const names = [...first.body.tenants, ...rest.body.tenants].map((t) => t.name);
  assert.deepEqual(names, [...names].sort());
  assert.ok(names.includes('acme') && names.includes('globex'));
  assert.equal(new Set(names).size, names.length, 'no tenant twice');
  assert.equal(rest.body.next, null);
  for (const q of ['limit=0', 'limit=1001', 'limit=x']) assert.equal((await call('GET', `/tenants?${q}`)).status, 400);

  await gql(dev.url, Q, { token: dev.tokens.acme });
  const acme = await call('GET', '/tenants/acme');
  assert.equal(acme.status, 200);
  assert.equal(acme.body.name, 'acme');
  assert.ok(acme.body.pool && acme.body.pool.connections >= 1, JSON.stringify(acme.body.pool));
  assert.equal((await call('GET', '/tenants/nobody')).status, 404);
  assert.equal((await call('GET', '/tenants/Not%20A%20Name')).status, 404);
  assert.equal((await call('PUT', '/tenants/acme', { body: {} })).status, 405);
});

test('patch: quota and active take effect within a second; unknown keys refused', async () => {
  const id = (await call('GET', '/tenants/adm_schema')).body.id;
  let r = await call('PATCH', '/tenants/adm_schema', { body: { quota: { rate: 1, burst: 1 } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.quota, { rate: 1, burst: 1 });
  const limited = await until((x) => x.status === 429, async () => {
    await served(id)();
    return served(id)();
  }, 2000);
  assert.equal(limited.status, 429, 'the new quota applies');
  r = await call('PATCH', '/tenants/adm_schema', { body: { quota: {}, active: false } });
  assert.equal(r.status, 200);
  assert.equal(r.body.state, 'inactive');
  const refused = await until((x) => x.status !== 200 && x.status !== 429, served(id), 2000);
  assert.notEqual(refused.status, 200, 'an inactive tenant is refused');
  r = await call('PATCH', '/tenants/adm_schema', { body: { active: true } });
  assert.equal(r.body.state, 'active');
  assert.equal((await until((x) => x.status === 200, served(id), 2000)).status, 200);
  assert.equal((await call('PATCH', '/tenants/adm_schema', { body: { name: 'x' } })).status, 400);
  assert.equal((await call('PATCH', '/tenants/adm_schema', { body: {} })).status, 400);
  assert.equal((await call('PATCH', '/tenants/nobody', { body: { active: true } })).status, 404);
  assert.equal((await call('PATCH', '/tenants/nobody', { body: { password: 'x' } })).status, 404);
  // a new database password: accepted, never echoed (the secrets suite shows it taking effect)
  const pw = await call('PATCH', '/tenants/adm_schema', { body: { password: TENANT_PASSWORD } });
  assert.equal(pw.status, 200, JSON.stringify(pw.body));
  assert.ok(!pw.text.includes(TENANT_PASSWORD));
  assert.equal((await call('PATCH', '/tenants/adm_schema', { body: { password: 7 } })).status, 400);
  dev.psql("UPDATE tenants SET db_password = '' WHERE name = 'adm_schema'"); // as it was: the cluster trusts
});

test('pause: requests wait instead of failing, and are served after resume', async () => {
  const id = (await call('GET', '/tenants/adm_database')).body.id;
  assert.equal((await served(id)()).status, 200);
  const p = await call('POST', '/tenants/adm_database/pause');
  assert.equal(p.status, 200);
  assert.equal(p.body.state, 'paused');
  await new Promise((r) => setTimeout(r, 1200)); // the servers apply the row within a second
  const t0 = Date.now();
  const waiting = Promise.all([served(id)(), served(id)()]);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal((await call('POST', '/tenants/adm_database/resume')).body.state, 'active');
  for (const r of await waiting) {
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.data, { products: { totalCount: 0 } });
  }
  assert.ok(Date.now() - t0 >= 350, 'the requests waited for the resume');
  assert.equal((await call('POST', '/tenants/nobody/pause')).status, 404);
});

test('offboarding: deactivate and export, the export restores, then the second call drops', async () => {
  const id = (await call('GET', '/tenants/adm_database')).body.id;
  dev.tenantPsql('adm_database', "INSERT INTO users (email, password, first_name, last_name) "
    + "VALUES ('gone@example.com', 'x', 'Gone', 'Soon')");
  const first = await call('DELETE', '/tenants/adm_database');
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.state, 'offboarded');
  assert.ok(existsSync(first.body.export_path), first.body.export_path);
  assert.equal(statSync(first.body.export_path).mode & 0o777, 0o600);
  assert.match(first.body.drop_after, /^\d{4}-\d\d-\d\dT/);
  const gone = await until((x) => x.status !== 200, served(id), 2000);
  assert.notEqual(gone.status, 200, 'an offboarded tenant is not served');
  assert.equal((await call('GET', '/tenants/adm_database')).body.state, 'offboarded');

  // the archive restores into a fresh database with the same rows
  dev.psql('CREATE DATABASE adm_restored', 'postgres');
  execFileSync(join(pgBinDir(), 'pg_restore'), ['--no-owner', '-d',
    `host=${join(dev.dir, 'pg', 'run')} port=${dev.pgPort} user=tenantql dbname=adm_restored`, first.body.export_path]);
  assert.deepEqual(dev.psql("SELECT email FROM users WHERE email = 'gone@example.com'", 'adm_restored'),
    ['gone@example.com']);

  const second = await call('DELETE', '/tenants/adm_database');
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal(second.body.state, 'dropped');
  assert.equal((await call('GET', '/tenants/adm_database')).status, 404);
  assert.deepEqual(dev.psql("SELECT count(*) FROM pg_database WHERE datname = 'tenant_adm_database'", 'postgres'), ['0']);
  assert.equal((await call('DELETE', '/tenants/adm_database')).status, 404);
  assert.match(dev.stderr(), /admin: request [0-9a-f]+-\d+: DELETE \/tenants\/adm_database by e2e: 202/);
});
