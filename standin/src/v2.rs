//! Stripe's v2 API (JSON bodies, `Stripe-Context`, v2 error envelope):
//! `/v2/core/event_destinations` create, retrieve and list.

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use crate::errors::ApiError;
use crate::ids::rfc3339;
use crate::list::Keyed;
use crate::params::Params;
use crate::state::State;

/// Fields of `POST /v2/core/event_destinations`.
const CREATE_FIELDS: &[&str] = &[
    "amazon_eventbridge",
    "description",
    "enabled_events",
    "event_payload",
    "events_from",
    "include",
    "metadata",
    "name",
    "snapshot_api_version",
    "type",
    "webhook_endpoint",
];

/// A v2 event destination, visible only under the `Stripe-Context` it was created in.
#[derive(Debug, Clone)]
pub(crate) struct EventDestination {
    pub(crate) id: String,
    pub(crate) context: Option<String>,
    pub(crate) created: i64,
    pub(crate) description: Option<String>,
    pub(crate) enabled_events: Vec<String>,
    pub(crate) event_payload: String,
    pub(crate) events_from: Vec<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) name: String,
    pub(crate) snapshot_api_version: Option<String>,
    pub(crate) kind: String,
    pub(crate) url: Option<String>,
    pub(crate) signing_secret: String,
}

impl Keyed for EventDestination {
    fn key(&self) -> &str {
        &self.id
    }
}

impl EventDestination {
    /// The v2 shape (RFC 3339 times); the webhook signing secret only when
    /// `include` names `webhook_endpoint.signing_secret`.
    fn to_json(&self, include_secret: bool) -> Value {
        let webhook = self.url.as_ref().map(|url| {
            json!({
                "signing_secret": if include_secret { json!(self.signing_secret) } else { Value::Null },
                "url": url,
            })
        });
        json!({
            "id": self.id,
            "object": "v2.core.event_destination",
            "amazon_eventbridge": null,
            "created": rfc3339(self.created),
            "description": self.description,
            "enabled_events": self.enabled_events,
            "event_payload": self.event_payload,
            "events_from": self.events_from,
            "livemode": false,
            "metadata": self.metadata,
            "name": self.name,
            "snapshot_api_version": self.snapshot_api_version,
            "status": "enabled",
            "status_details": null,
            "type": self.kind,
            "updated": rfc3339(self.created),
            "webhook_endpoint": webhook,
        })
    }
}

/// v2's `invalid_fields` error for one field.
fn invalid_field(field: &str, message: &str) -> ApiError {
    ApiError::v2(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_fields",
        format!("Request contains invalid fields: {field}: {message}"),
    )
}

/// v2's not-found error.
fn not_found(id: &str) -> ApiError {
    ApiError::v2(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "not_found",
        format!("No such event destination: '{id}'"),
    )
}

/// A list of strings in a JSON (or form) field.
fn strings(p: &Params, key: &str) -> Result<Option<Vec<String>>, ApiError> {
    p.text_list(key)
        .map_err(|_| invalid_field(key, "must be an array of strings"))
}

impl State {
    /// True if the `include` field or query names the signing secret.
    fn includes_secret(p: &Params) -> bool {
        strings(p, "include")
            .ok()
            .flatten()
            .is_some_and(|v| v.iter().any(|s| s == "webhook_endpoint.signing_secret"))
    }

    /// `POST /v2/core/event_destinations`.
    pub(crate) fn v2_create_event_destination(&mut self, p: Params) -> Result<Value, ApiError> {
        if let Some(unknown) = p.map.keys().find(|k| !CREATE_FIELDS.contains(&k.as_str())) {
            return Err(invalid_field(unknown, "is not a known field"));
        }
        let text = |key: &str| {
            p.non_empty_text(key)
                .map_err(|_| invalid_field(key, "must be a string"))
        };
        let name = text("name")?.ok_or_else(|| invalid_field("name", "is required"))?;
        let kind = text("type")?.ok_or_else(|| invalid_field("type", "is required"))?;
        let event_payload = text("event_payload")?.ok_or_else(|| invalid_field("event_payload", "is required"))?;
        let enabled_events =
            strings(&p, "enabled_events")?.ok_or_else(|| invalid_field("enabled_events", "is required"))?;
        if !matches!(event_payload.as_str(), "snapshot" | "thin") {
            return Err(invalid_field("event_payload", "must be one of snapshot, thin"));
        }
        let url = match kind.as_str() {
            "webhook_endpoint" => {
                let endpoint =
                    p.hash("webhook_endpoint").ok().flatten().flatten().ok_or_else(|| {
                        invalid_field("webhook_endpoint", "is required when type is webhook_endpoint")
                    })?;
                Some(
                    endpoint
                        .non_empty_text("url")
                        .ok()
                        .flatten()
                        .ok_or_else(|| invalid_field("webhook_endpoint.url", "is required"))?,
                )
            }
            "amazon_eventbridge" => None,
            _ => {
                return Err(invalid_field(
                    "type",
                    "must be one of amazon_eventbridge, webhook_endpoint",
                ))
            }
        };
        let metadata = match p.map.get("metadata") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let include_secret = Self::includes_secret(&p);
        let created = self.clock.stamp();
        let destination = EventDestination {
            id: format!("ed_test_{}", self.ids.other_token(44)),
            context: self.ctx.stripe_context.clone(),
            created,
            description: text("description")?,
            enabled_events,
            event_payload,
            events_from: strings(&p, "events_from")?.unwrap_or_else(|| vec!["self".to_owned()]),
            metadata,
            name,
            snapshot_api_version: text("snapshot_api_version")?,
            kind,
            url,
            signing_secret: format!("whsec_{}", self.ids.other_token(32)),
        };
        let body = destination.to_json(include_secret);
        self.event_destinations.insert(destination);
        Ok(body)
    }

    /// `GET /v2/core/event_destinations/{id}` (only under the creating `Stripe-Context`).
    pub(crate) fn v2_retrieve_event_destination(&self, id: &str, p: Params) -> Result<Value, ApiError> {
        self.event_destinations
            .find(id)
            .filter(|d| d.context == self.ctx.stripe_context)
            .map(|d| d.to_json(Self::includes_secret(&p)))
            .ok_or_else(|| not_found(id))
    }

    /// `GET /v2/core/event_destinations` (v2 list: `data`, `next_page_url`, `previous_page_url`).
    pub(crate) fn v2_list_event_destinations(&self, p: Params) -> Result<Value, ApiError> {
        let limit = p
            .integer("limit")
            .map_err(|_| invalid_field("limit", "must be an integer"))?
            .unwrap_or(10);
        if !(1..=100).contains(&limit) {
            return Err(invalid_field("limit", "must be between 1 and 100"));
        }
        let include_secret = Self::includes_secret(&p);
        let data: Vec<Value> = self
            .event_destinations
            .iter()
            .rev()
            .filter(|d| d.context == self.ctx.stripe_context)
            .take(usize::try_from(limit).unwrap_or(10))
            .map(|d| d.to_json(include_secret))
            .collect();
        Ok(json!({ "data": data, "next_page_url": null, "previous_page_url": null }))
    }
}
