// faults.test.mjs - tenants on two PostgreSQL servers: requests are routed by each
// tenant's db_host/db_port; a restart of one server mid-load costs only that tenant
// (TENANT_UNAVAILABLE, 503) and only for seconds, the tenant on the other server sees no
// error; SIGTERM under load finishes what is in flight, exits 0 and leaves no connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDev, gql, pgBinDir } from './lib/harness.mjs';

let a, b, remoteToken;
before(async () => {
  [a, b] = await Promise.all([startDev(), startDev()]); // b only lends its cluster: a second server
  const sock = join(b.dir, 'pg', 'run');
  a.tenantql('tenant', 'create', 'remote', '--db-host', sock, '--db-port', String(b.pgPort), '--db-user', 'tenantql',
    '--pool-options', '{"max": 3, "acquire_timeout_ms": 2000}');
  b.psql("INSERT INTO users (email, password, first_name, last_name) VALUES ('who@remote.example', 'x', 'Re', 'Mote')",
    'tenant_remote');
  remoteToken = a.token({ tenantId: a.tenantId('remote') });
});
after(async () => {
  await a.stop();
  a.cleanup();
  await b.stop();
  b.cleanup();
});

const EMAIL = '{ users(first: 1) { edges { node { email } } } }';

function remoteConnections() {
  return Number(b.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'tenant_remote' AND application_name = 'tenantql'")[0]);
}

test('a tenant on another server is routed there', async () => {
  const r = await gql(a.url, EMAIL, { token: remoteToken });
  assert.deepEqual(r.body, { data: { users: { edges: [{ node: { email: 'who@remote.example' } }] } } });
  assert.ok(remoteConnections() >= 1);
});

test("restarting one tenant's server mid-load: that tenant recovers, the other sees no error", async () => {
  let running = true;
  const acme = { ok: 0, bad: [] }, remote = { ok: 0, unavailable: 0, bad: [], lastOk: 0 };
  const loop = async (token, tally, isRemote) => {
    while (running) {
      const r = await gql(a.url, EMAIL, { token });
      if (r.status === 200 && !r.body.errors) { tally.ok++; tally.lastOk = Date.now(); continue; }
      const code = r.body?.errors?.[0]?.extensions?.code;
      if (isRemote && (code === 'TENANT_UNAVAILABLE' || code === 'TENANT_BUSY') && r.status === 503) tally.unavailable++;
      else tally.bad.push(`${r.status} ${JSON.stringify(r.body)}`);
      await sleep(5);
    }
  };
  const loops = [...Array.from({ length: 4 }, () => loop(a.tokens.acme, acme, false)),
    ...Array.from({ length: 4 }, () => loop(remoteToken, remote, true))];
  await sleep(500);
  const datadir = join(b.dir, 'pg', 'data');
  const pgctl = join(pgBinDir(), 'pg_ctl');
  const cmd = process.getuid() === 0 ? ['runuser', ['-u', 'postgres', '--', pgctl]] : [pgctl, []];
  const restartedAt = Date.now();
  execFileSync(cmd[0], [...cmd[1], '-D', datadir, '-m', 'fast', '-w', 'restart'], { stdio: 'ignore' });
  const upAt = Date.now();
  // the tenant must be answering again within seconds of its server being back
  while (remote.lastOk < upAt && Date.now() - upAt < 10000) await sleep(50);
  await sleep(500);
  running = false;
  await Promise.all(loops);
  assert.deepEqual(acme.bad, [], 'the tenant on the other server saw errors');
  assert.deepEqual(remote.bad.slice(0, 3), [], 'only TENANT_UNAVAILABLE/TENANT_BUSY while its server restarted');
  assert.ok(remote.lastOk >= upAt, `remote recovered (restart took ${upAt - restartedAt} ms)`);
  assert.ok(acme.ok > 0 && remote.ok > 0);
});

test('SIGTERM under load: in-flight requests complete, exit 0, no connection left', async () => {
  let stopping = false, refused = 0;
  const bad = [];
  const loop = async (token) => {
    for (;;) {
      let r;
      try {
        r = await gql(a.url, EMAIL, { token });
      } catch {
        refused++; // the listener is closed: new connections are refused, nothing is lost
        return;
      }
      if (r.status !== 200 || r.body.errors) bad.push(`${r.status} ${JSON.stringify(r.body)}`);
      if (stopping && refused > 0) return;
    }
  };
  const loops = Array.from({ length: 8 }, (_, i) => loop(i % 2 ? remoteToken : a.tokens.acme));
  await sleep(300);
  stopping = true;
  const code = await a.stop();
  await Promise.all(loops);
  assert.equal(code, 0, a.stderr().slice(-2000));
  assert.deepEqual(bad.slice(0, 3), []);
  assert.equal(remoteConnections(), 0, 'connections to the remote tenant left after exit');
});
