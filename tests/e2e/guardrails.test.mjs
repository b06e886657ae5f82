// guardrails.test.mjs - what keeps one request from costing the database more than it
// should: queries of a request that timed out (or whose client left) are cancelled in
// PostgreSQL, statements stop at the default statement_timeout, search terms are bounded,
// and a forged cursor is the client's error, not the server's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, startServe, gql, until, lockTable } from './lib/harness.mjs';

let dev, srv, token;

before(async () => {
  dev = await startDev();
  dev.tenantql('tenant', 'create', 'guarded');
  srv = await startServe(dev, ['--request-timeout-ms', '600', '--threads', '2'], { TENANTQL_JWT_SECRET: dev.secret });
  token = dev.token({ tenantId: dev.tenantId('guarded') });
  dev.psql("INSERT INTO products (name, price, stock_quantity) SELECT 'p' || i, i, i FROM generate_series(1, 5) i",
    'tenant_guarded');
});
after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
  await stopDev(dev);
});

const waitingQueries = () => Number(dev.psql(
  "SELECT count(*) FROM pg_stat_activity WHERE datname = 'tenant_guarded' AND application_name = 'tenantql' AND state = 'active'")[0]);

test('a request past its timeout gets 503 and its query is cancelled in PostgreSQL', async () => {
  const lock = await lockTable(dev, 'tenant_guarded', 'users');
  try {
    const r = await gql(srv.url, '{ users(first: 2) { totalCount } }', { token });
    assert.equal(r.status, 503);
    assert.equal(r.body.errors[0].extensions.code, 'TENANT_BUSY');
    assert.equal(await until((n) => n === 0, waitingQueries, 3000), 0, 'no query of the timed-out request left running');
    assert.match(srv.stderr(), /no answer after 600 ms/);
  } finally {
    await lock.end();
  }
  // the connection went back to the pool and serves the next request
  const again = await gql(srv.url, '{ users(first: 2) { totalCount } }', { token });
  assert.equal(again.status, 200, JSON.stringify(again.body));
});

test('a statement stops at the default statement_timeout (5 s) with TENANT_BUSY', async () => {
  const slow = await startServe(dev, ['--threads', '1'], { TENANTQL_JWT_SECRET: dev.secret });
  const lock = await lockTable(dev, 'tenant_guarded', 'products');
  try {
    const t0 = Date.now();
    const r = await gql(slow.url, '{ products(first: 1) { totalCount } }', { token });
    const ms = Date.now() - t0;
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.errors[0].extensions.code, 'TENANT_BUSY');
    assert.ok(ms >= 4500 && ms < 15000, `answered after ${ms} ms`);
  } finally {
    await lock.end();
    assert.equal(await slow.stop(), 0);
  }
});

test('search and nameContains terms: at most 256 characters, no NUL', async () => {
  const long = 'x'.repeat(257);
  for (const q of [`{ search(term: "${long}") { __typename } }`,
    `{ products(filter: { nameContains: "${long}" }) { totalCount } }`,
    '{ search(term: "a\\u0000b") { __typename } }']) {
    const r = await gql(srv.url, q, { token });
    assert.equal(r.status, 200);
    assert.equal(r.body.errors[0].extensions.code, 'BAD_USER_INPUT', JSON.stringify(r.body));
  }
  const ok = await gql(srv.url, `{ search(term: "${'é'.repeat(256)}") { __typename } }`, { token });
  assert.deepEqual(ok.body, { data: { search: [] } });
});

test('a forged cursor is BAD_USER_INPUT, never an internal error', async () => {
  const forge = (field, key) => Buffer.from(`${field}|00000000-0000-0000-0000-000000000000|${key}`).toString('base64url');
  const cases = [['PRICE_ASC', 'abc'], ['PRICE_DESC', '1e999999'], ['CREATED_AT_DESC', 'yesterday'],
    ['CREATED_AT_DESC', '2026-13-45 99:99:99+00'], ['PRICE_ASC', '-']];
  for (const [order, key] of cases) {
    const r = await gql(srv.url, `{ products(orderBy: ${order}, after: "${forge(`products.${order}`, key)}") { totalCount } }`,
      { token });
    assert.equal(r.status, 200);
    assert.equal(r.body.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', `${order} ${key}: ${JSON.stringify(r.body)}`);
  }
  // a real cursor still works
  const page = await gql(srv.url, '{ products(first: 2, orderBy: CREATED_AT_DESC) { pageInfo { endCursor } } }', { token });
  const next = await gql(srv.url, `{ products(first: 2, orderBy: CREATED_AT_DESC, after: "${page.body.data.products.pageInfo.endCursor}") { edges { node { name } } } }`, { token });
  assert.equal(next.body.data.products.edges.length, 2, JSON.stringify(next.body));
});

test('the need for a token is decided before validation, through root fragments', async () => {
  // an invalid document that needs a token: refused 401 without being validated
  const invalid = `query Q { users { nope } } ${'fragment F on Query { users { id } } '.repeat(3)}`;
  const r = await gql(srv.url, invalid);
  assert.equal(r.status, 401);
  assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  // introspection and login through fragments and inline fragments need none
  const schema = await gql(srv.url, '{ ...S } fragment S on Query { ... on Query { __schema { queryType { name } } } }');
  assert.deepEqual(schema.body, { data: { __schema: { queryType: { name: 'Query' } } } });
  const login = await gql(srv.url, 'mutation { ...L } fragment L on Mutation { login(tenant: "nobody", email: "a@b.cd", password: "xxxxxxxx") { token } }');
  assert.equal(login.status, 200);
  assert.equal(login.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.equal(login.body.errors[0].message, 'Invalid credentials.');
  // a fragment cycle at the root is bounded: it needs a token
  const cycle = await gql(srv.url, '{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }');
  assert.equal(cycle.status, 401);
});
