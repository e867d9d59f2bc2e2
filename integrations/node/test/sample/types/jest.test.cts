// The CommonJS face and stripe-vcr/jest, as a TypeScript project (ts-jest) uses them.
import Stripe = require('stripe');
import { setupStripeVcr, setNameFor } from 'stripe-vcr/jest';
import core = require('stripe-vcr');
import { expect, test } from '@jest/globals';

const vcr = setupStripeVcr({ timeout: 30_000 });

test('a client for the test', async () => {
  const stripe: Stripe = vcr.stripe();
  const customer: Stripe.Customer = await stripe.customers.create({ email: 'jenny@example.com' });
  expect(customer.id).toBeDefined();
  expect(setNameFor('test/a.test.js', 'x')).toBe('test/a.test/x');
  expect(core.createStripeVcr).toBeDefined();
});

// @ts-expect-error a client is a Stripe, not a number
const wrong: number = vcr.stripe();
