// http.test.mjs - GraphQL over HTTP: bad input gets a clear 4xx with a GraphQL `errors`
// entry, nothing is lost, and the server keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, gql, post } from './lib/harness.mjs';

let dev, auth;
before(async () => {
  dev = await startDev({ args: ['--max-body', '65536'] });
  auth = { authorization: `Bearer ${dev.tokens.acme}` };
});
after(() => stopDev(dev));

function assertError(r, status, pattern) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.match(r.headers.get('content-type'), /json/);
  assert.ok(Array.isArray(r.body.errors) && r.body.errors.length === 1, JSON.stringify(r.body));
  assert.match(r.body.errors[0].message, pattern);
  assert.equal(r.body.data, undefined);
}

test('malformed JSON is 400', async () => {
  assertError(await post(dev.url, '{"query": "{ me { id } }"', auth), 400, /Malformed JSON/);
  assertError(await post(dev.url, '{"query": "{ me { id } }"} trailing', auth), 400, /Malformed JSON/);
  assertError(await post(dev.url, '[1, 2]', auth), 400, /must be a JSON object/);
  assertError(await post(dev.url, '', auth), 400, /Malformed JSON/);
});

test('missing or mistyped entries are 400', async () => {
  assertError(await post(dev.url, '{}', auth), 400, /Missing query/);
  assertError(await post(dev.url, '{"query": 5}', auth), 400, /must be a string/);
  assertError(await post(dev.url, '{"query": "{ me { id } }", "variables": [1]}', auth), 400, /variables/);
  assertError(await post(dev.url, '{"query": "{ me { id } }", "operationName": 3}', auth), 400, /operationName/);
});

test('wrong content type is 415, wrong method 405', async () => {
  assertError(await post(dev.url, '{"query": "{ me { id } }"}', { ...auth, 'content-type': 'text/plain' }), 415, /application\/json/);
  const r = await fetch(dev.url, { method: 'PUT', headers: auth, body: '{}' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET, POST');
  assert.equal((await r.json()).errors.length, 1);
});

test('an oversize body is 413 with a GraphQL error', async () => {
  const big = JSON.stringify({ query: `{ me { id } } # ${'x'.repeat(70000)}` });
  const r = await post(dev.url, big, auth);
  assertError(r, 413, /too large/);
});

test('a syntax error names its line and column', async () => {
  const r = await gql(dev.url, '{\n  users(first: 2) {\n    edges {\n  }\n}', { headers: auth });
  assert.equal(r.status, 200);
  assert.equal(r.body.data, undefined);
  assert.equal(r.body.errors[0].message, 'Syntax Error: Expected Name, found "}".');
  assert.deepEqual(r.body.errors[0].locations, [{ line: 4, column: 3 }]);
  const r2 = await gql(dev.url, '{ me { id } }', { headers: { ...auth, accept: 'application/graphql-response+json' } });
  assert.equal(r2.status, 200, 'parses and validates; the executor handles it');
  const invalid = await gql(dev.url, '{ me }', { headers: { ...auth, accept: 'application/graphql-response+json' } });
  assert.equal(invalid.status, 400, 'parses but fails validation: a leaf-less object field');
  const r3 = await gql(dev.url, '{ me', { headers: { ...auth, accept: 'application/graphql-response+json' } });
  assert.equal(r3.status, 400);
  assert.match(r3.headers.get('content-type'), /application\/graphql-response\+json/);
});

test('deeply nested input is an error, not a crash', async () => {
  const deep = `{ users(first: 1) ${'{ edges '.repeat(200)}${'}'.repeat(201)}`;
  const r = await gql(dev.url, deep, { headers: auth });
  assert.match(r.body.errors[0].message, /nested too deeply/);
  const deepList = `{ nodes(ids: ${'['.repeat(5000)}) { id } }`;
  const r2 = await gql(dev.url, deepList, { headers: auth });
  assert.match(r2.body.errors[0].message, /Syntax Error/);
});

test('GET with a query string works', async () => {
  const q = encodeURIComponent('query Q($n: Int!) { users(first: $n) { edges { node { email } } } }');
  const v = encodeURIComponent(JSON.stringify({ n: 2 }));
  const r = await fetch(`${dev.url}?query=${q}&variables=${v}&operationName=Q`, { headers: auth });
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.equal(body.data.users.edges.length, 2);
});

test('a bad variable value is a request error without data', async () => {
  const r = await gql(dev.url, 'query($n: Int!) { users(first: $n) { totalCount } }', { headers: auth, variables: { n: 'two' } });
  assert.equal(r.status, 200);
  assert.equal(r.body.data, undefined);
  assert.equal(r.body.errors[0].extensions.code, 'BAD_USER_INPUT');
  assert.deepEqual(r.body.errors[0].locations, [{ line: 1, column: 7 }]);
});

test('after all of the above the server answers normally', async () => {
  const r = await gql(dev.url, '{ me { email } }', { headers: auth });
  assert.deepEqual(r.body, { data: { me: { email: 'admin@acme.example' } } });
});
