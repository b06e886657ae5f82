// graphql-http.test.mjs - the GraphQL-over-HTTP conformance audits of the graphql-http
// package (pinned in tests/package.json) against a real server: every audit, MUST, SHOULD
// and MAY alike, is a subtest that has to pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { startDev, stopDev } from './lib/harness.mjs';

let dev;
before(async () => {
  dev = await startDev();
});
after(() => stopDev(dev));

/** Explains a failed audit with what the server actually answered. */
async function describe(result) {
  let body = '';
  try { body = await result.response.text(); } catch { /* already read */ }
  const headers = result.response ? JSON.stringify(Object.fromEntries(result.response.headers)) : '';
  return `${result.reason}\n  status ${result.response?.status} ${headers}\n  body ${body.slice(0, 500)}`;
}

// The audit list does not depend on the url, so the subtests can be declared up front;
// each one reads the url when it runs, after the server has started.
for (const { id, name, fn } of serverAudits({ url: () => dev.url, fetchFn: fetch })) {
  test(`${id} ${name}`, async () => {
    const result = await fn();
    assert.equal(result.status, 'ok', result.status === 'ok' ? '' : await describe(result));
  });
}

// ---- tenantql's own choices where the audits leave room ----

async function ask(init = {}, query = '') {
  const res = await fetch(`${dev.url}${query}`, init);
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, headers: res.headers, body };
}
const typename = JSON.stringify({ query: '{ __typename }' });
const postJson = (accept, body = typename, type = 'application/json') =>
  ask({ method: 'POST', headers: { 'content-type': type, ...(accept === undefined ? {} : { accept }) }, body });

test('Accept: q-values, wildcards and charsets pick the response type', async () => {
  const cases = [
    [undefined, 'application/json'],
    ['*/*', 'application/json'],
    ['application/*', 'application/json'],
    ['application/json', 'application/json'],
    ['application/graphql-response+json', 'application/graphql-response+json'],
    ['application/graphql-response+json, application/json', 'application/graphql-response+json'],
    ['application/json, application/graphql-response+json', 'application/graphql-response+json'],
    ['application/graphql-response+json;q=0.5, application/json', 'application/json'],
    ['application/json;q=0.1, application/graphql-response+json;q=0.2', 'application/graphql-response+json'],
    ['application/graphql-response+json; charset=utf-8', 'application/graphql-response+json'],
    ['application/graphql-response+json; charset=latin1, application/json', 'application/json'],
    ['application/json;q=0, */*', 'application/graphql-response+json'],
    ['text/html, */*;q=0.1', 'application/json'],
  ];
  for (const [accept, type] of cases) {
    const r = await postJson(accept);
    assert.equal(r.status, 200, `${accept}: ${JSON.stringify(r.body)}`);
    assert.equal(r.headers.get('content-type'), `${type}; charset=utf-8`, String(accept));
    assert.match(r.headers.get('vary'), /Accept/);
  }
});

test('an Accept with no JSON type is 406', async () => {
  for (const accept of ['text/plain', 'application/xml, text/*', 'application/json;q=0', 'application/json; charset=latin1']) {
    const r = await postJson(accept);
    assert.equal(r.status, 406, accept);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.match(r.body.errors[0].message, /Accept/);
  }
});

test('request Content-Type: application/json, UTF-8 only', async () => {
  assert.equal((await postJson(undefined, typename, 'application/json; charset=UTF-8')).status, 200);
  assert.equal((await postJson(undefined, typename, 'Application/JSON')).status, 200);
  for (const type of ['application/json; charset=latin1', 'application/graphql', 'text/plain', 'application/jsonx']) {
    const r = await postJson(undefined, typename, type);
    assert.equal(r.status, 415, type);
    assert.match(r.body.errors[0].message, /application\/json/);
  }
});

test('GET runs queries only: a mutation is 405 with Allow: POST', async () => {
  const q = `?query=${encodeURIComponent('mutation { __typename }')}`;
  for (const accept of ['application/json', 'application/graphql-response+json']) {
    const r = await ask({ headers: { accept } }, q);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    assert.match(r.body.errors[0].message, /POST/);
  }
  // the same over POST is no method problem
  const p = await postJson('application/json', JSON.stringify({ query: 'mutation { __typename }' }));
  assert.notEqual(p.status, 405);
});

test('GET: extensions must be an object; HEAD answers headers only', async () => {
  const base = `?query=${encodeURIComponent('{ __typename }')}`;
  assert.equal((await ask({}, `${base}&extensions=${encodeURIComponent('{"a":1}')}`)).status, 200);
  for (const bad of ['[1]', '"x"', '{']) {
    const r = await ask({}, `${base}&extensions=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, bad);
    assert.match(r.body.errors[0].message, /extensions/);
  }
  const head = await fetch(`${dev.url}${base}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.ok(Number(head.headers.get('content-length')) > 0);
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  // the connection is still in step afterwards
  assert.deepEqual((await ask({}, base)).body, { data: { __typename: 'Query' } });
});
