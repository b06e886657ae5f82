// isolation.test.mjs - each tenant's token sees its own tenant's rows and nothing else,
// also when both tenants are queried at the same time, and in header mode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, gql } from './lib/harness.mjs';

let dev;
// 600 requests of one tenant at once below: no quota of requests in flight here
before(async () => { dev = await startDev({ args: ['--trust-tenant-header', '--tenant-in-flight', '0'] }); });
after(() => stopDev(dev));

const LIST = '{ users(first: 50) { edges { node { id email } } } products(first: 50) { edges { node { id name } } } }';

function assertOnly(tenant, body) {
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  const users = body.data.users.edges.map((e) => e.node);
  const products = body.data.products.edges.map((e) => e.node);
  assert.equal(users.length, 50);
  assert.equal(products.length, 50);
  for (const u of users) assert.ok(u.email.endsWith(`@${tenant}.example`), `${u.email} in ${tenant}'s answer`);
  const brand = tenant === 'acme' ? 'Acme ' : 'Globex ';
  for (const p of products) assert.ok(p.name.startsWith(brand), `${p.name} in ${tenant}'s answer`);
}

test('each token sees its own tenant', async () => {
  for (const t of ['acme', 'globex']) {
    const r = await gql(dev.url, LIST, { token: dev.tokens[t] });
    assert.equal(r.status, 200);
    assertOnly(t, r.body);
  }
});

test('me is the token user of the token tenant', async () => {
  const r = await gql(dev.url, '{ me { email firstName } }', { token: dev.tokens.acme });
  assert.deepEqual(r.body, { data: { me: { email: 'admin@acme.example', firstName: 'Acme' } } });
});

test("a tenant cannot read another tenant's row by id", async () => {
  const g = await gql(dev.url, '{ users(first: 1) { edges { node { id } } } products(first: 1) { edges { node { id } } } }',
    { token: dev.tokens.globex });
  const uid = g.body.data.users.edges[0].node.id;
  const pid = g.body.data.products.edges[0].node.id;
  const r = await gql(dev.url, `{ user(id: "${uid}") { id } product(id: "${pid}") { id } node(id: "${uid}") { id } nodes(ids: ["${uid}", "${pid}"]) { id } }`,
    { token: dev.tokens.acme });
  assert.deepEqual(r.body, { data: { user: null, product: null, node: null, nodes: [null, null] } });
});

test('hammered concurrently, every answer holds only its tenant', async () => {
  const jobs = [];
  for (let i = 0; i < 400; i++) {
    const t = i % 2 ? 'acme' : 'globex';
    jobs.push(gql(dev.url, LIST, { token: dev.tokens[t] }).then((r) => ({ t, r })));
  }
  for (const { t, r } of await Promise.all(jobs)) {
    assert.equal(r.status, 200);
    assertOnly(t, r.body);
  }
});

test('header mode selects the tenant by name or id; me is null there', async () => {
  const byName = await gql(dev.url, LIST, { tenant: 'globex' });
  assertOnly('globex', byName.body);
  const byId = await gql(dev.url, LIST, { tenant: dev.tenantId('acme') });
  assertOnly('acme', byId.body);
  const me = await gql(dev.url, '{ me { id } }', { tenant: 'acme' });
  assert.deepEqual(me.body, { data: { me: null } });
  const unknown = await gql(dev.url, LIST, { tenant: 'nobody' });
  assert.equal(unknown.status, 403);
  assert.equal(unknown.body.errors[0].extensions.code, 'FORBIDDEN');
});

test('an Authorization header decides alone, even with a trusted X-Tenant-ID', async () => {
  const r = await gql(dev.url, LIST, { tenant: 'acme', headers: { authorization: 'Bearer nonsense' } });
  assert.equal(r.status, 401);
  assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
});

// Point lookups arriving together are sent to PostgreSQL as one query per tenant; each
// answer must still be its own row, and an id of the other tenant must find nothing.
test('concurrent point lookups of both tenants, mixed ids, each get their own row', async () => {
  const ids = {};
  for (const t of ['acme', 'globex']) {
    const r = await gql(dev.url, '{ users(first: 100) { edges { node { id email } } } products(first: 100) { edges { node { id name } } } }',
      { token: dev.tokens[t] });
    ids[t] = { users: r.body.data.users.edges.map((e) => e.node), products: r.body.data.products.edges.map((e) => e.node) };
  }
  const jobs = [];
  for (let i = 0; i < 600; i++) {
    const t = i % 3 ? 'acme' : 'globex';
    const from = (i * 7) % 5 === 0 ? (t === 'acme' ? 'globex' : 'acme') : t; // about one in five asks across
    const u = ids[from].users[(i * 13) % 100];
    const p = ids[from].products[(i * 17) % 100];
    const q = i % 2 ? `{ user(id: "${u.id}") { id email } }`
      : `{ a: user(id: "${u.id}") { email } b: product(id: "${p.id}") { name } c: user(id: "${u.id}") { id } }`;
    jobs.push(gql(dev.url, q, { token: dev.tokens[t] }).then((r) => ({ i, t, from, u, p, r })));
  }
  for (const { i, t, from, u, p, r } of await Promise.all(jobs)) {
    assert.equal(r.status, 200);
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const same = from === t;
    if (i % 2) {
      assert.deepEqual(r.body.data, { user: same ? { id: u.id, email: u.email } : null });
    } else {
      assert.deepEqual(r.body.data, same ? { a: { email: u.email }, b: { name: p.name }, c: { id: u.id } }
        : { a: null, b: null, c: null });
    }
  }
});
