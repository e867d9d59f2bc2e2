//! Stripe's API semantics, shared by the server and the offline tools: how
//! parameters are encoded ([`params`]), which paths are which endpoint
//! ([`route`]), how clients authenticate ([`auth`]), what a secret looks like
//! and how it is redacted ([`redact`]), what Stripe's errors look like
//! ([`errors`]), which results an idempotency key saves ([`idempotency`]) and
//! which request shapes Stripe accepts ([`validate`]). Imports nothing from
//! the rest of the crate.

pub mod auth;
pub mod errors;
pub mod idempotency;
pub mod params;
pub mod redact;
pub mod route;
pub mod validate;
