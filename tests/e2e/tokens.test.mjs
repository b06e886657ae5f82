// tokens.test.mjs - token verification as RFC 8725 asks, against running servers: one
// `tenantql dev` (HS256) and three `tenantql serve` on its registry, configured for
// RS256 (with an audience), ES256 (through TENANTQL_* variables) and a --jwt-keys key
// set with two kids (rotation). Keys are made here with node's crypto. Every forged or
// broken token is 401 UNAUTHENTICATED, an inactive tenant 403 FORBIDDEN, good tokens of
// every kind work, bad configurations stop the server at start, and the log says why
// each token was refused without ever printing the token or a part of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDev, startServe as startHarnessServe, freePort, gql, b64url, BIN } from './lib/harness.mjs';

const AUD = 'https://api.tenantql.test';
const Q = '{ users(first: 1) { totalCount } }';
const OLD_SECRET = 'old-rotation-secret-0123456789abcdef-0123456789';

let dev, dir, keys, rs, es, rot, acme;
const servers = [];

// ---- keys and tokens ----

function makeKeys() {
  const pem = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } };
  const k = {
    rsa: generateKeyPairSync('rsa', { modulusLength: 2048, ...pem }),
    rsaOther: generateKeyPairSync('rsa', { modulusLength: 2048, ...pem }),
    ec: generateKeyPairSync('ec', { namedCurve: 'P-256', ...pem }),
    ecOther: generateKeyPairSync('ec', { namedCurve: 'P-256', ...pem }),
  };
  for (const [name, pair] of Object.entries(k)) {
    writeFileSync(join(dir, `${name}.pub.pem`), pair.publicKey);
    writeFileSync(join(dir, `${name}.pem`), pair.privateKey, { mode: 0o600 });
  }
  return k;
}

const signers = {
  hs: (secret) => (input) => createHmac('sha256', secret).update(input).digest(),
  rs: (key) => (input) => sign('sha256', Buffer.from(input), key),
  es: (key) => (input) => sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }), // R || S
  none: () => () => Buffer.alloc(0),
};

/** A compact JWS of header and claims (objects or raw strings) signed by signer. */
function jws(header, claims, signer) {
  const enc = (x) => b64url(typeof x === 'string' ? x : JSON.stringify(x));
  const input = `${enc(header)}.${enc(claims)}`;
  return `${input}.${b64url(signer(input))}`;
}

function claims(extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'tenantql', tenantId: acme, iat: now, exp: now + 600, ...extra };
}

// ---- servers ----

/** `tenantql serve` on dev's registry, remembered so that `after` stops it. */
async function startServe(args, env = {}) {
  const s = await startHarnessServe(dev, args, env);
  servers.push(s);
  return s;
}

/** The environment without any TENANTQL_JWT_* or TENANTQL_TOKEN_* variable. */
function envWithoutTokenOptions(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const name of Object.keys(env)) if (/^TENANTQL_(JWT|TOKEN)_/.test(name)) delete env[name];
  return env;
}

/** Runs `tenantql serve` expecting it to refuse its configuration; resolves to { code, stderr }. */
async function refusedServe(args) {
  const port = await freePort();
  return new Promise((resolve) => {
    execFile(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--registry', 'host=/nonexistent', ...args],
      { env: envWithoutTokenOptions(), timeout: 20000 },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stderr }));
  });
}

before(async () => {
  dev = await startDev();
  acme = dev.tenantId('acme');
  dir = mkdtempSync(join(tmpdir(), 'tq-tokens-'));
  keys = makeKeys();
  writeFileSync(join(dir, 'keys.json'), JSON.stringify({
    keys: [
      { kid: 'new', alg: 'ES256', public_key_file: 'ec.pub.pem', private_key_file: 'ec.pem' },
      { kid: 'old', alg: 'HS256', secret: OLD_SECRET },
    ],
    signing_kid: 'new',
  }));
  [rs, es, rot] = await Promise.all([
    startServe(['--jwt-alg', 'RS256', '--jwt-public-key', join(dir, 'rsa.pub.pem'), '--jwt-audience', AUD]),
    startServe([], { TENANTQL_JWT_ALG: 'ES256', TENANTQL_JWT_PUBLIC_KEY: join(dir, 'ec.pub.pem') }),
    startServe(['--jwt-keys', join(dir, 'keys.json')]),
  ]);
});

after(async () => {
  const codes = await Promise.all(servers.map((s) => s.stop()));
  const code = await dev.stop();
  dev.cleanup();
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(codes, servers.map(() => 0), 'serve exit codes');
  assert.equal(code, 0, `server exit code (stderr:\n${dev.stderr().slice(-3000)})`);
});

async function expectAccepted(url, token, what) {
  const r = await gql(url, Q, { token });
  assert.equal(r.status, 200, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.data.users.totalCount, 1001, what);
}

async function expectRefused(url, token, what, status = 401, code = 'UNAUTHENTICATED') {
  const r = await gql(url, Q, { token });
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.errors[0].extensions.code, code, what);
  assert.equal(r.body.data, undefined, what);
}

/** No token and no segment of one (8 characters or more) appears in a server's log. */
function assertNotLogged(log, tokens) {
  for (const [what, token] of tokens) {
    for (const part of [token, ...token.split('.')]) {
      if (part.length >= 8) assert.ok(!log.includes(part), `the log shows (part of) the token "${what}"`);
    }
  }
}

// ---- good tokens ----

test('good tokens: HS256, RS256 (with aud), ES256, and both kids of a rotation', async () => {
  await expectAccepted(dev.url, jws({ alg: 'HS256', typ: 'JWT' }, claims(), signers.hs(dev.secret)), 'HS256');
  await expectAccepted(rs.url, jws({ alg: 'RS256', typ: 'JWT' }, claims({ aud: AUD }), signers.rs(keys.rsa.privateKey)),
    'RS256');
  await expectAccepted(rs.url, jws({ alg: 'RS256' }, claims({ aud: ['other', AUD] }), signers.rs(keys.rsa.privateKey)),
    'RS256, aud array');
  await expectAccepted(es.url, jws({ alg: 'ES256', typ: 'JWT' }, claims(), signers.es(keys.ec.privateKey)), 'ES256');
  await expectAccepted(rot.url, jws({ alg: 'ES256', kid: 'new' }, claims(), signers.es(keys.ec.privateKey)), 'kid new');
  await expectAccepted(rot.url, jws({ alg: 'HS256', kid: 'old' }, claims(), signers.hs(OLD_SECRET)), 'kid old');
  // the same token again: answered from the worker's token cache
  const t = jws({ alg: 'HS256', kid: 'old' }, claims(), signers.hs(OLD_SECRET));
  await expectAccepted(rot.url, t, 'kid old, first');
  await expectAccepted(rot.url, t, 'kid old, cached');
});

test('tenantql token: RS256 and ES256 (kid from the key set) tokens that the servers accept', async () => {
  const env = envWithoutTokenOptions({ TENANTQL_REGISTRY: dev.registry });
  const run = (...args) => new Promise((resolve, reject) => execFile(BIN, ['token', '--tenant', 'acme', ...args], { env },
    (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout.trim()))));
  const rsToken = await run('--jwt-alg', 'RS256', '--jwt-public-key', join(dir, 'rsa.pub.pem'),
    '--jwt-private-key', join(dir, 'rsa.pem'), '--jwt-audience', AUD);
  const header = JSON.parse(Buffer.from(rsToken.split('.')[0], 'base64url'));
  assert.deepEqual(header, { alg: 'RS256', typ: 'JWT' });
  assert.equal(JSON.parse(Buffer.from(rsToken.split('.')[1], 'base64url')).aud, AUD);
  await expectAccepted(rs.url, rsToken, 'tenantql token RS256');
  await expectRefused(es.url, rsToken, 'an RS256 token at the ES256 server');

  const kidToken = await run('--jwt-keys', join(dir, 'keys.json'));
  assert.deepEqual(JSON.parse(Buffer.from(kidToken.split('.')[0], 'base64url')), { alg: 'ES256', typ: 'JWT', kid: 'new' });
  await expectAccepted(rot.url, kidToken, 'tenantql token with the signing kid');
  // without a private key there is nothing to sign with
  await assert.rejects(run('--jwt-alg', 'ES256', '--jwt-public-key', join(dir, 'ec.pub.pem')), /no signing key/);
});

// ---- forged and broken tokens ----

test('forged and broken tokens are 401 UNAUTHENTICATED, each logged with its reason and never the token', async () => {
  const rsa = signers.rs(keys.rsa.privateKey);
  const good = () => claims({ aud: AUD });
  const H = { alg: 'RS256', typ: 'JWT' };
  const now = Math.floor(Date.now() / 1000);
  const valid = jws(H, good(), rsa);
  const cases = [
    // [name, token, reason in the log]
    ['alg none', jws({ alg: 'none', typ: 'JWT' }, good(), signers.none()), 'algorithm not allowed'],
    ['alg none with a signature', jws({ alg: 'none' }, good(), rsa), 'algorithm not allowed'],
    ['algorithm confusion: HS256 keyed with the RS256 public key',
      jws({ alg: 'HS256', typ: 'JWT' }, good(), signers.hs(keys.rsa.publicKey)), 'algorithm not allowed'],
    ['ES256 header at an RS256 server', jws({ alg: 'ES256' }, good(), signers.es(keys.ec.privateKey)), 'algorithm not allowed'],
    ['wrong key', jws(H, good(), signers.rs(keys.rsaOther.privateKey)), 'bad signature'],
    ['signature of another token',
      `${valid.split('.').slice(0, 2).join('.')}.${jws(H, claims({ aud: AUD, x: 1 }), rsa).split('.')[2]}`, 'bad signature'],
    ['expired', jws(H, claims({ aud: AUD, iat: now - 7200, exp: now - 3600 }), rsa), 'expired'],
    ['no exp', jws(H, claims({ aud: AUD, exp: undefined }), rsa), 'missing exp'],
    ['not yet valid (nbf)', jws(H, claims({ aud: AUD, nbf: now + 3600 }), rsa), 'not yet valid'],
    ['iat in the future', jws(H, claims({ aud: AUD, iat: now + 3600 }), rsa), 'issued in the future'],
    ['wrong iss', jws(H, claims({ aud: AUD, iss: 'someone-else' }), rsa), 'wrong issuer'],
    ['wrong aud', jws(H, claims({ aud: 'https://elsewhere.test' }), rsa), 'wrong or missing audience'],
    ['no aud', jws(H, claims(), rsa), 'wrong or missing audience'],
    ['unknown kid', jws({ ...H, kid: 'nope' }, good(), rsa), 'unknown key id'],
    ['missing tenantId', jws(H, claims({ aud: AUD, tenantId: undefined }), rsa), 'missing or invalid tenantId'],
    ['tenantId not a uuid', jws(H, claims({ aud: AUD, tenantId: 'acme' }), rsa), 'missing or invalid tenantId'],
    ['truncated signature', valid.slice(0, -2), 'bad signature'],
    ['truncated inside the payload', valid.slice(0, valid.indexOf('.') + 20), 'malformed'],
    ['truncated to two segments', valid.split('.').slice(0, 2).join('.'), 'malformed'],
    ['bad base64', `${valid.split('.')[0]}.!!!notbase64***.${valid.split('.')[2]}`, 'malformed'],
    ['base64 padding', `${valid}=`, 'malformed'],
    ['huge header', jws({ ...H, pad: 'x'.repeat(8000) }, good(), rsa), 'token too long'],
    ['payload not JSON', jws(H, 'not json at all', rsa), 'malformed'],
  ];
  const logStart = rs.stderr().length;
  for (const [name, token] of cases) await expectRefused(rs.url, token, name);
  await new Promise((r) => setTimeout(r, 100)); // let the log lines land
  const log = rs.stderr().slice(logStart);
  for (const [name, , reason] of cases) assert.ok(log.includes(`token refused: ${reason}`), `log lacks "${reason}" (${name})`);
  const refusals = log.split('\n').filter((l) => l.includes('token refused:')).length;
  assert.equal(refusals, cases.length, 'each refusal is logged once');
  assertNotLogged(log, cases.map(([name, token]) => [name, token]));
});

test('rotation: unknown kid, no kid among several keys, and a kid used with another algorithm are refused', async () => {
  const cases = [
    ['unknown kid', jws({ alg: 'ES256', kid: 'newer' }, claims(), signers.es(keys.ec.privateKey)), 'unknown key id'],
    ['no kid', jws({ alg: 'ES256' }, claims(), signers.es(keys.ec.privateKey)), 'unknown key id'],
    ['HS256 under the ES256 kid, keyed with its public key',
      jws({ alg: 'HS256', kid: 'new' }, claims(), signers.hs(keys.ec.publicKey)), 'algorithm not allowed'],
    ['ES256 under the HS256 kid', jws({ alg: 'ES256', kid: 'old' }, claims(), signers.es(keys.ec.privateKey)),
      'algorithm not allowed'],
    ['right kid, other key', jws({ alg: 'ES256', kid: 'new' }, claims(), signers.es(keys.ecOther.privateKey)), 'bad signature'],
    ['DER signature instead of R || S',
      jws({ alg: 'ES256', kid: 'new' }, claims(), (input) => sign('sha256', Buffer.from(input), keys.ec.privateKey)),
      'bad signature'],
    ['old kid, wrong secret', jws({ alg: 'HS256', kid: 'old' }, claims(), signers.hs(dev.secret)), 'bad signature'],
  ];
  const logStart = rot.stderr().length;
  for (const [name, token] of cases) await expectRefused(rot.url, token, name);
  await new Promise((r) => setTimeout(r, 100));
  const log = rot.stderr().slice(logStart);
  for (const [name, , reason] of cases) assert.ok(log.includes(`token refused: ${reason}`), `log lacks "${reason}" (${name})`);
  assertNotLogged(log, cases);
});

test('ES256: a token for the other key or with a kid the key lacks is refused', async () => {
  await expectRefused(es.url, jws({ alg: 'ES256' }, claims(), signers.es(keys.ecOther.privateKey)), 'other key');
  await expectRefused(es.url, jws({ alg: 'ES256', kid: 'new' }, claims(), signers.es(keys.ec.privateKey)), 'kid on a key without');
  await expectRefused(es.url, jws({ alg: 'HS256' }, claims(), signers.hs(keys.ec.publicKey)), 'HS256 with the public key');
});

test('a valid token of an inactive tenant is 403 FORBIDDEN, logged without the token', async () => {
  dev.tenantql('tenant', 'create', 'initech');
  const token = jws({ alg: 'RS256' }, claims({ aud: AUD, tenantId: dev.tenantId('initech') }), signers.rs(keys.rsa.privateKey));
  let deadline = Date.now() + 3000;
  let r;
  do { r = await gql(rs.url, Q, { token }); } while (r.status !== 200 && Date.now() < deadline);
  assert.equal(r.status, 200, 'the new tenant is served');
  dev.tenantql('tenant', 'deactivate', 'initech');
  deadline = Date.now() + 3000;
  do { r = await gql(rs.url, Q, { token }); } while (r.status !== 403 && Date.now() < deadline);
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');
  await new Promise((res) => setTimeout(res, 100));
  assert.match(rs.stderr(), /tenant refused: inactive tenant initech/);
  assertNotLogged(rs.stderr(), [['inactive tenant', token]]);
});

test('bad token configurations stop the server at start with a clear message', async () => {
  writeFileSync(join(dir, 'dup.json'), JSON.stringify({ keys: [
    { kid: 'a', alg: 'HS256', secret: OLD_SECRET }, { kid: 'a', alg: 'ES256', public_key_file: 'ec.pub.pem' }] }));
  writeFileSync(join(dir, 'signing.json'), JSON.stringify({ keys: [{ kid: 'a', alg: 'HS256', secret: OLD_SECRET }],
    signing_kid: 'b' }));
  const cases = [
    [['--jwt-secret', 'too-short'], /--jwt-secret \(TENANTQL_JWT_SECRET\) must be at least 32 bytes/],
    [[], /no token key/],
    [['--jwt-alg', 'RS256'], /--jwt-alg RS256 needs --jwt-public-key/],
    [['--jwt-alg', 'PS256', '--jwt-public-key', join(dir, 'rsa.pub.pem')], /must be HS256, RS256 or ES256/],
    [['--jwt-alg', 'RS256', '--jwt-public-key', join(dir, 'missing.pem')], /missing\.pem: cannot open/],
    [['--jwt-alg', 'RS256', '--jwt-public-key', join(dir, 'ec.pub.pem')], /RS256 needs an RSA public key/],
    [['--jwt-alg', 'ES256', '--jwt-public-key', join(dir, 'ec.pub.pem'), '--jwt-private-key', join(dir, 'ecOther.pem')],
      /the private key does not belong to the public key/],
    [['--jwt-keys', join(dir, 'dup.json')], /two JWT keys have the same kid/],
    [['--jwt-keys', join(dir, 'signing.json')], /the signing kid "b" names no configured key/],
    [['--jwt-keys', join(dir, 'keys.json'), '--jwt-secret', OLD_SECRET], /--jwt-keys replaces --jwt-secret/],
    [['--jwt-secret', OLD_SECRET, '--jwt-leeway', '-1'], /--jwt-leeway/],
    [['--jwt-secret', OLD_SECRET, '--token-ttl', '0'], /--token-ttl/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await refusedServe(args);
    assert.notEqual(code, 0, `${args.join(' ')} started`);
    assert.match(stderr, message, args.join(' '));
  }
});
