//! stripe-vcr's integration tests, one binary: one link of the crate and its
//! dependencies instead of one per file. Each module is what used to be a file
//! of its own under `tests/`; `common` is the shared harness (the stand-in
//! upstream as a real process, the proxy on an ephemeral port, clients for
//! each way an app connects). Only loopback addresses are used.

#[macro_use]
mod common;
mod planted;

mod audit;
mod audit_html;
mod binary;
mod bounded_state;
mod cassette_walk;
mod ci_workflow;
mod concurrency;
mod connection_modes;
mod demo;
mod faithful_replay;
mod first_five_minutes;
mod gateway;
mod layers;
mod matching;
mod properties;
mod properties_more;
mod record_replay;
mod reliability;
mod replay_memo;
mod secrets;
mod secrets_corpus;
mod soak;
mod upstream_faults;
mod validation;
mod webhooks;
mod whole_api;
