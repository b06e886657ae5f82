// cluster.test.mjs - several `tenantql serve` processes sharing one registry (README,
// "Several processes"): with --cluster-max-connections the processes register in the
// registry with heartbeats and split one cap on tenant connections; under a load that
// wants more, PostgreSQL never sees more than the cap (a process joining under load
// included); a process killed with SIGKILL is taken for dead after --cluster-timeout-ms
// and its share goes to the survivor; tenant quotas and the login limiter hold across
// the processes within the documented tolerance (each process allows ceil(limit / N));
// a logout on one process is refused on the other within a second.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDev, stopDev, startServe, gql, until } from './lib/harness.mjs';

const CAP = 6;
const TENANTS = 8;
const TIMEOUT_MS = 1500;
const ARGS = ['--threads', '2', '--cluster-max-connections', String(CAP), '--cluster-timeout-ms', String(TIMEOUT_MS),
  '--anon-rate', '0', '--login-rate-limit', '10', '--login-rate-window-s', '60'];
const Q = '{ users(first: 3) { edges { node { email } } } }';
let dev, env, a, b;
const tokens = {};

before(async () => {
  dev = await startDev();
  env = { TENANTQL_JWT_SECRET: dev.secret };
  for (let i = 0; i < TENANTS; i++) {
    const name = `cl${i}`;
    dev.tenantql('tenant', 'create', name, '--pool-options', '{"max": 2, "acquire_timeout_ms": 20000}');
    dev.tenantPsql(name, `INSERT INTO users (email, password) VALUES ('who@${name}.example', 'x')`);
    tokens[name] = dev.token({ tenantId: dev.tenantId(name) });
  }
});
after(async () => {
  for (const s of [a, b]) if (s) await s.stop('SIGKILL');
  await stopDev(dev);
});

async function metric(s, name) {
  const m = (await s.metrics()).match(new RegExp(`^${name} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

/** Samples the tenants' connections in pg_stat_activity every 10 ms until stop(), from a
 * psql of its own (\watch: no process per sample, and the test's loop is not blocked);
 * stop() resolves to the peak, peak() is the peak so far. */
function sampler() {
  const sock = join(dev.dir, 'pg', 'run');
  const psql = spawn('psql', ['-X', '-q', '-A', '-t', `host=${sock} port=${dev.pgPort} user=tenantql dbname=tenantql`],
    { stdio: ['pipe', 'pipe', 'ignore'] });
  let peak = 0, samples = 0, rest = '';
  psql.stdout.on('data', (d) => {
    const lines = (rest + d).split('\n');
    rest = lines.pop();
    for (const l of lines) if (/^\d+$/.test(l)) { peak = Math.max(peak, Number(l)); samples++; }
  });
  const exited = new Promise((resolve) => psql.once('exit', resolve));
  psql.stdin.write(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenantql'
    AND backend_type = 'client backend' AND datname LIKE 'tenant_cl%' \\watch 0.01\n`);
  return {
    async stop() {
      psql.kill('SIGTERM');
      await exited;
      assert.ok(samples > 20, `pg_stat_activity sampled (${samples} samples)`);
      return peak;
    },
    peak: () => peak,
  };
}

/** `clients` concurrent clients send queries to the servers in turn until stop(); failures collected. */
function load(servers, clients) {
  let on = true, n = 0;
  const failures = [];
  const names = Object.keys(tokens);
  const client = async (c) => {
    while (on) {
      const name = names[(n++ * 3 + c) % names.length];
      const s = servers()[n % servers().length];
      const r = await gql(s.url, Q, { token: tokens[name] });
      if (r.status !== 200 || r.body.errors) failures.push(`${name}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  };
  const all = Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return { async stop() { on = false; await all; return failures; }, count: () => n };
}

test(`two processes under a cluster cap of ${CAP}: never above it, a process joining under load included`, async () => {
  const servers = [];
  const sample = sampler();
  a = await startServe(dev, ARGS, env);
  servers.push(a);
  assert.equal(await metric(a, 'tenantql_cluster_instances'), 1);
  assert.equal(await metric(a, 'tenantql_cluster_connection_share'), CAP);
  const work = load(() => servers, 24);
  await until((p) => p >= CAP - 1, async () => sample.peak(), 5000);
  assert.ok(sample.peak() >= CAP - 1, `alone, the process used its whole share (peak ${sample.peak()})`);
  b = await startServe(dev, ARGS, env); // joins while a holds the whole cap
  servers.push(b);
  const half = Math.floor(CAP / 2);
  for (const s of [a, b]) {
    const share = await until((v) => v === half, () => metric(s, 'tenantql_cluster_connection_share'), 8000);
    assert.equal(share, half, 'each process takes half of the cap within seconds');
    assert.equal(await metric(s, 'tenantql_cluster_instances'), 2);
    assert.equal(await metric(s, 'tenantql_cluster_connection_target'), half);
  }
  await sleep(1500); // both loaded at their shares
  const failures = await work.stop();
  const peak = await sample.stop();
  assert.deepEqual(failures.slice(0, 3), []);
  assert.ok(peak <= CAP, `peak of ${peak} tenant connections across both processes, cap ${CAP}`);
  assert.ok(work.count() > 100, `the load ran (${work.count()} requests)`);
  const rows = dev.psql('SELECT claim, instances FROM instances ORDER BY claim');
  assert.equal(rows.length, 2, rows.join('; '));
  for (const row of rows) assert.equal(row.split('\t')[1], '2');
});

test('a process killed with SIGKILL: the survivor takes the whole cap within seconds', async () => {
  const sample = sampler();
  const work = load(() => [a], 24);
  await b.stop('SIGKILL');
  const killed = Date.now();
  b = undefined;
  const share = await until((v) => v === CAP, () => metric(a, 'tenantql_cluster_connection_share'), 8000);
  const took = Date.now() - killed;
  assert.equal(share, CAP, 'the survivor\'s share is the whole cap');
  // the timeout, a heartbeat (a third of it), and room for a loaded CI machine
  assert.ok(took < TIMEOUT_MS + 3000, `within the timeout and a heartbeat or two (${took} ms)`);
  assert.equal(await metric(a, 'tenantql_cluster_instances'), 1);
  const used = await until((p) => p > Math.floor(CAP / 2), async () => sample.peak(), 5000);
  const failures = await work.stop();
  const peak = await sample.stop();
  assert.ok(used > Math.floor(CAP / 2), `pg_stat_activity shows the survivor above its old share (peak ${peak})`);
  assert.ok(peak <= CAP, `peak ${peak}, cap ${CAP}`);
  assert.deepEqual(failures.slice(0, 3), []);
  assert.equal(dev.psql('SELECT count(*) FROM instances')[0], '1', 'the dead process\'s row is gone');
});

test('a tenant quota and the login limiter hold across two processes; a logout is refused on the other', async () => {
  b = await startServe(dev, ARGS, env);
  for (const s of [a, b])
    assert.equal(await until((v) => v === 2, () => metric(s, 'tenantql_cluster_instances'), 5000), 2);

  // rate 10 with a burst of 10: each of the 2 processes allows 5 a second with a burst of 5
  dev.tenantql('tenant', 'quota', 'cl0', '{"rate": 10, "burst": 10}');
  await until((r) => r.headers.get('ratelimit-policy') !== null,
    () => gql(b.url, Q, { token: tokens.cl0 }), 3000);
  await sleep(1200); // the buckets refill after the probes
  const t0 = Date.now();
  const both = await Promise.all(Array.from({ length: 40 }, (_, i) => gql([a, b][i % 2].url, Q, { token: tokens.cl0 })));
  const elapsed = (Date.now() - t0) / 1000;
  const ok = both.filter((r) => r.status === 200).length;
  // the cluster: at most burst + rate x elapsed, plus N - 1 from the rounding
  assert.ok(ok <= 10 + Math.ceil(10 * elapsed) + 1, `${ok} of 40 admitted in ${elapsed} s across both`);
  assert.ok(ok >= 10, `both processes admit their part (${ok})`);
  assert.ok(both.some((r) => r.status === 429));
  assert.match(both.find((r) => r.status === 200).headers.get('ratelimit-policy'), /"rate";q=5;w=1/);

  // the login limiter: 10 attempts per tenant and email and window, 5 on each process
  const attempt = (s) => gql(s.url,
    'mutation { login(tenant: "acme", email: "nobody@acme.example", password: "wrong-password") { token } }');
  const allowed = [];
  for (const s of [a, b]) {
    let n = 0;
    for (let i = 0; i < 7; i++) {
      const r = await attempt(s);
      if (!/Too many login attempts/.test(JSON.stringify(r.body))) n++;
    }
    allowed.push(n);
  }
  assert.deepEqual(allowed, [5, 5], 'ceil(10 / 2) attempts on each process, 10 in all');

  // revocation lives in the tenant's database: a logout on a is refused on b within a second
  const r = await gql(a.url,
    'mutation { login(tenant: "globex", email: "admin@globex.example", password: "globex-demo-password") { token } }');
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  const token = r.body.data.login.token;
  assert.equal((await gql(b.url, '{ me { email } }', { token })).status, 200);
  assert.deepEqual((await gql(a.url, 'mutation { logout }', { token })).body, { data: { logout: true } });
  // a worker remembers a token's status for up to a second: the first request sent after
  // that is refused (timed when sent, not when answered: the sanitizer build is slow)
  const t1 = Date.now();
  let sentAfter, status;
  do {
    await sleep(50);
    sentAfter = Date.now() - t1;
    ({ status } = await gql(b.url, '{ me { email } }', { token }));
  } while (status !== 401 && sentAfter < 3000);
  assert.equal(status, 401);
  assert.ok(sentAfter <= 1100, `refused on the other process for a request sent ${sentAfter} ms after the logout`);
});

test('a clean shutdown removes the process from the registry at once', async () => {
  const gone = b;
  b = undefined;
  assert.equal(await gone.stop(), 0);
  assert.equal(dev.psql('SELECT count(*) FROM instances')[0], '1', gone.stderr().slice(-3000));
  assert.equal(await until((v) => v === CAP, () => metric(a, 'tenantql_cluster_connection_share'), 2000), CAP,
    'the survivor grows at once (the leaving process announced it)');
  assert.equal(await a.stop(), 0);
  a = undefined;
  assert.equal(dev.psql('SELECT count(*) FROM instances')[0], '0');
});
