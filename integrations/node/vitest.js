// stripe-vcr for Vitest: setupStripeVcr() in a test file (or a setupFiles
// module) gives every test its own cassette set and fails it on a replay miss.
// With stripe-vcr/vitest/global-setup in `globalSetup`, one run of proxies
// serves every worker (handed down with provide/inject); without it, each
// test file starts its own.
import { afterAll, afterEach, beforeAll, beforeEach, inject } from 'vitest';
import core from './lib/core.cjs';

/** The key the global setup provides the run under. */
export const PROVIDE_KEY = 'stripeVcr';

/** The test's title chain, outermost describe first. */
function titles(task) {
  const out = [];
  for (let t = task; t && !t.filepath; t = t.suite) out.unshift(t.name);
  return out;
}

/**
 * Registers the hooks and returns the StripeVcr handle: `vcr.stripe()` is a
 * Stripe client for the running test. options: see StripeVcr (apiKey, Stripe,
 * record, cassettes, …) and `timeout` for the hooks (default 60 s).
 */
export function setupStripeVcr(options = {}) {
  const { timeout = 60_000, ...rest } = options;
  const vcr = new core.StripeVcr({
    loadStripe: async () => (await import('stripe')).default,
    ...rest,
  });
  beforeAll(async () => {
    await vcr.start(rest.runtime || inject(PROVIDE_KEY));
  }, timeout);
  beforeEach(async (context) => {
    const task = context.task;
    await vcr.useTest(core.fullTestName(titles(task)), { file: task.file && task.file.filepath });
  }, timeout);
  afterEach(() => vcr.check(), timeout);
  afterAll(() => vcr.finish(), timeout);
  return vcr;
}

export const {
  StripeVcr,
  StripeVcrMissError,
  StripeVcrSetCollisionError,
  formatReport,
  setNameFor,
  sanitizeSegment,
  resolveBinary,
} = core;
