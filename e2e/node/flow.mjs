// The e2e application flow for stripe-node (22.5.0), run through stripe-vcr.
//
//   NODE_EXTRA_CA_CERTS=CA_PEM node flow.mjs --mode base-url|proxy --port PORT [--key sk_test_...]
//
// Prints a normalised transcript, one JSON object per line, that must be the
// same when recording (through stripe-vcr to the stand-in upstream) and when
// replaying. Client secrets are never printed: they are real while recording
// and redacted in replay.
//
// In an application this is simply
//   import Stripe from 'stripe';
//   import { HttpsProxyAgent } from 'https-proxy-agent';
// the SDKs live under target/e2e/node (never committed), so they are loaded
// from there (E2E_NODE_DIR) instead of a node_modules next to this file.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.E2E_NODE_DIR || path.join(here, '..', '..', 'target', 'e2e', 'node');
const requireFromSdk = createRequire(path.join(path.resolve(nodeDir), 'package.json'));
const load = async (name) => import(pathToFileURL(requireFromSdk.resolve(name)).href);

const { default: Stripe } = await load('stripe');
const { HttpsProxyAgent } = await load('https-proxy-agent');

const ORDER = 'e2e-node-1001';
const SECOND_ORDER = 'e2e-node-1002';
const RETRY_ORDER = 'e2e-node-1003';
const CHECKOUT_ORDER = 'e2e-node-2001';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string' },
    port: { type: 'string' },
    key: { type: 'string', default: 'sk_test_e2eNodeFlowKey0123456789' },
  },
});
if (!args.port || !['base-url', 'proxy'].includes(args.mode)) {
  console.error('usage: node flow.mjs --mode base-url|proxy --port PORT [--key KEY]');
  process.exit(2);
}
if (!process.env.NODE_EXTRA_CA_CERTS) {
  console.error('NODE_EXTRA_CA_CERTS must name the proxy CA (stripe-vcr certs/ca.pem)');
  process.exit(2);
}

function makeClient(mode, port, key) {
  if (mode === 'base-url') {
    return new Stripe(key, {
      host: '127.0.0.1',
      port: Number(port),
      protocol: 'https',
      maxNetworkRetries: 2,
    });
  }
  // The API host stays api.stripe.com; the proxy terminates TLS for it with a
  // certificate from its own CA (trusted through NODE_EXTRA_CA_CERTS).
  return new Stripe(key, {
    httpAgent: new HttpsProxyAgent(`http://127.0.0.1:${port}`),
    maxNetworkRetries: 2,
  });
}

function emit(step, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + '\n');
}

function intentFields(pi) {
  return {
    id: pi.id,
    object: pi.object,
    status: pi.status,
    amount: pi.amount,
    amount_capturable: pi.amount_capturable,
    amount_received: pi.amount_received,
    currency: pi.currency,
    capture_method: pi.capture_method,
    description: pi.description,
    metadata: pi.metadata,
    shipping_name: pi.shipping ? pi.shipping.name : null,
    shipping_city: pi.shipping ? pi.shipping.address.city : null,
    payment_method_types: pi.payment_method_types,
    payment_method: pi.payment_method,
    cancellation_reason: pi.cancellation_reason,
    has_client_secret: Boolean(pi.client_secret),
  };
}

function checkoutIntentFields(pi) {
  return {
    ...intentFields(pi),
    customer: pi.customer,
    setup_future_usage: pi.setup_future_usage,
    latest_charge: pi.latest_charge,
  };
}

function customerFields(customer) {
  return {
    id: customer.id,
    object: customer.object,
    email: customer.email,
    name: customer.name,
  };
}

function paymentMethodFields(pm) {
  return {
    id: pm.id,
    object: pm.object,
    type: pm.type,
    brand: pm.card ? pm.card.brand : null,
    last4: pm.card ? pm.card.last4 : null,
    customer: pm.customer,
  };
}

// A checkout beyond Payment Intents: customer, saved card, intent, refund, charges.
async function checkout(stripe) {
  const customer = await stripe.customers.create({ email: 'jenny.rosen@example.com', name: 'Jenny Rosen' });
  emit('checkout_customer_create', customerFields(customer));

  let pm = await stripe.paymentMethods.create({ type: 'card', card: { token: 'tok_visa' } });
  emit('checkout_payment_method_create', paymentMethodFields(pm));
  pm = await stripe.paymentMethods.attach(pm.id, { customer: customer.id });
  emit('checkout_payment_method_attach', paymentMethodFields(pm));

  let pi = await stripe.paymentIntents.create({
    amount: 3000,
    currency: 'usd',
    customer: customer.id,
    payment_method: pm.id,
    setup_future_usage: 'off_session',
    metadata: { order_id: CHECKOUT_ORDER },
    payment_method_types: ['card'],
  });
  emit('checkout_intent_create', checkoutIntentFields(pi));
  pi = await stripe.paymentIntents.confirm(pi.id);
  emit('checkout_intent_confirm', checkoutIntentFields(pi));

  const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
  emit('checkout_refund_create', {
    id: refund.id,
    object: refund.object,
    status: refund.status,
    amount: refund.amount,
    currency: refund.currency,
    charge: refund.charge,
    payment_intent: refund.payment_intent,
  });

  const charges = await stripe.charges.list({ payment_intent: pi.id });
  emit('checkout_charges_list', {
    ids: charges.data.map((c) => c.id),
    amounts: charges.data.map((c) => c.amount),
    amounts_refunded: charges.data.map((c) => c.amount_refunded),
    refunded: charges.data.map((c) => c.refunded),
    customers: charges.data.map((c) => c.customer),
    has_more: charges.has_more,
  });

  const found = await stripe.paymentIntents.search({ query: `customer:'${customer.id}'` });
  emit('checkout_intent_search', {
    ids: found.data.map((p) => p.id),
    statuses: found.data.map((p) => p.status),
    has_more: found.has_more,
  });

  emit('checkout_customer_retrieve', customerFields(await stripe.customers.retrieve(customer.id)));

  const saved = await stripe.paymentMethods.list({ customer: customer.id, type: 'card' });
  emit('checkout_payment_methods_list', {
    ids: saved.data.map((m) => m.id),
    customers: saved.data.map((m) => m.customer),
    has_more: saved.has_more,
  });
}

async function expectError(step, call) {
  try {
    await call();
  } catch (err) {
    if (!(err instanceof Stripe.errors.StripeError)) throw err;
    emit(step, {
      error_class: err.constructor.name,
      http_status: err.statusCode,
      type: err.rawType,
      code: err.code,
      param: err.param,
      message: err.message,
    });
    return;
  }
  throw new Error(`${step}: expected a Stripe error, got success`);
}

const stripe = makeClient(args.mode, args.port, args.key);

let pi = await stripe.paymentIntents.create({
  amount: 2000,
  currency: 'usd',
  description: `Order ${ORDER}`,
  metadata: { order_id: ORDER },
  shipping: {
    name: 'Jenny Rosen',
    address: {
      line1: '510 Townsend St',
      city: 'San Francisco',
      state: 'CA',
      postal_code: '94103',
      country: 'US',
    },
  },
  payment_method_types: ['card'],
  capture_method: 'manual',
  expand: ['customer'],
});
emit('create', intentFields(pi));
const first = pi.id;

emit('retrieve', intentFields(await stripe.paymentIntents.retrieve(first)));

pi = await stripe.paymentIntents.update(first, {
  description: `Order ${ORDER} (gift)`,
  metadata: { gift: 'yes' },
});
emit('update', intentFields(pi));

pi = await stripe.paymentIntents.confirm(first, { payment_method: 'pm_card_visa' });
emit('confirm', intentFields(pi));

pi = await stripe.paymentIntents.capture(first);
emit('capture', intentFields(pi));

const second = await stripe.paymentIntents.create({
  amount: 1500,
  currency: 'eur',
  metadata: { order_id: SECOND_ORDER },
  payment_method_types: ['card'],
});
emit('create_second', intentFields(second));
pi = await stripe.paymentIntents.cancel(second.id, { cancellation_reason: 'requested_by_customer' });
emit('cancel', intentFields(pi));

// The stand-in fails the first attempt with a retryable 500; the SDK retries
// with the same Idempotency-Key and gets the intent.
pi = await stripe.paymentIntents.create({
  amount: 500,
  currency: 'usd',
  metadata: { order_id: RETRY_ORDER, standin_fail_once: 'node-retry-1' },
});
emit('create_after_retry', intentFields(pi));

// The stand-in runs this create but answers `Stripe-Should-Retry: true`: the
// SDK retries with the same Idempotency-Key and gets Stripe's idempotent
// replay of the same intent. The next, identical create (a new key) is a new
// intent, in replay too.
const retried = {
  amount: 600,
  currency: 'usd',
  metadata: { order_id: RETRY_ORDER, standin_retry_after_success: 'node-retry-2' },
};
pi = await stripe.paymentIntents.create(retried);
emit('create_retried_after_success', intentFields(pi));
const again = await stripe.paymentIntents.create(retried);
emit('create_identical_after_retry', { new_intent: again.id !== pi.id, ...intentFields(again) });

const page = await stripe.paymentIntents.list({ limit: 2 });
emit('list', { ids: page.data.map((p) => p.id), has_more: page.has_more });
const page2 = await stripe.paymentIntents.list({
  limit: 2,
  starting_after: page.data[page.data.length - 1].id,
});
emit('list_next', { ids: page2.data.map((p) => p.id), has_more: page2.has_more });

const every = [];
for await (const p of stripe.paymentIntents.list({ limit: 2 })) every.push(p.id);
emit('list_auto_paging', { ids: every, count: every.length });

const found = await stripe.paymentIntents.search({ query: `metadata['order_id']:'${ORDER}'` });
emit('search', {
  ids: found.data.map((p) => p.id),
  statuses: found.data.map((p) => p.status),
  has_more: found.has_more,
});

// Deliberately invalid: no amount. stripe-vcr --validate strict answers this
// itself with Stripe's own 400.
await expectError('error_missing_amount', () => stripe.paymentIntents.create({ currency: 'usd' }));
await expectError('error_unknown_id', () => stripe.paymentIntents.retrieve('pi_e2eDoesNotExist000000000'));

await checkout(stripe);

emit('done');
// stripe-node keeps its keep-alive socket referenced until its 80 s request
// timeout runs out, so a script that is finished would linger that long.
process.exit(0);
