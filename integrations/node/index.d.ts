// Types of the ES module face (import … from 'stripe-vcr').
import type Stripe from 'stripe';
import type { StripeVcrHandle, StripeVcrOptions as Options } from './lib/types.cjs';

export * from './lib/types.cjs';

export type StripeVcrOptions = Options<typeof Stripe>;
export interface StripeVcr extends StripeVcrHandle<Stripe, Stripe.StripeConfig> {}
export declare const StripeVcr: new (options?: StripeVcrOptions) => StripeVcr;
/** A StripeVcr for explicit use: start, useTest(name), check, stop (or finish). */
export declare function createStripeVcr(options?: StripeVcrOptions): StripeVcr;
/** Imports the `stripe` package (its ES module build). */
export declare function loadStripe(): Promise<typeof Stripe>;
