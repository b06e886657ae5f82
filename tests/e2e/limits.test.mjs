// limits.test.mjs - the execution budget, the answer cap and bounded validation against
// the attacks of issue 12, on a real server: each attack is refused quickly with
// QUERY_TOO_COMPLEX and its extensions.limit (or, for validation, answered at all in
// bounded time), and the server's peak memory (VmHWM) stays bounded; GraphiQL's
// introspection query passes under the defaults; `--limits measure` lets the same
// documents run and counts them in /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getIntrospectionQuery } from 'graphql';
import { startDev, startServe, stopDev, gql } from './lib/harness.mjs';

// a small Argon2id memory, so that the dummy hash made at start does not set the peak
const common = ['--hash-memlimit', '1048576'];
let dev, srv, measuring, capped, token, userIds;

before(async () => {
  dev = await startDev();
  const env = { TENANTQL_JWT_SECRET: dev.secret };
  [srv, measuring, capped] = await Promise.all([
    startServe(dev, common, env),
    startServe(dev, [...common, '--limits', 'measure', '--max-response-bytes', '262144'], env),
    startServe(dev, [...common, '--max-response-bytes', '16384'], env),
  ]);
  token = dev.tokens.acme;
  userIds = dev.tenantPsql('acme', 'SELECT id FROM users ORDER BY email LIMIT 1000');
  assert.equal(userIds.length, 1000);
});
after(async () => {
  const codes = await Promise.all([srv, measuring, capped].filter(Boolean).map((s) => s.stop()));
  await stopDev(dev);
  assert.deepEqual(codes, codes.map(() => 0));
});

// How much an attack may raise a server's peak memory: the bomb once took 1.5 GB. Generous
// because AddressSanitizer's quarantine keeps freed memory for a while (the optimised build
// stays within a quarter of it).
const MEMORY_BOUND_MIB = 128;

/** The peak resident memory of a server process, in MiB (Linux's VmHWM). */
function peakMiB(server) {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;
}

async function metric(server, name) {
  const text = await server.metrics();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

async function timed(fn) {
  const t0 = Date.now();
  const r = await fn();
  return { ...r, ms: Date.now() - t0 };
}

/** One QUERY_TOO_COMPLEX error, no data, the limit named. */
function assertTooComplex(r, name, max) {
  assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 500));
  assert.equal(r.body.data, undefined, 'no data');
  assert.equal(r.body.errors.length, 1);
  const e = r.body.errors[0];
  assert.equal(e.extensions.code, 'QUERY_TOO_COMPLEX');
  assert.equal(e.extensions.limit.name, name, JSON.stringify(e));
  assert.equal(e.extensions.limit.max, max);
  assert.ok(e.extensions.limit.actual > max, JSON.stringify(e));
  return e.extensions.limit;
}

// 16 nested introspection fragments, each selecting `fields { type { ... } }` twice (once
// under an alias, so that execution cannot merge them): about 1.4 KB that once answered
// tens of megabytes, doubling with each level
function introspectionBomb(levels = 16) {
  const fragments = ['fragment F0 on __Type { name }'];
  for (let k = 1; k <= levels; k++) {
    fragments.push(`fragment F${k} on __Type { fields { type { ...F${k - 1} } } a: fields { type { ...F${k - 1} } } }`);
  }
  return `{ __schema { types { ...F${levels} } } }\n${fragments.join('\n')}`;
}

// n fragments spread side by side at the root: validation once compared them in pairs
function manyFragments(n, body = () => '__typename', comment = '') {
  const spreads = Array.from({ length: n }, (_, i) => `...F${i}`).join(' ');
  const fragments = Array.from({ length: n }, (_, i) => `fragment F${i} on Query { ${body(i)} }`).join('\n');
  return `{ ${spreads} }\n${fragments}\n# ${comment}`;
}

const deepQuery = `{ __schema { types { ${'ofType { '.repeat(18)}name${' }'.repeat(18)} } } }`;

test("GraphiQL's introspection query passes under the default limits, without a token", async () => {
  for (const query of [getIntrospectionQuery(), getIntrospectionQuery({
    descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true,
    inputValueDeprecation: true,
  })]) {
    const r = await gql(srv.url, query);
    assert.equal(r.status, 200);
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    assert.ok(r.body.data.__schema.types.length > 20);
  }
});

test('the 1.4 KB introspection bomb without a token is refused before it runs', async () => {
  const query = introspectionBomb();
  assert.ok(query.length < 1600, `${query.length} bytes`);
  const peak = peakMiB(srv);
  const r = await timed(() => gql(srv.url, query));
  assert.ok(r.ms < 3000, `answered after ${r.ms} ms`);
  const limit = assertTooComplex(r, 'depth', 15);
  assert.equal(limit.actual, 2 + 2 * 16 + 1);
  // the same with application/graphql-response+json: a request error, 400
  const strict = await gql(srv.url, query, { headers: { accept: 'application/graphql-response+json' } });
  assert.equal(strict.status, 400);
  assert.equal(strict.body.errors[0].extensions.code, 'QUERY_TOO_COMPLEX');
  assert.ok(peakMiB(srv) - peak < MEMORY_BOUND_MIB, `peak memory grew from ${peak} to ${peakMiB(srv)} MiB`);
});

test('a query deeper than --max-depth is refused, also when fragments hide the depth from the parser', async () => {
  assert.equal(assertTooComplex(await gql(srv.url, deepQuery), 'depth', 15).actual, 2 + 18 + 1);
  // four fragments of 40 levels each: within the parser's 64 per definition, 160 in all
  const fragments = [0, 1, 2, 3].map((k) => `fragment D${k} on __Type { ${'ofType { '.repeat(39)}` +
    `${k < 3 ? `...D${k + 1}` : 'name'}${' }'.repeat(39)} }`);
  const r = await gql(srv.url, `{ __schema { types { ...D0 } } }\n${fragments.join('\n')}`);
  assert.equal(assertTooComplex(r, 'depth', 15).actual, 2 + 4 * 39 + 1);
});

test('300 aliases of nodes(ids:) with 1,000 ids (an 80 KB request) are refused before running', async () => {
  const selection = 'id ... on User { email firstName lastName } ... on Product { name price }';
  const query = `query($ids: [ID!]!) { ${Array.from({ length: 300 }, (_, i) => `n${i}: nodes(ids: $ids) { ${selection} }`)
    .join(' ')} }`;
  const body = JSON.stringify({ query, variables: { ids: userIds } });
  assert.ok(body.length > 60000 && body.length < 100000, `${body.length} bytes`);
  const peak = peakMiB(srv);
  const r = await timed(() => gql(srv.url, query, { token, variables: { ids: userIds } }));
  assert.ok(r.ms < 3000, `answered after ${r.ms} ms`);
  // the first limit passed is reported: 300 x 7 field selections
  assert.equal(assertTooComplex(r, 'fields', 1000).actual, 300 * 7);
  assert.match(srv.stderr(), /refused: fields 2100 > 1000, aliases 300 > 30, cost \d+ > 100000/);
  assert.ok(peakMiB(srv) - peak < MEMORY_BOUND_MIB, `peak memory grew from ${peak} to ${peakMiB(srv)} MiB`);
});

test('nodes(ids:) cost its ids times its selections; the same text costs what its variables ask (cached too)',
  async () => {
    const query = `query($ids: [ID!]!) { ${Array.from({ length: 20 },
      (_, i) => `n${i}: nodes(ids: $ids) { id ... on User { email firstName lastName active createdAt } }`).join(' ')} }`;
    const few = await gql(srv.url, query, { token, variables: { ids: userIds.slice(0, 10) } });
    assert.equal(few.status, 200);
    assert.equal(few.body.errors, undefined, JSON.stringify(few.body.errors));
    assert.equal(few.body.data.n19.length, 10);
    // the document is cached now; 1,000 ids: 20 x (1 + 1,000 x 6)
    const many = await gql(srv.url, query, { token, variables: { ids: userIds } });
    assert.equal(assertTooComplex(many, 'cost', 100000).actual, 20 * (1 + 1000 * 6));
  });

test('more aliases than --max-aliases are refused', async () => {
  const query = `{ ${Array.from({ length: 31 }, (_, i) => `t${i}: __typename`).join(' ')} }`;
  assert.equal(assertTooComplex(await gql(srv.url, query), 'aliases', 30).actual, 31);
  const fine = await gql(srv.url, `{ ${Array.from({ length: 30 }, (_, i) => `t${i}: __typename`).join(' ')} }`);
  assert.equal(fine.body.data.t29, 'Query');
});

test('2,000 fragments spread at the root are validated in bounded time, with or without a token', async () => {
  const peak = peakMiB(srv);
  // a different comment each time: the document cache cannot help
  for (let i = 0; i < 3; i++) {
    const query = manyFragments(2000, () => '__typename', `attempt ${i}`);
    assert.ok(query.length > 80000, `${query.length} bytes`);
    const r = await timed(() => gql(srv.url, query, { token }));
    assert.ok(r.ms < 3000, `answered after ${r.ms} ms`);
    assert.equal(assertTooComplex(r, 'fields', 1000).actual, 2000);
  }
  // valid and within every limit when fewer: validation found nothing to refuse
  const fine = await timed(() => gql(srv.url, manyFragments(900), { token }));
  assert.equal(fine.body.data.__typename, 'Query');
  // a conflict among them: graphql-js's search runs, and stops at the error limit
  const conflicting = manyFragments(1700, (i) => (i === 0 ? 'x: me { id }' : 'x: __typename'));
  const bad = await timed(() => gql(srv.url, conflicting, { token }));
  assert.ok(bad.ms < 3000, `answered after ${bad.ms} ms`);
  assert.equal(bad.status, 200);
  assert.equal(bad.body.data, undefined);
  assert.equal(bad.body.errors.length, 101, JSON.stringify(bad.body).slice(0, 300));
  assert.ok(bad.body.errors.every((e) => e.extensions.code === 'BAD_USER_INPUT'));
  // a conflict only the last fragment makes: the search spends its budget, then gives up
  const late = manyFragments(1400, (i) => `me { x: ${i === 1399 ? 'email' : 'id'} }`);
  const gaveUp = await timed(() => gql(srv.url, late, { token }));
  assert.ok(gaveUp.ms < 3000, `answered after ${gaveUp.ms} ms`);
  assert.equal(gaveUp.body.data, undefined);
  assert.match(gaveUp.body.errors.at(-1).message, /too complex to validate/);
  // fragments of data fields: with a token validated, then refused by the budget; without
  // one refused before validation costs anything
  const data = manyFragments(1500, () => 'me { id }');
  const withToken = await timed(() => gql(srv.url, data, { token }));
  assert.ok(withToken.ms < 3000, `answered after ${withToken.ms} ms`);
  assert.equal(assertTooComplex(withToken, 'fields', 1000).actual, 3000);
  const anonymous = await timed(() => gql(srv.url, data));
  assert.equal(anonymous.status, 401);
  assert.ok(peakMiB(srv) - peak < MEMORY_BOUND_MIB, `peak memory grew from ${peak} to ${peakMiB(srv)} MiB`);
});

test('an answer over --max-response-bytes is one QUERY_TOO_COMPLEX error, never a partial document', async () => {
  const list = (n) => `{ users(first: ${n}) { edges { node { id email firstName lastName active createdAt updatedAt } } } }`;
  const small = await gql(capped.url, list(10), { token });
  assert.equal(small.status, 200);
  assert.equal(small.body.data.users.edges.length, 10);
  const big = await gql(capped.url, list(100), { token });
  assert.equal(typeof big.body, 'object', 'the answer is JSON');
  const limit = assertTooComplex(big, 'response_bytes', 16384);
  assert.ok(limit.actual < 16384 + 1024, `stopped at ${limit.actual} bytes`);
  assert.match(big.body.errors[0].message, /larger than this server sends/);
  assert.equal(await metric(capped, 'tenantql_limit_exceeded_total{limit="response_bytes",mode="enforce"}'), 1);
  // what the budget refuses is counted as refused
  assert.ok(await metric(srv, 'tenantql_limit_exceeded_total{limit="depth",mode="enforce"}') >= 3);
  assert.ok(await metric(srv, 'tenantql_limit_exceeded_total{limit="cost",mode="enforce"}') >= 2);
  assert.equal(await metric(srv, 'tenantql_limit_exceeded_total{limit="depth",mode="measure"}'), 0);
});

test('--limits measure runs the same documents, logs each once and counts it; the answer cap still holds',
  async () => {
    const peak = peakMiB(measuring);
    const deep = await gql(measuring.url, deepQuery);
    assert.equal(deep.status, 200);
    assert.equal(deep.body.errors, undefined);
    assert.ok(Array.isArray(deep.body.data.__schema.types));
    const aliases = await gql(measuring.url, `{ ${Array.from({ length: 40 }, (_, i) => `t${i}: __typename`).join(' ')} }`);
    assert.equal(aliases.body.data.t39, 'Query');
    const costly = await gql(measuring.url,
      '{ __schema { types { fields { args { type { fields { args { type { fields { name } } } } } } } } } }');
    assert.equal(costly.body.errors, undefined);
    // the bomb runs too, until the answer passes the cap
    const bomb = await timed(() => gql(measuring.url, introspectionBomb()));
    assert.ok(bomb.ms < 10000, `answered after ${bomb.ms} ms`);
    assertTooComplex(bomb, 'response_bytes', 262144);
    assert.ok(peakMiB(measuring) - peak < MEMORY_BOUND_MIB, `peak memory grew from ${peak} to ${peakMiB(measuring)} MiB`);

    const count = (limit, mode) => metric(measuring, `tenantql_limit_exceeded_total{limit="${limit}",mode="${mode}"}`);
    assert.equal(await count('depth', 'measure'), 2); // the deep query and the bomb
    assert.equal(await count('aliases', 'measure'), 2);
    assert.equal(await count('cost', 'measure'), 2);
    assert.equal(await count('depth', 'enforce'), 0);
    assert.equal(await count('response_bytes', 'enforce'), 1);
    // one line per request, whatever it exceeds
    const lines = measuring.stderr().split('\n').filter((l) => l.includes('over the budget, run anyway (measure)'));
    assert.equal(lines.length, 4, lines.join('\n'));
    assert.equal(new Set(lines.map((l) => /request (\S+):/.exec(l)[1])).size, 4);
  });
