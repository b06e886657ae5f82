// pool.test.mjs - the tenant connection manager against a real cluster: a new tenant's
// pool is created exactly once under a burst of first requests, and no tenant ever has
// more server connections than its pool's max, across worker threads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDev, stopDev, gql } from './lib/harness.mjs';

let dev;
before(async () => { dev = await startDev(); });
after(() => stopDev(dev));

function connectionsTo(db) {
  return Number(dev.psql(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${db}' AND application_name = 'tenantql' AND backend_type = 'client backend'`)[0]);
}

test('100 concurrent first requests for a fresh tenant make one pool of at most max connections', async () => {
  dev.tenantql('tenant', 'create', 'fresh', '--pool-options', '{"max": 3}');
  await sleep(500); // the registry notification reaches the server; no request has touched it yet
  assert.equal(connectionsTo('tenant_fresh'), 0);
  const token = dev.token({ tenantId: dev.tenantId('fresh') });
  const replies = await Promise.all(Array.from({ length: 100 }, () =>
    gql(dev.url, '{ users(first: 5) { totalCount } products(first: 5) { totalCount } }', { token })));
  for (const r of replies) {
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { data: { users: { totalCount: 0 }, products: { totalCount: 0 } } });
  }
  const created = dev.stderr().split('\n').filter((l) => l.includes('tenant fresh: pool created'));
  assert.equal(created.length, 1, created.join('\n'));
  const n = connectionsTo('tenant_fresh');
  assert.ok(n >= 1 && n <= 3, `${n} connections`);
});

test('under 64 concurrent clients a tenant never has more than max connections', async () => {
  let maxSeen = 0, done = false, requests = 0;
  const sampler = (async () => {
    while (!done) {
      maxSeen = Math.max(maxSeen, connectionsTo('tenant_acme'));
      await sleep(20);
    }
  })();
  const until = Date.now() + 3000;
  const client = async (i) => {
    while (Date.now() < until) {
      const r = await gql(dev.url, `{ users(first: ${1 + (i % 20)}) { edges { node { email } } } search(term: "a", first: 2) { __typename } }`,
        { token: dev.tokens.acme });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      requests++;
    }
  };
  await Promise.all(Array.from({ length: 64 }, (_, i) => client(i)));
  done = true;
  await sampler;
  assert.ok(requests > 100, `${requests} requests`);
  assert.ok(maxSeen >= 1 && maxSeen <= 5, `saw ${maxSeen} connections to tenant_acme (max 5)`);
});
