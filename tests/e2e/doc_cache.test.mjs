// doc_cache.test.mjs - a cached document stays alive while requests run it. A worker's
// document cache lends its documents to the requests that hit it; a request waiting for
// the database (or for a connection of a busy pool) still walks its document when the
// answer comes. Meanwhile other requests, of any tenant, put new documents into the
// cache and evict the entry. With one worker and a one-entry cache, this test makes that
// happen: the waiting requests must still answer correctly (under the sanitize build,
// AddressSanitizer would abort the server on a read of the freed document) and the
// server must shut down cleanly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDev, stopDev, startServe, gql } from './lib/harness.mjs';

const D1 = '{ users(first: 2) { totalCount edges { node { email firstName } } } }';
let dev, serve;

before(async () => {
  dev = await startDev();
  // one connection for acme; a generous acquire timeout, so that a request waiting for
  // it is still waiting when the lock goes, however slow the machine
  dev.psql(`UPDATE tenants SET pool_options = '{"max": 1, "acquire_timeout_ms": 60000}' WHERE name = 'acme'`);
  // a fresh server reads the registry as it is now: nothing to wait for
  serve = await startServe(dev, ['--threads', '1', '--doc-cache-entries', '1'], { TENANTQL_JWT_SECRET: dev.secret });
});
after(() => stopDev(dev));

/** Polls ask() until ok(result) or ms pass; returns the last result. */
async function until(ok, ask, ms = 10000) {
  const t0 = Date.now();
  let r = await ask();
  while (!ok(r) && Date.now() - t0 < ms) {
    await sleep(25);
    r = await ask();
  }
  return r;
}

/** Sessions of acme's database waiting for a lock. */
function lockWaiters() {
  return Number(dev.psql(`SELECT count(*) FROM pg_stat_activity
    WHERE datname = '${dev.tenantPlace('acme').db}' AND wait_event_type = 'Lock'`)[0]);
}

/** Requests of acme's pool waiting for a connection, from the server's /metrics. */
async function poolWaiting() {
  const text = await serve.metrics();
  const m = text.match(/^tenantql_pool_waiting\{tenant="acme"\} (\d+)$/m);
  return m ? Number(m[1]) : 0;
}

test('a cached document evicted while its requests wait for the database is still theirs', async () => {
  const acme = dev.tokens.acme;
  const expected = await gql(serve.url, D1, { token: acme }); // parsed, validated, cached
  assert.equal(expected.status, 200, JSON.stringify(expected.body));
  assert.equal(expected.body.data.users.edges.length, 2);

  // another session locks users in acme's database, so that a query on it blocks
  const sock = join(dev.dir, 'pg', 'run');
  const { db, schema } = dev.tenantPlace('acme'); // its own database, or its schema of a shared one
  const locker = spawn('psql', ['-X', '-q', `host=${sock} port=${dev.pgPort} user=tenantql dbname=${db}`],
    { stdio: ['pipe', 'ignore', 'ignore'] });
  const lockerExited = new Promise((r) => locker.once('exit', r));
  locker.stdin.write(`BEGIN; LOCK TABLE ${schema}.users IN ACCESS EXCLUSIVE MODE;\n`);
  await until((n) => n > 0, () => Number(dev.psql(`SELECT count(*) FROM pg_locks l JOIN pg_database d
    ON d.oid = l.database WHERE d.datname = '${db}' AND l.mode = 'AccessExclusiveLock' AND l.granted`)[0]));

  // D1 from the cache twice: the first takes acme's only connection and waits for the
  // lock, the second waits for that connection
  const inDatabase = gql(serve.url, D1, { token: acme });
  assert.ok(await until((n) => n > 0, lockWaiters) > 0, 'the first request waits for the lock');
  const forConnection = gql(serve.url, D1, { token: acme });
  assert.ok(await until((n) => n > 0, poolWaiting) > 0, 'the second request waits for a connection');

  // new documents, of another tenant and of none, each evicting the one before: D1's
  // entry leaves the cache while both requests still hold it
  const globex = await gql(serve.url, '{ me { email } }', { token: dev.tokens.globex });
  assert.deepEqual(globex.body, { data: { me: { email: 'admin@globex.example' } } });
  for (const q of ['{ __typename }', '{ __schema { queryType { name } } }', 'query Other { __typename }']) {
    const r = await gql(serve.url, q);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }

  locker.stdin.write('COMMIT;\n');
  locker.stdin.end();
  const [first, second] = await Promise.all([inDatabase, forConnection]).catch((e) => {
    throw new Error(`the waiting requests got no answer (${e.message}); server log:\n${serve.stderr().slice(-4000)}`);
  });
  await lockerExited;
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body, expected.body);
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.deepEqual(second.body, expected.body);

  // the document is cached again on its next use, and answers the same
  assert.deepEqual((await gql(serve.url, D1, { token: acme })).body, expected.body);
  assert.deepEqual((await gql(serve.url, D1, { token: acme })).body, expected.body);

  const code = await serve.stop();
  assert.doesNotMatch(serve.stderr(), /AddressSanitizer|LeakSanitizer|runtime error/);
  assert.equal(code, 0, serve.stderr().slice(-3000));
});
