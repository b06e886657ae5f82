// dev.test.mjs - the newcomer's path: `tenantql dev` starts, its printed token answers a
// query, Ctrl-C (SIGINT) stops server and cluster cleanly, and a second run reuses the
// data and the secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDev, gql } from './lib/harness.mjs';

test('dev starts, serves its printed token, stops cleanly, and restarts on the same data', async () => {
  const dev = await startDev();
  try {
    assert.match(dev.stdout(), /GraphQL endpoint: +http:\/\/127\.0\.0\.1:\d+\/graphql/);
    assert.match(dev.stdout(), /curl -s http/);
    const r = await gql(dev.url, '{ users(first: 3) { totalCount edges { node { email } } } }', { token: dev.tokens.acme });
    assert.equal(r.status, 200);
    assert.equal(r.body.data.users.totalCount, 1001);
    for (const e of r.body.data.users.edges) assert.ok(e.node.email.endsWith('@acme.example'));
    const products = dev.tenantPsql('globex', 'SELECT count(*) FROM products')[0];
    assert.equal(products, '1000');

    dev.child.kill('SIGINT');
    assert.equal(await dev.stop(), 0, dev.stderr().slice(-2000));
    assert.equal(existsSync(join(dev.dir, 'pg', 'data', 'postmaster.pid')), false, 'the cluster is stopped');

    const again = await startDev({ dir: dev.dir });
    const r2 = await gql(again.url, '{ me { email } }', { token: dev.tokens.globex });
    assert.deepEqual(r2.body, { data: { me: { email: 'admin@globex.example' } } }, 'old token still valid');
    assert.equal(again.tenantPsql('acme', 'SELECT count(*) FROM users')[0], '1001', 'no duplicate demo data');
    assert.equal(await again.stop(), 0, again.stderr().slice(-2000));
  } finally {
    dev.cleanup();
  }
});
