//! `stripe-vcr-standin`: a small HTTPS stand-in for the Stripe API a checkout touches.
//!
//! It is the upstream that `stripe-vcr`'s test-suite records against, so the
//! tests never need a Stripe account or network access. It mimics
//! `api.stripe.com` closely for `/v1/payment_intents` (create, retrieve,
//! update, confirm, capture, cancel, list, search): same JSON shapes, error
//! envelopes, auth rules, response headers and idempotency semantics; and,
//! more loosely, customers, payment methods, setup intents, charges,
//! refunds, events, the resources that carry secrets (customer and checkout
//! sessions, ephemeral keys, webhook endpoints, tokens, account and login
//! links) and v2 event destinations (see each module).
//! It deliberately shares no code with the proxy.
//!
//! Run it with
//!
//! ```text
//! stripe-vcr-standin [--listen 127.0.0.1:0] [--cert-out PATH] [--seed N]
//!                    [--webhook-url URL --webhook-secret whsec_…]
//!                    [--dialect stripe|gateway-002]
//! ```
//!
//! `--dialect gateway-002` makes it the Stripe-compatible JSON gateway of
//! the source document `shared/seeds/002_*.txt` instead (JSON request
//! bodies, the seed's response shape; see the `gateway` module for what it
//! serves and what it assumes). Of the hooks below, only `Standin-Hold`,
//! `Standin-Delay-Ms` and the echo hooks apply to it.
//!
//! At start it generates a throw-away CA and a leaf certificate for
//! `localhost`/`127.0.0.1`, writes the CA (the trust anchor) as PEM to
//! `--cert-out`, then prints exactly one line to stdout,
//! `listening on https://127.0.0.1:PORT`, and serves HTTP/1.1 and HTTP/2 until
//! killed. Everything else is logged to stderr.
//!
//! ```text
//! curl --cacert ca.pem https://127.0.0.1:PORT/v1/payment_intents \
//!     -u sk_test_123: -d amount=2000 -d currency=usd -d "metadata[order_id]=6735"
//! ```
//!
//! With `--seed N` ids and secrets come from a seeded RNG and the clock starts at
//! 2026-01-01T00:00:00Z, advancing one second per created object, so the same
//! sequence of requests yields byte-identical response bodies. PaymentIntents
//! (and the methods and charges they mint) draw their own id stream; every
//! other resource and every event draws another, and events never advance
//! the clock, so a PaymentIntents-only session is unchanged by the rest.
//!
//! Test hooks: a request header `Standin-Fail-Once: TOKEN` makes the first
//! request carrying TOKEN fail with a 500 (`Stripe-Should-Retry: true`);
//! so does a create (`POST /v1/payment_intents`) whose parameters carry
//! `metadata[standin_fail_once]=TOKEN`, for clients such as the official SDKs
//! that cannot easily add a header to one request (the SDK's retry, with the
//! same `Idempotency-Key`, then succeeds); a create carrying
//! `metadata[standin_retry_after_success]=TOKEN` succeeds the first time but
//! says `Stripe-Should-Retry: true`, so the SDK retries it and gets Stripe's
//! idempotent replay of the same intent; `Standin-Delay-Ms: N` delays the
//! answer by N milliseconds; `Standin-Hold: TOKEN` holds the request until
//! `POST /__standin/release/TOKEN`, and `GET /__standin/held/TOKEN` answers
//! once a request carrying TOKEN is being held (both give up after 30 s), so
//! a test can order requests by events instead of sleeps.
//!
//! Webhooks: with `--webhook-url URL --webhook-secret whsec_…` every event
//! the log gains (`payment_intent.created`, `charge.succeeded`…) is POSTed to
//! URL as `stripe listen` forwards events: the event's JSON, signed in
//! `Stripe-Signature` (`t=<now>,v1=<HMAC-SHA256 of "t.body">`), after the API
//! answer that caused it, one at a time in log order. `POST
//! /__standin/webhooks/flush` (no auth) waits until all have gone out and
//! answers `{"delivered": N, "failed": M}`. Ids and bodies are the same with
//! or without the flags.
//!
//! Echo hooks, for the secrets corpus (a hostile upstream echoing crafted
//! values). Each value is percent-decoded once, so a test can plant any
//! bytes (`%255F` arrives as `%5F`):
//! `Standin-Echo-Header: V` adds the response header `standin-echo: V`;
//! `Standin-Echo-Body: V` replaces the response body with V (the status is
//! kept), sent with `Content-Type` from `Standin-Echo-Type` (default
//! `text/plain`), so a test can send text, JSON after a byte-order mark or
//! JSON with trailing bytes; `Standin-Encode: CODING` sends the body
//! encoded and says so in `Content-Encoding`: `gzip`, `x-gzip` or `deflate`
//! in the letter case given (`deflate` is zlib-wrapped), `gzip-multi`
//! (two gzip members, sent as `gzip`), `deflate-raw` (raw deflate, sent as
//! `deflate`), or any other name (such as `br`), which sends the body as it
//! is under that name, as a server using an encoding the proxy cannot
//! decode would look to it.

#![recursion_limit = "256"]

mod auth;
mod cards;
mod charges;
#[cfg(test)]
mod checkout_tests;
mod customers;
mod decode;
mod errors;
mod events;
mod gateway;
mod hooks;
mod http;
mod idempotency;
mod ids;
mod list;
mod params;
mod payment_intents;
mod payment_methods;
mod refunds;
mod routes;
mod search;
mod secrets;
mod setup_intents;
mod state;
mod tls;
mod v2;
mod webhooks;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::http::{serve_connection, App};
use crate::tls::TlsMaterial;

/// Command line of the stand-in server.
#[derive(Parser, Debug)]
#[command(
    name = "stripe-vcr-standin",
    about = "HTTPS stand-in for Stripe's Payment Intents API (test upstream for stripe-vcr)"
)]
struct Args {
    /// Address to listen on; port 0 picks an ephemeral port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Write the trust-anchor (CA) certificate as PEM to this file before listening.
    #[arg(long)]
    cert_out: Option<PathBuf>,
    /// Deterministic mode: seeded ids and a fixed clock starting at 1767225600.
    #[arg(long)]
    seed: Option<u64>,
    /// POST every event to this http:// URL as `stripe listen` forwards them
    /// (signed with --webhook-secret), in log order, after the API answer.
    #[arg(long, value_name = "URL", requires = "webhook_secret")]
    webhook_url: Option<String>,
    /// The secret deliveries are signed with (`whsec_…`, used whole as the HMAC key).
    #[arg(long, value_name = "WHSEC", requires = "webhook_url")]
    webhook_secret: Option<String>,
    /// The API to speak: Stripe's, or the JSON gateway of shared/seeds/002.
    #[arg(long, value_enum, default_value = "stripe")]
    dialect: gateway::Dialect,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let tls = TlsMaterial::generate().expect("generating the TLS certificates must succeed");
    let acceptor = TlsAcceptor::from(Arc::new(tls.server_config()));
    let listener = TcpListener::bind(args.listen)
        .await
        .expect("binding the listen address must succeed");
    let addr = listener.local_addr().expect("a bound socket has a local address");
    if let Some(path) = &args.cert_out {
        std::fs::write(path, &tls.ca_pem).expect("writing --cert-out must succeed");
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on https://{addr}").expect("stdout must be writable");
    stdout.flush().expect("stdout must be flushable");

    let mut app = App::new(args.seed);
    app.speak(args.dialect, args.seed);
    if let (Some(url), Some(secret)) = (&args.webhook_url, &args.webhook_secret) {
        let endpoint = webhooks::Endpoint::parse(url).unwrap_or_else(|e| {
            eprintln!("standin: {e}");
            std::process::exit(2);
        });
        app.deliver_webhooks(webhooks::Webhooks::start(endpoint, secret.clone()));
    }
    let app = Arc::new(app);
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                tokio::spawn(serve_connection(app.clone(), acceptor.clone(), tcp, peer));
            }
            Err(err) => {
                eprintln!("standin: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
