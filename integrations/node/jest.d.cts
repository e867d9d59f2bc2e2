// Types of stripe-vcr/jest.
import type { StripeVcr, StripeVcrOptions } from './lib/core.cjs';

export * from './lib/core.cjs';

/** Registers Jest hooks: every test gets its own cassette set and fails on a replay miss. */
export declare function setupStripeVcr(options?: StripeVcrOptions & { timeout?: number }): StripeVcr;
