// cap.test.mjs - the global cap on tenant connections (--max-connections): with more
// tenants wanting connections than the cap allows, idle connections of other tenants
// are closed to make room, requests wait their turn instead of failing, the database
// never sees more connections than the cap, and every answer holds only its tenant's rows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, gql } from './lib/harness.mjs';

const CAP = 6;
const TENANTS = 12;
let dev;
const tokens = {};

before(async () => {
  dev = await startDev({ args: ['--max-connections', String(CAP)] });
  for (let i = 0; i < TENANTS; i++) {
    const name = `cap${i}`;
    dev.tenantql('tenant', 'create', name, '--pool-options', '{"max": 2}');
    dev.psql(`INSERT INTO users (email, password, first_name, last_name) VALUES ('who@${name}.example', 'x', 'Cap', '${i}')`,
      `tenant_${name}`);
    tokens[name] = dev.token({ tenantId: dev.tenantId(name) });
  }
  tokens.acme = dev.tokens.acme;
  tokens.globex = dev.tokens.globex;
});
after(() => stopDev(dev));

function tenantConnections() {
  return Number(dev.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenantql' AND backend_type = 'client backend' AND datname <> 'tenantql'")[0]);
}

test(`${TENANTS + 2} tenants under a cap of ${CAP} connections: no errors, never above the cap, no leaks`, async () => {
  let peak = 0, sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, tenantConnections());
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const names = Object.keys(tokens);
  let next = 0, failures = [];
  const worker = async () => {
    while (next < 700) {
      const name = names[(next++ * 7) % names.length];
      const r = await gql(dev.url, '{ users(first: 3) { edges { node { email } } } }', { token: tokens[name] });
      if (r.status !== 200 || r.body.errors) { failures.push(`${name}: ${r.status} ${JSON.stringify(r.body)}`); continue; }
      for (const e of r.body.data.users.edges)
        if (!e.node.email.endsWith(`@${name}.example`)) failures.push(`${e.node.email} in ${name}'s answer`);
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
  sampling = false;
  await sampler;
  assert.deepEqual(failures.slice(0, 5), []);
  assert.ok(peak <= CAP, `peak of ${peak} tenant connections, cap ${CAP}`);
  assert.ok(peak >= 2, `the load used connections (peak ${peak})`);
});
