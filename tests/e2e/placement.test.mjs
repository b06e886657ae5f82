// placement.test.mjs - tenants placed in schemas of one shared database: N tenants
// (1,000 in the optimised build) share that database's connections under a cap of 20,
// every answer is only its own tenant's, and PostgreSQL never sees more than the cap;
// a tenant that saturates its share does not slow another one down; and fifty tenants
// served by ONE connection, interleaved with failed and cancelled statements, never see
// each other's rows. Every copy of the template has the same user id: a lookup of that id
// must find each tenant's own row (the schema is bound in the statement, not the session).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startDev, startServe, stopDev, gql, lockTable, schemaCopiesSql } from './lib/harness.mjs';

const N = Number(process.env.TQ_PLACEMENT_TENANTS || 1000);
const CAP = 20;
const SECONDS = Number(process.env.TQ_PLACEMENT_SECONDS || 8);
const SHARED = 'tenant_many';
let dev, userId;
const tokens = [];

const activeConnections = () => Number(dev.psql(`SELECT count(*) FROM pg_stat_activity
  WHERE application_name = 'tenantql' AND backend_type = 'client backend' AND datname = '${SHARED}'`)[0]);

before(async () => {
  dev = await startDev({ args: ['--max-connections', String(CAP), '--shared-db-max', String(CAP),
    '--metrics-tenants', '10000'] }); // every tenant's pool figures by name
  dev.tenantql('tenant', 'create', 'tpl', '--placement', 'schema', '--database', SHARED);
  dev.psql(`INSERT INTO tenant_tpl.users (email, password, first_name) VALUES ('who@template.example', 'x', 'M')`, SHARED);
  userId = dev.psql('SELECT id FROM tenant_tpl.users', SHARED)[0];
  const tables = dev.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'tenant_tpl'", SHARED);
  const sql = schemaCopiesSql(tables, N, { each: (i) => `UPDATE tenant_m${i}.users SET email = 'who@m${i}.example';` });
  dev.psqlScript(sql.join('\n'), SHARED);
  const sock = join(dev.dir, 'pg', 'run');
  dev.psql(`INSERT INTO tenants (name, db_host, db_port, db_name, db_user, db_password, pool_options, placement, db_schema)
    SELECT 'm' || i, '${sock}', ${dev.pgPort}, '${SHARED}', 'tenantql', '',
      '{"max": 2, "acquire_timeout_ms": 10000, "idle_timeout_ms": 1000}', 'schema', 'tenant_m' || i
    FROM generate_series(0, ${N - 1}) i`);
  const ids = new Map(dev.psql("SELECT name, id FROM tenants WHERE name LIKE 'm%'").map((l) => l.split('\t')));
  for (let i = 0; i < N; i++) tokens.push(dev.token({ tenantId: ids.get(`m${i}`), sub: userId }));
});
after(() => stopDev(dev));

const OWN = `query($id: ID!) { me { email } user(id: $id) { email } users(first: 5) { edges { node { email } } } }`;

/** Asks tenant i for its own rows three ways; returns a failure text or null. */
async function ownRows(url, i) {
  const r = await gql(url, OWN, { token: tokens[i], variables: { id: userId } });
  if (r.status !== 200 || r.body.errors) return `m${i}: ${r.status} ${JSON.stringify(r.body)}`;
  const want = `who@m${i}.example`, d = r.body.data;
  const emails = [d.me.email, d.user.email, ...d.users.edges.map((e) => e.node.email)];
  return emails.length === 3 && emails.every((e) => e === want) ? null : `m${i} got ${emails}`;
}

test(`${N} schema-placed tenants, cap ${CAP}: random load - no errors, own rows only, never above the cap`, async () => {
  let peak = 0, sampling = true, done = 0, seed = 4242;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, activeConnections());
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const failures = [];
  const until = Date.now() + SECONDS * 1000;
  const worker = async () => {
    while (Date.now() < until) {
      const failure = await ownRows(dev.url, Math.floor(random() * N));
      done++;
      if (failure) failures.push(failure);
    }
  };
  await Promise.all(Array.from({ length: 48 }, worker));
  sampling = false;
  await sampler;
  console.log(`# ${done} requests over ${N} tenants in ${SECONDS}s, peak ${peak} connections to ${SHARED}`);
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failures of ${done}`);
  assert.ok(peak <= CAP, `peak ${peak} > cap ${CAP}`);
  assert.ok(done > 200, `only ${done} requests`);
});

test('a tenant saturating its share leaves the shared connections to the others', async () => {
  // m0's queries all wait on a lock: it holds its whole share (2) and queues the rest
  const lock = await lockTable(dev, SHARED, 'tenant_m0.users');
  // eight different pages: identical reads of one tenant would share one execution
  const stuck = Array.from({ length: 8 }, (_, k) => gql(dev.url, `{ users(first: ${k + 1}) { edges { node { email } } } }`,
    { token: tokens[0] }));
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  for (let i = 1; i <= 20; i++) assert.equal(await ownRows(dev.url, i), null);
  const elapsed = Date.now() - t0;
  const metrics = await dev.metrics();
  const inUse = Number(/^tenantql_pool_in_use\{tenant="m0"\} (\d+)$/m.exec(metrics)[1]);
  const waiting = Number(/^tenantql_pool_waiting\{tenant="m0"\} (\d+)$/m.exec(metrics)[1]);
  await lock.end();
  const answers = await Promise.all(stuck);
  assert.ok(elapsed < 5000, `20 requests of other tenants took ${elapsed} ms beside the stuck one`);
  assert.equal(inUse, 2, 'm0 holds its share, not more');
  // how many more wait in its queue depends on what the stuck requests share (a user's
  // status check, batched lookups); that none takes a third connection is the point
  console.log(`# m0: ${inUse} connections held, ${waiting} queries waiting in its own queue`);
  for (const r of answers) assert.equal(r.status, 200, JSON.stringify(r.body));
});

test('one connection for fifty tenants: interleaved, after failed and cancelled statements, own rows only', async () => {
  const one = await startServe(dev, ['--shared-db-max', '1', '--request-timeout-ms', '1500'],
    { TENANTQL_JWT_SECRET: dev.secret });
  try {
    const failures = [];
    let seed = 99;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const round = async (n) => {
      const asks = [];
      for (let k = 0; k < n; k++) asks.push(Math.floor(random() * 50));
      for (const f of await Promise.all(asks.map((i) => ownRows(one.url, i)))) if (f) failures.push(f);
    };
    await round(100);
    // a failed statement (a unique violation) on the one connection, then others' queries
    const dup = await gql(one.url, 'mutation($e: String!) { createUser(input: {email: $e, password: "long enough pw"}) { id } }',
      { token: tokens[3], variables: { e: 'who@m3.example' } });
    assert.equal(dup.body.errors?.[0]?.extensions?.code, 'CONFLICT', JSON.stringify(dup.body));
    await round(100);
    // a statement cancelled when its request times out, while forty others wait for the connection
    const lock = await lockTable(dev, SHARED, 'tenant_m7.users');
    const cancelled = gql(one.url, OWN, { token: tokens[7], variables: { id: userId } });
    await new Promise((r) => setTimeout(r, 200));
    const waiting = round(40);
    const c = await cancelled;
    await lock.end();
    await waiting;
    assert.equal(c.status, 503, JSON.stringify(c.body));
    await round(100);
    assert.equal(await ownRows(one.url, 7), null);
    const metrics = await one.metrics();
    assert.ok(Number(/^tenantql_connections (\d+)$/m.exec(metrics)[1]) <= 1);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failures`);
  } finally {
    assert.equal(await one.stop(), 0);
  }
});
