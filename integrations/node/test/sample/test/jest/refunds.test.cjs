const { setupStripeVcr } = require('stripe-vcr/jest');
const { checkout, refund } = require('../../src/shop.cjs');
const { note } = require('../support/note.cjs');

const vcr = setupStripeVcr();

test('refunds part of an order', async () => {
  note('jest', vcr);
  const stripe = vcr.stripe();
  const order = await checkout(stripe, {
    email: 'ada@example.com',
    name: 'Ada Lovelace',
    items: [{ price: 4000, quantity: 1 }],
    order: 'jest-1002',
  });
  const made = await refund(stripe, order.intent, 1500);
  expect(made.status).toBe('succeeded');
  expect(made.amount).toBe(1500);
});
