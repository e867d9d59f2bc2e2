// Types of the CommonJS face (require('stripe-vcr'), stripe-vcr/jest).
import Stripe = require('stripe');
import type { StripeVcrHandle, StripeVcrOptions as Options } from './types.cjs';

export * from './types.cjs';

export type StripeVcrOptions = Options<typeof Stripe>;
export interface StripeVcr extends StripeVcrHandle<Stripe, Stripe.StripeConfig> {}
export declare const StripeVcr: new (options?: StripeVcrOptions) => StripeVcr;
export declare function createStripeVcr(options?: StripeVcrOptions): StripeVcr;
