//! Micro-benchmark of replay's per-request work, on the code the proxy runs:
//! `ApiRequest::decode` (read the parameters from the query string and body,
//! redact, canonicalise, hash) on a real request head, then the look-up in
//! an index of 10,000 cassettes. Validation is measured on its own.
//! Target: ≤ 5 µs per request (issue #9; see bench/README.md).
//!
//! Run with `cargo bench --bench hot_path`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use stripe_vcr::cassette::format::{
    BodyEncoding, Cassette, RecordedRequest, RecordedResponse, ResponseBody, ResponseHeaders, FORMAT_VERSION,
};
use stripe_vcr::cassette::index::ReplayIndex;
use stripe_vcr::cassette::store::LoadedCassette;
use stripe_vcr::mode::{ApiRequest, Via};
use stripe_vcr::stripe::redact::Redactor;
use stripe_vcr::stripe::validate::schema::Schema;
use stripe_vcr::stripe::validate::{ValidationMode, Validator};

/// An 11-parameter create, nested metadata and shipping, as stripe-python sends it.
const CREATE: &[u8] = b"amount=2000&currency=usd&description=Order+6735&metadata[order_id]=6735\
&metadata[customer_ref]=cr_991&shipping[name]=Jenny+Rosen&shipping[address][line1]=1+Main+St\
&shipping[address][city]=Paris&payment_method_types[0]=card&expand[0]=latest_charge";

/// A request head with the headers an SDK sends.
fn request(method: &str, uri: &str, body: &'static [u8]) -> (hyper::http::request::Parts, Bytes) {
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8443")
        .header("authorization", "Bearer sk_test_bench_key_0000000000000000")
        .header("stripe-version", "2026-07-29.dahlia")
        .header("user-agent", "Stripe/v1 PythonBindings/15.3.1")
        .header(
            "x-stripe-client-user-agent",
            r#"{"bindings_version":"15.3.1","lang":"python"}"#,
        )
        .header("accept-encoding", "gzip");
    if !body.is_empty() {
        builder = builder
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "idempotency-key",
                "stripe-python-retry-4c3d9f0e-8d7a-4a43-9a7f-0c1b0e6d2a11",
            );
    }
    let (parts, ()) = builder.body(()).expect("request").into_parts();
    (parts, Bytes::from_static(body))
}

fn decode(method: &str, uri: &str, body: &'static [u8]) -> ApiRequest {
    let (parts, body) = request(method, uri, body);
    ApiRequest::decode(parts, body, Via::Direct, Redactor::standard()).expect("decodes")
}

fn index(n: usize) -> ReplayIndex {
    let mut loaded = Vec::with_capacity(n + 2);
    let mut push = |name: String, api: ApiRequest| {
        loaded.push(LoadedCassette {
            file_name: name,
            cassette: Cassette {
                format_version: FORMAT_VERSION,
                recorded_at: "2026-11-22T00:00:00Z".into(),
                endpoint: "retrieve".into(),
                occurrence: 1,
                request: RecordedRequest {
                    canonical: api.canonical,
                    body_encoding: BodyEncoding::None,
                    user_agent: None,
                    reuses_idempotency_key_of: None,
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
            decode("GET", &format!("/v1/payment_intents/pi_{i:024}"), b""),
        );
    }
    push("create".into(), decode("POST", "/v1/payment_intents", CREATE));
    push("list".into(), decode("GET", "/v1/payment_intents?limit=3", b""));
    ReplayIndex::build(loaded).expect("index")
}

fn hot_path(c: &mut Criterion) {
    let index = index(10_000);
    let cases: [(&str, &str, &str, &'static [u8]); 3] = [
        ("POST create (11 params)", "POST", "/v1/payment_intents", CREATE),
        (
            "GET retrieve",
            "GET",
            "/v1/payment_intents/pi_000000000000000000004242",
            b"",
        ),
        ("GET list?limit=3", "GET", "/v1/payment_intents?limit=3", b""),
    ];
    for (name, method, uri, body) in cases {
        // The request head is built outside the timed part: hyper hands the
        // proxy a parsed head, so building one is not the proxy's work.
        c.bench_function(&format!("decode+canonicalise+hash+lookup: {name}"), |b| {
            b.iter_batched(
                || request(method, uri, body),
                |(parts, body)| {
                    let api = ApiRequest::decode(parts, body, Via::Direct, Redactor::standard()).expect("decodes");
                    black_box(index.next(&api.key).expect("hit"));
                    api
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    let validator = Validator::new(ValidationMode::Warn, Schema::builtin().clone());
    let create = decode("POST", "/v1/payment_intents", CREATE);
    c.bench_function("validate: POST create (11 params)", |b| {
        b.iter(|| black_box(validator.check(&create.route, &create.canonical.params, create.typing())))
    });
    // Beyond Payment Intents: routing through the whole API's table, and
    // the unknown-parameter check against it (issue #18).
    let _ = stripe_vcr::stripe::api::Api::builtin();
    c.bench_function("decode+canonicalise+hash: POST /v1/customers (4 params)", |b| {
        b.iter_batched(
            || request("POST", "/v1/customers", CUSTOMER),
            |(parts, body)| ApiRequest::decode(parts, body, Via::Direct, Redactor::standard()).expect("decodes"),
            criterion::BatchSize::SmallInput,
        )
    });
    let customer = decode("POST", "/v1/customers", CUSTOMER);
    c.bench_function(
        "validate: POST customers.create (4 params, unknown-parameter check)",
        |b| b.iter(|| black_box(validator.check(&customer.route, &customer.canonical.params, customer.typing()))),
    );
    c.bench_function("parse the whole API's table (stripe-api.json, 650 operations)", |b| {
        b.iter(|| black_box(stripe_vcr::stripe::api::Api::parse(stripe_vcr::stripe::api::BUILTIN).expect("parses")))
    });
}

/// A checkout's customer.
const CUSTOMER: &[u8] = b"email=jenny.rosen%40example.com&name=Jenny+Rosen&metadata[order_id]=6735&address[country]=US";

/// A replay miss at 100,000 cassettes: finding the closest recording to
/// explain it (`ReplayIndex::closest`). Target: ≤ 5 ms (issue #16).
fn miss(c: &mut Criterion) {
    let index = index(100_000);
    let cases: [(&str, &str, &str, &'static [u8]); 4] = [
        (
            "GET retrieve, an id never recorded",
            "GET",
            "/v1/payment_intents/pi_NeverRecorded000000000000",
            b"",
        ),
        (
            "GET retrieve, a typo in a recorded id",
            "GET",
            "/v1/payment_intents/pi_000000000000000000042O42",
            b"",
        ),
        (
            "GET retrieve with a parameter not recorded",
            "GET",
            "/v1/payment_intents/pi_000000000000000000004242?expand[]=customer",
            b"",
        ),
        (
            "POST create, another amount",
            "POST",
            "/v1/payment_intents",
            b"amount=2001&currency=usd",
        ),
    ];
    let mut group = c.benchmark_group("miss at 100,000 cassettes: closest");
    group.sample_size(20);
    for (name, method, uri, body) in cases {
        let api = decode(method, uri, body);
        assert!(index.next(&api.key).is_none(), "{name} must miss");
        group.bench_function(name, |b| {
            b.iter(|| black_box(index.closest(&api.canonical).expect("closest")))
        });
    }
    group.finish();
}

criterion_group!(benches, hot_path, miss);
criterion_main!(benches);
