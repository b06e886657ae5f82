// quotas.test.mjs - what one client address or one tenant may take of the server: the
// budget per address for requests without a token (429 RATE_LIMITED with Retry-After,
// served again after waiting, other addresses unaffected, a login costing more), and the
// tenant quotas of the registry (requests per second with a burst, requests in flight,
// database time per second), live within a second, told in RateLimit-Policy and RateLimit
// on every answer, and a noisy tenant at its quota shedding its own requests while
// another tenant's keep being served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDev, stopDev, startServe, gql, gqlFrom, lockTable, adminOriginOf } from './lib/harness.mjs';

let dev, srv;
before(async () => {
  dev = await startDev();
  // a small budget per address; the trusted header names tenants without a token
  srv = await startServe(dev, ['--threads', '2', '--anon-rate', '2', '--anon-burst', '4', '--anon-login-cost', '3',
    '--trust-tenant-header'], { TENANTQL_JWT_SECRET: dev.secret });
});
after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
  await stopDev(dev);
});

function assertRateLimited(r, what) {
  assert.equal(r.status, 429, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.errors[0].extensions.code, 'RATE_LIMITED', what);
  assert.equal(r.body.data, undefined, `${what}: no data`);
  const retry = r.headers['retry-after'] ?? r.headers.get?.('retry-after');
  assert.match(String(retry), /^[1-9]\d*$/, `${what}: Retry-After in whole seconds`);
  return Number(retry);
}

async function metric(url, reason) {
  const text = await (await fetch(`${adminOriginOf(url)}/metrics`)).text();
  return Number(text.match(new RegExp(`^tenantql_refusals_total\\{reason="${reason}"\\} (\\d+)$`, 'm'))[1]);
}

/** Asks until the answer satisfies ok or ms pass; returns { r, ms }. */
async function until(ok, ask, ms = 3000) {
  const t0 = Date.now();
  let r;
  do { r = await ask(); if (!ok(r)) await sleep(20); } while (!ok(r) && Date.now() - t0 < ms);
  return { r, ms: Date.now() - t0 };
}

const LOGIN = 'mutation { login(tenant: "acme", email: "nobody@acme.example", password: "wrong-password") { token } }';

test('requests without a token: a budget per address, 429 with Retry-After, served again after waiting', async () => {
  const A = '127.0.0.1', B = '127.0.0.2';
  for (let i = 0; i < 4; i++) {
    const r = await gqlFrom(srv.url, A, '{ __typename }');
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const retry = assertRateLimited(await gqlFrom(srv.url, A, '{ __typename }'), 'the fifth introspection');
  assert.ok(retry <= 1, `Retry-After ${retry}: one request refills in half a second`);
  // a request that needs a tenant but has no token pays too (and is refused before it is read)
  assertRateLimited(await gqlFrom(srv.url, A, '{ me { email } }'), 'no token');
  // another address has its own budget
  assert.equal((await gqlFrom(srv.url, B, '{ __typename }')).status, 200);
  // requests of a tenant (a token, or the trusted header) never pay from the address's budget
  assert.equal((await gqlFrom(srv.url, A, '{ me { email } }', { token: dev.tokens.acme })).status, 200);
  assert.equal((await gqlFrom(srv.url, A, '{ users(first: 1) { totalCount } }', { headers: { 'x-tenant-id': 'acme' } })).status, 200);
  // after Retry-After, served again
  await sleep(retry * 1000);
  const again = await gqlFrom(srv.url, A, '{ __typename }');
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.ok(await metric(srv.url, 'client_budget') >= 2);
});

test('a login costs more than an introspection (it costs a password hash), token or not', async () => {
  const C = '127.0.0.3';
  const first = await gqlFrom(srv.url, C, LOGIN);
  assert.equal(first.status, 200);
  assert.equal(first.body.errors[0].extensions.code, 'UNAUTHENTICATED'); // hashed and refused: 3 of 4 spent
  assert.equal((await gqlFrom(srv.url, C, '{ __typename }')).status, 200, 'an introspection still fits');
  assertRateLimited(await gqlFrom(srv.url, C, LOGIN), 'a second login at once');
  // a token does not make a login free: it runs before a tenant is known
  const D = '127.0.0.4';
  assert.equal((await gqlFrom(srv.url, D, LOGIN, { token: dev.tokens.acme })).status, 200);
  assert.equal((await gqlFrom(srv.url, D, '{ __typename }', { token: dev.tokens.acme })).status, 200);
  assertRateLimited(await gqlFrom(srv.url, D, LOGIN, { token: dev.tokens.acme }), 'a second login with a token');
});

test('a tenant quota from the registry: requests per second with a burst, RateLimit headers on every answer', async () => {
  dev.tenantql('tenant', 'create', 'qrate', '--quota', '{"rate": 2, "burst": 3}');
  const token = dev.token({ tenantId: dev.tenantId('qrate') });
  const Q = '{ users(first: 1) { totalCount } }';
  const first = (await until((x) => x.status !== 403, () => gql(srv.url, Q, { token }))).r;
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.headers.get('ratelimit-policy'), '"rate";q=3;w=2, "in-flight";q=256;qu="concurrent-requests"');
  assert.match(first.headers.get('ratelimit'), /^"rate";r=2, "in-flight";r=255$/);
  let r;
  for (let i = 0; i < 5 && (r = await gql(srv.url, Q, { token })).status === 200;) i++;
  assertRateLimited(r, 'over the rate');
  assert.match(r.body.errors[0].message, /requests per second/);
  assert.match(r.headers.get('ratelimit'), /^"rate";r=0;t=1, "in-flight";r=256$/);
  assert.equal(r.headers.get('ratelimit-policy'), first.headers.get('ratelimit-policy'), 'the refusal carries the policy');
  assert.ok(await metric(srv.url, 'tenant_rate') >= 1);

  // a changed quota applies within a second
  dev.tenantql('tenant', 'quota', 'qrate', '{"rate": 1000, "in_flight": 0}');
  const { r: ok, ms } = await until((x) => x.status === 200 && x.headers.get('ratelimit-policy') === '"rate";q=1000;w=1',
    () => gql(srv.url, Q, { token }));
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.headers.get('ratelimit-policy'), '"rate";q=1000;w=1');
  assert.ok(ms < 1000, `applied after ${ms} ms`);
  // answers with errors carry the fields as well
  const bad = await gql(srv.url, '{ nope }', { token });
  assert.equal(bad.status, 200);
  assert.equal(bad.body.errors[0].extensions.code, 'BAD_USER_INPUT');
  assert.match(bad.headers.get('ratelimit'), /^"rate";r=\d+$/);
  // no quota of its own: the server's default (only requests in flight, 256)
  dev.tenantql('tenant', 'quota', 'qrate', '{}');
  const back = (await until((x) => x.headers.get('ratelimit-policy') !== '"rate";q=1000;w=1', () => gql(srv.url, Q, { token }))).r;
  assert.equal(back.headers.get('ratelimit-policy'), '"in-flight";q=256;qu="concurrent-requests"');
  // a tenant whose quota sets every limit to 0 has none: no headers
  dev.tenantql('tenant', 'quota', 'qrate', '{"in_flight": 0}');
  const none = (await until((x) => !x.headers.get('ratelimit-policy'), () => gql(srv.url, Q, { token }))).r;
  assert.equal(none.status, 200);
  assert.equal(none.headers.get('ratelimit'), null);
});

/** Locks a table of a tenant's database until end() (its queries wait meanwhile). */
const waitingQueries = (db) => Number(dev.psql(
  `SELECT count(*) FROM pg_stat_activity WHERE datname = '${db}' AND application_name = 'tenantql' AND wait_event_type = 'Lock'`)[0]);

test('requests in flight: beyond the quota a tenant sheds its own requests at once; the place is given back when a request ends', async () => {
  dev.tenantql('tenant', 'create', 'qflight', '--quota', '{"in_flight": 2}');
  const token = dev.token({ tenantId: dev.tenantId('qflight') });
  const Q = '{ users(first: 1) { totalCount } }';
  assert.equal((await until((x) => x.status !== 403, () => gql(srv.url, Q, { token }))).r.status, 200);
  const lock = await lockTable(dev, 'tenant_qflight', 'users');
  let held;
  try {
    held = [gql(srv.url, Q, { token }), gql(srv.url, Q, { token })];
    await until((n) => n === 2, () => waitingQueries('tenant_qflight'));
    const t0 = Date.now();
    const r = await gql(srv.url, Q, { token });
    assertRateLimited(r, 'a third request in flight');
    assert.match(r.body.errors[0].message, /requests in flight/);
    assert.equal(r.headers.get('ratelimit'), '"in-flight";r=0');
    assert.ok(Date.now() - t0 < 2000, 'refused at once, not after waiting');
    // a token's introspection is its tenant's too (checked before the body is read)
    assertRateLimited(await gql(srv.url, '{ __typename }', { token }), 'introspection with the token');
  } finally {
    await lock.end();
  }
  for (const r of await Promise.all(held)) assert.equal(r.status, 200, JSON.stringify(r.body));
  const after = await gql(srv.url, Q, { token });
  assert.equal(after.status, 200);
  assert.equal(after.headers.get('ratelimit'), '"in-flight";r=1');
  assert.ok(await metric(srv.url, 'tenant_in_flight') >= 1);
});

test('database time per second: charged as queries come back, refused while in debt, served again after Retry-After', async () => {
  dev.tenantql('tenant', 'create', 'qdb', '--quota', '{"db_ms_per_s": 200, "in_flight": 0}');
  const token = dev.token({ tenantId: dev.tenantId('qdb') });
  const Q = '{ users(first: 1) { totalCount } }';
  const ok = (await until((x) => x.status !== 403, () => gql(srv.url, Q, { token }))).r;
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('ratelimit-policy'), '"db-time";q=200;w=1;qu="tenantql-db-ms"');
  // one query that waits 800 ms for a lock keeps its connection busy that long: 600 ms of debt
  const lock = await lockTable(dev, 'tenant_qdb', 'users');
  const slow = gql(srv.url, Q, { token });
  await until((n) => n === 1, () => waitingQueries('tenant_qdb'));
  await sleep(800);
  await lock.end();
  assert.equal((await slow).status, 200);
  const r = await gql(srv.url, Q, { token });
  const retry = assertRateLimited(r, 'in database-time debt');
  assert.match(r.body.errors[0].message, /database time/);
  assert.ok(retry >= 2 && retry <= 5, `Retry-After ${retry}`);
  assert.match(r.headers.get('ratelimit'), new RegExp(`^"db-time";r=0;t=${retry}$`));
  await sleep(retry * 1000);
  const again = await gql(srv.url, Q, { token });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.ok(await metric(srv.url, 'tenant_db_time') >= 1);
});

test('a noisy tenant at its quota sheds its own requests; another tenant\'s keep succeeding meanwhile', async () => {
  dev.tenantql('tenant', 'create', 'noisy', '--quota', '{"in_flight": 4}', '--pool-options', '{"max": 2}');
  const noisy = dev.token({ tenantId: dev.tenantId('noisy') });
  const Q = '{ users(first: 1) { totalCount } }';
  assert.equal((await until((x) => x.status !== 403, () => gql(srv.url, Q, { token: noisy }))).r.status, 200);
  const lock = await lockTable(dev, 'tenant_noisy', 'users');
  const noisyReplies = [];
  let stop = false;
  // 16 clients of the noisy tenant, each asking again as soon as it is answered
  const flood = Array.from({ length: 16 }, async () => {
    while (!stop) {
      const r = await gql(srv.url, Q, { token: noisy });
      if (!stop) noisyReplies.push(r.status);
      if (r.status === 429) await sleep(20);
    }
  });
  try {
    await until((n) => n === 2, () => waitingQueries('tenant_noisy')); // its pool is at its max
    const times = [];
    for (let i = 0; i < 30; i++) {
      const t0 = Date.now();
      const r = await gql(srv.url, '{ users(first: 2) { totalCount } }', { token: dev.tokens.globex });
      times.push(Date.now() - t0);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    times.sort((a, b) => a - b);
    assert.ok(times[15] < 1000, `globex's median ${times[15]} ms while acme's neighbour floods`);
    assert.ok(noisyReplies.filter((s) => s === 429).length > 0, 'the noisy tenant was shed');
    assert.ok(!noisyReplies.includes(200), 'none of its requests got through meanwhile (they wait for the lock)');
  } finally {
    stop = true;
    await lock.end();
  }
  await Promise.all(flood);
  // its places in flight were given back
  const after = await gql(srv.url, Q, { token: noisy });
  assert.equal(after.status, 200, JSON.stringify(after.body));
  assert.equal(after.headers.get('ratelimit'), '"in-flight";r=3');
});
