//! Stripe's API semantics, shared by the server and the offline tools: how
//! parameters are encoded ([`params`]), which operations the API has
//! ([`api`]) and which one a request is ([`route`]), how clients authenticate ([`auth`]), what a secret looks like
//! and how it is redacted ([`redact`]), what Stripe's errors look like
//! ([`errors`]), which results an idempotency key saves ([`idempotency`]) and
//! which request shapes Stripe accepts ([`validate`]). Imports nothing from
//! the rest of the crate.

pub mod api;
pub mod auth;
pub mod errors;
pub mod idempotency;
pub mod params;
pub mod redact;
pub mod route;
pub mod validate;
pub mod webhook;
