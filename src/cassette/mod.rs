//! Cassettes: the canonical request and its key, the file format, sealing
//! (nothing unredacted is ever written), the directory on disk (made durable off the request path by
//! `flush`) and the in-memory replay index (its bytes packed by `arena`), and the name a served or recorded
//! cassette goes by (`name`).

pub mod arena;
pub mod event;
pub mod flush;
pub mod format;
pub mod index;
pub mod key;
pub mod load;
pub mod name;
pub mod nearmiss;
pub mod seal;
pub mod set;
pub mod store;
