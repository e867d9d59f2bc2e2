'use strict';
// stripe-vcr for Jest: setupStripeVcr() in a test file (or a setupFilesAfterEnv
// module) gives every test its own cassette set and fails it on a replay miss.
// With stripe-vcr/jest/global-setup and stripe-vcr/jest/global-teardown in the
// Jest config, one run of proxies serves every worker; without them, each test
// file starts its own.

const core = require('./lib/core.cjs');

function jestGlobals() {
  if (typeof globalThis.beforeAll === 'function' && typeof globalThis.expect === 'function') {
    return globalThis;
  }
  // injectGlobals: false
  return require('@jest/globals');
}

/**
 * Registers the hooks and returns the StripeVcr handle: `vcr.stripe()` is a
 * Stripe client for the running test. options: see StripeVcr (apiKey, Stripe,
 * record, cassettes, …) and `timeout` for the hooks (default 60 s).
 */
function setupStripeVcr(options = {}) {
  const { timeout = 60_000, ...rest } = options;
  const { beforeAll, beforeEach, afterEach, afterAll, expect } = jestGlobals();
  const vcr = new core.StripeVcr(rest);
  beforeAll(() => vcr.start(), timeout);
  beforeEach(async () => {
    const state = expect.getState();
    await vcr.useTest(state.currentTestName, { file: state.testPath });
  }, timeout);
  afterEach(() => vcr.check(), timeout);
  afterAll(() => vcr.finish(), timeout);
  return vcr;
}

module.exports = { ...core, setupStripeVcr };
