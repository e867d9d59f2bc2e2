//! The canonicaliser: whatever the method, path, parameters and identifying
//! headers (split out of the input at NUL bytes), `CanonicalRequest::new`
//! and `.key()` never panic, and the key is a pure function of the request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stripe_vcr::cassette::key::CanonicalRequest;
use stripe_vcr::stripe::redact::Redactor;
use stripe_vcr::stripe::params::Params;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(5, |b| *b == 0);
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (method, path, version, account) = (next(), next(), next(), next());
    let body = parts.next().unwrap_or_default();
    let params = Params::from_form(body, "body")
        .or_else(|_| Params::from_json(body))
        .unwrap_or_default();
    let header = |name: &str| match name {
        "stripe-version" if !version.is_empty() => Some(version.clone()),
        "stripe-account" if !account.is_empty() => Some(account.clone()),
        _ => None,
    };
    let redactor = Redactor::standard();
    let first = CanonicalRequest::new(redactor, &method, &path, &params, header);
    let again = CanonicalRequest::new(redactor, &method, &path, &params, header);
    assert_eq!(first.key(), again.key(), "the key is deterministic");
    let _ = first.key().file_prefix();
    let _ = first.summary();
});
