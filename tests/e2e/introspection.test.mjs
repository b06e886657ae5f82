// introspection.test.mjs - the schema describing itself over HTTP, compared with
// graphql-js as the oracle: the full introspection query must answer exactly what
// graphql(buildSchema(sdl), query) answers (same JSON, same key order), rebuild into the
// same schema, and need no token; --introspection off refuses __schema and __type the
// way graphql-js's NoSchemaIntrospectionCustomRule does, and leaves __typename alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import {
  NoSchemaIntrospectionCustomRule, buildClientSchema, buildSchema, getIntrospectionQuery, graphql, parse, printSchema,
  validate,
} from 'graphql';
import { BIN, startDev, gql } from './lib/harness.mjs';

const sdl = readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
const reference = buildSchema(sdl);
const fullQuery = getIntrospectionQuery({
  descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true,
  inputValueDeprecation: true,
});

/** What graphql-js answers for the same schema and query. */
async function expected(query) {
  return graphql({ schema: reference, source: query });
}

/** An SDL document as data, blind to layout and to how strings are quoted. */
function canonical(text) {
  return JSON.stringify(parse(text, { noLocation: true }), (key, value) => (key === 'block' ? undefined : value));
}

let dev, off;
before(async () => {
  [dev, off] = await Promise.all([startDev(), startDev({ args: ['--introspection', 'off'] })]);
});
after(async () => {
  // both stop before either is judged, so that a failure leaves no server behind
  const servers = [dev, off].filter(Boolean);
  const codes = await Promise.all(servers.map((d) => d.stop()));
  servers.forEach((d) => d.cleanup());
  servers.forEach((d, i) => assert.equal(codes[i], 0, `server exit code (stderr:\n${d.stderr().slice(-3000)})`));
});

test('the full introspection query answers exactly as graphql-js, without a token', async () => {
  const r = await gql(dev.url, fullQuery);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const want = await expected(fullQuery);
  assert.equal(JSON.stringify(r.body), JSON.stringify(want));
});

test('the introspection result rebuilds into the schema of the SDL file', async () => {
  const r = await gql(dev.url, fullQuery);
  const printed = printSchema(buildClientSchema(r.body.data));
  assert.equal(printed, printSchema(reference));
  assert.equal(canonical(printed), canonical(sdl));
  assert.equal(printed.replace(/\s+/g, ' ').trim(), printSchema(buildSchema(sdl)).replace(/\s+/g, ' ').trim());
});

test('__type(name: "User") with and without deprecated fields', async () => {
  const query = `{
    __type(name: "User") {
      kind name description
      fields(includeDeprecated: true) { name description isDeprecated deprecationReason
        args(includeDeprecated: true) { name defaultValue isDeprecated }
        type { kind name ofType { kind name ofType { name } } } }
      plain: fields { name }
      interfaces { name }
      possibleTypes { name }
      enumValues(includeDeprecated: true) { name }
      inputFields(includeDeprecated: true) { name }
      ofType { name }
    }
    products: __type(name: "Query") { fields { name args { name defaultValue type { name kind } } } }
    order: __type(name: "ProductOrder") { enumValues { name isDeprecated } }
    filter: __type(name: "ProductFilter") { inputFields { name type { name } } }
    nothing: __type(name: "Float") { name }
  }`;
  const r = await gql(dev.url, query);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(JSON.stringify(r.body), JSON.stringify(await expected(query)));
  assert.equal(r.body.data.__type.name, 'User');
  assert.deepEqual(r.body.data.__type.interfaces, [{ name: 'Node' }]);
  assert.equal(r.body.data.nothing, null); // Float is not used by the schema
});

test('__typename at the root needs no token; with data fields a token is needed', async () => {
  const r = await gql(dev.url, '{ __typename }');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { data: { __typename: 'Query' } });
  const mixed = await gql(dev.url, '{ __typename me { email } }');
  assert.equal(mixed.status, 401);
  const withToken = await gql(dev.url, '{ __typename __schema { queryType { name } } me { __typename } }',
    { token: dev.tokens.acme });
  assert.equal(withToken.status, 200, JSON.stringify(withToken.body));
  assert.deepEqual(withToken.body.data.__schema, { queryType: { name: 'Query' } });
  assert.equal(withToken.body.data.__typename, 'Query');
});

test('introspection turned off: __schema and __type are refused with no data', async () => {
  const r = await gql(off.url, '{\n  __typename\n  __schema { description }\n}');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {
    errors: [{
      message: 'GraphQL introspection has been disabled, but the requested query contained the field "__schema".',
      locations: [{ line: 3, column: 3 }],
      extensions: { code: 'BAD_USER_INPUT' },
    }],
  });
  const t = await gql(off.url, '{ __type(name: "User") { name } }', { token: off.tokens.acme });
  assert.equal(t.status, 200);
  assert.equal(t.body.data, undefined);
  assert.equal(t.body.errors[0].message,
    'GraphQL introspection has been disabled, but the requested query contained the field "__type".');
  assert.equal(t.body.errors[0].extensions.code, 'BAD_USER_INPUT');
  const strict = await gql(off.url, '{ __schema { types { name } } }',
    { headers: { accept: 'application/graphql-response+json' } });
  assert.equal(strict.status, 400);
  assert.deepEqual(strict.body.errors.map((e) => e.message), [
    'GraphQL introspection has been disabled, but the requested query contained the field "__schema".',
    'GraphQL introspection has been disabled, but the requested query contained the field "types".',
  ]);
  // every field of an introspection type is reported, in document order, as graphql-js does
  const full = await gql(off.url, fullQuery);
  assert.equal(full.body.data, undefined);
  const want = validate(reference, parse(fullQuery), [NoSchemaIntrospectionCustomRule])
    .map((e) => ({ message: e.message, locations: e.locations, extensions: { code: 'BAD_USER_INPUT' } }));
  assert.ok(want.length > 10);
  assert.equal(JSON.stringify(full.body.errors), JSON.stringify(want));
});

test('introspection turned off: __typename and ordinary queries still work', async () => {
  const r = await gql(off.url, '{ __typename }');
  assert.deepEqual(r.body, { data: { __typename: 'Query' } });
  const me = await gql(off.url, '{ __typename users(first: 1) { __typename totalCount } }', { token: off.tokens.acme });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.data.users.__typename, 'UserConnection');
});

test('--introspection takes on or off only', () => {
  let failure;
  try {
    execFileSync(BIN, ['serve', '--introspection', 'sometimes'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    failure = e;
  }
  assert.ok(failure, 'serve accepted --introspection sometimes');
  assert.equal(failure.status, 2);
  assert.match(failure.stderr, /--introspection must be on or off/);
});
