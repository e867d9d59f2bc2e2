//! Cassette sets: named subdirectories of the cassette directory, one per
//! test or scenario, chosen per request with the `Stripe-Vcr-Cassette`
//! header or an `/__cassette/<set>` prefix in the API base. Sequence counters
//! and idempotency memory are per set, so tests running in parallel against
//! one proxy never interfere.
//!
//! A set name becomes a directory name, the audit log's `cassette` field and
//! part of log lines, none of which is redacted after the fact: a request
//! naming a set that looks like a secret (`sk_test_…`, a client secret, …,
//! by the redactor's built-in rules) is refused, and error messages never
//! echo a secret in a name.

use std::fmt;
use std::path::{Path, PathBuf};

use hyper::http::request::Parts;
use hyper::Uri;

use crate::stripe::redact::Redactor;

/// The request header that names a set.
pub const SET_HEADER: &str = "stripe-vcr-cassette";

/// The path prefix that names a set, for clients that cannot add headers.
pub const SET_PREFIX: &str = "/__cassette/";

/// Longest accepted set name.
const MAX_LEN: usize = 200;

/// A validated set name: `/`-separated segments of letters, digits, `.`,
/// `_` and `-`, none of them `.` or `..`. The empty name is the cassette
/// directory itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CassetteSet(String);

/// A set name that could escape the cassette directory or is otherwise unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cassette set `{name}`: {reason}. Use names like checkout/happy-path (letters, digits, . _ -, separated by /)")]
pub struct SetError {
    pub name: String,
    pub reason: &'static str,
}

impl SetError {
    /// An error about `name`, with any secret in it redacted.
    fn about(name: &str, reason: &'static str) -> SetError {
        SetError {
            name: Redactor::standard().redact(name).chars().take(MAX_LEN).collect(),
            reason,
        }
    }
}

impl CassetteSet {
    /// A set a request asks for: a valid name ([`CassetteSet::parse`]) that
    /// does not look like a secret.
    pub fn requested(name: &str) -> Result<CassetteSet, SetError> {
        let set = CassetteSet::parse(name)?;
        if Redactor::standard().might_redact(set.name()) {
            return Err(SetError::about(
                name,
                "it looks like a secret (an API key, client secret or webhook secret), and set names become directory names and appear in logs",
            ));
        }
        Ok(set)
    }

    /// The raw value of `set=` in `uri`'s query (`?set=NAME` on the admin
    /// and webhook paths), for [`CassetteSet::parse`] and for answers that
    /// echo it as sent.
    pub fn query_value(uri: &Uri) -> Option<String> {
        uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "set")
                .map(|(_, v)| v.into_owned())
        })
    }

    /// The cassette directory itself.
    pub fn root() -> CassetteSet {
        CassetteSet(String::new())
    }

    /// Validates a set name.
    pub fn parse(name: &str) -> Result<CassetteSet, SetError> {
        let err = |reason| SetError::about(name, reason);
        let trimmed = name.trim();
        if trimmed.is_empty() {
            return Err(err("it is empty"));
        }
        if trimmed.len() > MAX_LEN {
            return Err(err("it is longer than 200 characters"));
        }
        if trimmed.starts_with('/') || trimmed.starts_with('\\') {
            return Err(err("absolute paths are not allowed"));
        }
        for segment in trimmed.trim_end_matches('/').split('/') {
            if segment.is_empty() {
                return Err(err("it has an empty path segment"));
            }
            if segment == "." || segment == ".." {
                return Err(err("`.` and `..` are not allowed"));
            }
            if segment.starts_with('.') {
                return Err(err("segments may not start with `.`"));
            }
            if !segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            {
                return Err(err("only letters, digits, `.`, `_` and `-` are allowed"));
            }
        }
        Ok(CassetteSet(trimmed.trim_end_matches('/').to_owned()))
    }

    /// The set's directory under `root`.
    pub fn dir(&self, root: &Path) -> PathBuf {
        if self.0.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&self.0)
        }
    }

    /// The name (`""` for the root).
    pub fn name(&self) -> &str {
        &self.0
    }

    /// `checkout/happy-path/create-….json` — a file name relative to the
    /// cassette directory.
    pub fn qualify(&self, file_name: &str) -> String {
        if self.0.is_empty() {
            file_name.to_owned()
        } else {
            format!("{}/{file_name}", self.0)
        }
    }

    /// The set a request asks for, and its URI with any `/__cassette/<set>`
    /// prefix removed. The header wins over the prefix when both are given.
    pub fn from_request(parts: &Parts) -> Result<(CassetteSet, Option<Uri>), SetError> {
        let mut set = CassetteSet::root();
        let mut rewritten = None;
        if let Some(rest) = parts.uri.path().strip_prefix(SET_PREFIX) {
            let (name, tail) = match rest.find("/v1/").or_else(|| rest.strip_suffix("/v1").map(|r| r.len())) {
                Some(i) => (&rest[..i], &rest[i..]),
                None => {
                    return Err(SetError::about(
                        rest,
                        "the path after /__cassette/<set> must continue with /v1/",
                    ))
                }
            };
            set = CassetteSet::requested(name)?;
            let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            rewritten = Some(
                format!("{tail}{query}")
                    .parse::<Uri>()
                    .map_err(|_| SetError::about(name, "the rest of the path is not a valid URI"))?,
            );
        }
        if let Some(value) = parts.headers.get(SET_HEADER) {
            let name = value
                .to_str()
                .map_err(|_| SetError::about(&String::from_utf8_lossy(value.as_bytes()), "the header is not ASCII"))?;
            set = CassetteSet::requested(name)?;
        }
        Ok((set, rewritten))
    }
}

impl fmt::Display for CassetteSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(default)")
        } else {
            f.write_str(&self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["checkout", "checkout/happy-path", "a.b_c-1/x", "trailing/"] {
            assert!(CassetteSet::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/abs",
            "../up",
            "a/../b",
            "a//b",
            ".hidden",
            "a/./b",
            "sp ace",
            "a\\b",
            "é",
            &"x".repeat(201),
        ] {
            assert!(CassetteSet::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            CassetteSet::parse("a/b").expect("ok").dir(Path::new("/c")),
            PathBuf::from("/c/a/b")
        );
        assert_eq!(CassetteSet::root().dir(Path::new("/c")), PathBuf::from("/c"));
    }

    fn parts(uri: &str, header: Option<&str>) -> Parts {
        let mut b = hyper::Request::builder().uri(uri);
        if let Some(h) = header {
            b = b.header(SET_HEADER, h);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn requests_pick_a_set_by_header_or_path_prefix() {
        let (set, uri) = CassetteSet::from_request(&parts("/v1/payment_intents", None)).expect("ok");
        assert_eq!((set, uri), (CassetteSet::root(), None));
        let (set, uri) = CassetteSet::from_request(&parts("/v1/payment_intents", Some("checkout/happy"))).expect("ok");
        assert_eq!((set.name(), uri), ("checkout/happy", None));
        let (set, uri) = CassetteSet::from_request(&parts(
            "/__cassette/checkout/happy/v1/payment_intents/pi_1?expand[0]=x",
            None,
        ))
        .expect("ok");
        assert_eq!(set.name(), "checkout/happy");
        assert_eq!(
            uri.expect("rewritten").to_string(),
            "/v1/payment_intents/pi_1?expand[0]=x"
        );
        assert!(CassetteSet::from_request(&parts("/__cassette/../v1/payment_intents", None)).is_err());
        assert!(CassetteSet::from_request(&parts("/__cassette/x/other", None)).is_err());
        assert!(CassetteSet::from_request(&parts("/v1/payment_intents", Some("../etc"))).is_err());
    }

    #[test]
    fn secret_shaped_set_names_are_refused_without_being_echoed() {
        for (uri, header) in [
            ("/v1/payment_intents", Some("sk_test_51SetNameSecret00")),
            ("/v1/payment_intents", Some("checkout/key_sk_live_51SetNameSecret00")),
            ("/v1/payment_intents", Some("pi_1Abc_secret_SetNameSecret00")),
            ("/v1/payment_intents", Some("a_whsec_SetNameSecret00")),
            ("/__cassette/sk_test_51SetNameSecret00/v1/payment_intents", None),
            ("/__cassette/x/rk_live_51SetNameSecret00/v1/payment_intents", None),
        ] {
            let err = CassetteSet::from_request(&parts(uri, header)).expect_err(uri);
            let shown = err.to_string();
            assert!(shown.contains("looks like a secret"), "{shown}");
            assert!(!shown.contains("SetNameSecret00"), "{shown}");
        }
        // Other errors do not echo a secret either.
        let err = CassetteSet::parse("sk_test_51SetNameSecret00/../x").expect_err("dots");
        assert!(!err.to_string().contains("SetNameSecret00"), "{err}");
        // Placeholders and ordinary names are fine.
        for ok in ["sk_test_REDACTED", "checkout/secret-handling", "task-test-1"] {
            assert!(CassetteSet::requested(ok).is_ok(), "{ok}");
        }
    }
}
