//! Sealing: the one way to turn a cassette into something the store will
//! write. A sealed cassette ([`Redacted`]) has been through the redactor
//! whole, every key and string in every part, so no code path can write an
//! unredacted copy.

use crate::cassette::event::EventCassette;
use crate::cassette::format::Cassette;
use crate::stripe::redact::Redactor;

/// Why a cassette could not be sealed (and so is not written).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The cassette did not survive the trip through JSON.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The response body is still encoded (the upstream used an encoding
    /// stripe-vcr does not decode, or the body did not decode): it cannot be
    /// checked for secrets, so it is not stored.
    #[error("the upstream's body is sent with Content-Encoding `{encoding}`, which stripe-vcr could not decode, so it cannot be checked for secrets; the client got it as sent, but no cassette is written")]
    Encoded { encoding: String },
}

/// A value that has been through the redactor. Only [`seal`] makes them,
/// and the cassette store writes nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// The redacted value.
    pub fn get(&self) -> &T {
        &self.0
    }
}

/// Runs a whole cassette through the redactor
/// ([`Redactor::redact_cassette_value`]): every key and string in it,
/// whatever part it sits in. The result is what the store writes. A
/// response whose body is still encoded (`Content-Encoding` kept: the
/// upstream's encoding could not be undone) is refused, since its bytes
/// cannot be checked.
pub fn seal(redactor: &Redactor, cassette: &Cassette) -> Result<Redacted<Cassette>, SealError> {
    if let Some(encoding) = cassette
        .response
        .headers
        .get("content-encoding")
        .filter(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"))
    {
        return Err(SealError::Encoded {
            encoding: redactor.redact(encoding).into_owned(),
        });
    }
    let value = serde_json::to_value(cassette)?;
    Ok(Redacted(serde_json::from_value(
        redactor.redact_cassette_value(&value, None),
    )?))
}

/// Runs a whole event cassette through the redactor, like [`seal`]: the
/// event's keys and strings (client secrets in its object, a signing secret
/// of a `webhook_endpoint` event, card data), every part.
pub fn seal_event(redactor: &Redactor, event: &EventCassette) -> Result<Redacted<EventCassette>, SealError> {
    let value = serde_json::to_value(event)?;
    Ok(Redacted(serde_json::from_value(
        redactor.redact_cassette_value(&value, None),
    )?))
}
