//! Stripe's API semantics that every mode shares: how parameters are encoded,
//! how clients authenticate, what Stripe's errors look like, and which
//! results an idempotency key saves.

pub mod auth;
pub mod errors;
pub mod idempotency;
pub mod params;
