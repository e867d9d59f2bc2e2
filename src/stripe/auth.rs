//! API keys on incoming requests: `Authorization: Bearer sk_…` (the SDKs) or
//! Basic with the key as user name (`curl -u sk_test_…:`); and every
//! credential a request carries in any spelling, for the live-key guard.

use std::fmt;

use base64::Engine;
use hyper::header::{HeaderMap, AUTHORIZATION};

/// A Stripe API key. Its `Debug` and `Display` never print the secret part,
/// so it can't leak through a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Reads the key from the `Authorization` header, if there is one that
    /// carries a key in either accepted scheme.
    pub fn from_headers(headers: &HeaderMap) -> Option<ApiKey> {
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
        let (scheme, credentials) = value.split_once(' ')?;
        let credentials = credentials.trim();
        let key = if scheme.eq_ignore_ascii_case("bearer") {
            credentials.to_owned()
        } else if scheme.eq_ignore_ascii_case("basic") {
            // The spec allows both `Basic base64(key:)` and `Basic <key>`.
            match base64::engine::general_purpose::STANDARD.decode(credentials) {
                Ok(bytes) => {
                    let decoded = String::from_utf8(bytes).ok()?;
                    decoded.split(':').next().unwrap_or_default().to_owned()
                }
                Err(_) => credentials.to_owned(),
            }
        } else {
            return None;
        };
        (!key.is_empty()).then_some(ApiKey(key))
    }

    /// Whether [`ApiKey::from_headers`] would find a key, without copying
    /// it: a Bearer key (what the SDKs send) is checked where it lies.
    pub fn present(headers: &HeaderMap) -> bool {
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
        match bearer {
            Some((_, credentials)) => !credentials.trim().is_empty(),
            None => ApiKey::from_headers(headers).is_some(),
        }
    }

    /// Every credential on the request, however spelt: each `Authorization`
    /// header (not only the first), the Bearer token after any run of
    /// whitespace, both the user and the password of Basic (base64 or
    /// raw), and every token of an unknown scheme. Stripe reads one of
    /// them; the live-key guard must see them all, or a live key rides
    /// past it beside a test key.
    pub fn credentials(headers: &HeaderMap) -> Vec<ApiKey> {
        let mut out = Vec::new();
        for value in headers.get_all(AUTHORIZATION) {
            let value = String::from_utf8_lossy(value.as_bytes());
            let mut words = value.split_ascii_whitespace();
            let Some(scheme) = words.next() else { continue };
            let rest: Vec<&str> = words.collect();
            if scheme.eq_ignore_ascii_case("basic") {
                for credentials in &rest {
                    match base64::engine::general_purpose::STANDARD.decode(credentials) {
                        Ok(bytes) => {
                            let decoded = String::from_utf8_lossy(&bytes).into_owned();
                            out.extend(decoded.split(':').map(str::to_owned));
                        }
                        Err(_) => out.extend(credentials.split(':').map(str::to_owned)),
                    }
                }
            } else if scheme.eq_ignore_ascii_case("bearer") {
                out.extend(rest.iter().map(|s| (*s).to_owned()));
            } else {
                // No known scheme: the whole value, word by word.
                out.push(scheme.to_owned());
                out.extend(rest.iter().map(|s| (*s).to_owned()));
            }
        }
        out.into_iter().filter(|k| !k.is_empty()).map(ApiKey).collect()
    }

    /// The first live-mode key among all of a request's [`ApiKey::credentials`].
    pub fn live_among(headers: &HeaderMap) -> Option<ApiKey> {
        ApiKey::credentials(headers).into_iter().find(ApiKey::is_live)
    }

    /// A live-mode secret or restricted key (`sk_live_`, `rk_live_`).
    pub fn is_live(&self) -> bool {
        self.0.starts_with("sk_live_") || self.0.starts_with("rk_live_")
    }

    /// The key as Stripe masks it in messages: first 8 characters, one `*`
    /// per hidden character, last 4 (`sk_test_****…1234`).
    pub fn masked(&self) -> String {
        crate::stripe::redact::mask_secret(&self.0)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.masked())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn key_of(value: &str) -> Option<ApiKey> {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        ApiKey::from_headers(&h)
    }

    #[test]
    fn bearer_and_basic_both_work() {
        let basic = base64::engine::general_purpose::STANDARD.encode("sk_test_abc:");
        for value in [
            "Bearer sk_test_abc",
            "bearer  sk_test_abc",
            &format!("Basic {basic}"),
            "Basic sk_test_abc",
        ] {
            assert_eq!(key_of(value), Some(ApiKey("sk_test_abc".into())), "{value}");
        }
        assert_eq!(key_of("Bearer "), None);
        assert_eq!(key_of("Digest x"), None);
        assert_eq!(ApiKey::from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn present_agrees_with_from_headers() {
        let basic = base64::engine::general_purpose::STANDARD.encode("sk_test_abc:");
        let empty_basic = base64::engine::general_purpose::STANDARD.encode(":");
        for value in [
            "Bearer sk_test_abc",
            "bearer  sk_test_abc ",
            "Bearer ",
            "Bearer",
            " Bearer x",
            &format!("Basic {basic}"),
            &format!("Basic {empty_basic}"),
            "Basic sk_test_abc",
            "Digest x",
            "",
        ] {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
            assert_eq!(ApiKey::present(&h), ApiKey::from_headers(&h).is_some(), "{value:?}");
        }
        assert!(!ApiKey::present(&HeaderMap::new()));
    }

    #[test]
    fn a_live_key_is_found_in_every_spelling() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let live = "sk_live_51LiveKeyabcdef";
        for spelling in [
            vec![format!("Bearer {live}")],
            vec![format!("Bearer\t{live}")],
            vec![format!("bearer   {live}  ")],
            vec![format!("Basic {}", b64(&format!("{live}:")))],
            vec![format!("Basic {}", b64(&format!(":{live}")))],
            vec![format!("Basic {}", b64(&format!("sk_test_x:{live}")))],
            vec![format!("Basic {live}")],
            vec![format!("Basic :{live}")],
            vec![format!("Token {live}")],
            vec!["Bearer sk_test_abc".to_owned(), format!("Bearer {live}")],
            vec![format!("Bearer {}", live.replace("sk_", "rk_"))],
        ] {
            let mut h = HeaderMap::new();
            for v in &spelling {
                h.append(AUTHORIZATION, HeaderValue::from_str(v).expect("header"));
            }
            let found = ApiKey::live_among(&h);
            assert!(found.is_some(), "{spelling:?}");
        }
        let mut h = HeaderMap::new();
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer sk_test_abc"));
        h.append(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {}", b64("sk_test_abc:"))).expect("header"),
        );
        assert_eq!(ApiKey::live_among(&h), None);
        assert_eq!(ApiKey::credentials(&h).len(), 2);
    }

    #[test]
    fn never_prints_the_secret() {
        let k = ApiKey("sk_test_51Hxyzsecretvalue1234".into());
        assert_eq!(k.to_string(), "sk_test_*****************1234");
        assert!(!format!("{k:?}").contains("secretvalue"));
        assert!(ApiKey("rk_live_x".into()).is_live());
        assert!(!ApiKey("sk_test_x".into()).is_live());
        assert_eq!(ApiKey("undefined".into()).masked(), "*****ined");
    }
}
