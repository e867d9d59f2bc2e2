'use strict';
// The sample app: a small shop that charges a cart, refunds part of an
// order, and places best-effort holds. It takes a Stripe client, as an app
// with dependency injection does; in its tests that client is stripe-vcr's.
//
// SAMPLE_AMOUNT_OFFSET (cents) changes every amount it charges: the suite
// sets it to show what a test that no longer matches its cassettes reports.
// SAMPLE_AUDIT=1 adds one request (a customer lookup) to a checkout: the
// suite sets it to show new_episodes recording what is missing.

function cartTotal(items) {
  const offset = Number(process.env.SAMPLE_AMOUNT_OFFSET || 0);
  return items.reduce((sum, item) => sum + item.price * item.quantity, 0) + offset;
}

async function checkout(stripe, { email, name, items, order }) {
  const customer = await stripe.customers.create({ email, name });
  const card = await stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_visa' } });
  await stripe.paymentMethods.attach(card.id, { customer: customer.id });
  let intent = await stripe.paymentIntents.create({
    amount: cartTotal(items),
    currency: 'usd',
    customer: customer.id,
    payment_method: card.id,
    payment_method_types: ['card'],
    metadata: { order },
  });
  intent = await stripe.paymentIntents.confirm(intent.id);
  if (process.env.SAMPLE_AUDIT === '1') {
    await stripe.customers.list({ email, limit: 1 });
  }
  return { customer: customer.id, intent: intent.id, status: intent.status, amount: intent.amount };
}

async function refund(stripe, paymentIntent, amount) {
  const made = await stripe.refunds.create({ payment_intent: paymentIntent, amount });
  return { id: made.id, status: made.status, amount: made.amount };
}

// Best effort: a hold that cannot be placed is no reason to stop the
// shopper, so API errors are swallowed (stripe-vcr still fails the test if
// the request was not in its cassettes).
async function placeHold(stripe, items) {
  try {
    const intent = await stripe.paymentIntents.create({
      amount: cartTotal(items),
      currency: 'usd',
      capture_method: 'manual',
      payment_method_types: ['card'],
    });
    return intent.id;
  } catch {
    return null;
  }
}

module.exports = { cartTotal, checkout, refund, placeHold };
