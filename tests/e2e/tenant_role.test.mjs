// tenant_role.test.mjs - a role per tenant (README, "Defence in depth: a role per tenant"):
// the demo tenants in schemas of one shared database; `tenant role acme on` makes every
// statement of acme run as tq_t_acme, which may use schema tenant_acme alone. Reads,
// writes, login and logout keep working for acme and for globex (still without a role);
// the role is really in force (take a right from it and acme's reads fail, globex's do
// not); PostgreSQL refuses tq_t_acme another tenant's schema; tables made later by the
// login role (a migration) are the role's too; `off` goes back to the login role; and the
// CLI refuses what would not keep tenants apart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev, stopDev, gql, until } from './lib/harness.mjs';

const SHARED = 'tenant_shared';
let dev;
before(async () => {
  dev = await startDev({ args: ['--demo-placement', 'schema'] });
});
after(() => stopDev(dev));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The CLI's failure: its stderr (the command must fail). */
function cliFails(...args) {
  try {
    dev.tenantql(...args);
  } catch (e) {
    return String(e.stderr);
  }
  assert.fail(`tenantql ${args.join(' ')} succeeded`);
}

/** psql's failure as the cluster's superuser on the shared database: its message. */
function psqlFails(sql) {
  try {
    dev.psql(sql, SHARED);
  } catch (e) {
    return String(e.stderr);
  }
  assert.fail(`${sql} succeeded`);
}

async function ok(name, query, variables) {
  const r = await gql(dev.url, query, { token: dev.tokens[name], variables });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.errors, undefined, `${name}: ${query}\n${JSON.stringify(r.body.errors)}`);
  return r.body.data;
}

const READ = `query($id: ID!) { me { id email } user(id: $id) { email } users(first: 3) { totalCount edges { node { email } } }
  products(first: 2, orderBy: PRICE_DESC) { totalCount edges { node { id name } } } }`;
const PRODUCTS = '{ products(first: 1) { totalCount } }';

/** Everything a tenant does, through the token of its admin (a sub: the revocation check reads users too). */
async function workload(name) {
  const me = (await ok(name, '{ me { id } }')).me;
  const d = await ok(name, READ, { id: me.id });
  assert.equal(d.me.email, `admin@${name}.example`);
  assert.equal(d.user.email, `admin@${name}.example`);
  assert.ok(d.users.totalCount > 0 && d.products.totalCount > 0);
  const created = (await ok(name, 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id name stockQuantity } }',
    { i: { name: `${name} role product`, price: '3.50', stockQuantity: 4 } })).createProduct;
  const updated = (await ok(name, 'mutation($id: ID!) { updateProduct(id: $id, input: { name: "renamed" }) { name } }',
    { id: created.id })).updateProduct;
  assert.equal(updated.name, 'renamed');
  const adjusted = (await ok(name, 'mutation($id: ID!) { adjustStock(id: $id, delta: -1) { stockQuantity } }',
    { id: created.id })).adjustStock;
  assert.equal(adjusted.stockQuantity, 3);
  assert.equal((await ok(name, 'mutation($id: ID!) { deleteProduct(id: $id) }', { id: created.id })).deleteProduct, true);
  // login reads users; logout writes revoked_tokens (and prunes it: DELETE)
  const r = await gql(dev.url, `mutation { login(tenant: "${name}", email: "admin@${name}.example",
    password: "${name}-demo-password") { token } }`);
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  const out = await gql(dev.url, 'mutation { logout }', { token: r.body.data.login.token });
  assert.deepEqual(out.body, { data: { logout: true } });
}

test('tenant role acme on: both tenants read and write as before, acme as tq_t_acme', async () => {
  assert.match(dev.tenantql('tenant', 'role', 'acme', 'on'), /^acme\trole tq_t_acme$/m);
  assert.equal(dev.psql("SELECT db_role FROM tenants WHERE name = 'acme'")[0], 'tq_t_acme');
  assert.equal(dev.psql("SELECT db_role IS NULL FROM tenants WHERE name = 'globex'")[0], 't');
  assert.match(dev.tenantql('tenant', 'list'), /^acme .* role tq_t_acme$/m);
  await sleep(1000); // running servers apply registry changes within a second
  for (let round = 0; round < 2; round++) // the second round runs prepared statements
    for (const name of ['acme', 'globex']) await workload(name);

  // the role is in force: without its right to read acme's products, acme's reads fail, globex's do not
  dev.psql('REVOKE SELECT ON tenant_acme.products FROM tq_t_acme', SHARED);
  try {
    const r = await until((x) => x.body.errors !== undefined, () => gql(dev.url, PRODUCTS, { token: dev.tokens.acme }), 3000);
    assert.equal(r.body.errors?.[0]?.extensions?.code, 'INTERNAL_SERVER_ERROR', JSON.stringify(r.body));
    assert.match(dev.stderr(), /42501 ERROR: {2}permission denied for table products/);
    await ok('globex', PRODUCTS);
    await ok('acme', '{ users(first: 1) { totalCount } }');
  } finally {
    dev.psql('GRANT SELECT ON tenant_acme.products TO tq_t_acme', SHARED);
  }
  await ok('acme', PRODUCTS);
});

test('PostgreSQL refuses tq_t_acme every schema but tenant_acme', () => {
  assert.equal(dev.psql('SET ROLE tq_t_acme; SELECT count(*) > 0 FROM tenant_acme.users', SHARED)[0], 't');
  assert.match(psqlFails('SET ROLE tq_t_acme; SELECT * FROM tenant_globex.users'), /permission denied for schema tenant_globex/);
  assert.match(psqlFails('SET ROLE tq_t_acme; DELETE FROM tenant_globex.products'), /permission denied for schema tenant_globex/);
  assert.match(psqlFails('SET ROLE tq_t_acme; CREATE TABLE tenant_acme.mine (x int)'), /permission denied for schema tenant_acme/);
  // its role is NOLOGIN and granted to the shared login role, which may switch to it
  assert.deepEqual(dev.psql(`SELECT rolcanlogin, rolsuper, pg_has_role('tq_shared', 'tq_t_acme', 'MEMBER')
    FROM pg_roles WHERE rolname = 'tq_t_acme'`), ['f\tf\tt']);
});

test('a table the login role makes later (a migration) is the role\'s to use as well', () => {
  dev.psql('SET ROLE tq_shared; CREATE TABLE tenant_acme.later (x int)', SHARED);
  assert.equal(dev.psql('SET ROLE tq_t_acme; INSERT INTO tenant_acme.later VALUES (7); SELECT sum(x) FROM tenant_acme.later', SHARED)[0], '7');
  dev.psql('DROP TABLE tenant_acme.later', SHARED);
});

test('refused: a role for a database-placed tenant, PostgreSQL\'s or another tenant\'s role, the login role', () => {
  assert.match(cliFails('tenant', 'create', 'solo', '--role'), /placement schema.*"solo" has a database of its own/);
  assert.equal(dev.psql("SELECT count(*) FROM tenants WHERE name = 'solo'")[0], '0');
  assert.match(cliFails('tenant', 'role', 'globex', 'on', '--role-name', 'tq_t_acme'), /already belongs to tenant "acme"/);
  assert.match(cliFails('tenant', 'role', 'globex', 'on', '--role-name', 'tq_shared'), /must not be the login role/);
  assert.match(cliFails('tenant', 'role', 'globex', 'on', '--role-name', 'pg_monitor'), /invalid role name/);
  dev.psql('CREATE ROLE tq_too_strong SUPERUSER');
  assert.match(cliFails('tenant', 'role', 'globex', 'on', '--role-name', 'tq_too_strong'), /is a superuser/);
  assert.match(cliFails('tenant', 'role', 'nobody', 'on'), /no tenant named "nobody"/);
  assert.match(cliFails('tenant', 'role', 'globex', 'sometimes'), /usage: tenantql tenant role NAME on\|off/);
  assert.equal(dev.psql("SELECT count(*) FROM tenants WHERE db_role IS NOT NULL AND name <> 'acme'")[0], '0');
});

test('tenant create --placement schema --role: a new tenant with its role from the start', async () => {
  dev.tenantql('tenant', 'create', 'initech', '--placement', 'schema', '--database', SHARED, '--db-host', '127.0.0.1',
    '--db-port', String(dev.pgPort), '--db-user', 'tq_shared', '--db-password',
    dev.psql("SELECT db_password FROM tenants WHERE name = 'acme'")[0], '--role');
  assert.equal(dev.psql("SELECT db_role FROM tenants WHERE name = 'initech'")[0], 'tq_t_initech');
  assert.match(psqlFails('SET ROLE tq_t_initech; SELECT * FROM tenant_acme.users'), /permission denied for schema tenant_acme/);
  const token = dev.token({ tenantId: dev.tenantId('initech') });
  const r = await until((x) => x.status === 200, () => gql(dev.url, PRODUCTS, { token }), 3000);
  assert.deepEqual(r.body, { data: { products: { totalCount: 0 } } });
  const c = await gql(dev.url, 'mutation { createProduct(input: { name: "first", price: 1 }) { name } }', { token });
  assert.deepEqual(c.body, { data: { createProduct: { name: 'first' } } });
});

test('tenant role acme off: the login role again', async () => {
  assert.match(dev.tenantql('tenant', 'role', 'acme', 'off'), /^acme\tno role$/m);
  assert.equal(dev.psql("SELECT db_role IS NULL FROM tenants WHERE name = 'acme'")[0], 't');
  // the role and its rights stay; without them acme's reads work all the same once the server has let go of the role
  dev.psql('REVOKE SELECT ON tenant_acme.products FROM tq_t_acme', SHARED);
  try {
    const r = await until((x) => x.body.errors === undefined, () => gql(dev.url, PRODUCTS, { token: dev.tokens.acme }), 3000);
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    await workload('acme');
  } finally {
    dev.psql('GRANT SELECT ON tenant_acme.products TO tq_t_acme', SHARED);
  }
  // and on again with the role it had
  assert.match(dev.tenantql('tenant', 'role', 'acme', 'on'), /^acme\trole tq_t_acme$/m);
  await sleep(1000);
  await workload('acme');
});
