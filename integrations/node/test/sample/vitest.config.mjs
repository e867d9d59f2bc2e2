import { defineConfig } from 'vitest/config';

// One run of stripe-vcr proxies for every Vitest worker.
export default defineConfig({
  test: {
    include: ['test/vitest/**/*.test.mjs'],
    globalSetup: ['stripe-vcr/vitest/global-setup'],
  },
});
