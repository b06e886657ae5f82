// ops.test.mjs - /healthz, /readyz and /metrics: liveness, readiness that follows the
// registry connection (cached tenants keep being served while it is down), and the
// Prometheus text with per-tenant pool figures and answers by status.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDev, startServe, gql } from './lib/harness.mjs';

let dev, base;
before(async () => {
  dev = await startDev();
  base = dev.adminOrigin;
});
after(async () => {
  dev.psql('ALTER DATABASE tenantql ALLOW_CONNECTIONS true', 'postgres');
  const code = await dev.stop();
  dev.cleanup();
  assert.equal(code, 0, `server exit code (stderr:\n${dev.stderr().slice(-3000)})`);
});

async function get(path, init) {
  const r = await fetch(base + path, init);
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
}

function sample(text, name, labels = '') {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

test('/healthz and /readyz answer 200 while all is well; other methods 405', async () => {
  assert.deepEqual(await get('/healthz').then((r) => [r.status, r.text]), [200, 'ok\n']);
  assert.deepEqual(await get('/readyz').then((r) => [r.status, r.text]), [200, 'ready\n']);
  assert.equal((await get('/metrics', { method: 'POST', body: 'x' })).status, 405);
});

test('/metrics: pool gauges and counters per tenant, the global figures, answers by status', async () => {
  const before = await get('/metrics');
  const ok0 = sample(before.text, 'tenantql_http_responses_total', '{status="200"}');
  const unauth0 = sample(before.text, 'tenantql_http_responses_total', '{status="401"}');
  for (let i = 0; i < 5; i++) {
    const r = await gql(dev.url, '{ users(first: 1) { totalCount } }', { token: dev.tokens.acme });
    assert.equal(r.status, 200);
  }
  assert.equal((await gql(dev.url, '{ users(first: 1) { totalCount } }')).status, 401);
  const m = await get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.type, /^text\/plain; version=0\.0\.4/);
  for (const family of ['tenantql_pool_connections', 'tenantql_pool_in_use', 'tenantql_pool_waiting',
    'tenantql_pool_connections_created_total', 'tenantql_pool_connections_closed_total',
    'tenantql_pool_acquire_wait_seconds', 'tenantql_connections', 'tenantql_connections_max',
    'tenantql_connection_evictions_total', 'tenantql_http_responses_total'])
    assert.match(m.text, new RegExp(`^# TYPE ${family} `, 'm'), family);
  const acme = '{tenant="acme"}';
  assert.ok(sample(m.text, 'tenantql_pool_connections', acme) >= 1);
  assert.ok(sample(m.text, 'tenantql_pool_connections_created_total', acme) >= 1);
  assert.ok(sample(m.text, 'tenantql_pool_acquire_wait_seconds_count', acme) >= 10);
  assert.equal(sample(m.text, 'tenantql_pool_acquire_wait_seconds_bucket', '{tenant="acme",le="+Inf"}'),
    sample(m.text, 'tenantql_pool_acquire_wait_seconds_count', acme));
  assert.equal(sample(m.text, 'tenantql_connections_max'), 100);
  assert.ok(sample(m.text, 'tenantql_connections') >= 1);
  assert.ok(sample(m.text, 'tenantql_http_responses_total', '{status="200"}') >= ok0 + 5);
  assert.equal(sample(m.text, 'tenantql_http_responses_total', '{status="401"}'), unauth0 + 1);
});

test('/metrics: requests per tenant by outcome and their durations; past --metrics-tenants, "other"', async () => {
  const srv = await startServe(dev, ['--metrics-tenants', '1'], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    const Q = '{ products(first: 1) { totalCount } }';
    for (let i = 0; i < 3; i++) assert.equal((await gql(srv.url, Q, { token: dev.tokens.acme })).status, 200);
    assert.equal((await gql(srv.url, Q, { token: dev.tokens.globex })).status, 200);
    // a 4xx the tenant pays for: GET cannot carry a mutation (405)
    const get = await fetch(`${srv.url}?query=${encodeURIComponent('mutation { logout }')}`,
      { headers: { authorization: `Bearer ${dev.tokens.globex}` } });
    await get.arrayBuffer();
    assert.equal(get.status, 405);
    await gql(srv.url, Q); // no token: nobody's
    const m = await srv.metrics();
    assert.equal(sample(m, 'tenantql_tenant_requests_total', '{tenant="acme",outcome="ok"}'), 3);
    assert.equal(sample(m, 'tenantql_tenant_requests_total', '{tenant="other",outcome="ok"}'), 1, 'globex is past the cap');
    assert.equal(sample(m, 'tenantql_tenant_requests_total', '{tenant="other",outcome="client_error"}'), 1);
    assert.equal(m.includes('tenant="globex",outcome'), false, 'no series of its own');
    assert.equal(sample(m, 'tenantql_tenant_request_duration_seconds_count', '{tenant="acme"}'), 3);
    assert.equal(sample(m, 'tenantql_tenant_request_duration_seconds_bucket', '{tenant="acme",le="+Inf"}'), 3);
    assert.ok(sample(m, 'tenantql_tenant_request_duration_seconds_sum', '{tenant="acme"}') > 0);
    assert.equal(sample(m, 'tenantql_tenant_request_duration_seconds_count', '{tenant="other"}'), 2);
    // more pools than the cap: the pool series follow the same names
    assert.ok(sample(m, 'tenantql_pool_connections', '{tenant="acme"}') >= 1);
    assert.ok(sample(m, 'tenantql_pool_connections', '{tenant="other"}') >= 1, 'globex\'s pool is summed into other');
    assert.equal(sample(m, 'tenantql_pool_connections', '{tenant="globex"}'), undefined);
    assert.ok(sample(m, 'tenantql_pool_acquire_wait_seconds_count', '{tenant="other"}') >= 1);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
  // under the cap (20 by default) both have their own
  await gql(dev.url, '{ products(first: 1) { totalCount } }', { token: dev.tokens.globex });
  const m = await (await fetch(`${base}/metrics`)).text();
  assert.ok(sample(m, 'tenantql_tenant_requests_total', '{tenant="globex",outcome="ok"}') >= 1);
  assert.deepEqual(m.split('\n').filter((l) => l.startsWith('tenantql_tenant_') && l.includes('tenant="other"')), []);
});

test('registry down: /readyz 503, cached tenants still served; back up: ready again', async () => {
  dev.psql('ALTER DATABASE tenantql ALLOW_CONNECTIONS false', 'postgres');
  dev.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'tenantql' AND pid <> pg_backend_pid()",
    'postgres');
  let ready;
  for (let i = 0; i < 50 && (ready = (await get('/readyz')).status) !== 503; i++) await sleep(100);
  assert.equal(ready, 503);
  const r = await gql(dev.url, '{ users(first: 1) { edges { node { email } } } }', { token: dev.tokens.acme });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.data.users.edges[0].node.email, /@acme\.example$/);
  assert.match((await get('/metrics')).text, /^tenantql_registry_up 0$/m);

  dev.psql('ALTER DATABASE tenantql ALLOW_CONNECTIONS true', 'postgres');
  for (let i = 0; i < 100 && (ready = (await get('/readyz')).status) !== 200; i++) await sleep(100);
  assert.equal(ready, 200);
});
