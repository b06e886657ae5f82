// oracle.test.mjs - GraphQL spec conformance against graphql-js as the oracle.
//
// Every file tests/corpus/oracle/*.graphql is one case. Its document is sent (a) to the
// real server (`tenantql dev`, acme's token) and (b) through graphql-js 16.8.2's
// `graphql()` with `buildSchema(schema/schema.graphql)` and JS resolvers that compute the
// same answers from acme's rows (loaded once with psql) following
// ../shared/spec/api-contract.md. Per case the two answers must have:
//   - `data` equal byte for byte (JSON.stringify, so key order and absent-vs-null count);
//   - as many `errors`, with equal `path` and `locations` (messages may differ). Errors are
//     matched as a multiset (the spec fixes no order); a different order is only reported
//     as a diagnostic.
// Each case is its own test, named after its file, so every mismatch is reported apart.
//
// Case file format: the document itself. Leading lines of the form `# key: value` (before
// the first line that is not a comment) set request options; they stay in the document
// (they are comments), so both sides see the same text and the same line numbers.
//   # variables: {"n": 2}           JSON object sent as `variables`
//   # operationName: B              sent as `operationName`
//   # setup: { users(first: 3) { edges { cursor node { id } } } }
//                                   a query run first on each side (may repeat; the
//                                   first is setup 0, the next setup 1, ...)
// Other leading comment lines describe the case. In the document text and in string
// values of `variables`, `{{N.path.to.value}}` is replaced by the value at that path of
// setup N's answer - on each side its own answer, so a case can page with `after` from a
// cursor the server produced, while graphql-js pages from the oracle's cursor. Cursors are
// opaque: the oracle's cursors are mapped to the server's ones where a setup produced both
// at the same place; a case that selects `cursor`/`endCursor` in its compared part must
// only select cursors its setups produced (the setup must select them too).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { GraphQLError, buildSchema, graphql } from 'graphql';
import { startDev, gql } from './lib/harness.mjs';

const corpusDir = new URL('../corpus/oracle/', import.meta.url);
const sdl = readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
const caseFiles = readdirSync(corpusDir).filter((f) => f.endsWith('.graphql')).sort();

// ---------------------------------------------------------------------------------------
// The oracle: graphql-js with resolvers that follow the API contract.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ORDERS = ['NAME_ASC', 'NAME_DESC', 'PRICE_ASC', 'PRICE_DESC', 'CREATED_AT_DESC'];

function badInput(message) {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/** Decimal input text per the contract; returns the exact value in cents (BigInt). */
function decimalCents(text) {
  const m = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
  if (!m) throw new TypeError(`Decimal cannot represent ${JSON.stringify(text)}`);
  const frac = m[3] || '';
  let digits = (m[2] + frac).replace(/^0+/, '');
  let exp = Number(m[4] || '0') - frac.length; // value = digits * 10^exp
  if (digits === '') return 0n;
  while (digits.endsWith('0')) { digits = digits.slice(0, -1); exp += 1; }
  if (exp < -2) throw new TypeError('Decimal allows at most two fractional digits');
  if (digits.length + exp > 8) throw new TypeError('Decimal allows at most 8 integer digits');
  const cents = BigInt(digits) * 10n ** BigInt(exp + 2);
  return m[1] === '-' ? -cents : cents;
}

/** Byte order of UTF-8 (what COLLATE "C" compares). */
function bytewise(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** ILIKE '%term%' with %, _ and \ taken literally, for ASCII text. */
function contains(haystack, term) {
  return haystack != null && haystack.toLowerCase().includes(term.toLowerCase());
}

function isoMillis(micros) {
  return new Date(Math.floor(micros / 1000)).toISOString();
}

function buildOracle({ users, products, sub }) {
  const schema = buildSchema(sdl);
  const dt = schema.getType('DateTime');
  const dtPattern = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
  dt.serialize = (v) => {
    if (typeof v !== 'string') throw new TypeError('DateTime cannot represent a non-string value');
    return v;
  };
  dt.parseValue = (v) => {
    if (typeof v !== 'string' || !dtPattern.test(v)) throw new TypeError('DateTime must be an RFC 3339 string');
    return v;
  };
  dt.parseLiteral = (node) => {
    if (node.kind !== 'StringValue' || !dtPattern.test(node.value)) throw new TypeError('DateTime must be an RFC 3339 string');
    return node.value;
  };
  const dec = schema.getType('Decimal');
  dec.serialize = (v) => {
    if (typeof v !== 'string' || !/^-?\d+\.\d\d$/.test(v)) throw new TypeError('Decimal cannot represent this value');
    return v;
  };
  dec.parseValue = (v) => {
    if (typeof v === 'string') return decimalCents(v);
    if (typeof v === 'number' && Number.isFinite(v)) return decimalCents(String(v));
    throw new TypeError('Decimal must be a string or a number');
  };
  dec.parseLiteral = (node) => {
    if (node.kind !== 'StringValue' && node.kind !== 'IntValue' && node.kind !== 'FloatValue') {
      throw new TypeError('Decimal must be a string or a number');
    }
    return decimalCents(node.value);
  };

  const userRows = users.map((u) => ({
    __typename: 'User', id: u.id, email: u.email, firstName: u.firstName, lastName: u.lastName, active: u.active,
    createdAt: isoMillis(u.c), updatedAt: isoMillis(u.u),
  }));
  const productRows = products.map((p) => ({
    __typename: 'Product', id: p.id, name: p.name, description: p.description, price: p.price,
    stockQuantity: p.stockQuantity, active: p.active, createdAt: isoMillis(p.c), updatedAt: isoMillis(p.u),
    cents: BigInt(p.price.replace('.', '')), created: p.c,
  }));
  const byId = new Map([...userRows, ...productRows].map((r) => [r.id, r]));
  const cmpId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const userOrder = (a, b) => bytewise(a.email, b.email) || cmpId(a, b);
  const sortedUsers = [...userRows].sort(userOrder);
  const cmpCents = (a, b) => (a.cents < b.cents ? -1 : a.cents > b.cents ? 1 : 0);
  const productOrders = {
    NAME_ASC: (a, b) => bytewise(a.name, b.name) || cmpId(a, b),
    NAME_DESC: (a, b) => bytewise(b.name, a.name) || cmpId(a, b),
    PRICE_ASC: (a, b) => cmpCents(a, b) || cmpId(a, b),
    PRICE_DESC: (a, b) => cmpCents(b, a) || cmpId(a, b),
    CREATED_AT_DESC: (a, b) => (b.created - a.created) || cmpId(a, b),
  };
  const lookup = (id, typename) => {
    if (typeof id !== 'string' || !UUID.test(id)) return null;
    const row = byId.get(id.toLowerCase());
    return row && (!typename || row.__typename === typename) ? row : null;
  };
  const checkFirst = (first) => {
    if (first === null || first === undefined || first < 0 || first > 100) {
      throw badInput('Argument "first" must be between 0 and 100.');
    }
  };
  // the oracle's cursors: `oracle|<kind>|<id>`, kind `users` or `products.<ORDER>`
  const connection = (sorted, order, kind, first, afterCursor) => {
    checkFirst(first);
    let rest = sorted;
    if (afterCursor !== null && afterCursor !== undefined) {
      const m = /^oracle\|([a-zA-Z_.]+)\|(.*)$/.exec(afterCursor);
      const row = m && m[1] === kind ? byId.get(m[2]) : undefined;
      if (!row) throw badInput('Argument "after" is not a valid cursor.');
      rest = sorted.filter((r) => order(r, row) > 0);
    }
    const edges = rest.slice(0, first).map((node) => ({ cursor: `oracle|${kind}|${node.id}`, node }));
    return {
      edges,
      pageInfo: { hasNextPage: rest.length > edges.length, endCursor: edges.length ? edges.at(-1).cursor : null },
      totalCount: sorted.length,
    };
  };
  const notTried = () => { throw new GraphQLError('the oracle only runs mutations that fail'); };
  const rootValue = {
    me: () => { const u = lookup(sub, 'User'); return u && u.active ? u : null; },
    user: ({ id }) => lookup(id, 'User'),
    product: ({ id }) => lookup(id, 'Product'),
    node: ({ id }) => lookup(id),
    nodes: ({ ids }) => ids.map((id) => lookup(id)),
    users: ({ first, after: cur }) => connection(sortedUsers, userOrder, 'users', first, cur),
    products: ({ first, after: cur, filter, orderBy }) => {
      if (orderBy === null || orderBy === undefined) throw badInput('Argument "orderBy" must not be null.');
      const order = productOrders[orderBy];
      const f = filter || {};
      const rows = productRows.filter((p) => (f.nameContains == null || contains(p.name, f.nameContains))
        && (f.minPrice == null || p.cents >= f.minPrice)
        && (f.maxPrice == null || p.cents <= f.maxPrice)
        && (f.inStock == null || (f.inStock ? p.stockQuantity > 0 : p.stockQuantity === 0))
        && (f.active == null || p.active === f.active));
      return connection(rows.sort(order), order, `products.${orderBy}`, first, cur);
    },
    search: ({ term, first }) => {
      checkFirst(first);
      const us = sortedUsers.filter((u) => contains(u.email, term) || contains(u.firstName, term)
        || contains(u.lastName, term)).slice(0, first);
      const ps = productRows.filter((p) => contains(p.name, term)).sort(productOrders.NAME_ASC).slice(0, first);
      return [...us, ...ps];
    },
    login: () => { throw new GraphQLError('Invalid credentials.', { extensions: { code: 'UNAUTHENTICATED' } }); },
    createUser: notTried,
    updateUser: notTried,
    createProduct: notTried,
    updateProduct: notTried,
    adjustStock: notTried,
    deleteProduct: notTried,
  };
  return {
    async run(source, variableValues, operationName) {
      const r = await graphql({ schema, source, rootValue, variableValues, operationName });
      return JSON.parse(JSON.stringify(r));
    },
  };
}

// ---------------------------------------------------------------------------------------
// Cases.

function parseCase(file) {
  const text = readFileSync(new URL(file, corpusDir), 'utf8');
  const opts = { variables: undefined, operationName: undefined, setups: [] };
  for (const line of text.split('\n')) {
    if (!line.startsWith('#')) break;
    const m = /^#\s*(variables|operationName|setup):\s*(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'variables') opts.variables = JSON.parse(m[2]);
    else if (m[1] === 'operationName') opts.operationName = m[2].trim();
    else opts.setups.push(m[2]);
  }
  return { text, ...opts };
}

function pick(setups, path) {
  const [n, ...rest] = path.split('.');
  let v = setups[Number(n)];
  for (const k of rest) v = v == null ? undefined : v[k];
  if (v === undefined) throw new Error(`placeholder {{${path}}} names nothing in the setup answers`);
  return v;
}

function substitute(text, setups) {
  return text.replace(/\{\{([^}]+)\}\}/g, (_, p) => String(pick(setups, p)));
}

function substituteValues(value, setups) {
  if (typeof value === 'string') {
    const m = /^\{\{([^}]+)\}\}$/.exec(value);
    return m ? pick(setups, m[1]) : substitute(value, setups);
  }
  if (Array.isArray(value)) return value.map((v) => substituteValues(v, setups));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteValues(v, setups)]));
  }
  return value;
}

/** Pairs cursors found at the same place of two answers: oracle cursor -> server cursor. */
function pairCursors(oracleValue, serverValue, map, key) {
  if ((key === 'cursor' || key === 'endCursor') && typeof oracleValue === 'string' && typeof serverValue === 'string') {
    map.set(oracleValue, serverValue);
  } else if (oracleValue && serverValue && typeof oracleValue === 'object' && typeof serverValue === 'object') {
    for (const k of Object.keys(oracleValue)) pairCursors(oracleValue[k], serverValue[k], map, k);
  }
}

function translateCursors(value, map, key) {
  if ((key === 'cursor' || key === 'endCursor') && typeof value === 'string') return map.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => translateCursors(v, map));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, translateCursors(v, map, k)]));
  }
  return value;
}

const errorKey = (e) => JSON.stringify({ path: e.path, locations: e.locations });

function clip(s, n = 3000) {
  return s.length > n ? `${s.slice(0, n)}... (${s.length} chars)` : s;
}

// ---------------------------------------------------------------------------------------

let dev, oracle;
const crashed = []; // servers that died during a case; the next case gets a fresh one

/** Sends a request to the server; when the server dies on it, starts a fresh one (same data) and throws. */
async function ask(query, variables, operationName) {
  let r;
  try {
    r = await gql(dev.url, query, { token: dev.tokens.acme, variables, operationName });
  } catch (e) {
    const died = await Promise.race([
      new Promise((resolve) => (dev.child.exitCode !== null || dev.child.signalCode !== null ? resolve(true)
        : dev.child.once('exit', () => resolve(true)))),
      new Promise((resolve) => setTimeout(() => resolve(false), 2000)),
    ]);
    if (!died) throw e;
    const dead = dev;
    crashed.push(dead);
    dev = await startDev();
    throw new Error(`tenantql died (${dead.child.signalCode ?? `exit ${dead.child.exitCode}`}) answering this case; `
      + `stderr:\n${dead.stderr().slice(-1500)}`);
  }
  assert.equal(typeof r.body, 'object', `server answered ${r.status}: ${r.body}`);
  return r.body;
}

before(async () => {
  dev = await startDev();
  const users = dev.tenantPsql('acme', `SELECT json_build_object('id', id, 'email', email, 'firstName', first_name,
      'lastName', last_name, 'active', active,
      'c', floor(extract(epoch FROM created_at) * 1000000)::bigint,
      'u', floor(extract(epoch FROM updated_at) * 1000000)::bigint) FROM users`).map((l) => JSON.parse(l));
  const products = dev.tenantPsql('acme', `SELECT json_build_object('id', id, 'name', name, 'description', description,
      'price', price::text, 'stockQuantity', stock_quantity, 'active', active,
      'c', floor(extract(epoch FROM created_at) * 1000000)::bigint,
      'u', floor(extract(epoch FROM updated_at) * 1000000)::bigint) FROM products`).map((l) => JSON.parse(l));
  const token = dev.tokens.acme;
  const { sub } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
  assert.ok(users.length > 1000 && products.length >= 1000, 'demo data loaded');
  assert.equal(users.find((u) => u.id === sub)?.email, 'admin@acme.example', "acme's token names its admin");
  oracle = buildOracle({ users, products, sub });
});
after(async () => {
  for (const d of crashed) d.cleanup();
  if (!dev) return;
  const code = await dev.stop();
  dev.cleanup();
  assert.equal(code, 0, `server exit code (stderr:\n${dev.stderr().slice(-3000)})`);
});

test('the corpus has at least 150 cases', () => {
  assert.ok(caseFiles.length >= 150, `${caseFiles.length} cases`);
});

for (const file of caseFiles) {
  test(file.replace(/\.graphql$/, ''), async (t) => {
    const c = parseCase(file);
    const serverSetups = [], oracleSetups = [];
    const cursors = new Map();
    for (const s of c.setups) {
      const sq = substitute(s, serverSetups), oq = substitute(s, oracleSetups);
      const [sa, oa] = [await ask(sq), await oracle.run(oq)];
      assert.equal(sa.errors, undefined, `setup ${s} failed on the server: ${JSON.stringify(sa.errors)}`);
      assert.equal(oa.errors, undefined, `setup ${s} failed in the oracle: ${JSON.stringify(oa.errors)}`);
      pairCursors(oa, sa, cursors);
      serverSetups.push(sa);
      oracleSetups.push(oa);
    }
    const got = await ask(substitute(c.text, serverSetups), substituteValues(c.variables, serverSetups), c.operationName);
    const want = translateCursors(
      await oracle.run(substitute(c.text, oracleSetups), substituteValues(c.variables, oracleSetups), c.operationName),
      cursors);
    const explain = () => `\n--- document\n${clip(c.text, 1500)}\n--- tenantql\n${clip(JSON.stringify(got))}`
      + `\n--- graphql-js\n${clip(JSON.stringify(want))}`;
    assert.equal(JSON.stringify(got.data), JSON.stringify(want.data), `data differs${explain()}`);
    const gotErrors = (got.errors || []).map(errorKey), wantErrors = (want.errors || []).map(errorKey);
    assert.equal(gotErrors.length, wantErrors.length, `number of errors differs${explain()}`);
    assert.deepEqual([...gotErrors].sort(), [...wantErrors].sort(), `error paths/locations differ${explain()}`);
    if (JSON.stringify(gotErrors) !== JSON.stringify(wantErrors)) t.diagnostic('errors in another order than graphql-js');
  });
}
