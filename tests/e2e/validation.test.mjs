// Differential test of document validation: every document of tests/corpus/validation
// goes through graphql-js 16.8's validate() (the reference) and through tq_validate_cli
// (our validator); both must report the same number of errors with the same locations
// in the same order. Messages may differ in wording.
//
// The schema is schema/schema.graphql; its custom scalars get parseLiteral functions
// with the contract's rules (the same ones the server applies), so that literal checks
// of DateTime and Decimal can be compared too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'package.json'));
const { buildSchema, parse, validate, Kind } = require('graphql');

const cli = process.env.TQ_VALIDATE_CLI;
const schemaPath = join(here, '..', '..', 'schema', 'schema.graphql');
const corpusDir = join(here, '..', 'corpus', 'validation');

// RFC 3339 date-time, as src/graphql/scalars.c checks it.
function isDateTime(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return false;
  const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60;
}

// The contract's Decimal: JSON number grammar, at most 8 integer and 2 fractional
// significant digits.
function isDecimal(text) {
  const m = /^-?(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return false;
  const intPart = m[1], frac = m[2] ?? '';
  if (intPart.length + frac.length > 128) return false;
  const digits = intPart + frac;
  let exp = m[3] === undefined ? 0 : Math.max(-100000, Math.min(100000, parseInt(m[3], 10)));
  const point = intPart.length + exp;
  let first = 0, last = digits.length;
  while (first < last && digits[first] === '0') first++;
  while (last > first && digits[last - 1] === '0') last--;
  if (first === last) return true;
  return point - first <= 8 && last - point <= 2;
}

function schemaWithContractScalars() {
  const schema = buildSchema(readFileSync(schemaPath, 'utf8'));
  schema.getType('DateTime').parseLiteral = (node) => {
    if (node.kind !== Kind.STRING || !isDateTime(node.value)) throw new TypeError('expected an RFC 3339 date-time string');
    return node.value;
  };
  schema.getType('Decimal').parseLiteral = (node) => {
    const ok = [Kind.STRING, Kind.INT, Kind.FLOAT].includes(node.kind) && isDecimal(node.value);
    if (!ok) throw new TypeError('expected a number with at most 8 integer and 2 fractional digits');
    return node.value;
  };
  return schema;
}

const schema = schemaWithContractScalars();
const files = readdirSync(corpusDir).filter((f) => f.endsWith('.graphql')).sort();

test('the corpus is large enough', () => {
  assert.ok(cli, 'TQ_VALIDATE_CLI must name the tq_validate_cli executable');
  assert.ok(files.length >= 120, `only ${files.length} documents`);
});

const locs = (e) => (e.locations ?? []).map((l) => `${l.line}:${l.column}`).join(' ');

for (const file of files) {
  test(file, () => {
    const path = join(corpusDir, file);
    const text = readFileSync(path, 'utf8');
    const ours = JSON.parse(execFileSync(cli, [schemaPath, path], { encoding: 'utf8' }));
    let doc;
    try {
      doc = parse(text);
    } catch (e) {
      assert.ok(ours.syntaxError, `graphql-js: ${e.message}; we parsed it`);
      return;
    }
    assert.ok(Array.isArray(ours), `we did not parse it: ${ours.syntaxError}`);
    const theirs = validate(schema, doc);
    const want = theirs.map((e) => `${locs(e)}  (${e.message})`);
    const got = ours.map((e) => `${locs(e)}  (${e.message})`);
    assert.deepEqual(
      ours.map(locs),
      theirs.map(locs),
      `errors differ\n  graphql-js:\n    ${want.join('\n    ')}\n  ours:\n    ${got.join('\n    ')}`,
    );
  });
}
