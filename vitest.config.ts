import { defineConfig } from 'vitest/config';

// One vitest project per package: `npx vitest` at the root runs them all;
// `npm test` runs them through nx so each package is built first.
export default defineConfig({
  test: {
    projects: ['packages/*'],
  },
});
