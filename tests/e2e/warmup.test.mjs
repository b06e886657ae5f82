// warmup.test.mjs - pools grow only as far as their load needs, and shutdown leaves no
// connection behind. A fresh server under light load opens no more connections than its
// peak concurrency needs and evicts nothing far below the cap (read from /metrics), also
// after an idle pool was torn down and rebuilt; SIGTERM while connections are still being
// opened (a database that never answers, and fresh pools under load, repeated) exits 0 with
// nothing open, in pg_stat_activity or in the log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDev, stopDev, startServe, gql } from './lib/harness.mjs';

let dev;
const tokens = {};
before(async () => {
  dev = await startDev();
  for (const name of ['warm', 'burst_a', 'burst_b']) {
    dev.tenantql('tenant', 'create', name, '--pool-options', '{"max": 5, "idle_timeout_ms": 1000}');
    tokens[name] = dev.token({ tenantId: dev.tenantId(name) });
  }
});
after(() => stopDev(dev));

const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) [a-z_]+: /;

/** Every line the server wrote went through the logger (time, level, module). */
function assertAllLogged(stderr) {
  const raw = stderr.split('\n').filter((l) => l.length > 0 && !LOG_LINE.test(l));
  assert.deepEqual(raw, [], 'lines written around the logger');
}

async function metrics(srv) {
  return srv.metrics();
}

function sample(text, name) {
  const m = text.match(new RegExp(`^${name.replace(/[{}"[\]]/g, '\\$&')} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

async function until(ok, ask, ms) {
  const t0 = Date.now();
  let r;
  do { r = await ask(); if (!ok(r)) await sleep(50); } while (!ok(r) && Date.now() - t0 < ms);
  return r;
}

/** `clients` loops, each sending `query` for tenant `name` one request after another for ms. */
async function load(srv, name, query, clients, ms) {
  const until = Date.now() + ms;
  let n = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (Date.now() < until) {
      const r = await gql(srv.url, query, { token: tokens[name] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
      n++;
    }
  }));
  return n;
}

function assertWarmedUp(text, name, atMost) {
  const created = sample(text, `tenantql_pool_connections_created_total{tenant="${name}"}`);
  // a connection that sat unused for idle_timeout_ms (1 s) under the load (a slow,
  // crowded machine leaves one idle now and then) is reaped and opened again later: the
  // connections open at once are what counts
  const reaped = sample(text, `tenantql_pool_connections_closed_total{tenant="${name}",reason="idle"}`) ?? 0;
  assert.ok(created >= 1 && created - reaped <= atMost,
    `${name}: ${created} connections created (${reaped} reaped idle), at most ${atMost} needed`);
  assert.equal(sample(text, `tenantql_pool_connections_closed_total{tenant="${name}",reason="evicted"}`), 0);
  assert.equal(sample(text, 'tenantql_connection_evictions_total'), 0, 'evictions far below the cap');
}

// one database query per request: two clients never need more than two connections
const ONE_QUERY = '{ users(first: 3) { edges { node { email } } } }';
// two root fields, two queries at once: two clients need at most four
const TWO_QUERIES = '{ users(first: 2) { edges { node { email } } } products(first: 2) { edges { node { name } } } }';

test('a fresh server under light load opens what its peak concurrency needs and evicts nothing', async () => {
  const srv = await startServe(dev, ['--threads', '2', '--max-connections', '100'], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    const n = await load(srv, 'warm', ONE_QUERY, 2, 3000);
    assert.ok(n > 20, `${n} requests`);
    assertWarmedUp(await metrics(srv), 'warm', 2);

    // the idle pool is torn down (idle_timeout_ms 1000), then rebuilt by the same load
    const gone = await until((t) => sample(t, 'tenantql_pool_connections{tenant="warm"}') === undefined,
      () => metrics(srv), 15000);
    assert.equal(sample(gone, 'tenantql_pool_connections{tenant="warm"}'), undefined, 'the idle pool was torn down');
    await load(srv, 'warm', ONE_QUERY, 2, 2000);
    assertWarmedUp(await metrics(srv), 'warm', 2);

    await until((t) => sample(t, 'tenantql_pool_connections{tenant="warm"}') === undefined, () => metrics(srv), 15000);
    await load(srv, 'warm', TWO_QUERIES, 2, 2000);
    assertWarmedUp(await metrics(srv), 'warm', 4);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
  assert.doesNotMatch(srv.stderr(), /still open at exit/);
  assertAllLogged(srv.stderr());
});

test('SIGTERM while connections to a database that never answers are being opened: closed, exit 0', async () => {
  // accepts TCP connections and never says a word: libpq waits in its start-up
  const sockets = [];
  const silent = createServer((s) => { sockets.push(s); s.on('error', () => {}); });
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  dev.tenantql('tenant', 'create', 'mute', '--pool-options', '{"max": 4, "acquire_timeout_ms": 60000}');
  dev.psql(`UPDATE tenants SET db_host = '127.0.0.1', db_port = ${silent.address().port} WHERE name = 'mute'`);
  const token = dev.token({ tenantId: dev.tenantId('mute') });
  const srv = await startServe(dev, ['--threads', '2', '--drain-timeout-ms', '300'], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    // three different queries (identical reads of one loop turn would share one connection)
    const pending = Array.from({ length: 3 }, (_, i) => gql(srv.url, `{ users(first: ${i + 1}) { edges { node { email } } } }`, { token }));
    assert.ok(await until((n) => n >= 3, async () => sockets.length, 10000) >= 3, 'three connections being opened');
    const code = await srv.stop();
    assert.equal(code, 0, srv.stderr().slice(-2000));
    for (const a of await Promise.all(pending)) {
      assert.equal(a.status, 503, JSON.stringify(a.body));
      assert.equal(a.body.errors[0].extensions.code, 'TENANT_UNAVAILABLE');
    }
    assert.match(srv.stderr(), /mute: connection still being opened at shutdown: closed/);
    assert.doesNotMatch(srv.stderr(), /still open at exit/);
    assertAllLogged(srv.stderr());
  } finally {
    await srv.stop('SIGKILL');
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

const serverConnections = () => Number(dev.psql(
  "SELECT count(*) FROM pg_stat_activity WHERE datname IN ('tenant_burst_a', 'tenant_burst_b') AND application_name = 'tenantql'")[0]);

test('SIGTERM under load on fresh pools, five times: exit 0, nothing left open', async () => {
  for (let round = 0; round < 5; round++) {
    const srv = await startServe(dev, ['--threads', '2'], { TENANTQL_JWT_SECRET: dev.secret });
    let stopping = false;
    const bad = [];
    const client = async (name) => {
      while (!stopping) {
        let r;
        try {
          r = await gql(srv.url, TWO_QUERIES, { token: tokens[name] });
        } catch {
          return; // the listener closed
        }
        // answered: a result, or (at the drain deadline) 503
        if (r.status !== 200 && r.status !== 503) bad.push(`${r.status} ${JSON.stringify(r.body)}`);
      }
    };
    const clients = Array.from({ length: 8 }, (_, i) => client(i % 2 ? 'burst_a' : 'burst_b'));
    await sleep(10 + round * 40); // from pools still opening their first connections to pools in use
    stopping = true;
    const code = await srv.stop();
    await Promise.all(clients);
    assert.equal(code, 0, `round ${round}: ${srv.stderr().slice(-2000)}`);
    assert.deepEqual(bad, []);
    assert.doesNotMatch(srv.stderr(), /still open at exit/, `round ${round}`);
    assertAllLogged(srv.stderr());
    assert.equal(await until((n) => n === 0, async () => serverConnections(), 5000), 0,
      `round ${round}: connections left in pg_stat_activity`);
  }
});
