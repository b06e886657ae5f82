// graphiql.test.mjs - GraphiQL served by tenantql itself: browsers get the page at /graphql
// and /, every file it loads comes from us (the pinned npm files, compiled in), nothing
// points at another host, dev pre-fills acme's token, plain serve does not, and
// --graphiql off serves no HTML. When Debian's chromium is installed (bootstrap installs
// it), playwright-core drives it through GraphiQL: run the query, read the result pane,
// take a screenshot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { startDev, stopDev, startServe } from './lib/harness.mjs';

const WEB = new URL('../../web/node_modules/', import.meta.url).pathname;
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

let dev;
before(async () => {
  dev = await startDev();
});
after(() => stopDev(dev));

const origin = () => dev.url.replace(/\/graphql$/, '');

async function getPage(url) {
  const res = await fetch(url, { headers: { accept: BROWSER_ACCEPT } });
  return { res, html: await res.text() };
}

/** Every src= and href= value of the page. */
function references(html) {
  return [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']*)["']/gi)].map((m) => m[1]);
}

test('a browser asking for /graphql or / gets the GraphiQL page', async () => {
  for (const url of [dev.url, `${origin()}/`]) {
    const { res, html } = await getPage(url);
    assert.equal(res.status, 200, url);
    assert.match(res.headers.get('content-type'), /^text\/html; charset=utf-8$/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(html, /<div id="graphiql">/);
    assert.match(html, /GraphiQL\.createFetcher/);
  }
  // HEAD: the same headers, no body
  const head = await fetch(dev.url, { method: 'HEAD', headers: { accept: 'text/html' } });
  assert.equal(head.status, 200);
  assert.match(head.headers.get('content-type'), /text\/html/);
  assert.ok(Number(head.headers.get('content-length')) > 500);
  assert.equal((await head.arrayBuffer()).byteLength, 0);
});

test('GraphQL clients still get GraphQL at /graphql, and nothing at /', async () => {
  for (const accept of ['*/*', 'application/json', 'application/graphql-response+json', 'text/html, application/json']) {
    const res = await fetch(dev.url, { headers: { accept } });
    assert.equal(res.status, 400, accept);
    assert.match(res.headers.get('content-type'), /json/, accept);
    assert.match((await res.json()).errors[0].message, /Missing query/);
  }
  const root = await fetch(`${origin()}/`, { headers: { accept: '*/*' } });
  assert.equal(root.status, 404);
  await root.arrayBuffer();
  const post = await fetch(dev.url, {
    method: 'POST', headers: { accept: BROWSER_ACCEPT, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  assert.deepEqual(await post.json(), { data: { __typename: 'Query' } });
});

test('every script and stylesheet is ours, versioned, typed and cacheable forever', async () => {
  const { html } = await getPage(dev.url);
  const refs = references(html);
  assert.equal(refs.length, 4, refs.join(' '));
  const want = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
  for (const ref of refs) {
    assert.ok(ref.startsWith('/') && !ref.startsWith('//'), `${ref} is not on this server`);
    const m = ref.match(/^\/graphiql\/([a-z-]+)@(\d+\.\d+\.\d+)\/([\w.-]+\.(js|css))$/);
    assert.ok(m, `${ref} has no package@version path`);
    const [, pkg, version, file, ext] = m;
    // the version in the URL is the one pinned and installed
    assert.equal(JSON.parse(readFileSync(`${WEB}${pkg}/package.json`, 'utf8')).version, version);
    const local = [`${WEB}${pkg}/${file}`, `${WEB}${pkg}/umd/${file}`].find(existsSync);

    // gzip when the client takes it (fetch does, and inflates transparently)
    const res = await fetch(`${origin()}${ref}`);
    assert.equal(res.status, 200, ref);
    assert.equal(res.headers.get('content-type'), want[ext], ref);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(res.headers.get('content-encoding'), 'gzip', ref);
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.length > 5000, `${ref}: only ${body.length} bytes`);
    assert.ok(body.equals(readFileSync(local)), `${ref} differs from ${local}`);

    // plain bytes otherwise
    const plain = await fetch(`${origin()}${ref}`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.equal(Number(plain.headers.get('content-length')), body.length);
    assert.ok(Buffer.from(await plain.arrayBuffer()).equals(body));
  }
  const missing = await fetch(`${origin()}/graphiql/graphiql@0.0.0/graphiql.min.js`);
  assert.equal(missing.status, 404);
  await missing.arrayBuffer();
  const gz = await fetch(`${origin()}${refs.find((r) => r.endsWith('.js'))}.gz`);
  assert.equal(gz.status, 404, 'the gzip copies are not URLs of their own');
  await gz.arrayBuffer();
  const put = await fetch(`${origin()}${refs[0]}`, { method: 'PUT', body: 'x' });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get('allow'), 'GET, HEAD');
  await put.arrayBuffer();
});

test('the page names no other host, and its policy forbids loading from one', async () => {
  const { res, html } = await getPage(dev.url);
  for (const ref of references(html))
    assert.doesNotMatch(ref, /^(https?:)?\/\//i, `external reference ${ref}`);
  assert.doesNotMatch(html, /\b(?:src|href)\s*=\s*["']?\s*https?:/i);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self' 'sha256-/);
  assert.match(csp, /connect-src 'self'/);
  // the inline boot script is the one the policy lets run
  const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  assert.equal(inline.length, 1);
  const hash = createHash('sha256').update(inline[0]).digest('base64');
  assert.ok(csp.includes(`'sha256-${hash}'`), 'CSP hash of the boot script');
});

test('dev pre-fills acme\'s token and a query that runs as is', async () => {
  const { html } = await getPage(dev.url);
  const config = JSON.parse(html.match(/<script id="tenantql-config" type="application\/json">([^<]*)<\/script>/)[1]);
  assert.deepEqual(JSON.parse(config.defaultHeaders), { Authorization: `Bearer ${dev.tokens.acme}` });
  assert.ok(html.includes(dev.tokens.acme));
  assert.equal(config.endpoint, '/graphql');
  // what one click on "run" sends
  const res = await fetch(dev.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...JSON.parse(config.defaultHeaders) },
    body: JSON.stringify({ query: config.defaultQuery }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.errors, undefined, JSON.stringify(body));
  assert.equal(body.data.me.email, 'admin@acme.example');
  assert.equal(body.data.users.edges.length, 3);
  assert.match(dev.stdout(), /GraphiQL: +http:\/\/127\.0\.0\.1:\d+\/graphql in a browser/);
});

test('plain serve shows GraphiQL without any token', async () => {
  const serve = await startServe(dev, [], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    const { res, html } = await getPage(`${serve.origin}/graphql`);
    assert.equal(res.status, 200);
    assert.match(html, /<div id="graphiql">/);
    const config = JSON.parse(html.match(/<script id="tenantql-config" type="application\/json">([^<]*)<\/script>/)[1]);
    assert.deepEqual(config, { endpoint: '/graphql' });
    assert.doesNotMatch(html, /Bearer|eyJ/);
    for (const token of Object.values(dev.tokens)) assert.ok(!html.includes(token));
  } finally {
    await serve.stop();
  }
});

test('--graphiql off serves no HTML', async () => {
  const serve = await startServe(dev, ['--graphiql', 'off'], { TENANTQL_JWT_SECRET: dev.secret });
  try {
    const { res, html } = await getPage(`${serve.origin}/graphql`);
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type'), /json/);
    assert.doesNotMatch(html, /<html/i);
    const root = await getPage(`${serve.origin}/`);
    assert.equal(root.res.status, 404);
    assert.doesNotMatch(root.html, /graphiql/i);
    const asset = await fetch(`${serve.origin}${references((await getPage(dev.url)).html)[0]}`);
    assert.equal(asset.status, 404);
    await asset.arrayBuffer();
  } finally {
    await serve.stop();
  }
});

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
async function answered200() {
  const text = await dev.metrics();
  return Number(text.match(/^tenantql_http_responses_total\{status="200"\} (\d+)$/m)?.[1] ?? 0);
}

// Debian's chromium driven by playwright-core (its own browser downloads cannot work
// here): the newcomer's path - open the page dev prints, press run, read the answer.
test('in headless chromium, GraphiQL runs the pre-filled query with the pre-filled token', { skip: !chromium && !process.env.CI && 'no chromium (scripts/bootstrap --tests installs it)' }, async () => {
  assert.ok(chromium, 'chromium is installed (scripts/bootstrap --tests)');
  const { chromium: driver } = await import('playwright-core');
  const before = await answered200();
  const browser = await driver.launch({ executablePath: chromium, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const failed = [];
    page.on('requestfailed', (req) => failed.push(req.url()));
    page.on('request', (req) => { if (!req.url().startsWith(origin())) failed.push(`foreign: ${req.url()}`); });
    await page.goto(dev.url);
    await page.locator('.graphiql-container').waitFor({ timeout: 30000 });
    const editor = await page.locator('.graphiql-query-editor').innerText();
    assert.match(editor, /users\(first: 3\)/, 'the sample query is in the editor');
    await page.locator('.graphiql-execute-button').click();
    const result = page.locator('.result-window');
    await result.filter({ hasText: '@acme.example' }).waitFor({ timeout: 30000 });
    const text = await result.innerText();
    assert.match(text, /"edges"/);
    assert.doesNotMatch(text, /"errors"/, 'the pre-filled token was sent');
    assert.doesNotMatch(text, /@globex\.example/, 'only acme rows');

    const shot = await page.screenshot({ path: process.env.TQ_SCREENSHOT ?? `${dev.dir}/graphiql.png`, fullPage: false });
    assert.deepEqual([...shot.subarray(1, 4)], [...Buffer.from('PNG')], 'a PNG');
    // a rendered page, not a blank one: the screenshot has many distinct colours
    const { default: zlib } = await import('node:zlib');
    assert.ok(distinctColours(shot, zlib) > 20, 'the screenshot shows a rendered page');
    assert.deepEqual(failed, [], 'every request went to tenantql and succeeded');
  } finally {
    await browser.close();
  }
  // the page, its introspection query and the run query
  assert.ok(await answered200() >= before + 3, 'GraphiQL introspected the schema and ran the query');
});

/** Counts distinct RGB colours of an 8-bit RGB(A) non-interlaced PNG (what chromium writes). */
function distinctColours(png, zlib) {
  let off = 8, width = 0, channels = 4;
  const idat = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off), type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') { width = data.readUInt32BE(0); channels = data[9] === 6 ? 4 : 3; }
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels, seen = new Set();
  let prev = Buffer.alloc(stride);
  for (let y = 0; (y + 1) * (stride + 1) <= raw.length; y++) {
    const filter = raw[y * (stride + 1)], line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? line[x - channels] : 0, b = prev[x], c = x >= channels ? prev[x - channels] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      line[x] = (line[x] + pred) & 255;
    }
    for (let x = 0; x < stride; x += channels) seen.add((line[x] << 16) | (line[x + 1] << 8) | line[x + 2]);
    prev = line;
  }
  return seen.size;
}
