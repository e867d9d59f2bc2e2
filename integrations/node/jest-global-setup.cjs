'use strict';
// Jest globalSetup: starts the run's proxies once; workers join them through
// STRIPE_VCR_RUNTIME, which they inherit.

const { startRun, RUNTIME_ENV } = require('./lib/core.cjs');

module.exports = async function stripeVcrGlobalSetup() {
  const run = await startRun();
  globalThis.__stripeVcrRun = run;
  process.env[RUNTIME_ENV] = JSON.stringify(run.runtime);
};
