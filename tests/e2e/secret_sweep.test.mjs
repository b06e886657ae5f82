// secret_sweep.test.mjs - runs last (meson: not in parallel, lowest priority): looks for
// every test secret (lib/secrets.mjs) in what the whole run's servers and commands printed
// (the harness keeps it in TQ_E2E_OUTPUT_DIR, one file per test file). A password in a
// log line, an error or a listing fails the run here, whichever test caused it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_SECRETS } from './lib/secrets.mjs';

const dir = process.env.TQ_E2E_OUTPUT_DIR;
const files = dir && existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.log')) : [];

test('no test secret in any output of the run', (t) => {
  if (files.length === 0) return t.skip('no outputs kept (run with the whole suite)');
  let bytes = 0;
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    bytes += text.length;
    for (const [name, secret] of Object.entries(TEST_SECRETS)) {
      assert.ok(!text.includes(secret), `${name} printed in ${f}: ${text.slice(Math.max(0, text.indexOf(secret) - 200), text.indexOf(secret) + 50)}`);
    }
  }
  t.diagnostic(`${files.length} outputs, ${bytes} bytes searched for ${Object.keys(TEST_SECRETS).length} secrets`);
});

// Access log lines (one JSON object each, from every server of the run): never a token
// (a JWT starts "eyJ"), a demo password or a test secret, whatever the tests sent.
test('no token or password in any access log line of the run', (t) => {
  if (files.length === 0) return t.skip('no outputs kept (run with the whole suite)');
  let lines = 0;
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.startsWith('{"time"')) continue;
      lines++;
      assert.doesNotThrow(() => JSON.parse(line), `${f}: not JSON: ${line}`);
      for (const bad of ['eyJ', 'demo-password', ...Object.values(TEST_SECRETS)])
        assert.ok(!line.includes(bad), `${f}: an access log line holds ${bad}: ${line}`);
    }
  }
  t.diagnostic(`${lines} access log lines searched`);
});
