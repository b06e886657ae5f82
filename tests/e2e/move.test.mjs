// move.test.mjs - `tenant pause` / `resume` and `tenant move` (README "Moving a tenant"):
// a paused tenant's requests wait and are answered once it resumes (or get 503 after
// --pause-max-wait-ms, or at the drain deadline of a server shutting down), a failed move
// leaves the tenant where it was and not paused, and moves both ways with eight clients
// reading and writing lose no request and no write, while another tenant notices nothing;
// --finish drops the old copy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BIN, startDev, stopDev, startServe, gql, until } from './lib/harness.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// servers apply a registry change within a second
const PAUSE_SEEN_MS = 1500;
const READ = '{ products(first: 3) { totalCount edges { node { id name } } } }';
const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }';
const ADJUST = 'mutation($id: ID!) { adjustStock(id: $id, delta: 1) { stockQuantity } }';
const USERS = '{ users(first: 2) { totalCount } }';

let dev, acme, globex;
before(async () => {
  // explicit: the moves below start from a database of acme's own
  dev = await startDev({ args: ['--demo-placement', 'database'] });
  const admin = dev.tenantPsql('acme', "SELECT id FROM users WHERE email = 'admin@acme.example'")[0];
  acme = dev.token({ tenantId: dev.tenantId('acme'), sub: admin }); // with sub: the request gate queries too
  globex = dev.token({ tenantId: dev.tenantId('globex') });
});
after(() => stopDev(dev));

/** Runs the CLI without blocking this process (the clients keep running); resolves to
 * { code, signal, stdout, stderr }; .child is the process. */
function cli(...args) {
  const child = spawn(BIN, args, { env: { ...process.env, TENANTQL_REGISTRY: dev.registry }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  // 'close', not 'exit': the output may still be on its way when the process has exited
  const done = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  done.child = child;
  return done;
}

/** acme's registry row as text: where it is, whether paused, whether an old copy is kept. */
function row(name = 'acme') {
  return dev.psql(`SELECT placement, db_host, db_port, db_name, db_schema, db_user, paused, moved_from IS NOT NULL
    FROM tenants WHERE name = '${name}'`)[0];
}

function count(name, table) {
  return Number(dev.tenantPsql(name, `SELECT count(*) FROM ${table}`)[0]);
}

function answered(r) {
  return r.status === 200 && r.body && r.body.data && !r.body.errors;
}

test('pause holds a tenant\'s requests until resume; other tenants are not held', async () => {
  dev.tenantql('tenant', 'pause', 'acme');
  assert.match(row(), /\tt\tf$/);
  assert.match(dev.tenantql('tenant', 'list'), /^acme +\S+ +paused /m);
  await sleep(PAUSE_SEEN_MS);
  const t0 = Date.now();
  let settled = false;
  const held = gql(dev.url, READ, { token: acme }).then((r) => { settled = true; return r; });
  const other = await gql(dev.url, READ, { token: globex });
  assert.ok(answered(other), JSON.stringify(other.body));
  assert.ok(Date.now() - t0 < 1000, 'globex waited');
  await sleep(1000);
  assert.equal(settled, false, 'a paused tenant\'s request was answered');
  dev.tenantql('tenant', 'resume', 'acme');
  const r = await held;
  assert.ok(answered(r), JSON.stringify(r.body));
  assert.ok(Date.now() - t0 >= 1000);
  assert.match(row(), /\tf\tf$/);
  // pausing an unknown tenant says so
  assert.throws(() => dev.tenantql('tenant', 'pause', 'nobody'), /no tenant named "nobody"/);
});

test('held requests count against the tenant\'s in-flight quota: beyond it, 429 at once', async () => {
  dev.tenantql('tenant', 'quota', 'acme', '{"in_flight": 2}');
  dev.tenantql('tenant', 'pause', 'acme');
  await sleep(PAUSE_SEEN_MS);
  try {
    const held = [gql(dev.url, READ, { token: acme }), gql(dev.url, READ, { token: acme })];
    await sleep(300);
    const refused = await Promise.all([1, 2, 3].map(() => gql(dev.url, READ, { token: acme })));
    for (const r of refused) assert.equal(r.status, 429, JSON.stringify(r.body));
    dev.tenantql('tenant', 'resume', 'acme');
    for (const r of await Promise.all(held)) assert.ok(answered(r), JSON.stringify(r.body));
  } finally {
    dev.tenantql('tenant', 'resume', 'acme');
    dev.tenantql('tenant', 'quota', 'acme', '{}');
    await sleep(PAUSE_SEEN_MS);
  }
});

test('--pause-max-wait-ms: a request still held then gets 503 TENANT_UNAVAILABLE with Retry-After 1', async () => {
  const serve = await startServe(dev, ['--pause-max-wait-ms', '500'], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    dev.tenantql('tenant', 'pause', 'acme');
    await sleep(PAUSE_SEEN_MS);
    const t0 = Date.now();
    const r = await gql(serve.url, READ, { token: acme });
    const waited = Date.now() - t0;
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.errors[0].extensions.code, 'TENANT_UNAVAILABLE');
    assert.equal(r.headers.get('retry-after'), '1');
    assert.ok(waited >= 450 && waited < 5000, `answered after ${waited} ms`);
    assert.match(serve.stderr(), /request [0-9a-f]+-\d+: tenant acme is paused: still paused after \d+ ms; answered 503/);
    // clients that give up while held: nobody left to answer, nothing may leak (the
    // sanitizer build checks that at exit)
    const gone = Array.from({ length: 4 }, async () => {
      const ac = new AbortController();
      const p = fetch(serve.url, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json', authorization: `Bearer ${acme}` }, body: JSON.stringify({ query: READ }) }).catch((e) => e.name);
      await sleep(100);
      ac.abort();
      return p;
    });
    assert.deepEqual(await Promise.all(gone), ['AbortError', 'AbortError', 'AbortError', 'AbortError']);
    await sleep(700); // past their wait
  } finally {
    dev.tenantql('tenant', 'resume', 'acme');
  }
  const r = await until(answered, () => gql(serve.url, READ, { token: acme }), 3000);
  assert.ok(answered(r), JSON.stringify(r.body));
  assert.equal(await serve.stop(), 0, serve.stderr());
});

test('a request held at shutdown is answered 503 at the drain deadline; the server exits 0', async () => {
  const serve = await startServe(dev, ['--pause-max-wait-ms', '60000', '--drain-timeout-ms', '300'],
    { TENANTQL_JWT_SECRET: dev.secret });
  try {
    dev.tenantql('tenant', 'pause', 'acme');
    await sleep(PAUSE_SEEN_MS);
    const held = gql(serve.url, READ, { token: acme });
    await sleep(200);
    const stopped = serve.stop();
    const r = await held;
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.errors[0].extensions.code, 'TENANT_UNAVAILABLE');
    assert.equal(await stopped, 0, serve.stderr());
  } finally {
    dev.tenantql('tenant', 'resume', 'acme');
  }
});

test('a held request of a tenant deactivated or deleted meanwhile gets 403, like a new one', async () => {
  dev.tenantql('tenant', 'create', 'initech');
  const token = dev.token({ tenantId: dev.tenantId('initech') });
  const r0 = await until(answered, () => gql(dev.url, READ, { token }), 3000);
  assert.ok(answered(r0), JSON.stringify(r0.body));
  dev.tenantql('tenant', 'pause', 'initech');
  await sleep(PAUSE_SEEN_MS);

  let held = gql(dev.url, READ, { token });
  await sleep(300);
  dev.tenantql('tenant', 'deactivate', 'initech');
  let r = await held;
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');

  dev.tenantql('tenant', 'activate', 'initech'); // still paused
  await sleep(PAUSE_SEEN_MS);
  held = gql(dev.url, READ, { token });
  await sleep(300);
  dev.psql("DELETE FROM tenants WHERE name = 'initech'");
  r = await held;
  assert.equal(r.status, 403, JSON.stringify(r.body));
});

/** A session that looks like a server's (acme's role, application_name tenantql) running
 * a statement on acme's database until end(): the move's drain check must wait for it. */
async function serverLikeStatement(db) {
  const [user, password] = dev.psql("SELECT db_user, db_password FROM tenants WHERE name = 'acme'")[0].split('\t');
  const child = spawn('psql', ['-X', '-q', `host=127.0.0.1 port=${dev.pgPort} user=${user} dbname=${db} application_name=tenantql`,
    '-c', 'SELECT pg_sleep(60)'], { stdio: 'ignore', env: { ...process.env, PGPASSWORD: password } });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await until((n) => n > 0, async () => Number(dev.psql(`SELECT count(*) FROM pg_stat_activity
    WHERE datname = '${db}' AND application_name = 'tenantql' AND query LIKE '%pg_sleep%' AND state = 'active'`)[0]), 5000);
  return {
    end() {
      dev.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'`);
      return exited;
    },
  };
}

test('a failed move leaves the tenant served where it was, not paused, and drops what it made', async () => {
  const before = row();
  const databases = () => dev.psql("SELECT count(*) FROM pg_database WHERE datname = 'tenantql_shared'")[0];

  // the target's server cannot be reached: nothing was paused or made
  let r = await cli('tenant', 'move', 'acme', '--to', 'database:127.0.0.1:1');
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /127\.0\.0\.1/);
  assert.match(r.stdout, /the move failed; tenant acme stays where it was and is not paused/);
  assert.equal(row(), before);

  // refusals before anything happens
  r = await cli('tenant', 'move', 'acme', '--to', 'database'); // its own database, by another address
  assert.equal(r.code, 1);
  assert.match(r.stderr, /database tenant_acme on .* already holds tables: a move only fills an empty place/);
  r = await cli('tenant', 'move', 'acme', '--to', 'elsewhere');
  assert.match(r.stderr, /--to must be schema, schema:DB, database or database:HOST:PORT/);
  r = await cli('tenant', 'move', 'acme', '--to', 'schema', '--finish');
  assert.equal(r.code, 2);
  r = await cli('tenant', 'move', 'acme', '--finish');
  assert.match(r.stderr, /has no old copy to drop: there is no move to finish/);

  // failing once paused: a statement that outlasts --drain-wait-ms
  const statement = await serverLikeStatement('tenant_acme');
  try {
    const t0 = Date.now();
    r = await cli('tenant', 'move', 'acme', '--to', 'schema', '--drain-wait-ms', '2000');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /still had 1 statement\(s\) running at its place 2000 ms after the pause/);
    assert.match(r.stdout, /first copy: 2001 rows/);
    assert.match(r.stdout, /dropped what the move made at schema tenant_acme of tenantql_shared/);
    assert.match(r.stdout, /stays where it was and is not paused/);
    assert.ok(Date.now() - t0 >= 2000);
    assert.equal(row(), before);
    assert.equal(databases(), '0'); // the move made the shared database, and dropped it

    // interrupted (Ctrl-C) while paused: the same clean-up
    const moving = cli('tenant', 'move', 'acme', '--to', 'schema');
    await until((x) => x, async () => /\tt\tf$/.test(row()), 10000);
    moving.child.kill('SIGINT');
    r = await moving;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /tenantql: interrupted/);
    assert.equal(row(), before);
    assert.equal(databases(), '0');
  } finally {
    await statement.end();
  }
  const answer = await gql(dev.url, READ, { token: acme });
  assert.ok(answered(answer), JSON.stringify(answer.body));
});

/**
 * Eight clients for acme (reads, createProduct, adjustStock +1 on one product, user
 * reads) and one reading globex, each sending its next request when the last is
 * answered, until stop(); every answer must be a 200 without errors.
 */
function startLoad(stockId) {
  const state = { stop: false, created: 0, adjusted: 0, answers: 0, failures: [] };
  const check = (r, what) => {
    state.answers++;
    if (!answered(r)) state.failures.push(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return answered(r);
  };
  const acmeClient = async (c) => {
    for (let i = c; !state.stop; i++) {
      if (i % 4 === 0) check(await gql(dev.url, READ, { token: acme }), 'read');
      else if (i % 4 === 1) {
        if (check(await gql(dev.url, CREATE, { token: acme, variables: { input: { name: `moved ${c}-${i}`, price: '1.00', stockQuantity: 1 } } }), 'createProduct')) state.created++;
      } else if (i % 4 === 2) {
        if (check(await gql(dev.url, ADJUST, { token: acme, variables: { id: stockId } }), 'adjustStock')) state.adjusted++;
      } else check(await gql(dev.url, USERS, { token: acme }), 'users');
    }
  };
  const globexClient = async () => {
    while (!state.stop) check(await gql(dev.url, READ, { token: globex }), 'globex read');
  };
  const clients = [...Array.from({ length: 8 }, (_, c) => acmeClient(c)), globexClient()];
  state.stopAll = async () => { state.stop = true; await Promise.all(clients); };
  return state;
}

async function moveUnderLoad(t, to, placement) {
  const stockId = dev.tenantPsql('acme', 'SELECT id FROM products ORDER BY id LIMIT 1')[0];
  const stock = () => Number(dev.tenantPsql('acme', `SELECT stock_quantity FROM products WHERE id = '${stockId}'`)[0]);
  const initial = { products: count('acme', 'products'), users: count('acme', 'users'), stock: stock(),
    revoked: count('acme', 'revoked_tokens'), globex: count('globex', 'products') };
  const oldRow = row();
  const load = startLoad(stockId);
  await sleep(700);
  const answersBefore = load.answers;
  const r = await cli('tenant', 'move', 'acme', '--to', to);
  const duringMove = load.answers - answersBefore;
  await sleep(700);
  await load.stopAll();
  t.diagnostic(`${r.stdout}  clients: ${load.answers} answers, ${duringMove} while the move ran, ${load.created} products created, ${load.adjusted} stock adjustments`);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(load.failures, []);
  assert.ok(load.created > 0 && load.adjusted > 0 && duringMove > 0, JSON.stringify({ ...load, duringMove }));
  assert.match(r.stdout, /paused; servers hold its new requests/);
  assert.match(r.stdout, /compared: every table has the same rows and checksum at both places/);
  assert.match(r.stdout, /it was paused for \d/);

  // the row points elsewhere, unpaused, with the old copy remembered
  const now = row();
  assert.notEqual(now, oldRow);
  assert.ok(now.startsWith(`${placement}\t`), now);
  assert.match(now, /\tf\tt$/);
  // every successful write is at the new place; the old copy is what was there at the switch
  assert.equal(count('acme', 'products'), initial.products + load.created);
  assert.equal(stock(), initial.stock + load.adjusted);
  assert.equal(count('acme', 'users'), initial.users);
  assert.equal(count('acme', 'revoked_tokens'), initial.revoked);
  const atSwitch = Number(dev.psql("SELECT moved_from->'tables'->'products'->>'rows' FROM tenants WHERE name = 'acme'")[0]);
  assert.ok(atSwitch >= initial.products && atSwitch <= initial.products + load.created, `${atSwitch}`);
  // globex: untouched
  assert.equal(count('globex', 'products'), initial.globex);
  assert.match(row('globex'), /^database\t.*\ttenant_globex\tpublic\t.*\tf\tf$/);

  // --finish drops the old copy and forgets it
  const fin = await cli('tenant', 'move', 'acme', '--finish');
  assert.equal(fin.code, 0, fin.stdout + fin.stderr);
  assert.match(fin.stdout, /dropped its old copy, .* \(unchanged since the move\)/);
  assert.match(row(), /\tf\tf$/);
  const again = await cli('tenant', 'move', 'acme', '--finish');
  assert.match(again.stderr, /no move to finish/);
  const a = await gql(dev.url, READ, { token: acme });
  assert.ok(answered(a), JSON.stringify(a.body));
  assert.equal(a.body.data.products.totalCount, initial.products + load.created);
}

test('moves under load: to a schema of the shared database and back to a database of its own, no failed request, no lost write', async (t) => {
  await moveUnderLoad(t, 'schema', 'schema');
  // the old database is gone, the schema holds acme
  assert.equal(dev.psql("SELECT count(*) FROM pg_database WHERE datname = 'tenant_acme'")[0], '0');
  assert.equal(dev.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_acme'", 'tenantql_shared')[0], '1');

  await moveUnderLoad(t, 'database', 'database');
  assert.equal(dev.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_acme'", 'tenantql_shared')[0], '0');
  assert.equal(dev.psql("SELECT count(*) FROM pg_database WHERE datname = 'tenant_acme'")[0], '1');
  // the same migrations at the new place as at any other
  assert.equal(dev.tenantPsql('acme', 'SELECT max(version) FROM tenantql_migrations')[0], '3');
});

test('--finish refuses an old copy that changed after the move, and drops nothing', async () => {
  const r = await cli('tenant', 'move', 'acme', '--to', 'schema');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // a write to the old copy after the switch (as a server that never saw the move would make)
  dev.psql("INSERT INTO products (name, price) VALUES ('stray', 1)", 'tenant_acme');
  const fin = await cli('tenant', 'move', 'acme', '--finish');
  assert.equal(fin.code, 1);
  assert.match(fin.stderr, /table products of the old copy changed after the move \(\d+ rows now, \d+ then\)/);
  assert.equal(dev.psql("SELECT count(*) FROM pg_database WHERE datname = 'tenant_acme'")[0], '1');
  assert.match(row(), /\tf\tt$/);
  // a second move waits for the first one's old copy to be dealt with
  const second = await cli('tenant', 'move', 'acme', '--to', 'database');
  assert.match(second.stderr, /still has the old copy of its last move/);
});
