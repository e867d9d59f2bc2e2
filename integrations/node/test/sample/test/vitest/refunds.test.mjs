import { expect, test } from 'vitest';
import { setupStripeVcr } from 'stripe-vcr/vitest';
import { checkout, refund } from '../../src/shop.cjs';
import { note } from '../support/note.cjs';

const vcr = setupStripeVcr();

test('refunds part of an order', async () => {
  note('vitest', vcr);
  const stripe = vcr.stripe();
  const order = await checkout(stripe, {
    email: 'ada@example.com',
    name: 'Ada Lovelace',
    items: [{ price: 4000, quantity: 1 }],
    order: 'vitest-1002',
  });
  const made = await refund(stripe, order.intent, 1500);
  expect(made.status).toBe('succeeded');
  expect(made.amount).toBe(1500);
});
