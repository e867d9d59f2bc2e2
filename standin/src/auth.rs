//! API-key authentication (Bearer or Basic), as Stripe checks it.

use base64::Engine as _;
use hyper::header::HeaderMap;

use crate::errors::ApiError;

/// Accepts `Bearer sk_test_…`/`rk_test_…` or Basic auth with the key as user name.
pub(crate) fn authenticate(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get("authorization") else {
        return Err(ApiError::missing_api_key());
    };
    let value = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value.as_str(), ""));
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        credentials.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .map_err(|_| ApiError::invalid_api_key(credentials.trim()))?;
        let decoded = String::from_utf8_lossy(&decoded).into_owned();
        decoded.split(':').next().unwrap_or_default().to_owned()
    } else {
        value.clone()
    };
    if key.is_empty() {
        return Err(ApiError::missing_api_key());
    }
    let valid = ["sk_test_", "rk_test_"]
        .iter()
        .any(|prefix| key.len() > prefix.len() && key.starts_with(prefix));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_api_key(&key))
    }
}
