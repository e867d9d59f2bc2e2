import { defineConfig } from 'vitest/config';

// No global setup: each test file starts (and stops) its own proxies.
export default defineConfig({
  test: {
    include: ['test/vitest/**/*.test.mjs'],
  },
});
