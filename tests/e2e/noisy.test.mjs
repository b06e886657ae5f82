// noisy.test.mjs - the noisy neighbour: one tenant floods with the costliest documents its
// limits allow, and anonymous clients from many addresses flood the full introspection
// query and logins, while another tenant's requests keep succeeding and the server's
// memory stays bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { getIntrospectionQuery } from 'graphql';
import { startDev, stopDev, startServe, gql, gqlFrom, rssMiB, sanitized } from './lib/harness.mjs';

let dev, srv;

before(async () => {
  dev = await startDev();
  srv = await startServe(dev, ['--threads', '2'], { TENANTQL_JWT_SECRET: dev.secret });
});
after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
  await stopDev(dev);
});

// ten aliases of a full page of products: within the default limits (cost about 10,000 of
// 100,000, 10 aliases of 30), about 250 KB of answer each time
const PAGE = 'products(first: 100) { edges { node { id name description price stockQuantity active createdAt updatedAt } } }';
const COSTLY = `{ ${Array.from({ length: 10 }, (_, i) => `p${i}: ${PAGE}`).join(' ')} }`;
const INTROSPECTION = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true });
const LOGIN = 'mutation { login(tenant: "acme", email: "admin@acme.example", password: "not-the-password") { token } }';

test('a tenant flooding with the costliest allowed documents and anonymous floods leave another tenant served', async () => {
  const first = await gql(srv.url, COSTLY, { token: dev.tokens.acme });
  assert.equal(first.status, 200);
  assert.equal(first.body.errors, undefined, 'the costly document is within the limits');
  let stop = false, peak = 0;
  const statuses = { tenant: {}, anon: {} };
  const tally = (kind, s) => { statuses[kind][s] = (statuses[kind][s] || 0) + 1; };
  const spent = []; // per anonymous address: budget units its served requests took
  const t0 = Date.now();
  const tenantFlood = Array.from({ length: 8 }, async () => {
    while (!stop) tally('tenant', (await gql(srv.url, COSTLY, { token: dev.tokens.acme })).status);
  });
  const anonFlood = Array.from({ length: 8 }, async (_, i) => {
    spent[i] = 0;
    for (let n = 0; !stop; n++) {
      const r = await gqlFrom(srv.url, `127.0.0.${10 + i}`, n % 2 ? LOGIN : INTROSPECTION);
      tally('anon', r.status);
      if (r.status === 200) spent[i] += n % 2 ? 10 : 1; // --anon-login-cost 10, introspection 1
    }
  });
  const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(srv.pid)); }, 100);
  try {
    // meanwhile the other tenant's users keep being served, every one of them
    for (let i = 0; i < 60; i++) {
      const r = await gql(srv.url, '{ me { email } users(first: 3) { totalCount } }', { token: dev.tokens.globex });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.me.email, 'admin@globex.example');
    }
  } finally {
    stop = true;
    clearInterval(sampler);
  }
  await Promise.all([...tenantFlood, ...anonFlood]);
  const secs = (Date.now() - t0) / 1000;
  console.log(JSON.stringify({ statuses, spent, secs, peak }));
  // the floods got answers, never server errors
  for (const kind of ['tenant', 'anon'])
    for (const s of Object.keys(statuses[kind]))
      assert.ok(['200', '429'].includes(s), `${kind} flood got ${s}: ${JSON.stringify(statuses[kind])}`);
  // no address got more than its budget: a burst of 100, then 10 a second
  for (const units of spent)
    assert.ok(units <= 100 + 10 * secs + 10, `an address spent ${units} units in ${secs.toFixed(1)} s`);
  // two hashing threads take 64 MiB each while they hash; the rest is the answers in flight
  if (!sanitized(srv.pid))
    assert.ok(peak > 0 && peak < 384, `peak resident memory ${peak.toFixed(0)} MiB`);
});
