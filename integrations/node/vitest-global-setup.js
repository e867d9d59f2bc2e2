// Vitest globalSetup: starts the run's proxies once and provides their
// coordinates to the workers (inject('stripeVcr')); the teardown stops them
// and prints the unused cassettes of the sets the tests used.
import core from './lib/core.cjs';

export default async function stripeVcrGlobalSetup(project) {
  const run = await core.startRun();
  project.provide('stripeVcr', run.runtime);
  return async () => core.reportOrThrow(await run.stop());
}
