//! # stripe-vcr
//!
//! A TLS-terminating record/replay proxy for Stripe's API.
//!
//! The modules stand in layers; each imports only from the layers below it
//! (`tests/it/layers.rs` checks this):
//!
//! 1. [`stripe`] (Stripe's semantics: params, routes, auth, secrets and
//!    redaction, errors, validation) and [`tls`] (the local CA and leaf
//!    certificates);
//! 2. [`cassette`]: the canonical request and its key, the file format,
//!    sealing, the directory on disk and the replay index;
//! 3. [`answer`] (every response the proxy makes itself, errors by where the
//!    fault lies), [`upstream`] (the client to Stripe) and [`audit_log`] (the
//!    `--audit-log` file);
//! 4. [`mode`]: record (forward and save) and replay (serve from the index);
//! 5. [`config`]: a validated proxy configuration;
//! 6. [`server`]: the request path (listen → TLS → connection and CONNECT →
//!    pipeline → mode), with admin, stats and logging beside it;
//! 7. [`cli`]: the command line and the offline tools (verify, audit, diff,
//!    prune, doctor, certs).
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

pub mod answer;
pub mod audit_log;
pub mod cassette;
pub mod cli;
pub mod config;
pub mod mode;
pub mod server;
pub mod stripe;
pub mod tls;
pub mod upstream;
