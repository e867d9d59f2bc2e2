// stripe-vcr for any runner (node:test, mocha, …): start, useTest, check, stop.
// The implementation is CommonJS (lib/core.cjs) so Jest can require it
// without --experimental-vm-modules; this is its ES module face.
import core from './lib/core.cjs';

export const {
  RECORD_MODES,
  RUNTIME_ENV,
  PLATFORMS,
  StripeVcr,
  StripeVcrMissError,
  StripeVcrSetCollisionError,
  startRun,
  readConfig,
  runtimeFromEnv,
  formatReport,
  reportOrThrow,
  usedSets,
  resolveBinary,
  platformPackageName,
  setNameFor,
  sanitizeSegment,
  fullTestName,
} = core;

/** The ES module build of `stripe`, as the tests import it (so `instanceof` checks agree). */
export async function loadStripe() {
  return (await import('stripe')).default;
}

/** A StripeVcr for explicit use: start, useTest(name), check, stop (or finish). */
export function createStripeVcr(options = {}) {
  return new StripeVcr({ loadStripe: loadStripeWithFallback, ...options });
}

async function loadStripeWithFallback() {
  try {
    return await loadStripe();
  } catch (error) {
    if (error.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    // Installed from a folder (a symlink): the project's copy, CommonJS build.
    const { createRequire } = await import('node:module');
    const path = await import('node:path');
    return createRequire(path.join(process.cwd(), 'package.json'))('stripe');
  }
}
