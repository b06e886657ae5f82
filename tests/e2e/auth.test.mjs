// auth.test.mjs - the JWT guard and the tenant check: every kind of bad token is 401
// UNAUTHENTICATED, an unknown or inactive tenant is 403 FORBIDDEN, and the server keeps
// serving good requests throughout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, gql, signJwt, b64url } from './lib/harness.mjs';

let dev;
before(async () => { dev = await startDev(); });
after(() => stopDev(dev));

const Q = '{ users(first: 1) { totalCount } }';

async function expectStatus(token, status, code) {
  const r = await gql(dev.url, Q, { token });
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.errors[0].extensions.code, code);
  assert.equal(r.body.data, undefined);
}

test('a valid token works', async () => {
  const r = await gql(dev.url, Q, { token: dev.token({ tenantId: dev.tenantId('acme') }) });
  assert.equal(r.status, 200);
  assert.equal(r.body.data.users.totalCount, 1001);
});

test('missing token', async () => {
  const r = await gql(dev.url, Q);
  assert.equal(r.status, 401);
  assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.match(r.headers.get('www-authenticate'), /^Bearer/);
});

test('bad tokens are refused with 401', async () => {
  const acme = dev.tenantId('acme');
  const now = Math.floor(Date.now() / 1000);
  const cases = {
    expired: dev.token({ tenantId: acme, iat: now - 7200, exp: now - 3600 }),
    'wrong key': signJwt({ tenantId: acme, iss: 'tenantql', exp: now + 600 }, 'x'.repeat(48)),
    'alg none': signJwt({ tenantId: acme, iss: 'tenantql', exp: now + 600 }, '', { alg: 'none' }),
    'HS512 with the right key': dev.token({ tenantId: acme }, { alg: 'HS512' }),
    'no exp': signJwt({ tenantId: acme, iss: 'tenantql' }, dev.secret),
    'not yet valid': dev.token({ tenantId: acme, nbf: now + 3600 }),
    'issued in the future': dev.token({ tenantId: acme, iat: now + 3600 }),
    'wrong issuer': dev.token({ tenantId: acme, iss: 'someone-else' }),
    'no tenantId': dev.token({}),
    'tenantId not a uuid': dev.token({ tenantId: 'acme' }),
    'tampered payload': (() => {
      const [h, , s] = dev.token({ tenantId: acme }).split('.');
      return `${h}.${b64url(JSON.stringify({ tenantId: dev.tenantId('globex'), iss: 'tenantql', exp: now + 600 }))}.${s}`;
    })(),
    truncated: dev.token({ tenantId: acme }).slice(0, -10),
    'not a jwt': 'hello',
    'bad base64': '!!!.???.***',
    'huge header': signJwt({ tenantId: acme, iss: 'tenantql', exp: now + 600 }, dev.secret, { header: { pad: 'x'.repeat(8000) } }),
  };
  for (const [name, token] of Object.entries(cases)) {
    const r = await gql(dev.url, Q, { token });
    assert.equal(r.status, 401, `${name}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED', name);
  }
  const scheme = await gql(dev.url, Q, { headers: { authorization: `Basic ${b64url('a:b')}` } });
  assert.equal(scheme.status, 401);
});

test('unknown tenant is 403', async () => {
  await expectStatus(dev.token({ tenantId: '00000000-0000-4000-8000-000000000000' }), 403, 'FORBIDDEN');
});

test('an inactive tenant is 403 within a second of its deactivation, and back when reactivated', async () => {
  dev.tenantql('tenant', 'create', 'initech');
  const id = dev.tenantId('initech');
  const token = dev.token({ tenantId: id });
  const deadline = Date.now() + 2000;
  let r;
  do { r = await gql(dev.url, Q, { token }); } while (r.status !== 200 && Date.now() < deadline);
  assert.equal(r.status, 200, 'a new tenant is served without a restart');
  assert.equal(r.body.data.users.totalCount, 0);

  dev.tenantql('tenant', 'deactivate', 'initech');
  const t0 = Date.now();
  do { r = await gql(dev.url, Q, { token }); } while (r.status === 200 && Date.now() - t0 < 2000);
  assert.equal(r.status, 403);
  assert.ok(Date.now() - t0 < 1000, 'took effect within a second');
  assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');

  dev.tenantql('tenant', 'activate', 'initech');
  const t1 = Date.now();
  do { r = await gql(dev.url, Q, { token }); } while (r.status !== 200 && Date.now() - t1 < 2000);
  assert.equal(r.status, 200);
});

test('the server still serves after all of that', async () => {
  const r = await gql(dev.url, '{ me { email } }', { token: dev.tokens.globex });
  assert.deepEqual(r.body, { data: { me: { email: 'admin@globex.example' } } });
});
