'use strict';
// Jest globalTeardown: stops the run's proxies and prints the unused
// cassettes of the sets the tests used, and the proxies' summaries.

const { reportOrThrow, RUNTIME_ENV } = require('./lib/core.cjs');

module.exports = async function stripeVcrGlobalTeardown() {
  const run = globalThis.__stripeVcrRun;
  if (!run) return;
  globalThis.__stripeVcrRun = undefined;
  delete process.env[RUNTIME_ENV];
  reportOrThrow(await run.stop());
};
