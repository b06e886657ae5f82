// shutdown.test.mjs - SIGTERM and SIGINT while queries outlast the drain timeout: the
// requests still running are answered 503, their queries are cancelled and their
// connections closed, the log says how many were cut off, and the process exits 0 with
// no connection left in pg_stat_activity.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, startServe, gql, until, lockTable } from './lib/harness.mjs';

let dev;

before(async () => {
  dev = await startDev();
  dev.tenantql('tenant', 'create', 'slow', '--pool-options', '{"max": 6}');
});
after(() => stopDev(dev));

const tenantConnections = () => Number(dev.psql(
  "SELECT count(*) FROM pg_stat_activity WHERE datname = 'tenant_slow' AND application_name = 'tenantql'")[0]);

for (const sig of ['SIGTERM', 'SIGINT']) {
  test(`${sig} while six queries outlast a 300 ms drain timeout: 503s, exit 0, no connection left`, async () => {
    const srv = await startServe(dev, ['--drain-timeout-ms', '300', '--threads', '2'],
      { TENANTQL_JWT_SECRET: dev.secret });
    const token = dev.token({ tenantId: dev.tenantId('slow') });
    let lock;
    try {
      const first = await gql(srv.url, '{ users(first: 1) { totalCount } }', { token });
      assert.equal(first.status, 200, `${JSON.stringify(first.body)}\n${srv.stderr()}`);
      lock = await lockTable(dev, 'tenant_slow', 'users');
      const pending = Array.from({ length: 6 }, (_, i) => gql(srv.url, `{ users(first: ${i + 1}) { totalCount } }`, { token }));
      // all six wait on the lock inside PostgreSQL
      const waiting = await until((n) => n >= 6, async () => Number(dev.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'tenant_slow' AND application_name = 'tenantql' AND wait_event_type = 'Lock'")[0]), 10000);
      assert.equal(waiting, 6, 'six queries wait on the lock');
      const t0 = Date.now();
      const code = await srv.stop(sig);
      assert.equal(code, 0, `exit code (stderr:\n${srv.stderr().slice(-2000)})`);
      assert.ok(Date.now() - t0 < 10000, 'the drain deadline bounds the shutdown');
      const answers = await Promise.all(pending);
      for (const a of answers) {
        assert.equal(a.status, 503);
        assert.equal(a.body.errors[0].extensions.code, 'TENANT_UNAVAILABLE');
      }
      assert.match(srv.stderr(), /6 request\(s\) still running at the drain deadline were cut off/);
      assert.doesNotMatch(srv.stderr(), /still open at exit/);
      assert.equal(await until((n) => n === 0, async () => tenantConnections(), 3000), 0,
        'no connection of the server left in pg_stat_activity');
    } finally {
      await srv.stop('SIGKILL');
      if (lock) await lock.end();
    }
  });
}
