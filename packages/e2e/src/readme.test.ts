import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const pkg = join(import.meta.dirname, '..');

describe('README', () => {
  it('shows exactly the example that src/readme-example.test.ts runs', () => {
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Testing forwarding scenarios'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block, 'no ts block in "Testing forwarding scenarios"').toBeDefined();
    const test = readFileSync(join(pkg, 'src', 'readme-example.test.ts'), 'utf8');
    const body = test.slice(test.indexOf('\n') + 1).replace("from './index.js';", "from '@ftpfwd/e2e';");
    expect(body).toBe(block);
  });
});
