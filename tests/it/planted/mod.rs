//! Cassettes written straight into a directory, as `record` would write
//! them (with `mod common;` beside it).

#![allow(dead_code)]

use std::path::Path;

use crate::common::STRIPE_VERSION;

use stripe_vcr::cassette::format::{
    BodyEncoding, Cassette, RecordedRequest, RecordedResponse, ResponseBody, ResponseHeaders, FORMAT_VERSION,
};
use stripe_vcr::cassette::key::{file_name, CanonicalRequest};
use stripe_vcr::cassette::seal::seal;
use stripe_vcr::cassette::store::{CassetteStore, Written};
use stripe_vcr::stripe::params::Params;
use stripe_vcr::stripe::redact::Redactor;

/// The canonical request `record` stores for `method path?query` with a
/// form `body`, sent with the tests' `Stripe-Version`.
pub fn canonical(method: &str, path_and_query: &str, form: &str) -> CanonicalRequest {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut params = Params::from_form(query.as_bytes(), "query string").expect("query decodes");
    params.merge(Params::from_form(form.as_bytes(), "body").expect("body decodes"));
    CanonicalRequest::new(Redactor::standard(), method, path, &params, |h| {
        (h == "stripe-version").then(|| STRIPE_VERSION.to_owned())
    })
}

/// Writes occurrence 1 of `method path?query` (form `body`) answered 200
/// with `answer` into `dir`; returns the file name.
pub fn plant(
    dir: &Path,
    endpoint: &str,
    method: &str,
    path_and_query: &str,
    form: &str,
    answer: serde_json::Value,
) -> String {
    let canonical = canonical(method, path_and_query, form);
    let name = file_name(endpoint, &canonical.key(), 1);
    let cassette = Cassette {
        format_version: FORMAT_VERSION,
        recorded_at: "2026-11-22T15:04:05Z".into(),
        endpoint: endpoint.into(),
        occurrence: 1,
        request: RecordedRequest {
            canonical,
            body_encoding: if form.is_empty() {
                BodyEncoding::None
            } else {
                BodyEncoding::Form
            },
            user_agent: None,
            reuses_idempotency_key_of: None,
        },
        response: RecordedResponse {
            status: 200,
            headers: ResponseHeaders(vec![("content-type".into(), "application/json".into())]),
            body: ResponseBody::Body(answer),
        },
    };
    let sealed = seal(Redactor::standard(), &cassette).expect("seal");
    CassetteStore::new(dir)
        .write(&name, &sealed)
        .and_then(Written::sync)
        .expect("write cassette");
    name
}

/// A retrieve of `id` answered with a small Payment Intent.
pub fn plant_retrieve(dir: &Path, id: &str) -> String {
    plant(
        dir,
        "retrieve",
        "GET",
        &format!("/v1/payment_intents/{id}"),
        "",
        serde_json::json!({"id": id, "object": "payment_intent", "amount": 1000}),
    )
}
