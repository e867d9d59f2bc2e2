//! # stripe-vcr
//!
//! A TLS-terminating record/replay proxy for Stripe's Payment Intents API.
//!
//! The request path, module by module:
//!
//! - [`listen`]: one port; the first byte tells direct HTTPS from plain HTTP
//!   and CONNECT tunnels ([`listen::connect`]);
//! - [`tls`]: the local CA and per-host leaf certificates;
//! - [`pipeline`]: reads and decodes each request ([`stripe::params`]) into a
//!   canonical form ([`cassette::key`]) and hands it to the mode;
//! - [`route`]: which paths are the Payment Intents API;
//! - [`mode`]: [`mode::record`] forwards via [`upstream`] and saves cassettes,
//!   [`mode::replay`] answers from the [`cassette::index`];
//! - [`cassette`]: the file format, redaction and the directory on disk;
//! - [`error`]: faults by where they lie, turned into Stripe-shaped responses
//!   in one place.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

pub mod admin;
pub mod audit;
pub mod banner;
pub mod cassette;
pub mod commands;
pub mod config;
pub mod diff;
pub mod doctor;
pub mod error;
pub mod listen;
pub mod logging;
pub mod mode;
pub mod pipeline;
pub mod proxy;
pub mod prune;
pub mod route;
pub mod stats;
pub mod stripe;
pub mod tls;
pub mod upstream;
pub mod validate;
pub mod verify;
