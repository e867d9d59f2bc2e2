// A webhook receiver app for stripe-node (22.5.0): verifies every delivery
// with the SDK's own check, as an application's endpoint does.
//
//   node receiver.mjs --secret whsec_... --transcript FILE --rejections FILE
//
// Listens on 127.0.0.1 on a free port and prints the port as stdout's first
// line. Every POST is checked with
// `stripe.webhooks.constructEvent(rawBody, sig, secret)`: a valid one is
// answered 200 and appends {"type", "id", "object_id"} to the transcript; an
// invalid one is answered 400 and its reason appended to the rejections
// file. Runs until killed.
//
// The SDK lives under target/e2e/node (never committed), so it is loaded from
// there (E2E_NODE_DIR), as flow.mjs does.

import { appendFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.E2E_NODE_DIR || path.join(here, '..', '..', 'target', 'e2e', 'node');
const requireFromSdk = createRequire(path.join(path.resolve(nodeDir), 'package.json'));
const { default: Stripe } = await import(pathToFileURL(requireFromSdk.resolve('stripe')).href);

const { values: args } = parseArgs({
  options: {
    secret: { type: 'string' },
    transcript: { type: 'string' },
    rejections: { type: 'string' },
  },
});
if (!args.secret || !args.transcript || !args.rejections) {
  console.error('usage: node receiver.mjs --secret whsec_... --transcript FILE --rejections FILE');
  process.exit(2);
}
writeFileSync(args.transcript, '');
writeFileSync(args.rejections, '');

// Verifying needs no API key; the client is only the SDK's entry point.
const stripe = new Stripe('sk_test_e2eReceiverNeverCallsTheApi');

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const rawBody = Buffer.concat(chunks);
    const answer = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let event;
    try {
      event = stripe.webhooks.constructEvent(rawBody, req.headers['stripe-signature'] ?? '', args.secret);
    } catch (err) {
      appendFileSync(args.rejections, `${JSON.stringify({ error: err.type ?? err.name, message: err.message })}\n`);
      answer(400, { error: err.type ?? err.name });
      return;
    }
    const line = { type: event.type, id: event.id, object_id: event.data.object.id ?? null };
    appendFileSync(args.transcript, `${JSON.stringify(line)}\n`);
    answer(200, { received: true });
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
