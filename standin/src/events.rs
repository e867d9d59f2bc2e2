//! Events: the ordered log of state changes (`GET /v1/events`), each also
//! queued for webhook delivery with `--webhook-url` (see `webhooks`).

use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::http::DEFAULT_STRIPE_VERSION;
use crate::list::Keyed;
use crate::params::{Params, RangeFilter};
use crate::state::State;

/// Parameters of `GET /v1/events`.
const LIST_PARAMS: &[&str] = &[
    "created",
    "delivery_success",
    "ending_before",
    "expand",
    "limit",
    "starting_after",
    "type",
    "types",
];

/// One event: a snapshot of the object as it was when the change happened.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) created: i64,
    pub(crate) object: Value,
    pub(crate) request_id: Option<String>,
    pub(crate) idempotency_key: Option<String>,
}

impl Keyed for Event {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Event {
    /// Stripe's event shape.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "event",
            "api_version": DEFAULT_STRIPE_VERSION,
            "created": self.created,
            "data": { "object": self.object },
            "livemode": false,
            "pending_webhooks": 0,
            "request": { "id": self.request_id, "idempotency_key": self.idempotency_key },
            "type": self.kind,
        })
    }
}

/// True if an event type matches a `type` filter (`*` matches a suffix, as in `charge.*`).
fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

impl State {
    /// Appends an event for `object` (already rendered) to the log. Its id
    /// comes from the stream of other resources and its time is the clock's
    /// current time (the clock does not advance), so PaymentIntent flows keep
    /// their ids and timestamps.
    pub(crate) fn emit(&mut self, kind: &str, object: Value) {
        let event = Event {
            id: self.ids.other_id("evt"),
            kind: kind.to_owned(),
            created: self.clock.now(),
            object,
            request_id: self.ctx.request_id.clone(),
            idempotency_key: self.ctx.idempotency_key.clone(),
        };
        if let Some(outbox) = &mut self.outbox {
            outbox.push(event.clone());
        }
        self.events.insert(event);
    }

    /// `GET /v1/events`.
    pub(crate) fn list_events(&self, p: Params) -> Result<Value, ApiError> {
        p.check_known(LIST_PARAMS)?;
        let kind = p.non_empty_text("type")?;
        let types = p.text_list("types")?;
        if kind.is_some() && types.is_some() {
            return Err(ApiError::invalid("You may only specify one of these parameters: type, types.").param("types"));
        }
        let created = RangeFilter::parse(&p, "created")?;
        let keep = |e: &Event| {
            kind.as_deref().is_none_or(|k| type_matches(k, &e.kind))
                && types
                    .as_ref()
                    .is_none_or(|ts| ts.iter().any(|t| type_matches(t, &e.kind)))
                && created.contains(e.created)
        };
        self.events.list(&p, "/v1/events", keep, Event::to_json, |id, param| {
            ApiError::no_such("event", id, param)
        })
    }

    /// `GET /v1/events/{id}`.
    pub(crate) fn retrieve_event(&self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["expand"])?;
        self.events
            .find(id)
            .map(Event::to_json)
            .ok_or_else(|| ApiError::no_such("event", id, "id"))
    }
}
