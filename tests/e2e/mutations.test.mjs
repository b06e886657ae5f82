// mutations.test.mjs - createUser, updateUser, createProduct, updateProduct, adjustStock
// and deleteProduct as the API contract fixes them: validation and its order (input,
// then NOT_FOUND, then CONFLICT), null handling, updatedAt on empty input, atomic stock
// changes under concurrency, serial execution that stops at the first failure, and the
// rule that a token whose user is gone may not write (nor read: the request gate).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, gql } from './lib/harness.mjs';

let dev, token;
before(async () => {
  dev = await startDev();
  token = dev.token({ tenantId: dev.tenantId('acme') }); // no sub: may always write
});
after(() => stopDev(dev));

const USER = 'id email firstName lastName active createdAt updatedAt';
const PRODUCT = 'id name description price stockQuantity active createdAt updatedAt';

function run(query, variables, tok = token) {
  return gql(dev.url, query, { token: tok, variables });
}

/** The field's value, after checking there was no error. */
async function ok(query, variables, tok) {
  const r = await run(query, variables, tok);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.errors, undefined, `${query}\n${JSON.stringify(r.body.errors)}`);
  return Object.values(r.body.data)[0];
}

/** Checks the one error of a failed mutation (data null, the field's path) and returns its message. */
async function fails(code, query, variables, tok) {
  const r = await run(query, variables, tok);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.data, null, `${query} ${JSON.stringify(variables)}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.errors.length, 1, JSON.stringify(r.body.errors));
  assert.equal(r.body.errors[0].extensions.code, code, `${query} ${JSON.stringify(variables)}: ${JSON.stringify(r.body.errors)}`);
  assert.equal(r.body.errors[0].path.length, 1);
  assert.doesNotMatch(r.body.errors[0].message, /SQL|violat|constraint|duplicate key|postgres/i);
  return r.body.errors[0].message;
}

const CREATE_USER = `mutation($input: CreateUserInput!) { createUser(input: $input) { ${USER} } }`;
const UPDATE_USER = `mutation($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { ${USER} } }`;
const CREATE_PRODUCT = `mutation($input: CreateProductInput!) { createProduct(input: $input) { ${PRODUCT} } }`;
const UPDATE_PRODUCT = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { ${PRODUCT} } }`;
const ADJUST = `mutation($id: ID!, $delta: Int!) { adjustStock(id: $id, delta: $delta) { ${PRODUCT} } }`;
const DELETE = 'mutation($id: ID!) { deleteProduct(id: $id) }';
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const createProduct = (input) => ok(CREATE_PRODUCT, { input: { name: 'Test product', price: '1.00', ...input } });

test('createUser: email rules, lower-casing, password length in code points, CONFLICT last', async () => {
  const bad = ['plain', 'a@b', '@b.example', 'a@b.', 'a@.example', 'a@@b.example', 'a@b@c.example', 'a b@c.example',
    'a@b..example', 'tab\t@b.example', 'a\u0001@b.example', 'nbsp\u00a0@b.example', 'a@b.example ', '',
    `${'x'.repeat(243)}@example.com`];
  for (const email of bad)
    await fails('BAD_USER_INPUT', CREATE_USER, { input: { email, password: 'long-enough' } });
  for (const password of ['', 'seven77', 'ééééééé', '😀😀😀😀']) // 4 emoji: 8 UTF-16 units, 4 code points
    await fails('BAD_USER_INPUT', CREATE_USER, { input: { email: 'pw@acme.example', password } });

  const longest = `${'y'.repeat(242)}@example.com`; // 254 characters
  assert.equal((await ok(CREATE_USER, { input: { email: longest, password: '😀😀😀😀😀😀😀😀' } })).email, longest);
  const u = await ok(CREATE_USER, { input: { email: 'New.User@Example.COM', password: 'password-1', firstName: 'New' } });
  assert.equal(u.email, 'new.user@example.com');
  assert.equal(u.firstName, 'New');
  assert.equal(u.lastName, null);
  assert.equal(u.active, true);
  assert.match(u.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(u.createdAt, u.updatedAt);
  const stored = dev.tenantPsql('acme', `SELECT password FROM users WHERE id = '${u.id}'`)[0];
  assert.match(stored, /^\$argon2id\$v=19\$m=65536,t=2,p=1\$/);

  const m = await fails('CONFLICT', CREATE_USER, { input: { email: 'new.user@example.com', password: 'password-2' } });
  assert.match(m, /already/);
  await fails('CONFLICT', CREATE_USER, { input: { email: 'NEW.USER@EXAMPLE.com', password: 'password-2' } });
  await fails('CONFLICT', CREATE_USER, { input: { email: 'admin@acme.example', password: 'password-2' } });
  // input errors come before the duplicate test
  await fails('BAD_USER_INPUT', CREATE_USER, { input: { email: 'new.user@example.com', password: 'short' } });
  // the new user can log in
  const l = await ok('mutation { login(tenant: "acme", email: "NEW.USER@example.com", password: "password-1") { user { id } } }');
  assert.equal(l.user.id, u.id);
});

test('updateUser: only present fields change, nulls clear names, active: null refused, NOT_FOUND after input errors', async () => {
  const u = await ok(CREATE_USER, { input: { email: 'upd@acme.example', password: 'password-1', firstName: 'F', lastName: 'L' } });
  await new Promise((res) => setTimeout(res, 5)); // updatedAt visibly moves

  const same = await ok(UPDATE_USER, { id: u.id, input: {} });
  assert.deepEqual(same, u, 'an empty input leaves the row (and updatedAt) unchanged');

  const a = await ok(UPDATE_USER, { id: u.id, input: { lastName: 'Last' } });
  assert.equal(a.firstName, 'F');
  assert.equal(a.lastName, 'Last');
  assert.notEqual(a.updatedAt, u.updatedAt);
  assert.equal(a.createdAt, u.createdAt);
  const b = await ok(UPDATE_USER, { id: u.id, input: { firstName: null, active: false } });
  assert.equal(b.firstName, null);
  assert.equal(b.lastName, 'Last');
  assert.equal(b.active, false);
  const c = await ok(`mutation { updateUser(id: "${u.id.toUpperCase()}", input: { active: true }) { active firstName } }`);
  assert.deepEqual(c, { active: true, firstName: null });

  await fails('BAD_USER_INPUT', UPDATE_USER, { id: u.id, input: { active: null } });
  await fails('BAD_USER_INPUT', 'mutation { updateUser(id: "nope", input: { active: null }) { id } }');
  await fails('NOT_FOUND', UPDATE_USER, { id: UNKNOWN_ID, input: { firstName: 'x' } });
  await fails('NOT_FOUND', UPDATE_USER, { id: 'not-a-uuid', input: {} });
  await fails('NOT_FOUND', UPDATE_USER, { id: UNKNOWN_ID, input: {} });
  const globexAdmin = (await ok('{ me { id } }', undefined, dev.tokens.globex)).id;
  await fails('NOT_FOUND', UPDATE_USER, { id: globexAdmin, input: { firstName: 'Hacked' } });
  assert.equal((await ok('{ me { firstName } }', undefined, dev.tokens.globex)).firstName, 'Globex');
});

test('createProduct: value rules, defaults, the row as stored', async () => {
  for (const input of [{ name: '' }, { name: '   ' }, { name: '\u3000\t\n' }, { price: '-0.01' }, { price: -5 },
    { stockQuantity: -1 }, { stockQuantity: null }])
    await fails('BAD_USER_INPUT', CREATE_PRODUCT, { input: { name: 'x', price: '1', ...input } });
  const p = await createProduct({ name: ' Widget ', price: 0 });
  assert.equal(p.name, ' Widget ');
  assert.equal(p.price, '0.00');
  assert.equal(p.stockQuantity, 0);
  assert.equal(p.description, null);
  assert.equal(p.active, true);
  assert.equal(p.createdAt, p.updatedAt);
  const q = await createProduct({ name: 'Gizmo', price: '19.9', description: 'Shiny', stockQuantity: 7 });
  assert.deepEqual([q.price, q.description, q.stockQuantity], ['19.90', 'Shiny', 7]);
  const read = await ok(`{ product(id: "${q.id}") { ${PRODUCT} } }`);
  assert.deepEqual(read, q);
});

test('updateProduct: nulls refused except description, same value rules, empty input keeps updatedAt', async () => {
  const p = await createProduct({ name: 'Upd', price: '5.00', description: 'D', stockQuantity: 3 });
  await new Promise((res) => setTimeout(res, 5));
  assert.deepEqual(await ok(UPDATE_PRODUCT, { id: p.id, input: {} }), p);
  for (const input of [{ name: null }, { price: null }, { stockQuantity: null }, { active: null }, { name: ' ' },
    { price: '-1' }, { stockQuantity: -3 }])
    await fails('BAD_USER_INPUT', UPDATE_PRODUCT, { id: p.id, input });
  await fails('BAD_USER_INPUT', UPDATE_PRODUCT, { id: UNKNOWN_ID, input: { name: null } }); // input before NOT_FOUND
  await fails('NOT_FOUND', UPDATE_PRODUCT, { id: UNKNOWN_ID, input: { name: 'x' } });
  await fails('NOT_FOUND', UPDATE_PRODUCT, { id: 'garbage', input: {} });

  const a = await ok(UPDATE_PRODUCT, { id: p.id, input: { description: null, price: '6.5' } });
  assert.deepEqual([a.name, a.description, a.price, a.stockQuantity, a.active], ['Upd', null, '6.50', 3, true]);
  assert.notEqual(a.updatedAt, p.updatedAt);
  const b = await ok(UPDATE_PRODUCT, { id: p.id, input: { name: 'Renamed', stockQuantity: 0, active: false, description: 'E' } });
  assert.deepEqual([b.name, b.description, b.price, b.stockQuantity, b.active], ['Renamed', 'E', '6.50', 0, false]);
});

test('adjustStock: 100 concurrent -1 on a stock of 50 sell exactly 50', async () => {
  const p = await createProduct({ name: 'Hot item', stockQuantity: 50 });
  const results = await Promise.all(Array.from({ length: 100 }, () => run(ADJUST, { id: p.id, delta: -1 })));
  const won = results.filter((r) => r.body.data !== null);
  const lost = results.filter((r) => r.body.data === null);
  assert.equal(won.length, 50);
  assert.equal(lost.length, 50);
  for (const r of lost) assert.equal(r.body.errors[0].extensions.code, 'BAD_USER_INPUT', JSON.stringify(r.body));
  assert.deepEqual(won.map((r) => r.body.data.adjustStock.stockQuantity).sort((x, y) => x - y),
    Array.from({ length: 50 }, (_, i) => i));
  assert.equal((await ok(`{ product(id: "${p.id}") { stockQuantity } }`)).stockQuantity, 0);
});

test('adjustStock: range limits, NOT_FOUND, nothing changes on failure', async () => {
  const p = await createProduct({ stockQuantity: 10 });
  assert.equal((await ok(ADJUST, { id: p.id, delta: 5 })).stockQuantity, 15);
  assert.equal((await ok(ADJUST, { id: p.id, delta: -15 })).stockQuantity, 0);
  await fails('BAD_USER_INPUT', ADJUST, { id: p.id, delta: -1 });
  assert.equal((await ok(ADJUST, { id: p.id, delta: 2147483647 })).stockQuantity, 2147483647);
  await fails('BAD_USER_INPUT', ADJUST, { id: p.id, delta: 1 });
  await fails('BAD_USER_INPUT', ADJUST, { id: p.id, delta: 2147483647 });
  await fails('BAD_USER_INPUT', ADJUST, { id: p.id, delta: -2147483648 });
  assert.equal((await ok(ADJUST, { id: p.id, delta: -2147483647 })).stockQuantity, 0);
  await fails('NOT_FOUND', ADJUST, { id: UNKNOWN_ID, delta: 1 });
  await fails('NOT_FOUND', ADJUST, { id: 'nope', delta: -1 });
  const q = await ok(`{ product(id: "${p.id}") { stockQuantity } }`);
  assert.equal(q.stockQuantity, 0);
});

test('deleteProduct: true once, then NOT_FOUND; malformed and other tenants\' ids NOT_FOUND', async () => {
  const p = await createProduct({ name: 'Doomed' });
  assert.equal(await ok(DELETE, { id: p.id }), true);
  assert.equal((await ok(`{ product(id: "${p.id}") { id } }`)), null);
  await fails('NOT_FOUND', DELETE, { id: p.id });
  await fails('NOT_FOUND', DELETE, { id: 'x' });
  const g = await ok('{ products(first: 1) { edges { node { id } } } }', undefined, dev.tokens.globex);
  await fails('NOT_FOUND', DELETE, { id: g.edges[0].node.id });
});

test('mutations run one after another and stop at the first failure', async () => {
  const r = await run(`mutation {
    a: createProduct(input: { name: "serial-first", price: 1 }) { id }
    b: adjustStock(id: "${UNKNOWN_ID}", delta: 1) { id }
    c: createProduct(input: { name: "serial-never", price: 1 }) { id } }`);
  assert.equal(r.body.data, null);
  assert.equal(r.body.errors.length, 1);
  assert.deepEqual(r.body.errors[0].path, ['b']);
  const count = (name) => Number(dev.tenantPsql('acme', `SELECT count(*) FROM products WHERE name = '${name}'`)[0]);
  assert.equal(count('serial-first'), 1);
  assert.equal(count('serial-never'), 0);
  // later fields see the earlier ones' writes
  const s = await ok(`mutation {
    p: createProduct(input: { name: "serial-2", price: 1, stockQuantity: 1 }) { id } }`);
  const t = await run(`mutation { x: adjustStock(id: "${s.id}", delta: 1) { stockQuantity }
    y: adjustStock(id: "${s.id}", delta: 1) { stockQuantity } }`);
  assert.deepEqual(t.body.data, { x: { stockQuantity: 2 }, y: { stockQuantity: 3 } });
});

test('identical writes sent at once are all executed (writes never coalesce)', async () => {
  const rs = await Promise.all(Array.from({ length: 10 }, () =>
    run('mutation { createProduct(input: { name: "twin", price: "2.50" }) { id } }')));
  const ids = new Set(rs.map((r) => r.body.data.createProduct.id));
  assert.equal(ids.size, 10);
});

test("a token whose user is deactivated: every operation but login is 401 UNAUTHENTICATED (the request gate)", async () => {
  const u = await ok(CREATE_USER, { input: { email: 'leaver@acme.example', password: 'leaver-password' } });
  const login = await ok('mutation { login(tenant: "acme", email: "leaver@acme.example", password: "leaver-password") { token } }');
  const mine = login.token;
  assert.equal((await ok('{ me { id } }', undefined, mine)).id, u.id);
  assert.equal((await ok(CREATE_PRODUCT, { input: { name: 'by leaver', price: 1 } }, mine)).name, 'by leaver');

  await ok(UPDATE_USER, { id: u.id, input: { active: false } });
  await new Promise((res) => setTimeout(res, 1100)); // every worker knows within a second
  /** The whole request is refused before it runs: 401, no data. */
  async function refused(query, variables, tok) {
    const r = await run(query, variables, tok);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.body.data, undefined);
    assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.doesNotMatch(r.body.errors[0].message, /leaver/);
  }
  await refused('{ me { id } }', undefined, mine);
  await refused(CREATE_PRODUCT, { input: { name: 'x', price: 1 } }, mine);
  await refused(UPDATE_USER, { id: u.id, input: { active: true } }, mine);
  await refused(DELETE, { id: 'whatever' }, mine);
  // the check comes before input validation
  await refused(CREATE_PRODUCT, { input: { name: ' ', price: 1 } }, mine);
  // login itself still runs with that token
  assert.ok((await ok('mutation { login(tenant: "acme", email: "admin@acme.example", password: "acme-demo-password") { token } }',
    undefined, mine)).token);
  // a token naming a user that never existed is refused too; one without sub may write
  const ghost = dev.token({ tenantId: dev.tenantId('acme'), sub: UNKNOWN_ID });
  await refused(DELETE, { id: 'whatever' }, ghost);
  await fails('NOT_FOUND', DELETE, { id: 'whatever' });
});
