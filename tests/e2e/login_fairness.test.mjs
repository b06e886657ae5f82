// login_fairness.test.mjs - logins that one flood cannot block (issue 12): the hashing
// queue serves tenant names in turn, so 400 logins to a tenant that does not exist leave
// other tenants' logins working and only the flood gets TENANT_BUSY; an attempt answered
// TENANT_BUSY is given back to the limiter; every refused login costs exactly one hash
// (counted by /metrics, not timed); and a full limiter table refuses new emails instead
// of forgetting the ones it counts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, startServe, gql, adminOriginOf } from './lib/harness.mjs';

// one hashing thread and a hash of ~10-60 ms for the dummy: a flood fills the queue at once
// one small hashing thread; no budget per client address (all these logins come from one)
const HASHING = ['--hash-threads', '1', '--hash-opslimit', '2', '--hash-memlimit', String(32 << 20), '--anon-rate', '0'];

let dev;
before(async () => { dev = await startDev({ args: HASHING }); });
after(() => stopDev(dev));

const LOGIN = `mutation Login($t: String!, $e: String!, $p: String!) {
  login(tenant: $t, email: $e, password: $p) { token user { email } }
}`;

const login = (url, t, e, p) => gql(url, LOGIN, { variables: { t, e, p } });
const code = (r) => r.body.errors?.[0]?.extensions?.code ?? 'OK';

/** The password counters of a server's /metrics. */
async function hashing(url) {
  const text = await (await fetch(`${adminOriginOf(url)}/metrics`)).text();
  const num = (re) => Number((text.match(re) || [])[1] ?? NaN);
  return {
    verify: num(/^tenantql_password_hashes_total\{kind="verify"\} (\d+)$/m),
    hash: num(/^tenantql_password_hashes_total\{kind="hash"\} (\d+)$/m),
    busy: num(/^tenantql_password_busy_total (\d+)$/m),
    queued: num(/^tenantql_password_queued (\d+)$/m),
  };
}

function counts(rs) {
  const c = {};
  for (const r of rs) c[code(r)] = (c[code(r)] || 0) + 1;
  return c;
}

test("400 logins to a tenant that does not exist: other tenants' logins keep succeeding, only the flood is BUSY", async () => {
  const before = await hashing(dev.url);
  const flood = Promise.all(Array.from({ length: 400 }, (_, i) =>
    login(dev.url, 'no-such-tenant', `flood${i}@nowhere.example`, 'whatever-password')));
  // while the flood's 32 queued jobs are hashed, one at a time: real logins of two tenants
  const real = await Promise.all([
    (async () => {
      const rs = [];
      for (let i = 0; i < 3; i++) rs.push(await login(dev.url, 'globex', 'admin@globex.example', 'globex-demo-password'));
      return rs;
    })(),
    login(dev.url, 'acme', 'admin@acme.example', 'acme-demo-password'),
    login(dev.url, 'acme', 'ADMIN@acme.example', 'acme-demo-password'),
  ]);
  for (const r of real.flat()) {
    assert.equal(r.status, 200);
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    assert.ok(r.body.data.login.token);
  }
  const answers = counts(await flood);
  assert.deepEqual(Object.keys(answers).sort(), ['TENANT_BUSY', 'UNAUTHENTICATED'], JSON.stringify(answers));
  const after = await hashing(dev.url);
  // the flood got at most its share of the queue (32 of 64) plus the job running
  assert.ok(answers.UNAUTHENTICATED < 400 / 2, JSON.stringify(answers));
  assert.equal(after.busy - before.busy, answers.TENANT_BUSY);
  assert.equal(after.verify - before.verify, answers.UNAUTHENTICATED + 5);
  assert.equal(after.queued, 0);
});

test('a login answered TENANT_BUSY does not count against the limit (10 per email per minute)', async () => {
  // fill the tenant name's share of the queue, then 10 attempts for one email behind it
  const flood = Promise.all(Array.from({ length: 100 }, (_, i) =>
    login(dev.url, 'busy-tenant', `f${i}@nowhere.example`, 'whatever-password')));
  await new Promise((r) => setTimeout(r, 50));
  const victim = counts(await Promise.all(Array.from({ length: 10 }, () =>
    login(dev.url, 'busy-tenant', 'victim@nowhere.example', 'guess'))));
  await flood;
  const hashed = victim.UNAUTHENTICATED || 0;
  assert.ok(victim.TENANT_BUSY > 0, `the queue was not full: ${JSON.stringify(victim)}`);
  assert.equal(hashed + victim.TENANT_BUSY, 10, JSON.stringify(victim));
  // exactly the attempts that were hashed were counted
  for (let i = hashed; i < 10; i++)
    assert.equal(code(await login(dev.url, 'busy-tenant', 'victim@nowhere.example', 'guess')), 'UNAUTHENTICATED', `attempt ${i + 1}`);
  assert.equal(code(await login(dev.url, 'busy-tenant', 'victim@nowhere.example', 'guess')), 'FORBIDDEN');
});

test('every refused login costs exactly one hash, whatever was wrong; a limited one costs none', async () => {
  const created = await gql(dev.url, 'mutation { createUser(input: { email: "dormant@acme.example", password: "dormant-password" }) { id } }',
    { token: dev.tokens.acme });
  const id = created.body.data.createUser.id;
  await gql(dev.url, `mutation { updateUser(id: "${id}", input: { active: false }) { id } }`, { token: dev.tokens.acme });
  const cases = [
    ['unknown tenant', 'initech', 'admin@acme.example', 'acme-demo-password', 'UNAUTHENTICATED'],
    ['unknown email', 'acme', 'ghost@acme.example', 'acme-demo-password', 'UNAUTHENTICATED'],
    ['wrong password', 'acme', 'admin@acme.example', 'not-the-password', 'UNAUTHENTICATED'],
    ['inactive user', 'acme', 'dormant@acme.example', 'dormant-password', 'UNAUTHENTICATED'],
    ['right password', 'acme', 'admin@acme.example', 'acme-demo-password', 'OK'],
  ];
  for (const [what, t, e, p, want] of cases) {
    const before = await hashing(dev.url);
    const r = await login(dev.url, t, e, p);
    assert.equal(code(r), want, what);
    if (want !== 'OK') assert.equal(r.body.errors[0].message, 'Invalid credentials.', what);
    const after = await hashing(dev.url);
    assert.equal(after.verify - before.verify, 1, `${what}: one full verification`);
    assert.equal(after.hash - before.hash, 0, what);
  }
  for (let i = 0; i < 10; i++) await login(dev.url, 'acme', 'limited@acme.example', 'x');
  const before = await hashing(dev.url);
  assert.equal(code(await login(dev.url, 'acme', 'limited@acme.example', 'x')), 'FORBIDDEN');
  assert.equal((await hashing(dev.url)).verify - before.verify, 0, 'refused by the limit before any hashing');
});

test('a full limiter table refuses new emails for the window and forgets none of the ones it counts', async () => {
  const srv = await startServe(dev, [...HASHING, '--login-rate-keys', '16', '--login-rate-limit', '5'],
    { TENANTQL_JWT_SECRET: dev.secret });
  try {
    for (let i = 0; i < 16; i++)
      assert.equal(code(await login(srv.url, 'acme', `k${i}@acme.example`, 'wrong')), 'UNAUTHENTICATED', `key ${i}`);
    const before = await hashing(srv.url);
    // a flood of new emails: refused as over the limit, nothing hashed, nothing evicted
    const flood = await Promise.all(Array.from({ length: 200 }, (_, i) => login(srv.url, 'acme', `new${i}@acme.example`, 'x')));
    for (const r of flood) {
      assert.equal(code(r), 'FORBIDDEN');
      assert.match(r.body.errors[0].message, /^Too many login attempts; try again in ([1-9]|[1-5][0-9]|60) seconds?\.$/);
    }
    // a real user who is not in the table yet is refused too, until a window ends
    assert.equal(code(await login(srv.url, 'acme', 'admin@acme.example', 'acme-demo-password')), 'FORBIDDEN');
    assert.equal((await hashing(srv.url)).verify - before.verify, 0);
    // every counted email still has its count: 4 more attempts, then the limit
    for (const k of [0, 15]) {
      for (let i = 1; i < 5; i++) assert.equal(code(await login(srv.url, 'acme', `k${k}@acme.example`, 'wrong')), 'UNAUTHENTICATED');
      assert.equal(code(await login(srv.url, 'acme', `k${k}@acme.example`, 'wrong')), 'FORBIDDEN');
    }
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});
