//! Micro-benchmark of replay's per-request work: decode the parameters,
//! canonicalise (with redaction), hash, and look the key up in an index of
//! 10,000 cassettes. Target: ≤ 5 µs per request (bench/README.md).
//!
//! Run with `cargo bench --bench hot_path`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stripe_vcr::cassette::format::{
    BodyEncoding, Cassette, RecordedRequest, RecordedResponse, ResponseBody, ResponseHeaders, FORMAT_VERSION,
};
use stripe_vcr::cassette::index::ReplayIndex;
use stripe_vcr::cassette::key::CanonicalRequest;
use stripe_vcr::cassette::redact::Redactor;
use stripe_vcr::cassette::store::LoadedCassette;
use stripe_vcr::stripe::params::Params;

const CREATE: &[u8] = b"amount=2000&currency=usd&description=Order+6735&metadata[order_id]=6735\
&metadata[customer_ref]=cr_991&shipping[name]=Jenny+Rosen&shipping[address][line1]=1+Main+St\
&shipping[address][city]=Paris&payment_method_types[0]=card&expand[0]=latest_charge";

fn canonical(path: &str, query: &[u8], body: &[u8]) -> CanonicalRequest {
    let mut params = Params::from_form(query, "query string").expect("query");
    params.merge(Params::from_form(body, "body").expect("body"));
    CanonicalRequest::new(
        Redactor::standard(),
        if body.is_empty() { "GET" } else { "POST" },
        path,
        &params,
        |h| (h == "stripe-version").then(|| "2026-07-29.dahlia".to_owned()),
    )
}

fn index(n: usize) -> ReplayIndex {
    let mut loaded = Vec::with_capacity(n + 1);
    let mut push = |name: String, c: CanonicalRequest| {
        loaded.push(LoadedCassette {
            file_name: name,
            cassette: Cassette {
                format_version: FORMAT_VERSION,
                recorded_at: "2026-11-22T00:00:00Z".into(),
                endpoint: "retrieve".into(),
                occurrence: 1,
                request: RecordedRequest {
                    canonical: c,
                    body_encoding: BodyEncoding::None,
                    user_agent: None,
                },
                response: RecordedResponse {
                    status: 200,
                    headers: ResponseHeaders::default(),
                    body: ResponseBody::Body(serde_json::json!({"id": "pi_x", "object": "payment_intent"})),
                },
            },
        });
    };
    for i in 0..n {
        push(
            format!("r{i}"),
            canonical(&format!("/v1/payment_intents/pi_{i:024}"), b"", b""),
        );
    }
    push("create".into(), canonical("/v1/payment_intents", b"", CREATE));
    ReplayIndex::build(loaded).expect("index")
}

fn hot_path(c: &mut Criterion) {
    let index = index(10_000);
    c.bench_function("decode+canonicalise+hash+lookup: POST create (11 params)", |b| {
        b.iter(|| {
            let key = canonical("/v1/payment_intents", b"", black_box(CREATE)).key();
            black_box(index.next(&key).expect("hit"));
        })
    });
    c.bench_function("decode+canonicalise+hash+lookup: GET retrieve", |b| {
        b.iter(|| {
            let key = canonical(black_box("/v1/payment_intents/pi_000000000000000000004242"), b"", b"").key();
            black_box(index.next(&key).expect("hit"));
        })
    });
    c.bench_function(
        "decode+canonicalise+hash+lookup: GET list?limit=3 (miss path excluded)",
        |b| {
            b.iter(|| {
                let key = canonical("/v1/payment_intents", black_box(b"limit=3"), b"").key();
                black_box(index.next(&key));
            })
        },
    );
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
