// pressure.test.mjs - one client's behaviour must not become everyone's problem:
// descriptors, client connections and the log under pressure.
// - The soft descriptor limit is raised to the hard one at start, and both are logged.
// - 1,500 idle connections against a server under `ulimit -n 1024`: a normal client is
//   still answered promptly, the server's CPU stays low while they sit there, and the
//   refusals are counted (/metrics) and logged once per interval.
// - With a cap set above what the descriptors allow, accept(2) fails with EMFILE: the
//   server pauses accepting instead of spinning, counts and logs it once per interval, and
//   recovers when descriptors free up.
// - A flood of refused tokens writes a bounded number of log lines, then one "N similar
//   suppressed" line; libpq's notices ("FATAL: terminating connection") go through the
//   logger; every line the server writes has a time, a level and a module.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDev, stopDev, startServe, gql, freePort, BIN, signJwt } from './lib/harness.mjs';

let dev;
before(async () => {
  dev = await startDev();
  dev.tenantql('tenant', 'create', 'noisy');
});
after(() => stopDev(dev));

const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) [a-z_]+: /;
const QUERY = '{ users(first: 1) { edges { node { email } } } }';

function assertAllLogged(stderr) {
  const raw = stderr.split('\n').filter((l) => l.length > 0 && !LOG_LINE.test(l));
  assert.deepEqual(raw, [], 'lines written around the logger');
}

function sample(text, name) {
  const m = text.match(new RegExp(`^${name.replace(/[{}"[\]]/g, '\\$&')} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

const hardLimit = () => execFileSync('sh', ['-c', 'ulimit -H -n'], { encoding: 'utf8' }).trim();

/**
 * `tenantql serve` (two threads) run by sh after `limits` (e.g. "ulimit -n 1024"), against
 * dev's registry; resolves once it answers /healthz.
 */
async function startLimited(limits, args = []) {
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawn('sh', ['-c', `${limits} && exec "$0" "$@"`, BIN, 'serve', '--listen', `127.0.0.1:${port}`,
    '--admin-listen', `127.0.0.1:${adminPort}`, '--threads', '2', ...args], {
    env: { ...process.env, TENANTQL_REGISTRY: dev.registry, TENANTQL_JWT_SECRET: dev.secret },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((r) => child.once('exit', (code, sig) => r(code ?? sig)));
  const origin = `http://127.0.0.1:${port}`;
  const adminOrigin = `http://127.0.0.1:${adminPort}`;
  for (let i = 0; i < 400; i++) {
    try {
      await fetch(`${adminOrigin}/healthz`);
      break;
    } catch {
      if (child.exitCode !== null) throw new Error(`serve did not start:\n${err}`);
      await sleep(50);
    }
  }
  return {
    port, origin, url: `${origin}/graphql`, pid: child.pid, stderr: () => err,
    /** utime + stime of the server, in clock ticks */
    cpuTicks() {
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return Number(f[11]) + Number(f[12]);
    },
    async metrics() { return (await fetch(`${adminOrigin}/metrics`)).text(); },
    stop(sig = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      return exited;
    },
  };
}

/** Opens n TCP connections that never send a byte; resolves once each is open or closed. */
async function idleConnections(port, n) {
  const sockets = [];
  await Promise.all(Array.from({ length: n }, () => new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    sockets.push(s);
    s.on('connect', resolve);
    s.on('error', resolve);
    s.on('close', resolve);
  })));
  return sockets;
}

/** A GraphQL POST on a connection of its own (fetch would reuse a kept-alive one). */
function gqlNewConnection(url, query, token) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query });
    const req = request(url, {
      method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** CPU the server used over ms, as a share of one core. */
async function cpuShare(srv, ms) {
  const t0 = srv.cpuTicks();
  await sleep(ms);
  return (srv.cpuTicks() - t0) / 100 / (ms / 1000);
}

const linesMatching = (text, re) => text.split('\n').filter((l) => re.test(l));

test('the soft descriptor limit is raised to the hard limit, and the cap derived from it', async (t) => {
  const hard = hardLimit();
  if (hard === 'unlimited' || Number(hard) <= 1024) return t.skip(`hard limit ${hard}`);
  const srv = await startLimited('ulimit -S -n 1024');
  try {
    assert.match(srv.stderr(), new RegExp(`descriptors: soft limit raised from 1024 to ${hard} \\(the hard limit\\)`));
    const m = await srv.metrics();
    // the limit less 2 descriptors per database connection (--max-connections 100), 4 per
    // worker thread and 64 spare
    assert.equal(sample(m, 'tenantql_client_connections_max'), Number(hard) - 200 - 8 - 64);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('1,500 idle connections under ulimit -n 1024: a normal client is answered, CPU stays low, refusals counted and logged once', async (t) => {
  const hard = hardLimit();
  if (hard !== 'unlimited' && Number(hard) < 1024) return t.skip(`hard limit ${hard}`);
  const srv = await startLimited('ulimit -n 1024');
  let sockets = [];
  try {
    assert.match(srv.stderr(), /descriptors: soft limit 1024, hard limit 1024/);
    assert.match(srv.stderr(), /client connections: at most 752 \(1024 descriptors - 200 for the database connections - 8 for 2 worker thread\(s\) - 64 spare\)/);
    const first = await gql(srv.url, QUERY, { token: dev.tokens.acme }); // the pool has its connection
    assert.equal(first.status, 200);

    sockets = await idleConnections(srv.port, 1500);
    const share = await cpuShare(srv, 3000);
    assert.ok(share < 0.25, `the server used ${(share * 100).toFixed(0)}% of a core while 1,500 connections sat idle`);

    // the cap is full of connections that sent nothing for seconds: a new client takes
    // the place of one of them
    const t0 = Date.now();
    const r = await gqlNewConnection(srv.url, QUERY, dev.tokens.acme);
    const ms = Date.now() - t0;
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(ms < 2000, `answered in ${ms} ms`);

    const m = await srv.metrics();
    const refused = sample(m, 'tenantql_client_connections_refused_total{reason="cap"}');
    const evicted = sample(m, 'tenantql_client_connections_evicted_total');
    assert.ok(refused + evicted >= 1500 - 752, `${refused} refused, ${evicted} evicted`);
    assert.ok(evicted >= 1, 'the normal client took the place of an idle connection');
    assert.ok(sample(m, 'tenantql_client_connections') <= 752);
    assert.equal(sample(m, 'tenantql_client_connections_refused_total{reason="descriptors"}'), 0,
      'the derived cap leaves accept(2) its descriptors');

    await sleep(1500); // the main thread reports once a second
    const log = srv.stderr();
    if (refused > 0)
      assert.equal(linesMatching(log, /new connection\(s\) closed at once at the cap/).length, 1, log);
    assert.equal(linesMatching(log, /waiting for a request closed to make room at the cap/).length, 1, log);
  } finally {
    for (const s of sockets) s.destroy();
    assert.equal(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
  assertAllLogged(srv.stderr());
});

test('a cap above what the descriptors allow: EMFILE pauses accepting, no busy loop, logged once, recovers', async (t) => {
  const hard = hardLimit();
  if (hard !== 'unlimited' && Number(hard) < 1024) return t.skip(`hard limit ${hard}`);
  const srv = await startLimited('ulimit -n 1024', ['--max-client-connections', '5000']);
  let sockets = [];
  try {
    assert.match(srv.stderr(), /--max-client-connections 5000 is more than the 752 descriptors leave/);
    assert.equal((await gql(srv.url, QUERY, { token: dev.tokens.acme })).status, 200);
    sockets = await idleConnections(srv.port, 1500);
    const share = await cpuShare(srv, 3000);
    assert.ok(share < 0.25, `the server used ${(share * 100).toFixed(0)}% of a core with accept failing for EMFILE`);
    assert.equal(linesMatching(srv.stderr(), /accept\(s\) failed for want of descriptors/).length, 1, srv.stderr());

    for (const s of sockets) s.destroy();
    sockets = [];
    // once the idle connections are gone, descriptors are back and so is service
    let r;
    for (let i = 0; i < 100; i++) {
      try {
        r = await gql(srv.url, QUERY, { token: dev.tokens.acme });
        if (r.status === 200) break;
      } catch { /* still recovering */ }
      await sleep(100);
    }
    assert.equal(r?.status, 200, JSON.stringify(r?.body));
    const m = await srv.metrics();
    assert.ok(sample(m, 'tenantql_client_connections_refused_total{reason="descriptors"}') > 0);
  } finally {
    for (const s of sockets) s.destroy();
    assert.equal(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
  assertAllLogged(srv.stderr());
});

test('a flood of refused tokens writes a bounded number of lines, then says how many it suppressed', async () => {
  const srv = await startServe(dev, ['--threads', '2'], { TENANTQL_JWT_SECRET: dev.secret });
  const forged = signJwt({ iss: 'tenantql', exp: Math.floor(Date.now() / 1000) + 600, tenantId: dev.tenantId('acme') },
    'not the secret at all, but long enough to be one');
  const FLOOD = 2000;
  const t0 = Date.now();
  let sent = 0;
  await Promise.all(Array.from({ length: 20 }, async () => {
    while (sent < FLOOD) {
      sent++;
      const r = await gql(srv.url, QUERY, { token: forged });
      assert.equal(r.status, 401);
    }
  }));
  const noToken = await Promise.all(Array.from({ length: 50 }, () => gql(srv.url, QUERY)));
  for (const r of noToken) assert.equal(r.status, 401);
  const seconds = (Date.now() - t0) / 1000;
  const m = await srv.metrics();
  assert.equal(await srv.stop(), 0);

  const log = srv.stderr();
  const written = linesMatching(log, /request [0-9a-f]+-\d+: token refused: bad signature/).length;
  // 10 lines a reason per 10 s window
  assert.ok(written >= 10 && written <= 10 * (Math.floor(seconds / 10) + 2), `${written} lines in ${seconds} s`);
  const said = linesMatching(log, /similar line\(s\) suppressed .*: token refused: bad signature/)
    .reduce((n, l) => n + Number(l.match(/(\d+) similar/)[1]), 0);
  assert.equal(written + said, FLOOD, 'every refusal is either written or counted in a "suppressed" line');
  assert.equal(linesMatching(log, /request [0-9a-f]+-\d+: refused: no token/).length, 10);
  assert.match(log, /auth: 40 similar line\(s\) suppressed in the last \d+ s: refused: no token \(at most 10 a reason per 10 s\)/);
  assert.equal(sample(m, 'tenantql_log_lines_suppressed_total'), FLOOD - written + 40);
  assertAllLogged(log);
});

test("libpq's notices go through the logger: a terminated connection is a log line, not raw stderr", async () => {
  const srv = await startServe(dev, ['--threads', '1'], { TENANTQL_JWT_SECRET: dev.secret });
  const token = dev.token({ tenantId: dev.tenantId('noisy') });
  assert.equal((await gql(srv.url, QUERY, { token })).status, 200);
  dev.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'tenant_noisy' AND application_name = 'tenantql'");
  let log = '';
  for (let i = 0; i < 100 && !/idle connection closed by the server/.test(log); i++) {
    await sleep(50);
    log = srv.stderr();
  }
  assert.match(log, /warn  db: tenant_noisy: FATAL: terminating connection due to administrator command/);
  assert.equal((await gql(srv.url, QUERY, { token })).status, 200, 'a new connection serves the tenant');
  assert.equal(await srv.stop(), 0);
  assertAllLogged(srv.stderr());
});
