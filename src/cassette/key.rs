//! The canonical request and its hash: what makes two requests "the same" for
//! replay, and the name a cassette is stored under.
//!
//! Canonical request = method + path + decoded (and redacted) parameters of
//! the query string and body + the `Stripe-Account` and `Stripe-Version`
//! headers. Parameter order, `+` vs `%20`, literal vs encoded brackets and
//! `a[]` vs `a[0]` never matter, because the parameters are compared as a
//! sorted tree; nor does the order of `expand`, which Stripe reads as a set.
//! Headers that vary per run (`Idempotency-Key`, `User-Agent`, telemetry,
//! `Authorization`) are not part of it. A JSON body's types are: its
//! `"amount": 10` is not `"amount": "10"` nor a form's `amount=10`, while its
//! strings are the same values as a form's text (`docs/matching.md`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::stripe::params::Params;
use crate::stripe::redact::Redactor;

/// The request headers that identify a request (lower-case names).
pub const IDENTIFYING_HEADERS: [&str; 3] = ["stripe-account", "stripe-context", "stripe-version"];

/// How many hex digits of the hash go into a file name: 80 bits, plenty for
/// any cassette library, and short enough to read in a diff.
const FILE_HASH_HEX: usize = 20;

/// A request reduced to what identifies it. Secrets inside are already
/// redacted, so it is safe to store and to log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonicalRequest {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub params: Params,
    /// Identifying headers present on the request (lower-case names).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A body that is neither form, JSON nor multipart: `sha256:<hex>` of
    /// its bytes. Absent otherwise, so every other request hashes as it did
    /// before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// The identifying headers present on a request, redacted.
fn identifying_headers(redactor: &Redactor, header: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    IDENTIFYING_HEADERS
        .iter()
        .filter_map(|name| header(name).map(|v| ((*name).to_owned(), redactor.redact(&v).into_owned())))
        .collect()
}

/// What is hashed, in this field order.
#[derive(Serialize)]
struct HashedForm<'a> {
    method: &'a str,
    path: &'a str,
    params: &'a Params,
    headers: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: &'a Option<String>,
}

/// `sha256:<hex>` of some bytes: how a raw body or an uploaded file is
/// matched and stored (its bytes are never stored).
pub fn sha256_text(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// SHA-256 of a [`CanonicalRequest`]'s canonical bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestKey([u8; 32]);

impl std::hash::Hash for RequestKey {
    /// Eight bytes of a SHA-256 digest are as well spread as any hash of
    /// all 32, so that is all a hash table is given.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

impl CanonicalRequest {
    /// Like [`CanonicalRequest::new`], consuming the decoded parameters
    /// (redacted in place: no second copy of the tree on the hot path).
    pub fn from_owned(
        redactor: &Redactor,
        method: &str,
        path: &str,
        params: Params,
        header: impl Fn(&str) -> Option<String>,
    ) -> CanonicalRequest {
        let mut params = redactor.redact_params_owned(params);
        params.canonicalise_sets();
        CanonicalRequest {
            method: method.to_ascii_uppercase(),
            path: redactor.redact(path).into_owned(),
            params,
            headers: identifying_headers(redactor, header),
            body: None,
        }
    }

    /// Builds the canonical form of a request, redacting secrets first so the
    /// original and the placeholder of a secret give the same key.
    pub fn new(
        redactor: &Redactor,
        method: &str,
        path: &str,
        params: &Params,
        header: impl Fn(&str) -> Option<String>,
    ) -> CanonicalRequest {
        let mut params = redactor.redact_params(params);
        params.canonicalise_sets();
        CanonicalRequest {
            method: method.to_ascii_uppercase(),
            path: redactor.redact(path).into_owned(),
            params,
            headers: identifying_headers(redactor, header),
            body: None,
        }
    }

    /// The canonical form of a request stored by an older stripe-vcr, whose
    /// parameters may predate a rule (such as `expand` being a set): what
    /// matching and file names use today.
    pub fn canonicalised(mut self) -> CanonicalRequest {
        self.params.canonicalise_sets();
        self
    }

    /// The bytes that are hashed: compact JSON with a fixed field order and
    /// sorted parameter names.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_canonical_bytes(&mut out);
        out
    }

    /// Appends [`CanonicalRequest::canonical_bytes`] to `out`.
    pub fn write_canonical_bytes(&self, out: &mut Vec<u8>) {
        // Serialising strings and sorted maps into a Vec cannot fail.
        let _ = serde_json::to_writer(out, &self.hashed_form());
    }

    /// The request's key: SHA-256 of [`CanonicalRequest::canonical_bytes`],
    /// serialised into a per-thread buffer that is reused (one hash call
    /// over the whole form, no allocation once the buffer has grown).
    pub fn key(&self) -> RequestKey {
        thread_local! {
            static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUFFER.with_borrow_mut(|buffer| {
            buffer.clear();
            self.write_canonical_bytes(buffer);
            RequestKey::of_canonical_bytes(buffer)
        })
    }

    fn hashed_form(&self) -> HashedForm<'_> {
        HashedForm {
            method: &self.method,
            path: &self.path,
            params: &self.params,
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// The same request, matched by the digest of a raw body too.
    pub fn with_raw_body(mut self, body: &[u8]) -> CanonicalRequest {
        self.body = Some(sha256_text(body));
        self
    }

    /// `POST /v1/payment_intents` — for messages.
    pub fn summary(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

impl RequestKey {
    /// The key of bytes already produced by [`CanonicalRequest::canonical_bytes`].
    pub fn of_canonical_bytes(bytes: &[u8]) -> RequestKey {
        RequestKey(Sha256::digest(bytes).into())
    }

    /// The full hash in lower-case hex.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The prefix used in cassette file names.
    pub fn file_prefix(&self) -> String {
        self.hex()[..FILE_HASH_HEX].to_owned()
    }
}

impl fmt::Debug for RequestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestKey({})", self.file_prefix())
    }
}

impl fmt::Display for RequestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_prefix())
    }
}

/// The file name of a cassette: `<endpoint>-<hash prefix>-<occurrence>.json`,
/// e.g. `create-9f86d081884c7d659a2f-001.json`.
pub fn file_name(endpoint: &str, key: &RequestKey, occurrence: u32) -> String {
    format!("{endpoint}-{}-{occurrence:03}.json", key.file_prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(method: &str, path_and_query: &str, body: &str, version: Option<&str>) -> RequestKey {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let mut params = Params::from_form(query.as_bytes(), "query").expect("query");
        params.merge(Params::from_form(body.as_bytes(), "body").expect("body"));
        CanonicalRequest::new(
            crate::stripe::redact::Redactor::standard(),
            method,
            path,
            &params,
            |h| (h == "stripe-version").then(|| version.map(str::to_owned)).flatten(),
        )
        .key()
    }

    #[test]
    fn same_request_in_different_spellings_has_one_key() {
        let v = Some("2026-07-29.dahlia");
        let groups: &[&[(&str, &str, &str)]] = &[
            &[
                (
                    "POST",
                    "/v1/payment_intents",
                    "amount=2000&currency=usd&metadata[order_id]=6735&expand[]=customer",
                ),
                (
                    "POST",
                    "/v1/payment_intents",
                    "currency=usd&expand[0]=customer&metadata%5Border_id%5D=6735&amount=2000",
                ),
                (
                    "post",
                    "/v1/payment_intents",
                    "expand%5B0%5D=customer&amount=2000&currency=usd&metadata[order_id]=6735",
                ),
            ],
            &[
                (
                    "GET",
                    "/v1/payment_intents/search?query=metadata%5B%27k%27%5D%3A%27a+b%27",
                    "",
                ),
                (
                    "GET",
                    "/v1/payment_intents/search?query=metadata%5B%27k%27%5D%3A%27a%20b%27",
                    "",
                ),
            ],
            &[
                (
                    "GET",
                    "/v1/payment_intents/pi_1?client_secret=pi_1_secret_realvalue",
                    "",
                ),
                ("GET", "/v1/payment_intents/pi_1?client_secret=pi_1_secret_REDACTED", ""),
            ],
            &[
                (
                    "GET",
                    "/v1/payment_intents/pi_1?expand[]=latest_charge&expand[]=customer",
                    "",
                ),
                (
                    "GET",
                    "/v1/payment_intents/pi_1?expand[0]=customer&expand[1]=latest_charge",
                    "",
                ),
                (
                    "GET",
                    "/v1/payment_intents/pi_1?expand[]=customer&expand[]=latest_charge&expand[]=customer",
                    "",
                ),
            ],
        ];
        for group in groups {
            let keys: Vec<_> = group.iter().map(|(m, p, b)| key(m, p, b, v)).collect();
            assert!(keys.windows(2).all(|w| w[0] == w[1]), "{group:?}");
        }
    }

    #[test]
    fn different_requests_have_different_keys() {
        let v = Some("2026-07-29.dahlia");
        let base = key("POST", "/v1/payment_intents", "amount=2000&currency=usd", v);
        assert_ne!(base, key("POST", "/v1/payment_intents", "amount=1000&currency=usd", v));
        assert_ne!(base, key("GET", "/v1/payment_intents", "amount=2000&currency=usd", v));
        assert_ne!(
            base,
            key(
                "POST",
                "/v1/payment_intents",
                "amount=2000&currency=usd",
                Some("2024-06-20")
            )
        );
        assert_ne!(
            base,
            key("POST", "/v1/payment_intents", "amount=2000&currency=usd", None)
        );
        assert_ne!(
            base,
            key(
                "POST",
                "/v1/payment_intents",
                "amount=2000&currency=usd&description=",
                v
            )
        );
        // Only `expand` is a set: other lists keep their order.
        assert_ne!(
            key(
                "POST",
                "/v1/payment_intents",
                "payment_method_types[]=card&payment_method_types[]=link",
                v
            ),
            key(
                "POST",
                "/v1/payment_intents",
                "payment_method_types[]=link&payment_method_types[]=card",
                v
            )
        );
        assert_ne!(
            key("GET", "/v1/payment_intents?expand[]=customer", "", v),
            key("GET", "/v1/payment_intents?expand[]=latest_charge", "", v)
        );
    }

    /// The key of a JSON-bodied `POST /v1/payment_intents`.
    fn json_key(body: &str) -> RequestKey {
        let params = Params::from_json(body.as_bytes()).expect("json");
        CanonicalRequest::new(
            crate::stripe::redact::Redactor::standard(),
            "POST",
            "/v1/payment_intents",
            &params,
            |_| None,
        )
        .key()
    }

    #[test]
    fn json_types_are_part_of_the_key() {
        let form = key("POST", "/v1/payment_intents", "amount=10&currency=USD&x=", None);
        // Strings are text in both encodings: the same request.
        assert_eq!(json_key(r#"{"amount":"10","currency":"USD","x":""}"#), form);
        // A number, a boolean or null is something a form cannot say.
        let number = json_key(r#"{"amount":10,"currency":"USD","x":""}"#);
        assert_ne!(number, form, "\"amount\": 10 is not amount=10");
        assert_ne!(
            json_key(r#"{"amount":"10","currency":"USD","x":null}"#),
            form,
            "null is not \"\""
        );
        assert_ne!(
            json_key(r#"{"amount":10.0,"currency":"USD","x":""}"#),
            number,
            "digits as sent"
        );
        assert_ne!(
            json_key(r#"{"confirm":true}"#),
            key("POST", "/v1/payment_intents", "confirm=true", None)
        );
        // Order of keys in the body never matters.
        assert_eq!(json_key(r#"{"x":"","currency":"USD","amount":10}"#), number);
        // A card number (masked as text) and its security code (removed)
        // give one key whatever their JSON type.
        assert_eq!(
            json_key(r#"{"card":{"number":4242424242424242,"cvc":123}}"#),
            json_key(r#"{"card":{"number":"4242424242424242","cvc":"123"}}"#)
        );
    }

    #[test]
    fn a_stored_json_request_keeps_its_key() {
        let params = Params::from_json(br#"{"amount":10,"confirm":true,"x":null,"m":{"k":"v"}}"#).expect("json");
        let canonical = CanonicalRequest::new(
            crate::stripe::redact::Redactor::standard(),
            "POST",
            "/v1/payment_intents",
            &params,
            |_| None,
        );
        let stored = serde_json::to_string(&canonical).expect("json");
        assert!(
            stored.contains(r#""params":{"amount":10,"confirm":true,"m":{"k":"v"},"x":null}"#),
            "{stored}"
        );
        let back: CanonicalRequest = serde_json::from_str(&stored).expect("reads back");
        assert_eq!(back.key(), canonical.key());
    }

    #[test]
    fn golden_key_is_stable() {
        // If this changes, every committed cassette's name changes: bump the
        // cassette format version and say so in the changelog.
        let k = key(
            "POST",
            "/v1/payment_intents",
            "amount=2000&currency=usd",
            Some("2026-07-29.dahlia"),
        );
        let canonical = CanonicalRequest::new(
            crate::stripe::redact::Redactor::standard(),
            "POST",
            "/v1/payment_intents",
            &Params::from_form(b"amount=2000&currency=usd", "body").expect("body"),
            |h| (h == "stripe-version").then(|| "2026-07-29.dahlia".to_owned()),
        );
        assert_eq!(
            String::from_utf8(canonical.canonical_bytes()).expect("utf8"),
            r#"{"method":"POST","path":"/v1/payment_intents","params":{"amount":"2000","currency":"usd"},"headers":{"stripe-version":"2026-07-29.dahlia"}}"#
        );
        assert_eq!(k.hex(), hex::encode(Sha256::digest(canonical.canonical_bytes())));
        assert_eq!(
            file_name("create", &k, 1),
            format!("create-{}-001.json", &k.hex()[..20])
        );
    }
}
