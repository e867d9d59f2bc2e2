// Types of stripe-vcr/vitest/global-setup.
/** Starts the run's proxies and provides them to the workers; returns the teardown. */
export default function stripeVcrGlobalSetup(project: {
  provide(key: 'stripeVcr', value: unknown): void;
}): Promise<() => Promise<void>>;
