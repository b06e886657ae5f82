// traces.test.mjs - W3C trace context and OTLP export (src/trace/, README "Traces"): spans
// received by a small OTLP receiver the test starts, with the caller's trace id and
// parent, the tenant and the operation; a trace started when the request brings none (or
// a malformed one); parent-based sampling; --trace-sample 0 sends nothing; the trace id
// reaches pg_stat_activity as a statement comment; and a collector that is down or
// refuses costs the server nothing but dropped (counted) spans.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, startServe, gql, until, lockTable, freePort } from './lib/harness.mjs';
import { startOtlpReceiver } from './lib/otlp.mjs';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';
let dev, rx;

before(async () => {
  rx = await startOtlpReceiver();
  dev = await startDev({ args: ['--otlp-endpoint', rx.url, '--trace-sample', '1'] });
});
after(async () => {
  await stopDev(dev);
  await rx.stop();
});

const metric = (text, name) => {
  const m = text.match(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
};
const DROPPED_FAILED = 'tenantql_trace_spans_dropped_total{reason="export_failed"}';

/** The spans of a trace once its root (the request's span) and n children arrived. */
async function spansOf(receiver, traceId, { children = 1 } = {}) {
  return until((spans) => spans.some((s) => s.kind === 2) && spans.length > children,
    async () => receiver.trace(traceId), 5000);
}

/** The answer's traceparent as { traceId, spanId, flags }. */
function answerParent(r) {
  const v = r.headers.get('traceparent');
  assert.match(v, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  const [, traceId, spanId, flags] = v.split('-');
  return { traceId, spanId, flags };
}

test('a request with a sampled traceparent: its spans carry the caller\'s trace, parent and attributes', async () => {
  const r = await gql(dev.url, 'query TraceMe { products(first: 2) { totalCount edges { node { id } } } }',
    { token: dev.tokens.acme, headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const echo = answerParent(r);
  assert.equal(echo.traceId, TRACE);
  assert.equal(echo.flags, '01');
  const spans = await spansOf(rx, TRACE, { children: 5 });
  const root = spans.find((s) => s.kind === 2);
  assert.ok(root, 'the request\'s server span');
  assert.equal(root.parentSpanId, PARENT);
  assert.equal(root.spanId, echo.spanId, 'the answer names the request\'s span');
  assert.equal(root.name, 'query TraceMe');
  assert.equal(root.resource['service.name'], 'tenantql');
  assert.equal(root.attrs['tenantql.tenant'], 'acme');
  assert.equal(root.attrs['graphql.operation.type'], 'query');
  assert.equal(root.attrs['graphql.operation.name'], 'TraceMe');
  assert.equal(root.attrs['http.response.status_code'], '200');
  assert.equal(root.attrs['http.request.method'], 'POST');
  assert.ok(root.attrs['tenantql.request_id'], 'the request id, to find its log lines');
  assert.ok(BigInt(root.endTimeUnixNano) >= BigInt(root.startTimeUnixNano));
  const startMs = Number(BigInt(root.startTimeUnixNano) / 1000000n);
  assert.ok(Math.abs(startMs - Date.now()) < 60000, 'times are since the epoch');
  const names = spans.map((s) => s.name);
  for (const n of ['graphql.parse', 'graphql.validate', 'graphql.budget', 'db.connection_wait'])
    assert.ok(names.includes(n), `${n} in ${names}`);
  for (const s of spans.filter((x) => x !== root)) {
    assert.equal(s.parentSpanId, root.spanId, `${s.name}'s parent`);
    assert.equal(s.attrs['tenantql.tenant'], 'acme', s.name);
    assert.equal(s.attrs['graphql.operation.name'], 'TraceMe', s.name);
    assert.ok(BigInt(s.startTimeUnixNano) >= BigInt(root.startTimeUnixNano), `${s.name} starts within the request`);
  }
  const statements = spans.filter((s) => s.attrs['db.system'] === 'postgresql');
  assert.ok(statements.length >= 1, 'a span per statement');
  for (const s of statements) {
    assert.equal(s.kind, 3, 'a client span');
    assert.equal(s.name, s.attrs['tenantql.statement']);
    assert.doesNotMatch(JSON.stringify(s), /\$1|'/, 'no SQL text or parameter values');
  }
  assert.equal(spans.find((s) => s.name === 'graphql.parse').attrs['tenantql.document_cached'], false);
  assert.ok(rx.contentTypes.has('application/json'));
});

test('no traceparent, or a malformed one: the request starts a trace of its own (sampled at 1)', async () => {
  const ask = (headers) => gql(dev.url, '{ users(first: 1) { totalCount } }', { token: dev.tokens.globex, headers });
  const bad = [`00-${TRACE.toUpperCase()}-${PARENT}-01`, `00-${'0'.repeat(32)}-${PARENT}-01`, `01-${TRACE}-${PARENT}-01`,
    `00-${TRACE}-${PARENT}-01-00`, `00-${TRACE}-${PARENT}-1`, 'garbage'];
  // all sent at once: their spans come in one batch
  const answers = await Promise.all([ask({}), ...bad.map((traceparent) => ask({ traceparent }))]);
  for (const [i, r] of answers.entries()) {
    const what = i === 0 ? 'no traceparent' : bad[i - 1];
    assert.equal(r.status, 200, what);
    const p = answerParent(r);
    assert.notEqual(p.traceId, TRACE, what);
    assert.equal(p.flags, '01', `${what}: a new trace, sampled at 1`);
    const spans = await spansOf(rx, p.traceId, { children: 2 });
    const root = spans.find((s) => s.kind === 2);
    assert.equal(root.parentSpanId ?? '', '', `${what}: a root, no parent`);
    assert.equal(root.spanId, p.spanId, what);
    assert.equal(root.attrs['tenantql.tenant'], 'globex');
    assert.equal(root.name, 'query', 'an anonymous operation: its type');
  }
});

test('parent-based: a traceparent without the sampled flag records nothing, and is continued', async () => {
  const trace = '1af7651916cd43dd8448eb211c80319d';
  const r = await gql(dev.url, '{ users(first: 1) { totalCount } }',
    { token: dev.tokens.acme, headers: { traceparent: `00-${trace}-${PARENT}-00` } });
  assert.equal(r.status, 200);
  const p = answerParent(r);
  assert.equal(p.traceId, trace);
  assert.equal(p.flags, '00');
  // a sampled request sent after it is received: by then the unsampled one would have been too
  const after = await gql(dev.url, '{ users(first: 1) { totalCount } }', { token: dev.tokens.acme });
  await spansOf(rx, answerParent(after).traceId);
  assert.equal(rx.trace(trace).length, 0);
});

test('the trace id reaches PostgreSQL as a comment on the statement (pg_stat_activity)', async () => {
  const { db, schema } = dev.tenantPlace('acme');
  const lock = await lockTable(dev, db, `${schema}.products`);
  const trace = '2af7651916cd43dd8448eb211c80319e';
  let pending, commented;
  try {
    pending = gql(dev.url, '{ products(first: 1) { totalCount } }',
      { token: dev.tokens.acme, headers: { traceparent: `00-${trace}-${PARENT}-01` } });
    const rows = await until((x) => x.length > 0, async () => dev.psql(`SELECT query FROM pg_stat_activity
      WHERE datname = '${db}' AND application_name = 'tenantql' AND query LIKE '%${trace}%'`), 5000);
    assert.equal(rows.length >= 1, true, 'the waiting statement shows its trace');
    assert.match(rows[0], new RegExp(`^/\\*traceparent='00-${trace}-[0-9a-f]{16}-01'\\*/ `), 'first, sqlcommenter style');
    commented = rows[0].slice(15 + 36, 15 + 52);
  } finally {
    await lock.end();
  }
  const r = await pending;
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(commented, answerParent(r).spanId, 'the comment names the request\'s span');
  assert.ok((await spansOf(rx, trace)).length > 1);
});

test('/metrics counts exported spans; none dropped while the collector answers', async () => {
  const m = await dev.metrics();
  assert.ok(metric(m, 'tenantql_trace_spans_exported_total') > 10, m.match(/tenantql_trace.*/g).join('\n'));
  assert.equal(metric(m, DROPPED_FAILED), 0);
  assert.equal(metric(m, 'tenantql_trace_spans_dropped_total{reason="queue_full"}'), 0);
});

test('--trace-sample 0 sends nothing (unless a caller samples), shutdown flushes; tracing off adds no header', async () => {
  const quiet = await startOtlpReceiver();
  const srv = await startServe(dev, ['--otlp-endpoint', quiet.url, '--trace-sample', '0'], { TENANTQL_JWT_SECRET: dev.secret });
  const off = await startServe(dev, [], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    for (let i = 0; i < 20; i++) {
      const r = await gql(srv.url, '{ users(first: 1) { totalCount } }', { token: dev.tokens.acme });
      assert.equal(r.status, 200);
      assert.equal(answerParent(r).flags, '00');
    }
    const sampled = await gql(srv.url, '{ users(first: 1) { totalCount } }',
      { token: dev.tokens.acme, headers: { traceparent: `00-3af7651916cd43dd8448eb211c80319f-${PARENT}-01` } });
    assert.equal(sampled.status, 200);
    // stopped before its exporter's next batch: shutdown sends what is queued
    assert.equal(await srv.stop(), 0);
    assert.ok(quiet.trace('3af7651916cd43dd8448eb211c80319f').length > 1, 'flushed at shutdown');
    assert.deepEqual([...new Set(quiet.spans.map((s) => s.traceId))], ['3af7651916cd43dd8448eb211c80319f'],
      'only the caller\'s sampled trace');
    const r = await gql(off.url, '{ users(first: 1) { totalCount } }', { token: dev.tokens.acme, headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('traceparent'), null);
    const m = await off.metrics();
    assert.equal(metric(m, 'tenantql_trace_spans_exported_total'), 0);
  } finally {
    assert.equal(await srv.stop(), 0);
    assert.equal(await off.stop(), 0);
    await quiet.stop();
  }
});

test('the collector down, refusing, or stopped mid-test: answers as usual, spans dropped and counted', async () => {
  const rx2 = await startOtlpReceiver();
  const srv = await startServe(dev, ['--otlp-endpoint', rx2.url, '--trace-sample', '1'], { TENANTQL_JWT_SECRET: dev.secret });
  const nowhere = await startServe(dev, ['--otlp-endpoint', `http://127.0.0.1:${await freePort()}/v1/traces`, '--trace-sample', '1',
    '--trace-sql-comment', 'off'], { TENANTQL_JWT_SECRET: dev.secret });
  const ask = (s) => gql(s.url, '{ users(first: 1) { totalCount } }', { token: dev.tokens.acme });
  try {
    // nobody listens: every batch fails at once
    for (let i = 0; i < 10; i++) assert.equal((await ask(nowhere)).status, 200);
    const dropped = await until((m) => metric(m, DROPPED_FAILED) >= 20, () => nowhere.metrics(), 5000);
    assert.ok(metric(dropped, DROPPED_FAILED) >= 20, dropped.match(/tenantql_trace.*/g).join('\n'));
    assert.equal(metric(dropped, 'tenantql_trace_spans_exported_total'), 0);
    const refused = /cannot connect to 127\.0\.0\.1:\d+.*spans are dropped/;
    assert.match(await until((e) => refused.test(e), async () => nowhere.stderr(), 3000), refused);
    // --trace-sql-comment off: a recorded request's statement reaches PostgreSQL as it is
    const { db, schema } = dev.tenantPlace('acme');
    const lock = await lockTable(dev, db, `${schema}.products`);
    let pending;
    try {
      pending = gql(nowhere.url, '{ products(first: 1) { totalCount } }', { token: dev.tokens.acme });
      const rows = await until((x) => x.length > 0, async () => dev.psql(`SELECT query FROM pg_stat_activity
        WHERE datname = '${db}' AND application_name = 'tenantql' AND state = 'active' AND query LIKE '%products%'`), 5000);
      assert.ok(rows.length > 0 && rows.every((q) => !q.includes('traceparent')), rows.join('\n'));
    } finally {
      await lock.end();
    }
    assert.equal((await pending).status, 200);
    // a collector that answers, then refuses, then is gone, then back
    assert.equal((await ask(srv)).status, 200);
    await until((m) => metric(m, 'tenantql_trace_spans_exported_total') > 0, () => srv.metrics(), 5000);
    rx2.failWith(503);
    const refusedTrace = answerParent(await ask(srv)).traceId;
    await until((m) => metric(m, DROPPED_FAILED) > 0, () => srv.metrics(), 5000);
    assert.match(await until((e) => /answered 503/.test(e), async () => srv.stderr(), 3000), /answered 503/);
    assert.equal(rx2.trace(refusedTrace).length, 0);
    rx2.failWith(0);
    await rx2.stop();
    const before = metric(await srv.metrics(), DROPPED_FAILED);
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) assert.equal((await ask(srv)).status, 200);
    assert.ok(Date.now() - t0 < 5000, 'answers do not wait for the collector');
    const m = await until((x) => metric(x, DROPPED_FAILED) > before, () => srv.metrics(), 5000);
    assert.ok(metric(m, DROPPED_FAILED) > before);
    await rx2.start();
    const back = answerParent(await ask(srv)).traceId;
    assert.ok((await spansOf(rx2, back)).length > 1, 'exported again once the collector is back');
    // (the receiver has the spans before the server has its answer)
    assert.match(await until((e) => /the collector answers again/.test(e), async () => srv.stderr(), 3000),
      /the collector answers again/);
  } finally {
    assert.equal(await srv.stop(), 0);
    assert.equal(await nowhere.stop(), 0);
    await rx2.stop();
  }
});

test('the access log line names the request\'s trace', async () => {
  const id = 'trace-al-1';
  const r = await gql(dev.url, 'query Me { me { email } }', { token: dev.tokens.acme,
    headers: { traceparent: `00-${TRACE}-${PARENT}-01`, 'x-request-id': id } });
  assert.equal(r.status, 200);
  const line = await until((l) => l !== undefined, () => dev.stdout().split('\n')
    .filter((l) => l.startsWith('{"time"')).map((l) => JSON.parse(l)).find((e) => e.request_id === id), 5000);
  assert.ok(line, 'no access log line');
  assert.equal(line.trace_id, TRACE);
  assert.equal(answerParent(r).traceId, TRACE);
});

test('a client\'s long operation name is cut to 128 bytes in every span (a queued span stays small)', async () => {
  const trace = 'f'.repeat(31) + '1';
  const name = `Op${'y'.repeat(5000)}`;
  const r = await gql(dev.url, `query ${name} { me { email } }`, { token: dev.tokens.acme,
    headers: { traceparent: `00-${trace}-${PARENT}-01` } });
  assert.equal(r.status, 200);
  const spans = await spansOf(rx, trace, { children: 2 });
  const root = spans.find((s) => s.kind === 2);
  assert.equal(root.name, `query ${name.slice(0, 128)}`);
  for (const s of spans) assert.equal(s.attrs['graphql.operation.name'], name.slice(0, 128), s.name);
});
