// graphql.test.mjs - execution against real tenant data: the fields of the schema,
// pagination with cursors, filters and orders, scalars, and the GraphQL features a
// client relies on (aliases, fragments, variables, directives, errors with paths).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, gql } from './lib/harness.mjs';

let dev, q;
before(async () => {
  dev = await startDev();
  q = async (query, variables) => {
    const r = await gql(dev.url, query, { token: dev.tokens.acme, variables });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
});
after(() => stopDev(dev));

test('users pages through every user exactly once, in byte order of email', async () => {
  const expected = dev.tenantPsql('acme', 'SELECT email FROM users ORDER BY email COLLATE "C", id');
  const seen = [];
  let after = null;
  for (;;) {
    const b = await q('query($after: String) { users(first: 100, after: $after) { totalCount edges { cursor node { email } } pageInfo { hasNextPage endCursor } } }', { after });
    const c = b.data.users;
    assert.equal(c.totalCount, expected.length);
    seen.push(...c.edges.map((e) => e.node.email));
    if (c.edges.length) assert.equal(c.pageInfo.endCursor, c.edges.at(-1).cursor);
    if (!c.pageInfo.hasNextPage) break;
    after = c.pageInfo.endCursor;
  }
  assert.deepEqual(seen, expected);
});

test('first: 0 gives no edges; hasNextPage tells whether rows follow', async () => {
  const b = await q('{ users(first: 0) { edges { cursor } pageInfo { hasNextPage endCursor } } }');
  assert.deepEqual(b.data.users, { edges: [], pageInfo: { hasNextPage: true, endCursor: null } });
});

test('first out of range, null orderBy and a foreign cursor are field errors with paths', async () => {
  const b = await q('{ a: users(first: 101) { totalCount } b: users(first: 1) { totalCount } }');
  assert.equal(b.data, null, 'users is non-null, so data is nulled');
  assert.equal(b.errors[0].extensions.code, 'BAD_USER_INPUT');
  assert.deepEqual(b.errors[0].path, ['a']);
  assert.deepEqual(b.errors[0].locations, [{ line: 1, column: 3 }]);
  const c = await q('{ products(orderBy: null) { totalCount } }');
  assert.equal(c.errors[0].extensions.code, 'BAD_USER_INPUT');
  const u = await q('{ users(first: 1) { edges { cursor } } }');
  const d = await q(`{ products(after: "${u.data.users.edges[0].cursor}") { totalCount } }`);
  assert.equal(d.errors[0].extensions.code, 'BAD_USER_INPUT');
  const e = await q('{ users(after: "garbage!") { totalCount } }');
  assert.equal(e.errors[0].extensions.code, 'BAD_USER_INPUT');
});

test('products in every order, with filters, match SQL', async () => {
  const orders = {
    NAME_ASC: 'name COLLATE "C", id',
    NAME_DESC: 'name COLLATE "C" DESC, id',
    PRICE_ASC: 'price, id',
    PRICE_DESC: 'price DESC, id',
    CREATED_AT_DESC: 'created_at DESC, id',
  };
  for (const [order, sql] of Object.entries(orders)) {
    const where = "name ILIKE '%rocket%' AND price >= 100 AND stock_quantity > 0";
    const expected = dev.tenantPsql('acme', `SELECT id FROM products WHERE ${where} ORDER BY ${sql}`);
    const ids = [];
    let after = null;
    for (;;) {
      const b = await q(`query($after: String) { products(first: 7, after: $after, orderBy: ${order},
        filter: { nameContains: "ROCKET", minPrice: "100", inStock: true }) {
        totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`, { after });
      assert.equal(b.errors, undefined, JSON.stringify(b.errors));
      assert.equal(b.data.products.totalCount, expected.length);
      ids.push(...b.data.products.edges.map((e) => e.node.id));
      if (!b.data.products.pageInfo.hasNextPage) break;
      after = b.data.products.pageInfo.endCursor;
    }
    assert.deepEqual(ids, expected, order);
  }
});

test('nameContains matches %, _ and \\ literally', async () => {
  const b = await q('{ products(filter: { nameContains: "%" }) { totalCount } s: search(term: "_") { __typename } }');
  assert.equal(b.data.products.totalCount, 0);
  assert.deepEqual(b.data.s, []);
});

test('scalars: ids, DateTime with milliseconds, Decimal with two decimals', async () => {
  const row = dev.tenantPsql('acme',
    "SELECT id, created_at::text, price::text, stock_quantity FROM products WHERE name LIKE '%#7' LIMIT 1")[0].split('\t');
  const b = await q(`{ product(id: "${row[0].toUpperCase()}") { id createdAt price stockQuantity } }`);
  const p = b.data.product;
  assert.equal(p.id, row[0]);
  assert.match(p.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(p.createdAt.slice(0, 19), row[1].slice(0, 19).replace(' ', 'T'));
  assert.match(p.price, /^\d+\.\d\d$/);
  assert.equal(p.price, row[2]);
  assert.equal(p.stockQuantity, Number(row[3]));
});

test('unknown and malformed ids are null, not errors', async () => {
  const b = await q('{ user(id: "not-a-uuid") { id } product(id: "00000000-0000-4000-8000-000000000000") { id } node(id: "x") { id } nodes(ids: []) { id } }');
  assert.deepEqual(b, { data: { user: null, product: null, node: null, nodes: [] } });
});

test('node and nodes resolve users and products, in order', async () => {
  const ids = await q('{ users(first: 1) { edges { node { id } } } products(first: 1) { edges { node { id } } } }');
  const uid = ids.data.users.edges[0].node.id, pid = ids.data.products.edges[0].node.id;
  const b = await q(`{ nodes(ids: ["${pid}", "bad", "${uid}"]) { __typename id ... on User { email } ... on Product { name } } node(id: "${uid}") { ...U } }
    fragment U on User { email }`);
  assert.equal(b.data.nodes[0].__typename, 'Product');
  assert.equal(b.data.nodes[1], null);
  assert.equal(b.data.nodes[2].__typename, 'User');
  assert.ok(b.data.nodes[2].email.endsWith('@acme.example'));
  assert.deepEqual(Object.keys(b.data.nodes[0]), ['__typename', 'id', 'name']);
  assert.equal(b.data.node.email, b.data.nodes[2].email);
});

test('search: users then products, each at most first', async () => {
  const b = await q('{ search(term: "ADA", first: 3) { __typename ... on User { email firstName } ... on Product { name } } }');
  const users = b.data.search.filter((x) => x.__typename === 'User');
  assert.ok(users.length > 0 && users.length <= 3);
  for (const u of users) assert.equal(u.firstName, 'Ada');
  const r = await q('{ search(term: "gizmo", first: 2) { ... on Product { name } } }');
  assert.equal(r.data.search.length, 2);
});

test('aliases, variables with defaults, fragments, @skip and @include keep query order', async () => {
  const b = await q(`query Q($n: Int = 2, $skip: Boolean!, $withCount: Boolean = true) {
      second: users(first: $n) { ...C @skip(if: $skip) totalCount @include(if: $withCount) }
      __typename
      first: users(first: 1) { edges { node { e: email, ... on User { id } } } }
    }
    fragment C on UserConnection { pageInfo { hasNextPage } }`, { skip: true });
  assert.deepEqual(Object.keys(b.data), ['second', '__typename', 'first']);
  assert.deepEqual(Object.keys(b.data.second), ['totalCount']);
  assert.equal(b.data.__typename, 'Query');
  assert.deepEqual(Object.keys(b.data.first.edges[0].node), ['e', 'id']);
});

test('operationName picks the operation; a missing one is a request error', async () => {
  const doc = 'query A { me { email } } query B { users(first: 1) { totalCount } }';
  const r = await gql(dev.url, doc, { token: dev.tokens.acme, operationName: 'B' });
  assert.equal(r.body.data.users.totalCount, 1001);
  const r2 = await gql(dev.url, doc, { token: dev.tokens.acme });
  assert.equal(r2.body.data, undefined);
  assert.match(r2.body.errors[0].message, /Must provide operation name/);
});

test('a failed mutation nulls data (details in mutations.test.mjs)', async () => {
  const b = await q('mutation { deleteProduct(id: "00000000-0000-4000-8000-000000000000") }');
  assert.equal(b.data, null);
  assert.equal(b.errors[0].extensions.code, 'NOT_FOUND');
  assert.deepEqual(b.errors[0].path, ['deleteProduct']);
});

// The second time a text arrives it comes from the worker's document cache: answers must
// not change, for other variables and operation names, and a bad text is never remembered.
test('repeated documents answer as the first time (document cache)', async () => {
  const q = 'query A($n: Int!) { users(first: $n) { edges { node { email } } } } query B { __typename }';
  const token = dev.tokens.acme;
  for (let i = 0; i < 4; i++) {
    const a = await gql(dev.url, q, { token, variables: { n: 1 + (i % 2) }, operationName: 'A' });
    assert.equal(a.body.data.users.edges.length, 1 + (i % 2));
    const b = await gql(dev.url, q, { token, operationName: 'B' });
    assert.deepEqual(b.body, { data: { __typename: 'Query' } });
    const bad = await gql(dev.url, '{ users(first: 1) { edges { node { email } }', { token });
    assert.equal(bad.body.errors.length, 1);
    assert.match(bad.body.errors[0].message, /^Syntax Error/);
  }
});
