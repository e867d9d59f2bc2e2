//! Properties over arbitrary input: the decoder, the canonicaliser and the
//! validator never panic, and reordering a request's parameters never changes
//! its key.

use proptest::prelude::*;
use stripe_vcr::cassette::key::CanonicalRequest;
use stripe_vcr::stripe::params::{Params, Typing};
use stripe_vcr::stripe::redact::Redactor;
use stripe_vcr::stripe::route::Endpoint;
use stripe_vcr::stripe::validate::schema::Schema;

fn check_everywhere(params: &Params) {
    let schema = Schema::builtin();
    for name in Endpoint::ALL.map(Endpoint::name) {
        let endpoint = schema.endpoint(name).expect("endpoint");
        for typing in [Typing::Text, Typing::Json] {
            let _ = stripe_vcr::stripe::validate::check::check(schema, name, endpoint, params, typing);
        }
    }
    let canonical = CanonicalRequest::new(Redactor::standard(), "POST", "/v1/payment_intents", params, |_| None);
    let _ = canonical.key();
    let _ = params.flatten();
}

/// A key in bracket notation: a name and up to `depth` segments, some empty,
/// some numeric, some percent-encoded, some unbalanced.
fn key() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("amount".to_owned()),
        Just("metadata".to_owned()),
        Just("shipping".to_owned()),
        Just("expand".to_owned()),
        Just("payment_method_data".to_owned()),
        Just("query".to_owned()),
        "[a-z_]{1,12}",
    ];
    let segment = prop_oneof![
        Just("[]".to_owned()),
        "\\[[0-9]{1,3}\\]",
        "\\[[a-z_]{1,10}\\]",
        "%5B[a-z0-9]{0,5}%5D",
        Just("[".to_owned()),
        Just("]".to_owned()),
    ];
    (name, prop::collection::vec(segment, 0..40)).prop_map(|(n, segs)| format!("{n}{}", segs.concat()))
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,20}",
        "[a-zA-Z0-9 +%:'\"<>=~-]{0,40}",
        Just("true".to_owned()),
        Just("".to_owned()),
        "%[0-9A-Fa-f]{2}",
        "(%[0-9a-f]{2}){1,6}",
        "\\PC{0,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(params) = Params::from_form(&bytes, "body") {
            check_everywhere(&params);
        }
        if let Ok(params) = Params::from_json(&bytes) {
            check_everywhere(&params);
        }
    }

    #[test]
    fn bracket_soup_never_panics(pairs in prop::collection::vec((key(), value()), 0..30)) {
        let body = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        if let Ok(params) = Params::from_form(body.as_bytes(), "body") {
            check_everywhere(&params);
        }
    }

    #[test]
    fn parameter_order_never_changes_the_key(
        pairs in prop::collection::btree_map("[a-z]{1,8}", "[a-z0-9]{0,8}", 1..12),
        seed in any::<u64>(),
    ) {
        let mut list: Vec<(String, String)> = pairs.into_iter().collect();
        let forward = list.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        // A deterministic shuffle.
        let mut s = seed | 1;
        for i in (1..list.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            list.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let shuffled = list.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let key = |body: &str| {
            let p = Params::from_form(body.as_bytes(), "body").expect("decodes");
            CanonicalRequest::new(Redactor::standard(), "POST", "/v1/payment_intents", &p, |_| None).key()
        };
        prop_assert_eq!(key(&forward), key(&shuffled));
    }
}

#[test]
fn deep_json_is_refused_not_overflowed() {
    let deep = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    assert!(Params::from_json(deep.as_bytes()).is_err());
    let deep_list = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Params::from_json(deep_list.as_bytes()).is_err());
}
