// pgbouncer.test.mjs - tenantql behind a real PgBouncer (Debian's 1.18) in transaction
// pooling mode, with 2 server connections per database and user, so that consecutive
// transactions of one tenantql connection land on different PostgreSQL sessions.
//
// - With --statement-cache 0 every query is one unnamed Parse/Bind/Execute/Sync, an
//   implicit transaction that leaves nothing behind in the session: a concurrent mix of
//   reads and mutations on two tenants all succeeds with the right data.
// - With the default statement cache, a statement prepared on one PostgreSQL session is
//   executed on another: that is why the option exists.
//
// The bouncer cannot pass tenantql's `options` startup parameter (TimeZone, DateStyle,
// statement_timeout) on to PostgreSQL and is told to ignore it; the harness gives those
// settings to the tenant roles instead (ALTER ROLE ... SET), and a test here checks that
// sessions made through the bouncer have them. Without that, a tenant behind a bouncer
// would lose its statement timeout (the cluster's default, none, would apply).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startDev, stopDev, startServe, startPgBouncer, routeThroughPgBouncer, gql, until, lockTable } from './lib/harness.mjs';

const TENANTS = ['acme', 'globex'];
const CLIENTS = 16;
const REQUESTS = 200;

let dev, bouncer, product; // product: made for the mutations, in acme
const expected = {}; // per tenant: users by email, products by price, counts
before(async () => {
  dev = await startDev({ args: ['--statement-cache', '0'] });
  bouncer = await startPgBouncer(dev, { poolMode: 'transaction', poolSize: 2 });
  dev.bouncer = bouncer; // stopped with the server, after it
  await routeThroughPgBouncer(dev, bouncer, TENANTS);
  const r = await gql(dev.url, 'mutation { createProduct(input: { name: "Bounced", price: "1.00" }) { id } }',
    { token: dev.tokens.acme });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  product = r.body.data.createProduct.id;
  for (const t of TENANTS) {
    const rows = (sql) => dev.psql(sql, `tenant_${t}`).map((l) => l.split('\t'));
    expected[t] = {
      users: rows('SELECT id, email FROM users ORDER BY email COLLATE "C", id'),
      // ORDER BY the column, not the output column price::text of the same name
      products: rows(`SELECT id, name, price::text, stock_quantity FROM products
        WHERE id <> '${product}' ORDER BY products.price DESC, id`),
      productCount: Number(rows('SELECT count(*) FROM products')[0][0]),
      byMinPrice: Object.fromEntries(['0', '10.50', '100', '500', '900'].map((p) =>
        [p, Number(rows(`SELECT count(*) FROM products WHERE price >= ${p}`)[0][0])])),
    };
  }
});
after(() => stopDev(dev));

/** A deterministic pseudo-random sequence, so that a failing mix can be run again. */
function lcg(seed) {
  let s = seed >>> 0;
  // the high bits: an LCG's low bits repeat with short periods
  return (n) => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return Math.floor((s / 2 ** 32) * n); };
}

/** REQUESTS jobs: point lookups, pages and counts on both tenants, and (with mutations)
 * eight adjustStock(+1) and two updateProduct on acme's product spread among them. Each
 * job is { tenant, query, variables, check(data) -> mismatch text or null }. */
function workload({ mutations }) {
  const rnd = lcg(20261207);
  const jobs = [];
  for (let i = 0; i < REQUESTS; i++) {
    const tenant = TENANTS[rnd(2)], e = expected[tenant];
    if (mutations && i % 20 === 7) {
      const n = jobs.filter((j) => j.mutation).length;
      jobs.push(n < 8
        ? { tenant: 'acme', mutation: true, query: 'mutation($id: ID!) { adjustStock(id: $id, delta: 1) { id } }',
          variables: { id: product }, check: (d) => (d.adjustStock.id === product ? null : 'adjustStock id') }
        : { tenant: 'acme', mutation: true,
          query: 'mutation($id: ID!, $d: String) { updateProduct(id: $id, input: { description: $d }) { description } }',
          variables: { id: product, d: `description ${n}` },
          check: (d) => (d.updateProduct.description === `description ${n}` ? null : 'updateProduct description') });
      continue;
    }
    switch (rnd(6)) {
      case 0: {
        const [id, email] = e.users[rnd(e.users.length)];
        jobs.push({ tenant, query: 'query($id: ID!) { user(id: $id) { id email } }', variables: { id },
          check: (d) => (d.user?.email === email ? null : `user ${id}: ${JSON.stringify(d.user)}, not ${email}`) });
        break;
      }
      case 1: {
        const [id, name, price, stock] = e.products[rnd(e.products.length)];
        jobs.push({ tenant, query: 'query($id: ID!) { product(id: $id) { name price stockQuantity } }', variables: { id },
          check: (d) => (d.product?.name === name && d.product.price === price && d.product.stockQuantity === Number(stock)
            ? null : `product ${id}: ${JSON.stringify(d.product)}`) });
        break;
      }
      case 2: {
        const n = 1 + rnd(20), want = e.users.slice(0, n).map((u) => u[1]);
        jobs.push({ tenant, query: 'query($n: Int!) { users(first: $n) { edges { node { email } } pageInfo { hasNextPage } } }',
          variables: { n },
          check: (d) => (JSON.stringify(d.users.edges.map((x) => x.node.email)) === JSON.stringify(want)
            && d.users.pageInfo.hasNextPage ? null : `users(first: ${n})`) });
        break;
      }
      case 3: {
        const n = 1 + rnd(20), want = e.products.slice(0, n).map((p) => p[0]);
        jobs.push({ tenant, query: 'query($n: Int!) { products(first: $n, orderBy: PRICE_DESC) { edges { node { id } } } }',
          variables: { n },
          check: (d) => (JSON.stringify(d.products.edges.map((x) => x.node.id)) === JSON.stringify(want)
            ? null : `products(first: ${n}, orderBy: PRICE_DESC): ${JSON.stringify(d.products.edges.map((x, i) => [i, x.node.id, want[i]]).filter(([, a, b]) => a !== b))}`) });
        break;
      }
      case 4: {
        const p = Object.keys(e.byMinPrice)[rnd(5)];
        jobs.push({ tenant, query: 'query($p: Decimal) { products(filter: { minPrice: $p }) { totalCount } }', variables: { p },
          check: (d) => (d.products.totalCount === e.byMinPrice[p] ? null : `count minPrice ${p}: ${d.products.totalCount}`) });
        break;
      }
      default:
        jobs.push({ tenant, query: '{ users { totalCount } products { totalCount } }',
          check: (d) => (d.users.totalCount === e.users.length && d.products.totalCount === e.productCount
            ? null : `counts ${JSON.stringify(d)}`) });
    }
  }
  return jobs;
}

/** Runs the jobs from CLIENTS concurrent clients; resolves to { failures, wrong } where a
 * failure is a request that did not answer data (its errors) and wrong one whose data did
 * not match. */
async function run(url, jobs) {
  let next = 0;
  const failures = [], wrong = [];
  const client = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      const r = await gql(url, job.query, { token: dev.tokens[job.tenant], variables: job.variables });
      if (r.status !== 200 || r.body.errors) failures.push({ status: r.status, errors: r.body.errors ?? r.body });
      else {
        const bad = job.check(r.body.data);
        if (bad) wrong.push(`${job.tenant}: ${bad}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return { failures, wrong };
}

/** The bouncer's server connections (PostgreSQL sessions) of a tenant's pool, in any state. */
function serverConnections(tenant) {
  const pool = bouncer.admin('SHOW POOLS').find((p) => p.database === `tenant_${tenant}`);
  assert.ok(pool, `no pool for tenant_${tenant}`);
  return Object.entries(pool).filter(([k]) => k.startsWith('sv_')).reduce((n, [, v]) => n + Number(v), 0);
}

test('sessions made through the bouncer have the settings of the options parameter it drops', () => {
  const [role, password] = dev.psql("SELECT db_user, db_password FROM tenants WHERE name = 'acme'")[0].split('\t');
  const out = execFileSync('psql', ['-X', '-q', '-A', '-t', `host=127.0.0.1 port=${bouncer.port} user=${role} dbname=tenant_acme`,
    '-c', "SELECT current_setting('statement_timeout'), current_setting('TimeZone'), current_setting('DateStyle')"],
  { encoding: 'utf8', env: { ...process.env, PGPASSWORD: password } }).trim();
  assert.equal(out, '5s|UTC|ISO, MDY');
});

test('through the bouncer, an abandoned query is cancelled and a long one stops at the statement timeout', async () => {
  const srv = await startServe(dev, ['--statement-cache', '0', '--request-timeout-ms', '600'],
    { TENANTQL_JWT_SECRET: dev.secret });
  const lock = await lockTable(dev, 'tenant_globex', 'products');
  const waiting = () => Number(dev.psql(`SELECT count(*) FROM pg_stat_activity
    WHERE usename = 'tq_globex' AND wait_event_type = 'Lock'`)[0]);
  try {
    // the request times out; its cancel request goes to PgBouncer, which passes it on to
    // the server connection running the query
    const r = await gql(srv.url, '{ products { totalCount } }', { token: dev.tokens.globex });
    assert.equal(r.status, 503);
    assert.equal(await until((n) => n === 0, waiting, 5000), 0, 'the query still waits for the lock');
    // the dev server has a 30 s request timeout: the role's statement_timeout (5 s) ends it
    const t0 = Date.now();
    const s = await gql(dev.url, '{ products { totalCount } }', { token: dev.tokens.globex });
    assert.equal(s.body.errors?.[0]?.extensions?.code, 'TENANT_BUSY', JSON.stringify(s.body));
    assert.match(s.body.errors[0].message, /took too long/);
    assert.ok(Date.now() - t0 < 15000);
  } finally {
    await lock.end();
    assert.equal(await srv.stop(), 0);
  }
  assert.match(srv.stderr(), /57014 ERROR: +canceling statement due to user request/);
});

test('with --statement-cache 0: 200 mixed requests from 16 clients through 2 server connections all succeed', async () => {
  const jobs = workload({ mutations: true });
  const { failures, wrong } = await run(dev.url, jobs);
  assert.deepEqual(failures, [], `${failures.length} failed; log:\n${dev.stderr().slice(-3000)}`);
  assert.deepEqual(wrong, []);
  // the mutations: eight increments from concurrent requests, none lost
  assert.equal(dev.psql(`SELECT stock_quantity FROM products WHERE id = '${product}'`, 'tenant_acme')[0], '8');
  // transaction pooling really happened: more than one PostgreSQL session served acme's
  // queries, never more than the pool size, however many connections tenantql made
  const servers = serverConnections('acme');
  const clients = bouncer.admin('SHOW CLIENTS').filter((c) => c.database === 'tenant_acme').length;
  assert.equal(servers, 2, `acme's server connections (the pool size is 2): ${servers}`);
  const stats = bouncer.admin('SHOW STATS').find((s) => s.database === 'tenant_acme');
  console.log(`acme: ${clients} tenantql connection(s) through ${servers} server connection(s),`
    + ` ${stats.total_xact_count} transactions`);
});

test('with the default statement cache, prepared statements meet the wrong session', async () => {
  // a second server on the same registry (so on the same bouncer), preparing as usual
  const serve = await startServe(dev, ['--threads', '2'], { TENANTQL_JWT_SECRET: dev.secret });
  let result;
  try {
    result = await run(serve.url, workload({ mutations: false }));
  } finally {
    assert.equal(await serve.stop(), 0);
  }
  const { failures, wrong } = result;
  // what does answer is right: a failure is an error, never another session's data
  assert.deepEqual(wrong, []);
  const log = serve.stderr();
  const reasons = [...new Set([...log.matchAll(/query failed: (\w+) ERROR: +(prepared statement) "[^"]*" (does not exist|already exists)/g)]
    .map((m) => `${m[1]} ${m[2]} "…" ${m[3]}`))];
  console.log(`default statement cache behind the bouncer: ${failures.length} of ${REQUESTS} requests failed;`
    + ` PostgreSQL said: ${reasons.join('; ') || 'nothing'}`);
  if (failures.length === 0) return; // possible in principle (each execution happened to land right): nothing to show
  // a field's query that fails is a field error (200); the request gate's lookup of the
  // token's user that fails refuses the whole request (500): the same error either way
  for (const f of failures) {
    assert.ok(f.status === 200 || f.status === 500, JSON.stringify(f));
    assert.equal(f.errors[0]?.extensions?.code, 'INTERNAL_SERVER_ERROR', JSON.stringify(f));
  }
  assert.match(log, /query failed: (26000|42P05) ERROR: +prepared statement "[^"]*" (does not exist|already exists)/);
});

test('a tenant whose pool_options say "statements": "unnamed" works behind the bouncer with the default cache', async () => {
  // the per-tenant form of --statement-cache 0: the server prepares for other tenants
  dev.psql(`UPDATE tenants SET pool_options = pool_options || '{"statements": "unnamed"}'
    WHERE name IN ('acme', 'globex')`);
  const serve = await startServe(dev, ['--threads', '2'], { TENANTQL_JWT_SECRET: dev.secret });
  let result;
  try {
    result = await run(serve.url, workload({ mutations: false }));
  } finally {
    assert.equal(await serve.stop(), 0);
    dev.psql(`UPDATE tenants SET pool_options = pool_options - 'statements' WHERE name IN ('acme', 'globex')`);
  }
  assert.deepEqual(result.failures, [], `${result.failures.length} failed; log:\n${serve.stderr().slice(-3000)}`);
  assert.deepEqual(result.wrong, []);
});
