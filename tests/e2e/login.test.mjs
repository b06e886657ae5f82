// login.test.mjs - Mutation.login against the demo tenants: the token it hands out works
// (and only for its own tenant), every way of failing gives the same error after the
// same work, attempts per email are limited, and the server keeps answering other
// requests while passwords are being hashed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, gql } from './lib/harness.mjs';

let dev;
// the budget per client address (a login costs 10 of 100) would refuse most of this file's
// logins, all from 127.0.0.1: it is off here and tested in quotas.test.mjs
before(async () => { dev = await startDev({ args: ['--anon-rate', '0'] }); });
after(() => stopDev(dev));

const LOGIN = `mutation Login($t: String!, $e: String!, $p: String!) {
  login(tenant: $t, email: $e, password: $p) { token expiresAt user { id email active } }
}`;

function login(t, e, p, opts = {}) {
  return gql(dev.url, LOGIN, { variables: { t, e, p }, ...opts });
}

function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

/** The one generic failure every refused login gives. */
function assertRefused(r, what) {
  assert.equal(r.status, 200, what);
  assert.equal(r.body.data, null, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.errors.length, 1, what);
  assert.equal(r.body.errors[0].message, 'Invalid credentials.', what);
  assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED', what);
  assert.deepEqual(r.body.errors[0].path, ['login'], what);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('login round trip for both demo tenants; the token works and names its user and tenant', async () => {
  for (const t of ['acme', 'globex']) {
    const t0 = Math.floor(Date.now() / 1000);
    const r = await login(t, `admin@${t}.example`, `${t}-demo-password`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    const p = r.body.data.login;
    assert.equal(p.user.email, `admin@${t}.example`);
    assert.equal(p.user.active, true);
    const c = claimsOf(p.token);
    assert.equal(c.tenantId, dev.tenantId(t));
    assert.equal(c.sub, p.user.id);
    assert.equal(c.iss, 'tenantql');
    assert.equal(c.exp - c.iat, 3600);
    assert.ok(c.iat >= t0 - 1 && c.iat <= Math.floor(Date.now() / 1000) + 1);
    assert.equal(p.expiresAt, new Date(c.exp * 1000).toISOString());
    const me = await gql(dev.url, '{ me { id email } }', { token: p.token });
    assert.deepEqual(me.body, { data: { me: { id: p.user.id, email: `admin@${t}.example` } } });
  }
});

test('the email is compared after ASCII lower-casing; login needs no token but works with one', async () => {
  const r = await login('acme', 'ADMIN@Acme.EXAMPLE', 'acme-demo-password');
  assert.equal(r.body.data.login.user.email, 'admin@acme.example');
  const withToken = await login('globex', 'admin@globex.example', 'globex-demo-password', { token: dev.tokens.acme });
  assert.equal(withToken.body.data.login.user.email, 'admin@globex.example');
  const typename = await gql(dev.url,
    'mutation { __typename login(tenant: "acme", email: "admin@acme.example", password: "acme-demo-password") { user { email } } }');
  assert.deepEqual(typename.body, { data: { __typename: 'Mutation', login: { user: { email: 'admin@acme.example' } } } });
});

test('a mutation with fields other than login still needs a token', async () => {
  const r = await gql(dev.url,
    'mutation { login(tenant: "acme", email: "admin@acme.example", password: "x") { token } deleteProduct(id: "x") }');
  assert.equal(r.status, 401);
  assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
});

test("acme's login token sees only acme, even when it asks for globex's rows", async () => {
  const r = await login('acme', 'admin@acme.example', 'acme-demo-password');
  const token = r.body.data.login.token;
  const g = await gql(dev.url, '{ me { id } users(first: 1) { edges { node { id } } } products(first: 1) { edges { node { id } } } }',
    { token: dev.tokens.globex });
  const gUser = g.body.data.me.id, gProduct = g.body.data.products.edges[0].node.id;
  const q = await gql(dev.url, `{ me { email } user(id: "${gUser}") { id } product(id: "${gProduct}") { id }
    users(first: 20) { edges { node { email } } } }`, { token });
  assert.equal(q.body.data.me.email, 'admin@acme.example');
  assert.equal(q.body.data.user, null);
  assert.equal(q.body.data.product, null);
  for (const e of q.body.data.users.edges) assert.match(e.node.email, /@acme\.example$/);
  // and its mutations reach acme's database only
  const d = await gql(dev.url, `mutation { deleteProduct(id: "${gProduct}") }`, { token });
  assert.equal(d.body.errors[0].extensions.code, 'NOT_FOUND');
  const still = await gql(dev.url, `{ product(id: "${gProduct}") { id } }`, { token: dev.tokens.globex });
  assert.equal(still.body.data.product.id, gProduct);
});

test('wrong password, unknown email, inactive user, unknown tenant, inactive tenant: one generic error', async () => {
  assertRefused(await login('acme', 'admin@acme.example', 'not-the-password'), 'wrong password');
  assertRefused(await login('acme', 'nobody@acme.example', 'acme-demo-password'), 'unknown email');
  assertRefused(await login('acme', 'admin@globex.example', 'globex-demo-password'), "another tenant's user");
  assertRefused(await login('initech', 'admin@acme.example', 'acme-demo-password'), 'unknown tenant');
  assertRefused(await login('', '', ''), 'empty everything');

  // an inactive user with the right password
  const created = await gql(dev.url, `mutation { createUser(input: { email: "sleepy@acme.example",
    password: "sleepy-password" }) { id } }`, { token: dev.tokens.acme });
  const id = created.body.data.createUser.id;
  assert.equal((await login('acme', 'sleepy@acme.example', 'sleepy-password')).body.data.login.user.id, id);
  await gql(dev.url, `mutation { updateUser(id: "${id}", input: { active: false }) { active } }`, { token: dev.tokens.acme });
  assertRefused(await login('acme', 'sleepy@acme.example', 'sleepy-password'), 'inactive user');

  // an inactive tenant with the right credentials
  dev.tenantql('tenant', 'deactivate', 'globex');
  try {
    const deadline = Date.now() + 5000;
    while ((await gql(dev.url, '{ me { id } }', { token: dev.tokens.globex })).status !== 403) {
      assert.ok(Date.now() < deadline, 'globex did not become inactive');
      await new Promise((res) => setTimeout(res, 100));
    }
    assertRefused(await login('globex', 'admin@globex.example', 'globex-demo-password'), 'inactive tenant');
  } finally {
    dev.tenantql('tenant', 'activate', 'globex');
  }
  const deadline = Date.now() + 5000;
  while ((await gql(dev.url, '{ me { id } }', { token: dev.tokens.globex })).status !== 200) {
    assert.ok(Date.now() < deadline, 'globex did not come back');
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal((await login('globex', 'admin@globex.example', 'globex-demo-password')).body.data.login.user.email,
    'admin@globex.example');
});

test('attempts per tenant and email are limited (10 per minute by default), before any hashing', async () => {
  const email = 'hammer@acme.example';
  for (let i = 0; i < 10; i++) assertRefused(await login('acme', email, `guess-${i}`), `attempt ${i + 1}`);
  const r = await login('acme', email, 'guess-10');
  assert.equal(r.body.data, null);
  assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');
  assert.match(r.body.errors[0].message, /^Too many login attempts; try again in ([1-9]|[1-5][0-9]|60) seconds?\.$/);
  // the same email with other letter case is the same key; other emails and tenants are not
  assert.equal((await login('acme', 'HAMMER@acme.example', 'x')).body.errors[0].extensions.code, 'FORBIDDEN');
  assertRefused(await login('globex', email, 'x'), 'same email, other tenant');
  assert.equal((await login('acme', 'admin@acme.example', 'acme-demo-password')).body.errors, undefined);
});

test('an unknown email costs as long as a wrong password (medians of 10 within a factor of 3)', async () => {
  const unknown = [], wrong = [];
  for (let i = 1; i <= 10; i++) {
    let t = performance.now();
    assertRefused(await login('acme', `ghost${i}@acme.example`, 'some-password'), 'unknown email');
    unknown.push(performance.now() - t);
    t = performance.now();
    // demo users hold real Argon2id hashes (of a password nobody knows)
    const n = String(i < 10 ? i : 11).padStart(4, '0');
    assertRefused(await login('acme', `user${n}@acme.example`, 'some-password'), 'wrong password');
    wrong.push(performance.now() - t);
  }
  const mu = median(unknown), mw = median(wrong);
  assert.ok(Math.max(mu, mw) / Math.min(mu, mw) < 3, `unknown email ${mu.toFixed(1)} ms, wrong password ${mw.toFixed(1)} ms`);
  // both really hash: far slower than a lookup
  assert.ok(Math.min(mu, mw) > 5, `unknown ${mu} ms, wrong ${mw} ms`);
});

test('the server answers queries while logins are being hashed', async () => {
  const logins = [];
  let lastLogin = 0;
  const t0 = performance.now();
  for (let i = 0; i < 8; i++)
    logins.push(login('globex', `busy${i}@globex.example`, 'whatever-password').then((r) => {
      lastLogin = performance.now() - t0;
      return r;
    }));
  await new Promise((res) => setTimeout(res, 20)); // the logins are in
  const q0 = performance.now();
  const q = await gql(dev.url, '{ users(first: 1) { totalCount } }', { token: dev.tokens.acme });
  const queryDone = performance.now() - t0, queryTook = performance.now() - q0;
  assert.equal(q.body.data.users.totalCount >= 1001, true);
  for (const r of await Promise.all(logins)) assertRefused(r, 'busy login');
  assert.ok(queryDone < lastLogin, `query done at ${queryDone.toFixed(0)} ms, last login at ${lastLogin.toFixed(0)} ms`);
  assert.ok(queryTook < 2000, `query took ${queryTook.toFixed(0)} ms`);
});
