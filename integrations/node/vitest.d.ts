// Types of stripe-vcr/vitest.
import type { Runtime } from './lib/types.cjs';
import type { StripeVcr, StripeVcrOptions } from './index.js';

export {
  StripeVcr,
  StripeVcrMissError,
  StripeVcrSetCollisionError,
  formatReport,
  setNameFor,
  sanitizeSegment,
  resolveBinary,
} from './index.js';
export type { StripeVcrOptions, Report, RecordMode, Runtime, ProxyInfo } from './index.js';

/** The key stripe-vcr/vitest/global-setup provides the run under. */
export declare const PROVIDE_KEY: 'stripeVcr';

/** Registers Vitest hooks: every test gets its own cassette set and fails on a replay miss. */
export declare function setupStripeVcr(options?: StripeVcrOptions & { timeout?: number }): StripeVcr;

declare module 'vitest' {
  export interface ProvidedContext {
    stripeVcr?: Runtime;
  }
}
