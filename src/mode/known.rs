//! A request decoded before: what replay needs of it to answer it again
//! (its set, its key, where it goes) without decoding it a second time. The
//! pipeline's memo keeps one per distinct request (`server::memo`).

use hyper::header::HeaderMap;
use hyper::Method;

use crate::cassette::key::RequestKey;
use crate::cassette::set::CassetteSet;
use crate::mode::ApiRequest;

/// What decoding a request worked out that replay's answer depends on. The
/// request's own head (its API key, its `Idempotency-Key`) is read afresh
/// each time: they are not part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The cassette set it asked for.
    pub set: CassetteSet,
    /// The key of its canonical form.
    pub key: RequestKey,
    /// Whether it is to the API (see [`crate::stripe::route::Route::is_api`]).
    pub is_api: bool,
    /// Its canonical (redacted) path: an idempotency key is bound to it.
    pub path: String,
}

impl Known {
    /// What `request` decoded to.
    pub fn of(request: &ApiRequest) -> Known {
        Known {
            set: request.set.clone(),
            key: request.key,
            is_api: request.route.is_api(),
            path: request.canonical.path.clone(),
        }
    }
}

/// A request's head as a mode reads it when answering a [`Known`] request.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
}
