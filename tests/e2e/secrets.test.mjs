// secrets.test.mjs - tenant database passwords kept secret (README, "Secrets"): a password
// given to `tenant create` is sealed in the registry (psql finds no trace of it there) and
// a server with the key ring serves the tenant; env: and file: references are served; a
// move keeps the old copy's password sealed; `secrets rotate-key` re-seals every row while
// a server holding both keys keeps serving, a server with the new key alone serves, one
// with the old key alone refuses the tenant (503, a log line without the secret);
// `tenant set-password` after ALTER ROLE takes effect within a second and the old
// connections go; a changed file: reference is picked up by the periodic re-read; migrate
// reaches every tenant through its sealed password or reference. Last,
// every log and output of the test is searched for the test passwords: none is found.
//
// Every test password starts with TqSecretPw- so that a whole test run's logs can be
// searched for them too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDev, stopDev, startServe, gql, until, BIN, keepOutput } from './lib/harness.mjs';

const PW = {
  sealed: 'TqSecretPw-alpha-7Q2x',
  env: 'TqSecretPw-bravo-K9m4',
  file: 'TqSecretPw-charlie-P3d8',
  mover: 'TqSecretPw-delta-W6n1',
  changed: 'TqSecretPw-echo-R5t0',
  fileChanged: 'TqSecretPw-foxtrot-J2v7',
};
const Q = '{ users(first: 1) { edges { node { email } } } }';
const K1 = randomBytes(32).toString('base64'), K2 = randomBytes(32).toString('hex');
const outputs = []; // everything the test saw: command outputs, answers, logs
let dev, sock, ringOld, ringNew, ringBoth, ringNewOnly, pwFile, serve;

/** Runs the CLI with the registry and env; returns { status, stdout, stderr }, kept for the final search. */
function cli(args, env = {}, input = undefined) {
  const r = spawnSync(BIN, args, {
    encoding: 'utf8', input,
    env: { ...process.env, TENANTQL_REGISTRY: dev.registry, TENANTQL_JWT_SECRET: dev.secret, ...env },
  });
  outputs.push(r.stdout, r.stderr);
  keepOutput(r.stdout + r.stderr); // for the run's secret sweep too
  return r;
}

function cliOk(args, env, input) {
  const r = cli(args, env, input);
  assert.equal(r.status, 0, `tenantql ${args.join(' ')}: ${r.stderr}`);
  return r;
}

async function ask(url, token) {
  const r = await gql(url, Q, { token });
  outputs.push(JSON.stringify(r.body));
  return r;
}

/** Makes a login role that must give its password on the local socket. */
function role(name, password) {
  dev.psql(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`, 'postgres');
}

function keyId(sealed) {
  return /^secretbox:v1:([0-9a-f]{8}):/.exec(sealed)?.[1];
}

before(async () => {
  dev = await startDev();
  sock = join(dev.dir, 'pg', 'run');
  const hba = join(dev.dir, 'pg', 'data', 'pg_hba.conf');
  writeFileSync(hba, 'local all /^sec_ scram-sha-256\n' + readFileSync(hba, 'utf8'));
  dev.psql('SELECT pg_reload_conf()', 'postgres');
  ringOld = join(dev.dir, 'ring-old');
  ringNew = join(dev.dir, 'ring-new');
  ringBoth = join(dev.dir, 'ring-both');
  ringNewOnly = join(dev.dir, 'ring-new-only');
  writeFileSync(ringOld, `# the first key seals\n${K1}\n`, { mode: 0o600 });
  writeFileSync(ringNew, `${K2}\n${K1}\n`, { mode: 0o600 });
  writeFileSync(ringBoth, `${K1}\n${K2}\n`, { mode: 0o600 });
  writeFileSync(ringNewOnly, `${K2}\n`, { mode: 0o600 });
  pwFile = join(dev.dir, 'pw-file');
  writeFileSync(pwFile, `${PW.file}\n`, { mode: 0o600 });
});
after(async () => {
  const code = serve ? await serve.stop() : 0;
  await stopDev(dev);
  assert.equal(code, 0, `serve exited ${code}: ${serve?.stderr().slice(-3000)}`);
});

const tokens = {};

/** Creates tenant name reached as role with password option args, its users readable. */
function createTenant(name, roleName, passwordArgs, env, input) {
  const r = cliOk(['tenant', 'create', name, '--db-host', sock, '--db-port', String(dev.pgPort), '--db-user', roleName,
    ...passwordArgs], env, input);
  dev.psql(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${roleName}`, `tenant_${name}`);
  dev.psql(`INSERT INTO users (email, password) VALUES ('who@${name}.example', 'x')`, `tenant_${name}`);
  tokens[name] = dev.token({ tenantId: dev.tenantId(name) });
  return r;
}

test('a password given to tenant create is sealed in the registry and served; references are served', async () => {
  role('sec_a', PW.sealed);
  role('sec_e', PW.env);
  role('sec_f', PW.file);
  const withOld = { TENANTQL_SECRETS_KEY_FILE: ringOld };
  // from a variable read now (never on the command line), sealed with the ring's first key
  createTenant('sealed', 'sec_a', ['--db-password-from', 'env:TQ_E2E_CREATE_PW'], { ...withOld, TQ_E2E_CREATE_PW: PW.sealed });
  // references are kept as they are; the command resolves them itself to create the database
  createTenant('byenv', 'sec_e', ['--db-password', 'env:TQ_E2E_PW_ENV'], { ...withOld, TQ_E2E_PW_ENV: PW.env });
  createTenant('byfile', 'sec_f', ['--db-password', `file:${pwFile}`], withOld);

  const stored = Object.fromEntries(dev.psql('SELECT name, db_password FROM tenants').map((l) => l.split('\t')));
  assert.match(stored.sealed, /^secretbox:v1:[0-9a-f]{8}:[A-Za-z0-9+/=]+$/);
  assert.equal(stored.byenv, 'env:TQ_E2E_PW_ENV');
  assert.equal(stored.byfile, `file:${pwFile}`);
  for (const pw of Object.values(PW))
    assert.equal(dev.psql(`SELECT count(*) FROM tenants t WHERE t::text LIKE '%${pw}%'`)[0], '0');

  serve = await startServe(dev, ['--secrets-key-file', ringBoth, '--registry-refresh-ms', '1000'],
    { TENANTQL_JWT_SECRET: dev.secret, TQ_E2E_PW_ENV: PW.env });
  for (const name of ['sealed', 'byenv', 'byfile']) {
    const r = await until((x) => x.status === 200, () => ask(serve.url, tokens[name]));
    assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.data.users.edges[0].node.email, `who@${name}.example`);
  }
  assert.match(serve.stderr(), /secrets: 2 key\(s\)/);
  const list = cliOk(['tenant', 'list']).stdout;
  assert.match(list, /sealed/);
  assert.doesNotMatch(list, /secretbox|TqSecretPw|env:|file:/);
});

test('a move keeps the old copy\'s password sealed in moved_from', async () => {
  role('sec_m', PW.mover);
  // from standard input
  createTenant('mover', 'sec_m', ['--db-password-from', '-'], { TENANTQL_SECRETS_KEY_FILE: ringOld }, `${PW.mover}\n`);
  cliOk(['tenant', 'move', 'mover', '--to', 'schema'], { TENANTQL_SECRETS_KEY_FILE: ringOld });
  const from = dev.psql("SELECT moved_from ->> 'password' FROM tenants WHERE name = 'mover'")[0];
  assert.match(from, /^secretbox:v1:/);
  assert.equal(dev.psql(`SELECT count(*) FROM tenants t WHERE t::text LIKE '%${PW.mover}%'`)[0], '0');
  const r = await until((x) => x.status === 200, () => ask(serve.url, tokens.mover));
  assert.equal(r.status, 200, JSON.stringify(r.body));
});

test('rotate-key re-seals every row while a server with both keys serves; the old key alone no longer opens them', async () => {
  const before = Object.fromEntries(dev.psql('SELECT name, db_password FROM tenants').map((l) => l.split('\t')));
  const oldId = keyId(before.sealed);
  // requests all through the rotation
  let failures = 0, served = 0, running = true;
  const load = (async () => {
    while (running) {
      const r = await ask(serve.url, tokens.sealed);
      if (r.status === 200) served++; else failures++;
    }
  })();
  await sleep(200);
  const out = cliOk(['secrets', 'rotate-key'], { TENANTQL_SECRETS_KEY_FILE: ringNew }).stdout;
  await sleep(1200);
  running = false;
  await load;
  assert.equal(failures, 0, `${failures} failed requests during the rotation`);
  assert.ok(served > 5, `${served} requests served`);
  const after = Object.fromEntries(dev.psql('SELECT name, db_password FROM tenants').map((l) => l.split('\t')));
  const newId = keyId(after.sealed);
  assert.ok(newId && newId !== oldId, 'sealed with the new key');
  assert.match(out, new RegExp(`sealed with key ${newId}: `));
  assert.match(out, /2 reference\(s\) left as they are; 1 old copy password/);
  assert.equal(after.byenv, 'env:TQ_E2E_PW_ENV');
  assert.equal(after.byfile, `file:${pwFile}`);
  assert.equal(keyId(dev.psql("SELECT moved_from ->> 'password' FROM tenants WHERE name = 'mover'")[0]), newId);
  // demo tenants had plain (empty) passwords: sealed now too
  assert.equal(dev.psql("SELECT count(*) FROM tenants WHERE db_password NOT LIKE 'secretbox:v1:%' AND db_password NOT LIKE 'env:%' AND db_password NOT LIKE 'file:%'")[0], '0');
  // a second rotation with the same first key changes nothing
  assert.match(cliOk(['secrets', 'rotate-key'], { TENANTQL_SECRETS_KEY_FILE: ringNew }).stdout, / 0 re-sealed, \d+ already, 0 were plain/);

  // the old key removed: a server with the new key alone serves
  const fresh = await startServe(dev, ['--secrets-key-file', ringNewOnly], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    const r = await until((x) => x.status === 200, () => ask(fresh.url, tokens.sealed));
    assert.equal(r.status, 200, JSON.stringify(r.body));
  } finally {
    assert.equal(await fresh.stop(), 0, fresh.stderr());
    outputs.push(fresh.stderr());
  }
  // a server with the old key alone: the tenant is unavailable, the log says why without the secret
  const stale = await startServe(dev, ['--secrets-key-file', ringOld], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    const r = await ask(stale.url, tokens.sealed);
    assert.equal(r.status, 503);
    assert.equal(r.body.errors[0].extensions.code, 'TENANT_UNAVAILABLE');
    assert.match(stale.stderr(), new RegExp(`tenant sealed: its database password cannot be used \\(the password is sealed with key ${newId}, which the key ring does not hold\\)`));
    // a reference it cannot resolve (no such variable in its environment) too
    assert.equal((await ask(stale.url, tokens.byenv)).status, 503);
    assert.match(stale.stderr(), /tenant byenv: .*variable TQ_E2E_PW_ENV is not set/);
    // tenants it can open are served
    assert.equal((await ask(stale.url, tokens.byfile)).status, 200);
  } finally {
    assert.equal(await stale.stop(), 0, stale.stderr());
    outputs.push(stale.stderr());
  }
  // --finish opens the old copy's re-sealed password to check and drop the old database
  cliOk(['tenant', 'move', 'mover', '--finish'], { TENANTQL_SECRETS_KEY_FILE: ringNew });
  // migrate reaches every tenant through its sealed password or reference
  // (--recheck: connect to tenants the registry records as current too)
  const migrate = ['migrate', '--recheck', '--format', 'text'];
  const migrated = cliOk(migrate, { TENANTQL_SECRETS_KEY_FILE: ringNew, TQ_E2E_PW_ENV: PW.env }).stdout;
  assert.doesNotMatch(migrated, /: failed:/);
  for (const name of ['sealed', 'byenv', 'byfile', 'acme']) {
    assert.match(migrated, new RegExp(`tenant ${name}: (at version \\d+, nothing to apply|\\d+ migration\\(s\\) applied)`));
  }
  // without the ring it names the tenant and the key, not the password
  const blind = cli(migrate, { TQ_E2E_PW_ENV: PW.env });
  assert.notEqual(blind.status, 0);
  assert.match(blind.stdout, new RegExp(`tenant sealed: failed: its database password cannot be used: the password is sealed with key ${newId}`));
});

/** Connections of a role made at t (ms since the epoch) or later. */
function connectionsSince(roleName, t) {
  return Number(dev.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${roleName}'
    AND backend_start >= to_timestamp(${t / 1000})`)[0]);
}

/** Connections of a role made before t (ms since the epoch). */
function connectionsBefore(roleName, t) {
  return Number(dev.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${roleName}'
    AND backend_start < to_timestamp(${t / 1000})`)[0]);
}

test('set-password after ALTER ROLE takes effect within a second; the old connections go', async () => {
  assert.equal((await ask(serve.url, tokens.sealed)).status, 200);
  assert.ok(connectionsBefore('sec_a', Date.now()) > 0, 'the server holds connections of the role');
  dev.psql(`ALTER ROLE sec_a PASSWORD '${PW.changed}'`, 'postgres');
  const changed = Date.now();
  const out = cliOk(['tenant', 'set-password', 'sealed'], { TENANTQL_SECRETS_KEY_FILE: ringNew }, `${PW.changed}\n`);
  assert.match(out.stdout, /^sealed\tpassword sealed with key [0-9a-f]{8}$/m);
  assert.equal(dev.psql(`SELECT count(*) FROM tenants t WHERE t::text LIKE '%${PW.changed}%'`)[0], '0');
  // within a second requests run on new connections, made with the new password ...
  const fresh = await until((n) => n > 0, async () => {
    const r = await ask(serve.url, tokens.sealed);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return connectionsSince('sec_a', changed);
  }, 3000);
  const tookNew = Date.now() - changed;
  assert.ok(fresh > 0, 'the server connects with the new password');
  assert.ok(tookNew < 1000, `new connections after ${tookNew} ms`);
  // ... and the old ones are drained soon after
  const gone = await until((n) => n === 0, async () => connectionsBefore('sec_a', changed), 3000);
  const waited = Date.now() - changed;
  assert.equal(gone, 0, 'connections made with the old password are closed');
  assert.ok(waited < 3000, `old connections gone after ${waited} ms`);

  // --from file: reads the file now and seals what it holds; --reference stores the reference
  cliOk(['tenant', 'set-password', 'sealed', '--from', `file:${pwFile}`], { TENANTQL_SECRETS_KEY_FILE: ringNew });
  assert.match(dev.psql("SELECT db_password FROM tenants WHERE name = 'sealed'")[0], /^secretbox:v1:/);
  cliOk(['tenant', 'set-password', 'sealed'], { TENANTQL_SECRETS_KEY_FILE: ringNew }, `${PW.changed}\n`);
  cliOk(['tenant', 'set-password', 'byenv', '--reference', 'env:TQ_E2E_PW_ENV']);
  assert.equal(dev.psql("SELECT db_password FROM tenants WHERE name = 'byenv'")[0], 'env:TQ_E2E_PW_ENV');
  assert.equal((await until((x) => x.status === 200, () => ask(serve.url, tokens.sealed))).status, 200);
  // never from the command line's argument list
  assert.notEqual(cli(['tenant', 'set-password', 'sealed', PW.changed]).status, 0);
});

test('a changed file: reference is used after the periodic re-read', async () => {
  assert.equal((await ask(serve.url, tokens.byfile)).status, 200);
  dev.psql(`ALTER ROLE sec_f PASSWORD '${PW.fileChanged}'`, 'postgres');
  writeFileSync(pwFile, `${PW.fileChanged}\n`);
  const changed = Date.now();
  const gone = await until((n) => n === 0, async () => connectionsBefore('sec_f', changed), 4000);
  assert.equal(gone, 0, 'connections made with the old password are closed');
  const r = await until((x) => x.status === 200, () => ask(serve.url, tokens.byfile), 3000);
  assert.equal(r.status, 200, JSON.stringify(r.body));
});

/** Every file under dir, recursively (the cluster's log among them). */
function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    const st = statSync(p, { throwIfNoEntry: false });
    return st?.isDirectory() ? files(p) : st?.isFile() && /\.log$/.test(f) ? [p] : [];
  });
}

test('no log, answer or command output holds a test password', async () => {
  const texts = [...outputs, serve.stderr(), dev.stderr(), dev.stdout(),
    ...files(dev.dir).map((f) => readFileSync(f, 'utf8'))];
  const all = texts.join('\n');
  assert.ok(all.length > 1000 && /tenant sealed/.test(all));
  for (const pw of Object.values(PW)) assert.ok(!all.includes(pw), `${pw} printed somewhere`);
  assert.ok(!all.includes('TqSecretPw'), 'no test password printed');
  assert.ok(!all.includes(K1) && !all.includes(K2), 'no key printed');
});
