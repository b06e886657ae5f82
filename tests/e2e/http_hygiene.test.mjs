// http_hygiene.test.mjs - HTTP/1 framing and the headers of JSON answers: a request with
// both Content-Length and Transfer-Encoding (or two different Content-Lengths) gets 400
// and a closed connection, and what follows its body never runs as a request (smuggling
// behind a proxy that trusts Content-Length); every JSON answer, 200, 4xx or 5xx, carries
// X-Content-Type-Options: nosniff and Cache-Control: no-store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startDev, stopDev, gql, post, freePort } from './lib/harness.mjs';

let dev;
before(async () => { dev = await startDev({ args: ['--max-body', '65536'] }); });
after(() => stopDev(dev));

/** Sends raw bytes on one connection; resolves to { text, closed } once the server closes
 * it or `ms` pass (closed: whether the server closed it). */
function raw(port, bytes, ms = 3000) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    const done = (closed) => { clearTimeout(timer); sock.destroy(); resolve({ text, closed }); };
    const timer = setTimeout(() => done(false), ms);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d) => { text += d; });
    sock.on('end', () => done(true));
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

const responses = (text) => text.match(/HTTP\/1\.1 \d{3}/g) || [];

function chunked(body) {
  return `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
}

const smuggledName = (tag) => `smuggled-${tag}-${process.pid}`;

function smuggledRequest(tag) {
  const body = JSON.stringify({ query: `mutation { createProduct(input: {name: "${smuggledName(tag)}", price: "1", stockQuantity: 1}) { id } }` });
  return `POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${dev.tokens.acme}\r\n`
    + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function smuggledCount(tag) {
  return Number(dev.tenantPsql('acme', `SELECT count(*) FROM products WHERE name = '${smuggledName(tag)}'`)[0]);
}

test('Content-Length with Transfer-Encoding: 400, connection closed, the smuggled request never runs', async () => {
  const inner = chunked(JSON.stringify({ query: '{ __typename }' }));
  for (const [tag, order] of [['cl-te', 'cl'], ['te-cl', 'te']]) {
    const tail = inner + smuggledRequest(tag);
    const cl = `Content-Length: ${Buffer.byteLength(tail)}\r\n`, te = 'Transfer-Encoding: chunked\r\n';
    const head = `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${order === 'cl' ? cl + te : te + cl}\r\n`;
    const r = await raw(dev.httpPort, head + tail);
    assert.equal(r.closed, true, 'the server closes the connection');
    assert.deepEqual(responses(r.text), ['HTTP/1.1 400'], r.text);
    assert.match(r.text, /\r\nconnection: close\r\n/i);
    assert.match(r.text, /"code":"BAD_USER_INPUT"/);
    assert.match(r.text, /\r\nx-content-type-options: nosniff\r\n/i);
    assert.equal(smuggledCount(tag), 0, `${tag}: the bytes after the chunked body never ran`);
  }
});

test('two different Content-Lengths: 400 and closed; the same framing check guards other paths', async () => {
  const body = JSON.stringify({ query: '{ __typename }' });
  const twoLengths = `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`
    + `Content-Length: ${body.length}\r\nContent-Length: ${body.length + 5}\r\n\r\n${body}`;
  let r = await raw(dev.httpPort, twoLengths);
  assert.equal(r.closed, true);
  assert.deepEqual(responses(r.text), ['HTTP/1.1 400'], r.text);

  const tail = chunked('x') + 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  r = await raw(dev.httpPort, `POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: ${tail.length}\r\n`
    + `Transfer-Encoding: chunked\r\n\r\n${tail}`);
  assert.equal(r.closed, true);
  assert.deepEqual(responses(r.text), ['HTTP/1.1 400'], r.text);
  r = await raw(dev.httpPort, `POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: ${tail.length}\r\n`
    + `Transfer-Encoding: chunked\r\n\r\n${tail}`);
  assert.deepEqual(responses(r.text), ['HTTP/1.1 400'], r.text);

  const m = await dev.metrics();
  assert.ok(Number(m.match(/^tenantql_refusals_total\{reason="framing"\} (\d+)$/m)[1]) >= 4, 'counted as framing refusals');
});

test('a chunked body alone, or one Content-Length twice, keeps working on a kept-alive connection', async () => {
  const body = JSON.stringify({ query: '{ __typename }' });
  const one = `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(body)}`;
  const two = `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n`
    + `Content-Length: ${body.length}\r\n\r\n${body}`;
  const r = await raw(dev.httpPort, one + two, 1500);
  assert.deepEqual(responses(r.text), ['HTTP/1.1 200', 'HTTP/1.1 200'], r.text);
  assert.equal(r.closed, false, 'the connection stays open');
});

function assertJsonHeaders(r, what) {
  assert.match(r.headers.get('content-type'), /json/, what);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff', what);
  assert.equal(r.headers.get('cache-control'), 'no-store', what);
}

test('every JSON answer carries nosniff and no-store: 200, 4xx, 5xx, and h2o\'s own errors', async () => {
  const ok = await gql(dev.url, '{ me { email } }', { token: dev.tokens.acme });
  assert.equal(ok.status, 200);
  assertJsonHeaders(ok, '200');
  const get = await fetch(`${dev.url}?query=${encodeURIComponent('{ __typename }')}`);
  assert.equal(get.status, 200);
  assertJsonHeaders(get, 'GET 200');

  const noToken = await gql(dev.url, '{ me { email } }');
  assert.equal(noToken.status, 401);
  assertJsonHeaders(noToken, '401');
  const malformed = await post(dev.url, '{"query":');
  assert.equal(malformed.status, 400);
  assertJsonHeaders(malformed, '400');
  const put = await fetch(dev.url, { method: 'PUT', body: '{}' });
  assert.equal(put.status, 405);
  assertJsonHeaders(put, '405');
  // 413 is h2o's own answer, rewritten into JSON by the error filter
  const big = await post(dev.url, JSON.stringify({ query: `{ __typename } #${'x'.repeat(70000)}` }));
  assert.equal(big.status, 413);
  assertJsonHeaders(big, '413');
  // h2o's own 400 for broken chunked encoding
  const broken = await raw(dev.httpPort, 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
    + 'Transfer-Encoding: chunked\r\n\r\nzz\r\n');
  assert.deepEqual(responses(broken.text), ['HTTP/1.1 400'], broken.text);
  assert.match(broken.text, /\r\nx-content-type-options: nosniff\r\n/i);
  assert.match(broken.text, /\r\ncache-control: no-store\r\n/i);

  // 503: a tenant whose database cannot be reached
  const port = await freePort();
  dev.psql(`INSERT INTO tenants (name, db_host, db_port, db_name, db_user) VALUES ('unreachable', '127.0.0.1', ${port}, 'none', 'none')`);
  const token = dev.token({ tenantId: dev.tenantId('unreachable') });
  let down;
  for (let i = 0; i < 40; i++) {
    down = await gql(dev.url, '{ users(first: 1) { totalCount } }', { token });
    if (down.status !== 403) break;
    await new Promise((r) => setTimeout(r, 50)); // until the registry's notification arrives
  }
  assert.equal(down.status, 503, JSON.stringify(down.body));
  assertJsonHeaders(down, '503');
});
