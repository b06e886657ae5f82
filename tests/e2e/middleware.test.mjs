// middleware.test.mjs - what every answer passes through: CORS for the listed origins only
// (preflight answered, others refused, Vary: Origin), and the security headers on every
// kind of answer of both listeners (success, 4xx, 5xx, GraphiQL, the admin API).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, startServe, gql, until } from './lib/harness.mjs';

const APP = 'https://app.example';
let dev;
before(async () => {
  dev = await startDev({ args: ['--cors-origins', `${APP}, http://localhost:3000`, '--cors-max-age-s', '120'] });
});
after(() => stopDev(dev));

const preflight = (url, origin, method = 'POST', headers = 'content-type, authorization') => fetch(url, {
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) },
});

function assertSecurityHeaders(res, what, { json = true } = {}) {
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer', what);
  assert.equal(res.headers.get('x-frame-options'), 'DENY', what);
  if (json) assert.equal(res.headers.get('cache-control'), 'no-store', what);
}

test('CORS: a listed origin\'s preflight is answered 204 with what it may send', async () => {
  const r = await preflight(dev.url, APP);
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-origin'), APP);
  assert.match(r.headers.get('access-control-allow-methods'), /POST/);
  assert.match(r.headers.get('access-control-allow-headers'), /Authorization/);
  assert.equal(r.headers.get('access-control-max-age'), '120');
  assert.equal(r.headers.get('access-control-allow-credentials'), null, 'credentials off by default');
  assert.match(r.headers.get('vary'), /Origin/);
  const local = await preflight(dev.url, 'http://localhost:3000', 'GET', null);
  assert.equal(local.status, 204);
  assert.equal(local.headers.get('access-control-allow-origin'), 'http://localhost:3000');
});

test('CORS: other origins, methods and headers are refused without CORS headers', async () => {
  for (const [origin, method, headers] of [['https://evil.example', 'POST', 'content-type'],
    ['https://app.example.evil.example', 'POST', null], ['http://app.example', 'POST', null], ['null', 'POST', null],
    [APP, 'DELETE', null], [APP, 'POST', 'content-type, x-tenant-id'], [APP, 'POST', 'cookie']]) {
    const r = await preflight(dev.url, origin, method, headers);
    assert.equal(r.status, 403, `${origin} ${method} ${headers}`);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    assert.match(r.headers.get('vary'), /Origin/);
  }
});

test('CORS: answers to a listed origin carry Allow-Origin and the headers it may read; others do not', async () => {
  const ok = await gql(dev.url, '{ __typename }', { headers: { origin: APP } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), APP);
  assert.match(ok.headers.get('access-control-expose-headers'), /RateLimit/);
  assert.match(ok.headers.get('vary'), /Accept/, 'the handler\'s own Vary is kept');
  assert.match(ok.headers.get('vary'), /Origin/);
  const other = await gql(dev.url, '{ __typename }', { headers: { origin: 'https://evil.example' } });
  assert.equal(other.status, 200, 'served: the browser, not the server, withholds the answer');
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  assert.match(other.headers.get('vary'), /Origin/);
  const refused = await gql(dev.url, '{ me { email } }', { headers: { origin: APP } });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('access-control-allow-origin'), APP, 'a client can read its errors too');
});

test('CORS off (the default): no CORS header, a preflight is no more than an OPTIONS (405)', async () => {
  const plain = await startServe(dev, [], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    const r = await preflight(plain.url, APP);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    const q = await gql(plain.url, '{ __typename }', { headers: { origin: APP } });
    assert.equal(q.headers.get('access-control-allow-origin'), null);
    assertSecurityHeaders(new Response(null, { headers: q.headers }), 'plain 200');
  } finally {
    assert.equal(await plain.stop(), 0);
  }
});

test('credentials on with a list; "*" with credentials or a malformed origin refused at start', async () => {
  const s = await startServe(dev, ['--cors-origins', APP, '--cors-credentials', 'on'], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    const r = await preflight(s.url, APP);
    assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
  } finally {
    assert.equal(await s.stop(), 0);
  }
  const any = await startServe(dev, ['--cors-origins', '*'], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    assert.equal((await preflight(any.url, 'https://whoever.example')).headers.get('access-control-allow-origin'), '*');
  } finally {
    assert.equal(await any.stop(), 0);
  }
  for (const bad of [['--cors-origins', '*', '--cors-credentials', 'on'], ['--cors-origins', 'https://a.example/path'],
    ['--cors-origins', 'app.example']]) {
    await assert.rejects(startServe(dev, bad, { TENANTQL_JWT_SECRET: dev.secret }), /cors-origins/, bad.join(' '));
  }
});

test('security headers on every kind of answer, both listeners', async () => {
  const cases = [
    ['200', await fetch(dev.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })],
    ['400', await fetch(dev.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })],
    ['401', await fetch(dev.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ me { email } }"}' })],
    ['405', await fetch(dev.url, { method: 'PUT' })],
    ['admin 200', await fetch(`${dev.adminOrigin}/healthz`)],
    ['admin 401', await fetch(`${dev.adminOrigin}/tenants`)],
  ];
  for (const [what, res] of cases) {
    await res.arrayBuffer();
    assertSecurityHeaders(res, what, { json: !what.startsWith('admin 200') });
  }
  // a 5xx: a tenant whose database cannot be reached
  dev.psql("UPDATE tenants SET db_port = 1 WHERE name = 'globex'");
  try {
    let r;
    for (let i = 0; i < 40; i++) {
      r = await fetch(dev.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${dev.tokens.globex}` },
        body: '{"query":"{ products(first: 1) { totalCount } }"}' });
      if (r.status >= 500) break;
      await r.arrayBuffer();
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(r.status >= 500, `a 5xx (${r.status})`);
    await r.arrayBuffer();
    assertSecurityHeaders(r, '5xx');
  } finally {
    dev.psql(`UPDATE tenants SET db_port = ${dev.pgPort} WHERE name = 'globex'`);
  }
  // GraphiQL keeps its own Content-Security-Policy and gets the rest
  const page = await fetch(dev.url, { headers: { accept: 'text/html' } });
  await page.text();
  assert.equal(page.status, 200);
  assert.ok(page.headers.get('content-security-policy'), 'GraphiQL\'s CSP');
  assertSecurityHeaders(page, 'GraphiQL', { json: false });
});

test('request ids: a sane X-Request-ID is kept, others replaced by a made one; echoed and on the log lines', async () => {
  const kept = await gql(dev.url, '{ me { email } }', { headers: { 'x-request-id': 'trace-7f3a:01/ok=+@' } });
  assert.equal(kept.status, 401);
  assert.equal(kept.headers.get('x-request-id'), 'trace-7f3a:01/ok=+@');
  const made = await gql(dev.url, '{ __typename }');
  assert.match(made.headers.get('x-request-id'), /^[0-9a-f]{8}-\d+$/);
  const next = await gql(dev.url, '{ __typename }');
  assert.notEqual(next.headers.get('x-request-id'), made.headers.get('x-request-id'));
  for (const bad of ['has space', 'x'.repeat(129), 'quote"d', 'semi;colon', 'tab\there', '{json}']) {
    const r = await fetch(dev.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': bad },
      body: '{"query":"{ __typename }"}' });
    await r.arrayBuffer();
    assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{8}-\d+$/, `${JSON.stringify(bad)} replaced`);
  }
  // the log line of the refusal names the client's id
  const logged = await until((t) => t.includes('request trace-7f3a:01/ok=+@: refused: no token'), () => dev.stderr(), 2000);
  assert.ok(logged.includes('request trace-7f3a:01/ok=+@: refused: no token'), 'the refusal is logged with the id');
  // the admin API too
  const a = await fetch(`${dev.adminOrigin}/tenants`, { headers: { 'x-request-id': 'ops-call-1' } });
  await a.arrayBuffer();
  assert.equal(a.headers.get('x-request-id'), 'ops-call-1');
  assert.match(await until((t) => t.includes('admin: request ops-call-1: GET /tenants'), () => dev.stderr(), 2000),
    /admin: request ops-call-1: GET \/tenants by \(no sub\): 401/);
});
