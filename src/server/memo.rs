//! The decode memo: a request whose every byte that decoding reads (method,
//! path and query, body, and the headers that pick the set, the body's type
//! and the identifying headers) matches one seen before is answered from
//! what decoding it worked out then, without decoding, redacting,
//! canonicalising, hashing (SHA-256) or validating it again.
//!
//! Found by a fast non-cryptographic hash (`rustc-hash`) of those bytes,
//! then compared with them byte for byte: a hash collision costs a look-up,
//! never a wrong answer. The SHA-256 key stays what names and finds a
//! cassette; this only saves computing it again. Only modes that answer
//! from what a memo holds ([`crate::mode::Mode::handles_known`]: replay)
//! keep one, and not with `--audit-log`, whose lines carry each request's
//! parameters.
//!
//! Bounded: at most [`ENTRIES`] requests and [`BYTES`] of their bytes; a
//! request larger than [`REQUEST_BYTES`] is never kept, and when the memo
//! is full it is emptied and fills again with what comes next.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use hyper::Method;

use crate::cassette::key::IDENTIFYING_HEADERS;
use crate::cassette::set::SET_HEADER;
use crate::mode::Known;
use crate::server::findings::Findings;

/// Most requests remembered.
pub const ENTRIES: usize = 4096;

/// Most bytes of requests remembered, in all.
pub const BYTES: usize = 4 << 20;

/// Largest request remembered (path, query, headers read and body).
pub const REQUEST_BYTES: usize = 16 << 10;

/// The request headers decoding reads: the set, the body's type, and the
/// identifying headers (`IDENTIFYING_HEADERS`, spelt out for [`Memo::read`]'s
/// `match`; a test checks they agree). Decoding reads the first value of
/// each, as the memo does.
const READ_HEADERS: [&str; 2 + IDENTIFYING_HEADERS.len()] = [
    SET_HEADER,
    "content-type",
    "stripe-account",
    "stripe-context",
    "stripe-version",
];

/// How many request headers decoding reads.
const READ: usize = READ_HEADERS.len();

/// What a remembered request decoded to.
#[derive(Debug)]
pub struct Entry {
    request: Raw,
    /// What the mode needs to answer it.
    pub known: Known,
    /// Its `--validate warn` findings, if any.
    pub findings: Option<Arc<Findings>>,
    /// Its path as the access line shows it: redacted, printable.
    pub logged_path: Box<str>,
}

/// The bytes of a request that decoding reads.
#[derive(Debug)]
struct Raw {
    method: Method,
    path_and_query: Box<str>,
    headers: [Option<Box<[u8]>>; READ],
    body: Box<[u8]>,
}

impl Raw {
    fn len(&self) -> usize {
        self.path_and_query.len() + self.body.len() + self.headers.iter().flatten().map(|h| h.len()).sum::<usize>()
    }

    fn matches(&self, parts: &Parts, body: &[u8], read: &[Option<&HeaderValue>; READ]) -> bool {
        self.method == parts.method
            && *self.path_and_query == *path_and_query(parts)
            && *self.body == *body
            && self
                .headers
                .iter()
                .zip(read)
                .all(|(kept, sent)| kept.as_deref() == sent.map(HeaderValue::as_bytes))
    }
}

fn path_and_query(parts: &Parts) -> &str {
    parts.uri.path_and_query().map_or("/", |pq| pq.as_str())
}

/// A request not found in the memo, with what it takes to remember it.
#[derive(Debug)]
pub struct Unknown {
    hash: u64,
    request: Option<Raw>,
}

/// What [`Memo::find`] found.
#[derive(Debug)]
pub enum Found {
    /// The same request, decoded before.
    Known(Arc<Entry>),
    /// Not seen (or not kept): decode it, then [`Memo::remember`] it.
    Unknown(Unknown),
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<u64, Arc<Entry>, rustc_hash::FxBuildHasher>,
    bytes: usize,
}

/// Requests decoded before, by the bytes decoding read.
#[derive(Debug, Default)]
pub struct Memo {
    table: RwLock<Table>,
}

impl Memo {
    /// Looks `parts` and `body` up. Allocates nothing when found.
    pub fn find(&self, parts: &Parts, body: &Bytes) -> Found {
        let read = self.read(&parts.headers);
        let hash = hash(parts, body, &read);
        {
            let table = self.table.read().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = table.entries.get(&hash) {
                if entry.request.matches(parts, body, &read) {
                    return Found::Known(entry.clone());
                }
            }
        }
        let size = path_and_query(parts).len() + body.len() + read.iter().flatten().map(|v| v.len()).sum::<usize>();
        let request = (size <= REQUEST_BYTES).then(|| Raw {
            method: parts.method.clone(),
            path_and_query: path_and_query(parts).into(),
            headers: read.map(|v| v.map(|v| Box::from(v.as_bytes()))),
            body: Box::from(&body[..]),
        });
        Found::Unknown(Unknown { hash, request })
    }

    /// The first value of each header decoding reads (what decoding reads
    /// too), in one pass over the request's headers.
    fn read<'a>(&self, headers: &'a HeaderMap) -> [Option<&'a HeaderValue>; READ] {
        let mut read = [None; READ];
        for (name, value) in headers {
            // A `match` on the text: by length first, then the bytes.
            let i = match name.as_str() {
                SET_HEADER => 0,
                "content-type" => 1,
                "stripe-account" => 2,
                "stripe-context" => 3,
                "stripe-version" => 4,
                _ => continue,
            };
            read[i].get_or_insert(value);
        }
        read
    }

    /// Remembers what `unknown` decoded to (unless it was too large to keep).
    pub fn remember(&self, unknown: Unknown, known: Known, findings: Option<Arc<Findings>>, logged_path: Box<str>) {
        let Some(request) = unknown.request else {
            return;
        };
        let size = request.len();
        let entry = Arc::new(Entry {
            request,
            known,
            findings,
            logged_path,
        });
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        if table.entries.len() >= ENTRIES || table.bytes + size > BYTES {
            table.entries.clear();
            table.bytes = 0;
        }
        if let Some(previous) = table.entries.insert(unknown.hash, entry) {
            table.bytes -= previous.request.len();
        }
        table.bytes += size;
    }

    /// Requests remembered now.
    pub fn len(&self) -> usize {
        self.table.read().unwrap_or_else(|p| p.into_inner()).entries.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The memo's hash of a request: FxHash of what decoding reads.
fn hash(parts: &Parts, body: &[u8], read: &[Option<&HeaderValue>; READ]) -> u64 {
    let mut hasher = rustc_hash::FxBuildHasher.build_hasher();
    hasher.write(parts.method.as_str().as_bytes());
    hasher.write_u8(0xff);
    hasher.write(path_and_query(parts).as_bytes());
    hasher.write_u8(0xff);
    for value in read {
        match value {
            Some(value) => {
                hasher.write_usize(value.len());
                hasher.write(value.as_bytes());
            }
            None => hasher.write_usize(usize::MAX),
        }
    }
    hasher.write(body);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassette::set::CassetteSet;
    use hyper::header::CONTENT_TYPE;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = hyper::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    fn known(path: &str) -> Known {
        Known {
            set: CassetteSet::root(),
            key: crate::cassette::key::RequestKey::of_canonical_bytes(path.as_bytes()),
            is_api: true,
            path: path.to_owned(),
        }
    }

    /// Remembers `(parts, body)` as `path`.
    fn remember(memo: &Memo, parts: &Parts, body: &'static [u8], path: &str) {
        match memo.find(parts, &Bytes::from_static(body)) {
            Found::Unknown(unknown) => memo.remember(unknown, known(path), None, path.into()),
            Found::Known(_) => panic!("already known"),
        }
    }

    fn found(memo: &Memo, parts: &Parts, body: &'static [u8]) -> Option<String> {
        match memo.find(parts, &Bytes::from_static(body)) {
            Found::Known(entry) => Some(entry.known.path.clone()),
            Found::Unknown(_) => None,
        }
    }

    #[test]
    fn only_the_same_bytes_find_an_entry() {
        let memo = Memo::default();
        let sent = parts(
            "POST",
            "/v1/payment_intents?expand[]=x",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("stripe-version", "2026-07-29.dahlia"),
                ("user-agent", "a"),
                ("idempotency-key", "k1"),
            ],
        );
        remember(&memo, &sent, b"amount=1", "first");
        assert_eq!(found(&memo, &sent, b"amount=1").as_deref(), Some("first"));
        // Headers decoding does not read may differ.
        let other_agent = parts(
            "POST",
            "/v1/payment_intents?expand[]=x",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("stripe-version", "2026-07-29.dahlia"),
                ("user-agent", "b"),
                ("idempotency-key", "k2"),
            ],
        );
        assert_eq!(found(&memo, &other_agent, b"amount=1").as_deref(), Some("first"));
        // Anything decoding reads may not.
        assert_eq!(found(&memo, &sent, b"amount=2"), None, "one body byte");
        assert_eq!(found(&memo, &sent, b"amount=1 "), None, "one more body byte");
        for (what, differs) in [
            (
                "method",
                parts(
                    "PUT",
                    "/v1/payment_intents?expand[]=x",
                    &[
                        ("content-type", "application/x-www-form-urlencoded"),
                        ("stripe-version", "2026-07-29.dahlia"),
                    ],
                ),
            ),
            (
                "query",
                parts(
                    "POST",
                    "/v1/payment_intents?expand[]=y",
                    &[
                        ("content-type", "application/x-www-form-urlencoded"),
                        ("stripe-version", "2026-07-29.dahlia"),
                    ],
                ),
            ),
            (
                "content type",
                parts(
                    "POST",
                    "/v1/payment_intents?expand[]=x",
                    &[
                        ("content-type", "application/json"),
                        ("stripe-version", "2026-07-29.dahlia"),
                    ],
                ),
            ),
            (
                "version",
                parts(
                    "POST",
                    "/v1/payment_intents?expand[]=x",
                    &[
                        ("content-type", "application/x-www-form-urlencoded"),
                        ("stripe-version", "2024-06-20"),
                    ],
                ),
            ),
            (
                "no version",
                parts(
                    "POST",
                    "/v1/payment_intents?expand[]=x",
                    &[("content-type", "application/x-www-form-urlencoded")],
                ),
            ),
            (
                "account",
                parts(
                    "POST",
                    "/v1/payment_intents?expand[]=x",
                    &[
                        ("content-type", "application/x-www-form-urlencoded"),
                        ("stripe-version", "2026-07-29.dahlia"),
                        ("stripe-account", "acct_1"),
                    ],
                ),
            ),
            (
                "set",
                parts(
                    "POST",
                    "/v1/payment_intents?expand[]=x",
                    &[
                        ("content-type", "application/x-www-form-urlencoded"),
                        ("stripe-version", "2026-07-29.dahlia"),
                        ("stripe-vcr-cassette", "other"),
                    ],
                ),
            ),
            (
                "set prefix",
                parts(
                    "POST",
                    "/__cassette/other/v1/payment_intents?expand[]=x",
                    &[
                        ("content-type", "application/x-www-form-urlencoded"),
                        ("stripe-version", "2026-07-29.dahlia"),
                    ],
                ),
            ),
        ] {
            assert_eq!(found(&memo, &differs, b"amount=1"), None, "{what}");
        }
    }

    #[test]
    fn every_header_decoding_reads_is_compared() {
        for name in IDENTIFYING_HEADERS {
            assert!(READ_HEADERS.contains(&name), "{name}");
        }
        assert!(READ_HEADERS.contains(&SET_HEADER) && READ_HEADERS.contains(&CONTENT_TYPE.as_str()));
        // Each is read into its own place.
        let memo = Memo::default();
        let mut headers = HeaderMap::new();
        for name in READ_HEADERS {
            headers.append(name, HeaderValue::from_static(name));
            headers.append(name, HeaderValue::from_static("a second value"));
        }
        headers.append("user-agent", HeaderValue::from_static("not read"));
        let read = memo.read(&headers);
        for (name, value) in READ_HEADERS.iter().zip(read) {
            assert_eq!(
                value.map(HeaderValue::as_bytes),
                Some(name.as_bytes()),
                "the first {name}"
            );
        }
    }

    #[test]
    fn a_colliding_hash_is_not_an_answer() {
        let memo = Memo::default();
        let a = parts("GET", "/v1/payment_intents/pi_a", &[]);
        let b = parts("GET", "/v1/payment_intents/pi_b", &[]);
        remember(&memo, &a, b"", "a");
        // Force b's entry into a's slot, as a collision would.
        let hash_a = hash(&a, b"", &memo.read(&a.headers));
        let Found::Unknown(unknown_b) = memo.find(&b, &Bytes::new()) else {
            panic!("b is new")
        };
        memo.remember(
            Unknown {
                hash: hash_a,
                request: unknown_b.request,
            },
            known("b"),
            None,
            "b".into(),
        );
        assert_eq!(found(&memo, &a, b""), None, "a's slot now holds b: a is looked up anew");
        assert_eq!(found(&memo, &b, b""), None, "and b is not found under its own hash");
    }

    #[test]
    fn it_stays_within_its_bounds() {
        let memo = Memo::default();
        for n in 0..ENTRIES + 10 {
            let p = parts("GET", &format!("/v1/payment_intents/pi_{n}"), &[]);
            let Found::Unknown(unknown) = memo.find(&p, &Bytes::new()) else {
                panic!("new")
            };
            memo.remember(unknown, known("x"), None, "x".into());
            assert!(memo.len() <= ENTRIES);
        }
        assert_eq!(memo.len(), 10, "emptied when full, then filled again");
        let big = parts("POST", "/v1/payment_intents", &[]);
        let body = Bytes::from(vec![b'a'; REQUEST_BYTES + 1]);
        let Found::Unknown(unknown) = memo.find(&big, &body) else {
            panic!("new")
        };
        memo.remember(unknown, known("big"), None, "big".into());
        assert!(matches!(memo.find(&big, &body), Found::Unknown(_)), "too large to keep");
    }
}
