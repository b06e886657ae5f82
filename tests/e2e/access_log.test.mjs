// access_log.test.mjs - the access log: one JSON object a line per /graphql request, with
// the request id, tenant, operation, the document's hash, status, durations, the wait
// for a connection and the time in PostgreSQL, bytes and error codes; never a token, a
// variable's value or a password. The text format, a file of its own, and the per-tenant
// time-in-PostgreSQL histogram.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDev, stopDev, startServe, gql, until } from './lib/harness.mjs';

let dev;
before(async () => { dev = await startDev(); });
after(() => stopDev(dev));

const accessLines = (text) => text.split('\n').filter((l) => l.startsWith('{"time"'));
const sha256 = (s) => createHash('sha256').update(s).digest('hex');

async function lineFor(id, text = () => dev.stdout()) {
  const found = await until((e) => e !== undefined,
    () => accessLines(text()).map((l) => JSON.parse(l)).find((e) => e.request_id === id), 5000);
  assert.ok(found, `no access log line for ${id}`);
  return found;
}

test('a query that reads the database: tenant, operation, hash, status, times and bytes', async () => {
  const query = 'query Page($n: Int!) { me { email } products(first: $n) { edges { node { name } } } }';
  const r = await gql(dev.url, query, { token: dev.tokens.acme, variables: { n: 2 }, headers: { 'x-request-id': 'al-query-1' } });
  assert.equal(r.status, 200);
  const e = await lineFor('al-query-1');
  assert.equal(e.tenant, 'acme');
  assert.equal(e.method, 'POST');
  assert.equal(e.remote, '127.0.0.1');
  assert.equal(e.operation_type, 'query');
  assert.equal(e.operation_name, 'Page');
  assert.equal(e.document_hash, sha256(query));
  assert.equal(e.status, 200);
  assert.ok(e.db_statements >= 1, `statements: ${e.db_statements}`);
  assert.ok(e.db_ms > 0 && e.db_wait_ms >= 0 && e.duration_ms >= e.db_ms, JSON.stringify(e));
  assert.equal(typeof e.bytes, 'number');
  assert.ok(e.bytes > 50);
  assert.deepEqual(e.errors, []);
  assert.equal(e.trace_id, null);
  assert.ok(!Number.isNaN(Date.parse(e.time)));
});

test('refusals and errors: status and extensions codes, no tenant before one is known', async () => {
  const bad = await gql(dev.url, '{ me { email } }', { token: 'not.a.token', headers: { 'x-request-id': 'al-401' } });
  assert.equal(bad.status, 401);
  let e = await lineFor('al-401');
  assert.equal(e.status, 401);
  assert.deepEqual(e.errors, ['UNAUTHENTICATED']);
  assert.equal(e.tenant, null);
  assert.equal(e.document_hash, null, 'refused before the body was read');

  const invalid = await gql(dev.url, '{ nope }', { token: dev.tokens.globex, headers: { 'x-request-id': 'al-invalid' } });
  assert.equal(invalid.status, 200);
  e = await lineFor('al-invalid');
  assert.deepEqual(e.errors, ['BAD_USER_INPUT']);
  assert.equal(e.tenant, 'globex');
  assert.equal(e.db_statements, 0);

  const get = await fetch(`${dev.url}?query=${encodeURIComponent('mutation { logout }')}`,
    { headers: { authorization: `Bearer ${dev.tokens.acme}`, 'x-request-id': 'al-405' } });
  assert.equal(get.status, 405);
  e = await lineFor('al-405');
  assert.equal(e.method, 'GET');
  assert.equal(e.operation_type, 'mutation');
  assert.equal(e.operation_name, null);
});

test('no line carries a token, a variable\'s value or a password', async () => {
  const password = 'acme-demo-password';
  const login = await gql(dev.url, 'mutation In($e: String!, $p: String!) { login(tenant: "acme", email: $e, password: $p) { token } }',
    { variables: { e: 'admin@acme.example', p: password }, headers: { 'x-request-id': 'al-login' } });
  assert.equal(login.status, 200);
  const issued = login.body.data.login.token;
  const inline = await gql(dev.url, `mutation { login(tenant: "acme", email: "admin@acme.example", password: "${password}") { token } }`,
    { headers: { 'x-request-id': 'al-login-inline' } });
  assert.equal(inline.status, 200);
  const secretVar = 'al-variable-value-8c1d';
  await gql(dev.url, 'query Find($id: ID!) { user(id: $id) { email } }', { token: issued, variables: { id: secretVar }, headers: { 'x-request-id': 'al-var' } });
  const e = await lineFor('al-login');
  assert.equal(e.operation_name, 'In');
  assert.ok(e.db_statements >= 1, 'the login\'s lookup is the request\'s');
  await lineFor('al-login-inline');
  await lineFor('al-var');
  const lines = accessLines(dev.stdout()).join('\n');
  for (const secret of [password, issued, dev.tokens.acme, dev.tokens.globex, secretVar, 'admin@acme.example'])
    assert.ok(!lines.includes(secret), `the access log holds ${secret.slice(0, 12)}…`);
});

test('a client\'s long operation name is cut to 128 bytes in its line', async () => {
  const name = `Op${'x'.repeat(5000)}`;
  const r = await gql(dev.url, `query ${name} { me { email } }`, { token: dev.tokens.acme, headers: { 'x-request-id': 'al-long-name' } });
  assert.equal(r.status, 200);
  const e = await lineFor('al-long-name');
  assert.equal(e.operation_name, name.slice(0, 128));
});

test('every line is one JSON object with every field', async () => {
  const lines = accessLines(dev.stdout());
  assert.ok(lines.length >= 7);
  const fields = ['time', 'request_id', 'remote', 'method', 'tenant', 'operation_type', 'operation_name', 'document_hash',
    'status', 'duration_ms', 'db_wait_ms', 'db_ms', 'db_statements', 'bytes', 'errors', 'trace_id'];
  for (const l of lines) {
    const e = JSON.parse(l);
    for (const f of fields) assert.ok(f in e, `${f} missing in ${l}`);
  }
});

test('/metrics: time in PostgreSQL per tenant, and the lines written', async () => {
  const m = await dev.metrics();
  const count = Number(m.match(/^tenantql_tenant_request_db_seconds_count\{tenant="acme"\} (\d+)/m)?.[1]);
  assert.ok(count >= 2, m.match(/tenantql_tenant_request_db.*/g)?.join('\n'));
  assert.match(m, /^tenantql_tenant_request_db_seconds_bucket\{tenant="acme",le="\+Inf"\} \d+/m);
  assert.ok(Number(m.match(/^tenantql_access_log_lines_total (\d+)/m)[1]) >= 7);
  assert.match(m, /^tenantql_access_log_dropped_total 0$/m);
});

test('--access-log text into --access-log-file; --access-log off writes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tq-access-'));
  const file = join(dir, 'access.log');
  const text = await startServe(dev, ['--access-log', 'text', '--access-log-file', file], { TENANTQL_JWT_SECRET: dev.secret });
  const off = await startServe(dev, ['--access-log', 'off'], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    await gql(text.url, 'query Me { me { email } }', { token: dev.tokens.acme, headers: { 'x-request-id': 'al-text' } });
    await until((t) => t.includes('al-text'), () => { try { return readFileSync(file, 'utf8'); } catch { return ''; } }, 5000);
    const line = readFileSync(file, 'utf8').split('\n').find((l) => l.includes('al-text'));
    assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z al-text 127\.0\.0\.1 POST acme query Me 200 [\d.]+ms db=[\d.]+ms\/\d+ wait=[\d.]+ms \d+B doc=[0-9a-f]{12}$/);
    assert.equal(text.stdout(), '', 'nothing on standard output');
    // rotation: the file is moved away, SIGHUP, and the next lines go to a new file
    renameSync(file, `${file}.1`);
    process.kill(text.pid, 'SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    await gql(text.url, 'query Me { me { email } }', { token: dev.tokens.acme, headers: { 'x-request-id': 'al-rotated' } });
    await until((t) => t.includes('al-rotated'), () => { try { return readFileSync(file, 'utf8'); } catch { return ''; } }, 5000);
    assert.ok(readFileSync(file, 'utf8').includes('al-rotated'));
    assert.ok(!readFileSync(`${file}.1`, 'utf8').includes('al-rotated'));
    await gql(off.url, '{ me { email } }', { token: dev.tokens.acme, headers: { 'x-request-id': 'al-off' } });
    await new Promise((r) => setTimeout(r, 400)); // more than the writer's flush interval
    assert.equal(off.stdout(), '');
    assert.doesNotMatch(await off.metrics(), /tenantql_access_log_lines_total/);
  } finally {
    assert.equal(await text.stop(), 0);
    assert.equal(await off.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an access log file that cannot be opened stops the start with a clear message', async () => {
  await assert.rejects(startServe(dev, ['--access-log-file', '/nonexistent-dir/access.log'], { TENANTQL_JWT_SECRET: dev.secret }),
    /--access-log-file: cannot open \/nonexistent-dir\/access\.log/);
});
