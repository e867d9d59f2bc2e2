//! Stripe's API semantics that every mode shares: how parameters are encoded,
//! how clients authenticate, and what Stripe's errors look like.

pub mod auth;
pub mod errors;
pub mod params;
