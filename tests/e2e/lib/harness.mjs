// harness.mjs - starts the real thing for end-to-end tests: `tenantql dev` in a fresh
// temporary directory (its own PostgreSQL cluster, registry and demo tenants acme and
// globex) on free ports, and offers small helpers to talk to it over HTTP and SQL.
import { spawn, execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, chmodSync, chownSync, readFileSync, writeFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.TENANTQL_BIN || new URL('../../../build/tenantql', import.meta.url).pathname;

/** Directory of PostgreSQL's server programs (Debian keeps them off PATH). */
export function pgBinDir() {
  const versions = readdirSync('/usr/lib/postgresql').map(Number).filter((v) => v > 0).sort((a, b) => b - a);
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

const adminOrigins = new Map(); // a server's /graphql URL -> its admin origin

// What the servers and commands of this test file printed, kept when the file ends in
// TQ_E2E_OUTPUT_DIR, where the last test of the run (secret_sweep) looks for secrets.
const outputs = [];
/** Keeps text (or a function giving it at exit) for the secret sweep. */
export function keepOutput(text) { outputs.push(text); }
process.on('exit', () => {
  const dir = process.env.TQ_E2E_OUTPUT_DIR;
  if (!dir || outputs.length === 0) return;
  mkdirSync(dir, { recursive: true });
  const name = (process.argv.find((a) => a.endsWith('.test.mjs')) || 'e2e').split('/').pop();
  const text = outputs.map((o) => (typeof o === 'function' ? o() : String(o))).join('\n');
  writeFileSync(join(dir, `${name}-${process.env.TQ_E2E_PLACEMENT || 'default'}-${process.pid}.log`), text);
});

/** The admin origin (/metrics and the admin API) of the server whose /graphql is url. */
export function adminOriginOf(url) {
  const origin = adminOrigins.get(String(url));
  if (origin === undefined) throw new Error(`no server started by the harness at ${url}`);
  return origin;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

/** Signs an HS256 (or other HMAC) JWT by hand, so tests can forge every kind of token. */
export function signJwt(payload, secret, { alg = 'HS256', header = {} } = {}) {
  const h = b64url(JSON.stringify({ alg, typ: 'JWT', ...header }));
  const p = b64url(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  const sig = hash ? b64url(createHmac(hash, secret).update(`${h}.${p}`).digest()) : '';
  return `${h}.${p}.${sig}`;
}

function waitForExit(child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode ?? child.signalCode);
    const t = setTimeout(() => { child.kill('SIGKILL'); }, ms);
    child.once('exit', (code, signal) => { clearTimeout(t); resolve(code ?? signal); });
  });
}

/** Runs SQL through psql with a conninfo string (and extra environment); returns rows of
 * tab-separated text. */
/** SQL making schemas tenant_m0 .. tenant_m(n-1) copies (tables and rows) of schema `from`,
 * each in a transaction of its own that also runs each(i). */
export function schemaCopiesSql(tables, n, { from = 'tenant_tpl', each = () => '' } = {}) {
  const sql = [];
  for (let i = 0; i < n; i++) {
    sql.push(`BEGIN; CREATE SCHEMA tenant_m${i};`);
    for (const t of tables)
      sql.push(`CREATE TABLE tenant_m${i}.${t} (LIKE ${from}.${t} INCLUDING ALL); INSERT INTO tenant_m${i}.${t} SELECT * FROM ${from}.${t};`);
    sql.push(`${each(i)} COMMIT;`);
  }
  return sql;
}

function runPsql(conninfo, sql, env = {}) {
  return execFileSync('psql', ['-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', conninfo, '-c', sql],
    { encoding: 'utf8', env: { ...process.env, ...env } })
    .split('\n').filter((l) => l.length > 0);
}

/**
 * Starts `tenantql dev` and resolves when it serves. Options: extra CLI args, env.
 * Returns { url, dir, secret, registry, tokens, stop(), psql(), tenantPsql(), tenantql(), ... }.
 *
 * With TQ_E2E_PLACEMENT set (database or schema), the demo tenants get that placement
 * (`--demo-placement`), unless the test chose one itself: the same test file then runs
 * against tenants in schemas of a shared database.
 *
 * With TQ_E2E_PGBOUNCER set in the environment, the demo tenants are then reached through
 * a PgBouncer in transaction mode (startPgBouncer, routeThroughPgBouncer) and the server
 * runs with --statement-cache 0, which that needs; dev.bouncer is that bouncer. psql()
 * still goes to the cluster directly.
 */
export async function startDev({ args = [], env = {}, dir } = {}) {
  const viaBouncer = Boolean(process.env.TQ_E2E_PGBOUNCER);
  if (viaBouncer) args = ['--statement-cache', '0', ...args]; // a test's own setting comes later and wins
  dir = dir || mkdtempSync(join(tmpdir(), 'tq-e2e-'));
  chmodSync(dir, 0o755); // the cluster runs as the postgres user, which must reach it
  const httpPort = await freePort();
  const pgPort = await freePort();
  // every server of a test run gets an admin port of its own (the default, 9090, is one)
  const adminPort = await freePort();
  const adminArgs = args.includes('--admin-listen') ? [] : ['--admin-listen', `127.0.0.1:${adminPort}`];
  const placement = process.env.TQ_E2E_PLACEMENT;
  const chosen = args.includes('--demo-placement') || env.TENANTQL_DEV_PLACEMENT !== undefined;
  const placementArgs = placement && !chosen ? ['--demo-placement', placement] : [];
  const child = spawn(BIN, ['dev', '--dir', dir, '--pg-port', String(pgPort), '--listen', `127.0.0.1:${httpPort}`,
    '--threads', '2', ...adminArgs, ...placementArgs, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; if (process.env.TQ_E2E_VERBOSE) process.stderr.write(d); });
  keepOutput(() => out + err);
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise((resolve) => {
    const check = () => (out.includes('tenantql is running') || child.exitCode !== null ? resolve(out.includes('tenantql is running')) : setTimeout(check, 50));
    check();
  });
  const ok = await Promise.race([ready, exited.then(() => false), new Promise((r) => setTimeout(() => r(false), 120000).unref())]);
  if (!ok) {
    child.kill('SIGKILL');
    throw new Error(`tenantql dev did not start:\n${err}\n${out}`);
  }
  const secret = readFileSync(join(dir, 'jwt-secret'), 'utf8').trim();
  const tokens = {};
  for (const m of out.matchAll(/export (\w+)_TOKEN='([^']+)'/g)) tokens[m[1]] = m[2];
  const sockdir = join(dir, 'pg', 'run');
  const registry = `host=${sockdir} port=${pgPort} user=tenantql dbname=tenantql`;
  adminOrigins.set(`http://127.0.0.1:${httpPort}/graphql`, `http://127.0.0.1:${adminPort}`);
  const dev = {
    dir, url: `http://127.0.0.1:${httpPort}/graphql`, httpPort, pgPort, secret, tokens, registry, child,
    /** The admin listener: /metrics, /healthz, /readyz, /tenants, /openapi.json. */
    adminOrigin: `http://127.0.0.1:${adminPort}`, adminPort,
    /** The server's /metrics text. */
    async metrics() { return (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(); },
    /** A platform token (scope platform) for the admin API, signed with dev's secret. */
    platformToken(claims = {}) {
      const now = Math.floor(Date.now() / 1000);
      return signJwt({ iss: 'tenantql', iat: now, exp: now + 600, scope: 'platform', sub: 'e2e', ...claims }, secret);
    },
    stdout: () => out, stderr: () => err,
    /** Runs SQL through psql against a database of the cluster; returns rows of tab-separated text. */
    psql(sql, db = 'tenantql') {
      return runPsql(`host=${sockdir} port=${pgPort} user=tenantql dbname=${db}`, sql);
    },
    /** Feeds a script of many statements to psql (standard input: no argument-length limit). */
    psqlScript(script, db = 'tenantql') {
      execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', `host=${sockdir} port=${pgPort} user=tenantql dbname=${db}`],
        { input: script, stdio: ['pipe', 'ignore', 'inherit'], maxBuffer: 1 << 26 });
    },
    /** Runs SQL through psql against a tenant's tables, wherever the registry places them
     * (its database, or its schema of a shared database: search_path is its db_schema),
     * as the cluster's superuser; returns rows like psql(). */
    /** Where a tenant's tables are: { db, schema } from its registry row. */
    tenantPlace(name) {
      const row = dev.psql(`SELECT db_name, db_schema FROM tenants WHERE name = '${name}'`)[0];
      if (row === undefined) throw new Error(`no tenant named ${name}`);
      const [db, schema] = row.split('\t');
      return { db, schema };
    },
    tenantPsql(name, sql) {
      const { db, schema } = dev.tenantPlace(name);
      return runPsql(`host=${sockdir} port=${pgPort} user=tenantql dbname=${db}`, sql,
        { PGOPTIONS: `-c search_path=${schema}` });
    },
    /** Runs the tenantql CLI against this cluster's registry. */
    tenantql(...cliArgs) {
      const printed = execFileSync(BIN, cliArgs, {
        encoding: 'utf8',
        env: { ...process.env, TENANTQL_REGISTRY: registry, TENANTQL_JWT_SECRET: secret },
      });
      keepOutput(printed);
      return printed;
    },
    tenantId(name) {
      return dev.psql(`SELECT id FROM tenants WHERE name = '${name}'`)[0];
    },
    token(claims, opts) {
      const now = Math.floor(Date.now() / 1000);
      return signJwt({ iss: 'tenantql', iat: now, exp: now + 600, ...claims }, secret, opts);
    },
    /** Stops the server with SIGTERM; resolves to its exit code. `dev` then stops its
     * cluster, whose shutdown checkpoint can take long after a test made many databases. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await waitForExit(child, 120000);
      // after the server, so that it closes its connections to the bouncer itself
      if (dev.bouncer) await dev.bouncer.stop();
      return code;
    },
    /** Removes the directory after making sure the cluster is down (even after a crash). */
    cleanup() {
      if (dev.bouncer) dev.bouncer.kill();
      const datadir = join(dir, 'pg', 'data');
      if (existsSync(join(datadir, 'postmaster.pid'))) {
        const pgctl = join(pgBinDir(), 'pg_ctl');
        const cmd = process.getuid() === 0 ? ['runuser', ['-u', 'postgres', '--', pgctl]] : [pgctl, []];
        try {
          execFileSync(cmd[0], [...cmd[1], '-D', datadir, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
        } catch { /* already down */ }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (viaBouncer) {
    try {
      dev.bouncer = await startPgBouncer(dev);
      await routeThroughPgBouncer(dev, dev.bouncer);
    } catch (e) {
      await dev.stop();
      dev.cleanup();
      throw e;
    }
  }
  return dev;
}

/** The user a PostgreSQL-side helper (the cluster, pgbouncer) runs as: as root, `postgres`,
 * since both refuse to run as root; otherwise whoever runs the tests. */
function serviceUser() {
  if (process.getuid() !== 0) return null;
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { name: 'postgres', uid: id('-u'), gid: id('-g') };
}

/** userlist.txt holds names and passwords in double quotes, doubling those inside. */
const bouncerQuote = (v) => `"${String(v).replaceAll('"', '""')}"`;

/**
 * Starts a PgBouncer (Debian's 1.18, installed by `scripts/bootstrap --tests`) in front of
 * dev's cluster: its own ini and userlist in a temporary directory under dev.dir, on
 * 127.0.0.1 and a free port, no unix socket, in the foreground. Resolves once its admin
 * console answers, to { port, admin(sql) -> rows as objects, stderr(), stop(), kill() }.
 *
 * What it takes to put PgBouncer 1.18 between tenantql and the cluster:
 * - It refuses to run as root; as root it is started with its own `-u postgres`, which
 *   drops to that user after reading its configuration (the user the cluster runs as, so
 *   it may use the cluster's socket directory, mode 0700). Its files belong to that user.
 * - Clients (tenantql) log in with SCRAM against a userlist of each tenant role's password
 *   from the registry (plain text there, which PgBouncer may hold for SCRAM): the
 *   registry's credentials are checked on the way in, as PostgreSQL would check them.
 *   PgBouncer then reaches the cluster over its unix socket, where the cluster trusts
 *   local connections, so it needs no password of its own for the server side.
 * - `* = host=<socket dir> port=<port>` forwards every database name (tenant_acme,
 *   tenant_globex, tenants created later) to the cluster, as the client's own user.
 * - tenantql's startup packet carries `options` (-c TimeZone=UTC -c DateStyle=ISO
 *   -c statement_timeout=N; src/tenant/registry.c). PgBouncer 1.18 refuses a startup
 *   parameter it does not know unless it is listed in ignore_startup_parameters, and it
 *   cannot pass `options` on to the server: so it is ignored here, and those settings are
 *   given to each tenant role instead (routeThroughPgBouncer). application_name and
 *   client_encoding are parameters PgBouncer knows and keeps per client.
 * - An admin user (admin_users) with a password of its own reads SHOW POOLS/CLIENTS.
 */
export async function startPgBouncer(dev, { poolMode = 'transaction', poolSize = 2 } = {}) {
  const dir = mkdtempSync(join(dev.dir, 'pgbouncer-'));
  const port = await freePort();
  const adminUser = 'tq_bouncer_admin', adminPassword = randomBytes(16).toString('hex');
  const roles = dev.psql('SELECT db_user, min(db_password) FROM tenants GROUP BY db_user ORDER BY db_user')
    .map((l) => l.split('\t'));
  const userlist = [...roles, [adminUser, adminPassword]]
    .map(([user, password]) => `${bouncerQuote(user)} ${bouncerQuote(password)}\n`).join('');
  const ini = `[databases]
* = host=${join(dev.dir, 'pg', 'run')} port=${dev.pgPort}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${join(dir, 'userlist.txt')}
admin_users = ${adminUser}
pool_mode = ${poolMode}
default_pool_size = ${poolSize}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
ignore_startup_parameters = options
`;
  writeFileSync(join(dir, 'userlist.txt'), userlist, { mode: 0o600 });
  writeFileSync(join(dir, 'pgbouncer.ini'), ini, { mode: 0o600 });
  const user = serviceUser();
  if (user) for (const f of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(join(dir, f), user.uid, user.gid);

  const child = spawn('pgbouncer', [...(user ? ['-u', user.name] : []), join(dir, 'pgbouncer.ini')],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } });
  let err = '', spawnFailed = false; // not installed: `scripts/bootstrap --tests` installs it
  child.stderr.on('data', (d) => { err += d; if (process.env.TQ_E2E_VERBOSE) process.stderr.write(d); });
  child.on('error', (e) => { spawnFailed = true; err += `\n${e.message}`; });
  const running = () => !spawnFailed && child.exitCode === null && child.signalCode === null;
  const bouncer = {
    port, dir, stderr: () => err,
    /** Runs a command on the admin console; returns its rows as objects keyed by column. */
    admin(sql) {
      const lines = execFileSync('psql', ['-X', '-q', '-A', '-F', '\t', '-P', 'footer=off',
        `host=127.0.0.1 port=${port} user=${adminUser} dbname=pgbouncer`, '-c', sql],
      { encoding: 'utf8', env: { ...process.env, PGPASSWORD: adminPassword }, stdio: ['ignore', 'pipe', 'pipe'] })
        .split('\n').filter((l) => l.length > 0);
      const cols = lines.shift().split('\t');
      return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
    },
    /** SIGTERM (PgBouncer's immediate shutdown), SIGKILL after 5 s; resolves to how it ended. */
    async stop() {
      if (!running()) return spawnFailed ? 'not started' : child.exitCode ?? child.signalCode;
      child.kill('SIGTERM');
      return waitForExit(child, 5000);
    },
    kill() {
      if (running()) child.kill('SIGKILL');
    },
  };
  for (let i = 0; i < 200; i++) {
    if (!running()) break;
    try {
      bouncer.admin('SHOW VERSION');
      return bouncer;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  bouncer.kill();
  throw new Error(`pgbouncer did not start:\n${err}`);
}

/**
 * Points the demo tenants' registry rows (acme and globex, or `names`) at a bouncer from
 * startPgBouncer and resolves once the server uses it for each of them: a query through
 * the server answers, the bouncer's SHOW CLIENTS lists the tenant's role, and the cluster
 * has no TCP connection of that role left (through the bouncer they come over its unix
 * socket, with no client address) - the retired direct pool is gone.
 *
 * Since the bouncer drops the `options` startup parameter, the settings tenantql puts
 * there are first set on each tenant role (ALTER ROLE ... SET), so that sessions made
 * through the bouncer get the same TimeZone, DateStyle and statement_timeout (the
 * tenant's pool_options.statement_timeout_ms, else tenantql's default of 5000 ms).
 */
export async function routeThroughPgBouncer(dev, bouncer, names = ['acme', 'globex']) {
  const list = names.map((n) => `'${n}'`).join(', ');
  dev.psql(`DO $$ DECLARE t record; BEGIN
    FOR t IN SELECT DISTINCT db_user,
                    COALESCE((pool_options->>'statement_timeout_ms')::int, 5000) AS timeout_ms
               FROM tenants WHERE name IN (${list}) LOOP
      EXECUTE format('ALTER ROLE %I SET TimeZone = ''UTC''', t.db_user);
      EXECUTE format('ALTER ROLE %I SET DateStyle = ''ISO''', t.db_user);
      EXECUTE format('ALTER ROLE %I SET statement_timeout = %s', t.db_user, t.timeout_ms);
    END LOOP; END $$`);
  dev.psql(`UPDATE tenants SET db_host = '127.0.0.1', db_port = ${bouncer.port} WHERE name IN (${list})`);
  for (const name of names) {
    const token = dev.token({ tenantId: dev.tenantId(name) });
    const role = dev.psql(`SELECT db_user FROM tenants WHERE name = '${name}'`)[0];
    const routed = await until((ok) => ok, async () => {
      const r = await gql(dev.url, '{ products(first: 1) { totalCount } }', { token });
      if (r.status !== 200 || r.body.errors) return false;
      if (!bouncer.admin('SHOW CLIENTS').some((c) => c.user === role)) return false;
      return Number(dev.psql(`SELECT count(*) FROM pg_stat_activity
        WHERE usename = '${role}' AND client_addr IS NOT NULL`)[0]) === 0;
    }, 15000);
    if (!routed) throw new Error(`tenant ${name} is not served through pgbouncer:\n${bouncer.stderr().slice(-2000)}`);
  }
}

/**
 * Starts `tenantql serve` (one worker thread) against dev's registry with extra args and
 * environment; resolves once it answers /healthz to { origin, url (its /graphql),
 * adminOrigin, metrics(), stderr(), stop() -> exit code }. With TQ_E2E_PGBOUNCER set, with --statement-cache 0.
 */
export async function startServe(dev, args = [], env = {}) {
  // as startDev: tenants behind PgBouncer in transaction mode need unnamed statements
  if (process.env.TQ_E2E_PGBOUNCER) args = ['--statement-cache', '0', ...args];
  const port = await freePort();
  const adminPort = await freePort();
  const adminArgs = args.includes('--admin-listen') ? [] : ['--admin-listen', `127.0.0.1:${adminPort}`];
  const child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--threads', '1', ...adminArgs, ...args], {
    env: { ...process.env, TENANTQL_REGISTRY: dev.registry, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '', out = '';
  child.stderr.on('data', (d) => { err += d; });
  child.stdout.on('data', (d) => { out += d; }); // the access log, unless a test sends it elsewhere
  keepOutput(() => out + err);
  const origin = `http://127.0.0.1:${port}`;
  const adminOrigin = `http://127.0.0.1:${adminPort}`;
  for (let i = 0; i < 400; i++) {
    try {
      await fetch(`${adminOrigin}/healthz`);
      adminOrigins.set(`${origin}/graphql`, adminOrigin);
      return {
        origin, url: `${origin}/graphql`, stderr: () => err, stdout: () => out, pid: child.pid, adminOrigin,
        async metrics() { return (await fetch(`${adminOrigin}/metrics`)).text(); },
        /** Sends sig (SIGTERM by default); resolves to the exit code. */
        stop(sig = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(sig);
          return waitForExit(child, 30000);
        },
      };
    } catch {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill('SIGKILL');
  // what it said before it exited may still be in the pipe
  await new Promise((r) => { child.stderr.once('close', r); setTimeout(r, 2000).unref(); });
  throw new Error(`tenantql serve did not start:\n${err}`);
}

/** Stops a dev server started by startDev, removes its directory, and fails the test
 * file unless the server exited 0 (a clean shutdown is part of every test). */
export async function stopDev(dev) {
  const code = await dev.stop();
  dev.cleanup();
  if (code !== 0) throw new Error(`server exit code ${code} (stderr:\n${dev.stderr().slice(-3000)})`);
}

/** Asks until ok(answer) or ms pass (50 ms apart); resolves to the last answer. */
export async function until(ok, ask, ms = 2000) {
  const t0 = Date.now();
  let r = await ask();
  while (!ok(r) && Date.now() - t0 < ms) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    r = await ask();
  }
  return r;
}

/**
 * Holds `table` of database `db` in ACCESS EXCLUSIVE mode from a psql session of its own,
 * so that every query on it waits; resolves once the lock is held, to { end() } which
 * ends that session (its backend is terminated: pg_sleep would outlive a killed psql).
 */
export async function lockTable(dev, db, table) {
  const sock = join(dev.dir, 'pg', 'run');
  const locker = spawn('psql', ['-X', '-q', `host=${sock} port=${dev.pgPort} user=tenantql dbname=${db}`],
    { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise((resolve) => locker.once('exit', resolve));
  locker.stdin.write(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;\n`);
  await until((n) => n > 0, async () => Number(dev.psql(`SELECT count(*) FROM pg_locks l JOIN pg_database d
    ON d.oid = l.database WHERE d.datname = '${db}' AND l.mode = 'AccessExclusiveLock' AND l.granted`)[0]), 5000);
  return {
    end() {
      dev.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db}'
        AND application_name = 'psql'`);
      return exited;
    },
  };
}

/** POSTs a GraphQL request; returns { status, headers, body (parsed JSON or text) }. */
export async function gql(url, query, { token, tenant, variables, operationName, headers = {} } = {}) {
  const h = { 'content-type': 'application/json', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (tenant) h['x-tenant-id'] = tenant;
  const res = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ query, variables, operationName }) });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, headers: res.headers, body };
}

/** POSTs a GraphQL request from a given local address (e.g. 127.0.0.2: the whole of
 * 127/8 reaches a server listening on 127.0.0.1), on a connection of its own; resolves to
 * { status, headers (an object of lower-case names), body }. */
export function gqlFrom(url, localAddress, query, { token, headers = {}, variables } = {}) {
  const body = JSON.stringify({ query, variables });
  const h = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: h, localAddress, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed;
        try { parsed = JSON.parse(text); } catch { parsed = text; }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Whether a process runs under AddressSanitizer (its quarantine keeps freed memory on
 * purpose, so memory bounds only mean something without it). */
export function sanitized(pid) {
  return /libasan/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));
}

/** Resident memory of a process in MiB (VmRSS). */
export function rssMiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : 0;
}

export async function post(url, rawBody, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: rawBody });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, headers: res.headers, body };
}
