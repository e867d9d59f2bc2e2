// node:test has no plugin hooks: the runner-neutral API, called explicitly.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createStripeVcr } from 'stripe-vcr';
import shop from '../../src/shop.cjs';
import support from '../support/note.cjs';

const vcr = createStripeVcr({ testFile: fileURLToPath(import.meta.url) });
before(() => vcr.start());
beforeEach((t) => vcr.useTest(t.name));
afterEach(() => vcr.check());
after(() => vcr.finish());

test('charges the cart', async () => {
  support.note('node', vcr);
  const order = await shop.checkout(vcr.stripe(), {
    email: 'grace@example.com',
    name: 'Grace Hopper',
    items: [{ price: 999, quantity: 3 }],
    order: 'node-1001',
  });
  assert.equal(order.status, 'succeeded');
  assert.equal(order.amount, 2997);
});
