//! Cassettes: the canonical request and its key, the file format, secret
//! redaction, the directory on disk and the in-memory replay index (its bytes
//! packed by `arena`).

pub mod arena;
pub mod format;
pub mod index;
pub mod key;
pub mod load;
pub mod redact;
pub mod set;
pub mod store;
