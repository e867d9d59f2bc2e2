// The ES module face and stripe-vcr/vitest, as a TypeScript project uses them.
import Stripe from 'stripe';
import { createStripeVcr, formatReport, type Report } from 'stripe-vcr';
import { setupStripeVcr, StripeVcrMissError } from 'stripe-vcr/vitest';
import globalSetup from 'stripe-vcr/vitest/global-setup';
import { expect, inject, test } from 'vitest';

const vcr = setupStripeVcr({ apiKey: 'sk_test_types', timeout: 30_000 });

test('a client for the test', async () => {
  const stripe: Stripe = vcr.stripe({ maxNetworkRetries: 1 });
  const intent: Stripe.PaymentIntent = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
  const own = new Stripe('sk_test_types', { ...vcr.stripeConfig(), timeout: 10_000 });
  const headers: Record<string, string> = vcr.headers();
  const set: string | undefined = vcr.set;
  const runtime = inject('stripeVcr');
  expect([intent, own, headers, set, runtime?.record, globalSetup, StripeVcrMissError]).toBeDefined();
});

const explicit = createStripeVcr({ testFile: 'orders.test.mts', record: 'once' });
await explicit.start();
const name: string = await explicit.useTest('charges the cart');
await explicit.check();
const report: Report | undefined = await explicit.stop();
if (report) console.log(name, formatReport(report));

// @ts-expect-error not a record mode
createStripeVcr({ record: 'sometimes' });
// @ts-expect-error a client is a Stripe, not a number
const wrong: number = vcr.stripe();
