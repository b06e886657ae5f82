// config.test.mjs - --config FILE and SIGHUP: a flag beats a variable beats the file beats
// the default; a reload with a good file applies CORS, limits, the key set and the log
// level (and names what needs a restart); a bad file is refused with its line, the old
// configuration stays in force and the server keeps serving; no secret reaches the log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDev, stopDev, startServe, gql, signJwt, until } from './lib/harness.mjs';

const K1 = 'k1-secret-0123456789abcdef0123456789abcdef';
const K2 = 'k2-secret-fedcba9876543210fedcba9876543210';
const NEW_ORIGIN = 'https://new.example';
let dev, srv, conf, keys, devDir;

// a tenant token like dev's own for acme, signed with key kid
function token(kid, secret) {
  const claims = JSON.parse(Buffer.from(dev.tokens.acme.split('.')[1], 'base64url').toString());
  const now = Math.floor(Date.now() / 1000);
  return signJwt({ ...claims, iat: now, exp: now + 600 }, secret, { header: { kid } });
}

function writeKeys(list) {
  writeFileSync(keys, JSON.stringify({ keys: list.map(([kid, secret]) => ({ kid, alg: 'HS256', secret })) }));
}

function writeConf(lines) {
  writeFileSync(conf, `${lines.join('\n')}\n`);
  chmodSync(conf, 0o600);
}

// the good file of the start: each option here is beaten, or not, by a flag or variable
const START = [
  '# tenantql configuration (test)',
  '',
  `jwt-keys = "${'KEYS'}"`,
  'max-depth = 2        # the flag (4) wins',
  'max-aliases = 1      # the variable (2) wins',
  'max-fields = 7       # only here',
  'log-level = info',
];

before(async () => {
  // dev takes --config too (and keeps its own registry and secret across a reload)
  devDir = mkdtempSync(join(tmpdir(), 'tq-e2e-conf-'));
  writeFileSync(join(devDir, 'dev.conf'), 'cors-max-age-s = 77\n', { mode: 0o600 });
  dev = await startDev({ args: ['--config', join(devDir, 'dev.conf')] });
  conf = join(dev.dir, 'tenantql.conf');
  keys = join(dev.dir, 'keys.json');
  writeKeys([['k1', K1]]);
  writeConf(START.map((l) => l.replace('KEYS', keys)));
  srv = await startServe(dev, ['--config', conf, '--max-depth', '4', '--threads', '2'], { TENANTQL_MAX_ALIASES: '2' });
});
after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
  await stopDev(dev);
  rmSync(devDir, { recursive: true, force: true });
});

const deep = '{ __schema { types { fields { type { name } } } } }'; // depth 5
const aliases = '{ a: __typename b: __typename c: __typename }'; // 3 fields, 3 aliases
const fields = (n) => `{ ${Array.from({ length: n }, () => '__typename').join(' ')} }`;
const message = async (r) => r.body?.errors?.[0]?.message ?? JSON.stringify(r.body);
const hup = () => process.kill(srv.pid, 'SIGHUP');
const metric = async (outcome) => Number((await srv.metrics()).match(
  new RegExp(`tenantql_config_reloads_total\\{outcome="${outcome}"\\} (\\d+)`))?.[1]);
const preflight = (origin) => fetch(srv.url, {
  method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' },
});
// waits for the count of stderr lines matching re to reach n
const logged = (re, n = 1) => until((k) => k >= n, async () => srv.stderr().split('\n').filter((l) => re.test(l)).length, 5000);

test('precedence: a flag beats a variable, which beats the file, which beats the default', async () => {
  assert.match(await message(await gql(srv.url, deep)), /at most 4 are allowed/, 'max-depth: the flag');
  assert.match(await message(await gql(srv.url, aliases)), /at most 2 are allowed/, 'max-aliases: the variable');
  assert.match(await message(await gql(srv.url, fields(8))), /too many fields.*at most 7/, 'max-fields: the file');
  assert.equal((await gql(srv.url, fields(7))).status, 200);
  const me = await gql(srv.url, '{ me { email } }', { token: token('k1', K1) });
  assert.equal(me.status, 200, 'the key set named in the file');
  assert.equal(await metric('ok'), 0);
  assert.equal(await metric('refused'), 0);
});

test('SIGHUP with a good file: CORS, a lower limit, the key set and the log level change; a restart option is named', async () => {
  const before = await preflight(NEW_ORIGIN);
  assert.equal(before.status, 405, 'CORS off at start');
  writeKeys([['k2', K2]]);
  writeConf([
    `jwt-keys = ${keys}`,
    'max-depth = 2',
    'max-aliases = 1',
    'max-fields = 3',
    'log-level = debug',
    `cors-origins = "${NEW_ORIGIN} http://localhost:3000"   # a # inside quotes is kept`,
    'doc-cache-entries = 7',
  ]);
  hup();
  assert.equal(await until((n) => n === 1, () => metric('ok'), 5000), 1);
  const err = srv.stderr();
  assert.match(err, /needs a restart \(not applied\): doc-cache-entries/);
  const changed = err.match(/SIGHUP: configuration reloaded from \S*tenantql\.conf; changed: (.*)/)?.[1];
  assert.equal(changed, 'cors-origins, log-level, max-fields', 'a flag and a variable stay as given');
  assert.match(err.split('reloaded from')[1], /tokens: .*k2/, 'the key set read again');
  // every worker takes the new snapshot on its loop: at most a loop turn later
  const ok = await until((r) => r.status === 204, () => preflight(NEW_ORIGIN));
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('access-control-allow-origin'), NEW_ORIGIN);
  assert.match(await message(await gql(srv.url, fields(4))), /too many fields.*at most 3/, 'the lower limit');
  assert.match(await message(await gql(srv.url, deep)), /at most 4 are allowed/, 'the flag still wins');
  assert.match(await message(await gql(srv.url, aliases)), /at most 2 are allowed/, 'the variable still wins');
  assert.equal((await gql(srv.url, '{ me { email } }', { token: token('k2', K2) })).status, 200, 'the new key');
  assert.equal((await gql(srv.url, '{ me { email } }', { token: token('k1', K1) })).status, 401, 'the removed key');
  await preflight('https://evil.example');
  assert.equal(await logged(/CORS preflight refused/), 1, 'debug lines now');
});

test('SIGHUP with a bad file: refused with its line, the old configuration in force, still serving', async () => {
  const bad = [
    [['max-fields 9'], /tenantql\.conf:1: expected '=' after the option's name/],
    [['max-fields = 9', 'no-such-option = 1'], /tenantql\.conf:2: unknown option "no-such-option"/],
    [['max-fields = 9', 'max-fields = 10'], /tenantql\.conf:2: max-fields is given twice \(first at line 1\)/],
    [['max-fields = lots'], /tenantql\.conf:1: --max-fields must be a whole number/],
    [['jwt-keys = /nonexistent/keys.json'], /SIGHUP: configuration refused.*keys\.json/],
    [['anon-burst = 5', 'anon-login-cost = 9'], /--anon-login-cost \(9\) must be at most --anon-burst/],
    [['jwt-keys = x', `jwt-secret = "${K1}"`, 'jwt-secret = "other-secret-value-xyz"'], /jwt-secret is given twice/],
  ];
  for (const [i, [lines, why]] of bad.entries()) {
    writeConf(lines);
    hup();
    assert.equal(await until((n) => n === i + 1, () => metric('refused'), 5000), i + 1, lines.join(' / '));
    assert.match(srv.stderr(), why);
  }
  // a broken key set: refused without quoting the text near the error (it may be a secret)
  writeFileSync(keys, '{"keys": [{"kid": "k3", "alg": "HS256", "secret": "broken-secret-near-the-error');
  writeConf([`jwt-keys = ${keys}`]);
  hup();
  assert.equal(await until((n) => n === bad.length + 1, () => metric('refused'), 5000), bad.length + 1);
  assert.match(srv.stderr(), /keys\.json: not JSON \(line 1, column \d+\)/);
  assert.ok(!srv.stderr().includes('broken-secret'));
  writeKeys([['k2', K2]]);
  assert.equal(await metric('ok'), 1, 'nothing applied');
  assert.match(await message(await gql(srv.url, fields(4))), /at most 3/, 'the reloaded limit still holds');
  assert.equal((await preflight(NEW_ORIGIN)).status, 204, 'CORS as reloaded');
  assert.equal((await gql(srv.url, '{ me { email } }', { token: token('k2', K2) })).status, 200);
  assert.equal((await gql(srv.url, '{ __typename }')).status, 200);
  writeFileSync(conf, 'max-fields = 3\n');
  chmodSync(conf, 0o666);
  hup();
  assert.equal(await until((n) => n === bad.length + 2, () => metric('refused'), 5000), bad.length + 2);
  assert.match(srv.stderr(), /writable by every user/);
});

test('dev: --config and SIGHUP, its own registry and JWT secret kept', async () => {
  const origin = 'https://dev.example';
  const devPreflight = () => fetch(dev.url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
  assert.equal((await devPreflight()).status, 405);
  writeFileSync(join(devDir, 'dev.conf'), `cors-max-age-s = 77\ncors-origins = ${origin}\n`);
  process.kill(dev.child.pid, 'SIGHUP');
  const reloads = async () => Number((await (await fetch(`${dev.adminOrigin}/metrics`)).text())
    .match(/tenantql_config_reloads_total\{outcome="ok"\} (\d+)/)?.[1]);
  assert.equal(await until((n) => n === 1, reloads, 5000), 1);
  const r = await until((x) => x.status === 204, devPreflight);
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-max-age'), '77', 'from the file');
  assert.equal((await gql(dev.url, '{ me { email } }', { token: dev.tokens.acme })).status, 200, 'dev\'s secret');
});

test('reloads under traffic: every request answered, no crash', async () => {
  writeKeys([['k2', K2]]);
  writeConf([`jwt-keys = ${keys}`, 'max-fields = 3', 'log-level = info', `cors-origins = ${NEW_ORIGIN}`]);
  const ok0 = await metric('ok');
  const t = token('k2', K2);
  let stop = false;
  const load = async () => {
    const statuses = [];
    while (!stop) statuses.push((await gql(srv.url, '{ me { email } }', { token: t })).status);
    return statuses;
  };
  const clients = [load(), load(), load(), load()];
  for (let i = 0; i < 20; i++) {
    writeConf([`jwt-keys = ${keys}`, `max-fields = ${3 + (i % 2)}`, 'log-level = info', `cors-origins = ${NEW_ORIGIN}`]);
    hup();
    await until((n) => n === ok0 + i + 1, () => metric('ok'), 5000);
  }
  stop = true;
  const all = (await Promise.all(clients)).flat();
  assert.ok(all.length > 20, `${all.length} requests`);
  assert.deepEqual([...new Set(all)], [200]);
  assert.equal(await metric('ok'), ok0 + 20);
});

test('no secret of a file, a key set or a token reaches the log', async () => {
  const err = srv.stderr();
  for (const s of [K1, K2, 'other-secret-value-xyz', 'broken-secret']) assert.ok(!err.includes(s), `${s.slice(0, 6)}... logged`);
});
