// docs/reference.md is what tools/gen-reference.mjs makes from the programs now (their --help, config
// schemas, metrics and log calls): a changed option, key or metric without a regenerated file fails.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { root } from './harness.mjs';

it('docs/reference.md matches a fresh `node tools/gen-reference.mjs`', async () => {
  const { generate } = await import(join(root, 'tools/gen-reference.mjs'));
  const fresh = await generate();
  const committed = readFileSync(join(root, 'docs/reference.md'), 'utf8');
  assert.ok(
    committed === fresh,
    'docs/reference.md is stale: run `node tools/gen-reference.mjs` and commit it',
  );
});
