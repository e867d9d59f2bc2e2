//! The server's state and one request end to end: hooks, auth, idempotency, dispatch.

use std::collections::HashSet;

use hyper::{Method, StatusCode};
use serde_json::Value;

use crate::auth::authenticate;
use crate::charges::Charge;
use crate::customers::Customer;
use crate::decode::decode_request;
use crate::errors::ApiError;
use crate::events::Event;
use crate::hooks::{FAIL_ONCE_HEADER, FAIL_ONCE_METADATA, RETRY_AFTER_SUCCESS_METADATA};
use crate::http::{ApiRequest, Reply};
use crate::idempotency::{IdempotencyCache, Lookup, Recorded};
use crate::ids::{Clock, IdGen};
use crate::list::Collection;
use crate::params::Params;
use crate::payment_intents::Store;
use crate::payment_methods::PaymentMethod;
use crate::refunds::Refund;
use crate::routes::Route;
use crate::secrets::{Token, WebhookEndpoint};
use crate::setup_intents::SetupIntent;
use crate::v2::EventDestination;

/// What the endpoint being run knows of its request (for events and header-driven rules).
#[derive(Debug, Default, Clone)]
pub(crate) struct RequestContext {
    pub(crate) request_id: Option<String>,
    pub(crate) idempotency_key: Option<String>,
    /// The `Stripe-Version` header, if sent.
    pub(crate) stripe_version: Option<String>,
    /// The `Stripe-Context` header, if sent.
    pub(crate) stripe_context: Option<String>,
}

/// Everything the server remembers.
pub(crate) struct State {
    pub(crate) store: Store,
    pub(crate) idempotency: IdempotencyCache,
    /// `Standin-Fail-Once` (header or create metadata) tokens already failed.
    pub(crate) failed_tokens: HashSet<String>,
    /// `standin_retry_after_success` tokens already answered once.
    pub(crate) retried_tokens: HashSet<String>,
    pub(crate) ids: IdGen,
    pub(crate) clock: Clock,
    pub(crate) customers: Collection<Customer>,
    pub(crate) payment_methods: Collection<PaymentMethod>,
    pub(crate) setup_intents: Collection<SetupIntent>,
    pub(crate) charges: Collection<Charge>,
    pub(crate) refunds: Collection<Refund>,
    /// Every event, in the order the changes happened (for webhook delivery).
    pub(crate) events: Collection<Event>,
    pub(crate) tokens: Collection<Token>,
    pub(crate) webhook_endpoints: Collection<WebhookEndpoint>,
    pub(crate) event_destinations: Collection<EventDestination>,
    /// The request being run.
    pub(crate) ctx: RequestContext,
    /// Events not yet queued for webhook delivery, in log order; `None`
    /// unless `--webhook-url` is given.
    pub(crate) outbox: Option<Vec<Event>>,
}

impl State {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        Self {
            store: Store::default(),
            idempotency: IdempotencyCache::default(),
            failed_tokens: HashSet::new(),
            retried_tokens: HashSet::new(),
            ids: IdGen::new(seed),
            clock: Clock::new(seed),
            customers: Collection::default(),
            payment_methods: Collection::default(),
            setup_intents: Collection::default(),
            charges: Collection::default(),
            refunds: Collection::default(),
            events: Collection::default(),
            tokens: Collection::default(),
            webhook_endpoints: Collection::default(),
            event_destinations: Collection::default(),
            ctx: RequestContext::default(),
            outbox: None,
        }
    }

    /// Handles one request end to end (hooks, auth, idempotency, endpoint).
    pub(crate) fn execute(&mut self, req: &ApiRequest, request_id: &str) -> Reply {
        match self.try_execute(req, request_id) {
            Ok(reply) => reply,
            Err(error) => error.into_reply(),
        }
    }

    pub(crate) fn try_execute(&mut self, req: &ApiRequest, request_id: &str) -> Result<Reply, ApiError> {
        if let Some(token) = req.header(FAIL_ONCE_HEADER) {
            if self.failed_tokens.insert(token.to_owned()) {
                return Err(ApiError::simulated_failure());
            }
        }
        authenticate(&req.headers)?;
        let route =
            Route::parse(&req.method, &req.path).ok_or_else(|| ApiError::unrecognized_url(&req.method, &req.path))?;
        let params = decode_request(req)?;
        let retry_after_success = match route {
            Route::Create => params
                .get("metadata")
                .and_then(|m| m.get(RETRY_AFTER_SUCCESS_METADATA))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        if route == Route::Create {
            let token = params
                .get("metadata")
                .and_then(|m| m.get(FAIL_ONCE_METADATA))
                .and_then(Value::as_str);
            if let Some(token) = token {
                if self.failed_tokens.insert(token.to_owned()) {
                    return Err(ApiError::simulated_failure());
                }
            }
        }
        let idempotency_key = match req.method {
            Method::POST => req.header("idempotency-key").filter(|k| !k.is_empty()),
            _ => None,
        };
        if let Some(key) = idempotency_key {
            match self.idempotency.lookup(key, &req.path, &params) {
                Lookup::Replay(recorded) => {
                    return Ok(Reply {
                        status: recorded.status,
                        body: recorded.body.clone(),
                        headers: Vec::new(),
                        original_request: Some(recorded.request_id.clone()),
                        replayed: true,
                    })
                }
                Lookup::Mismatch(error) => return Err(error),
                Lookup::Fresh => {}
            }
        }
        self.ctx = RequestContext {
            request_id: Some(request_id.to_owned()),
            idempotency_key: idempotency_key.map(str::to_owned),
            stripe_version: req.header("stripe-version").map(str::to_owned),
            stripe_context: req.header("stripe-context").map(str::to_owned),
        };
        let outcome = self.run(route, Params::new(&params));
        let remember = outcome.as_ref().map_or_else(|e| e.remembered, |_| true);
        let mut reply = match outcome {
            Ok(body) => Reply::ok(&body),
            Err(error) => error.into_reply(),
        };
        if let Some(token) = retry_after_success.filter(|_| reply.status == StatusCode::OK) {
            if self.retried_tokens.insert(token) {
                reply.headers.push(("stripe-should-retry", "true".to_owned()));
            }
        }
        if let (Some(key), true) = (idempotency_key, remember) {
            self.idempotency.record(
                key,
                Recorded {
                    path: req.path.clone(),
                    params,
                    status: reply.status,
                    body: reply.body.clone(),
                    request_id: request_id.to_owned(),
                },
            );
        }
        Ok(reply)
    }

    /// Dispatches to the endpoint.
    pub(crate) fn run(&mut self, route: Route, p: Params) -> Result<Value, ApiError> {
        match route {
            Route::List => self.list(p),
            Route::Create => self.create(p),
            Route::Search => self.search(p),
            Route::Retrieve(id) => self.retrieve(&id, p),
            Route::Update(id) => self.update(&id, p),
            Route::Confirm(id) => self.confirm(&id, p),
            Route::Capture(id) => self.capture(&id, p),
            Route::Cancel(id) => self.cancel(&id, p),
            Route::CustomerCreate => self.create_customer(p),
            Route::CustomerList => self.list_customers(p),
            Route::CustomerRetrieve(id) => self.retrieve_customer(&id, p),
            Route::CustomerUpdate(id) => self.update_customer(&id, p),
            Route::CustomerPaymentMethods(id) => self.list_payment_methods(Some(&id), p),
            Route::PaymentMethodCreate => self.create_payment_method(p),
            Route::PaymentMethodList => self.list_payment_methods(None, p),
            Route::PaymentMethodRetrieve(id) => self.retrieve_payment_method(&id, p),
            Route::PaymentMethodAttach(id) => self.attach_payment_method(&id, p),
            Route::PaymentMethodDetach(id) => self.detach_payment_method(&id, p),
            Route::SetupIntentCreate => self.create_setup_intent(p),
            Route::SetupIntentRetrieve(id) => self.retrieve_setup_intent(&id, p),
            Route::SetupIntentConfirm(id) => self.confirm_setup_intent(&id, p),
            Route::RefundCreate => self.create_refund(p),
            Route::RefundList => self.list_refunds(p),
            Route::RefundRetrieve(id) => self.retrieve_refund(&id, p),
            Route::ChargeList => self.list_charges(p),
            Route::ChargeRetrieve(id) => self.retrieve_charge(&id, p),
            Route::EventList => self.list_events(p),
            Route::EventRetrieve(id) => self.retrieve_event(&id, p),
            Route::CustomerSessionCreate => self.create_customer_session(p),
            Route::CheckoutSessionCreate => self.create_checkout_session(p),
            Route::EphemeralKeyCreate => self.create_ephemeral_key(p),
            Route::WebhookEndpointCreate => self.create_webhook_endpoint(p),
            Route::TokenCreate => self.create_token(p),
            Route::AccountLinkCreate => self.create_account_link(p),
            Route::LoginLinkCreate(account) => self.create_login_link(&account, p),
            Route::V2EventDestinationCreate => self.v2_create_event_destination(p),
            Route::V2EventDestinationList => self.v2_list_event_destinations(p),
            Route::V2EventDestinationRetrieve(id) => self.v2_retrieve_event_destination(&id, p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hyper::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    #[test]
    fn validation_errors_are_not_remembered_but_state_errors_are() {
        let mut state = State::new(Some(7));
        let request = |path: &str, body: &str, key: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", HeaderValue::from_static("Bearer sk_test_123"));
            headers.insert("idempotency-key", HeaderValue::from_str(key).expect("valid"));
            ApiRequest {
                method: Method::POST,
                path: path.to_owned(),
                query: None,
                headers,
                body: Bytes::from(body.to_owned()),
            }
        };
        let bad = state.execute(&request("/v1/payment_intents", "currency=usd", "a"), "req_1");
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let good = state.execute(&request("/v1/payment_intents", "amount=100&currency=usd", "a"), "req_2");
        assert_eq!(good.status, StatusCode::OK);
        assert!(!good.replayed);
        let again = state.execute(&request("/v1/payment_intents", "amount=100&currency=usd", "a"), "req_3");
        assert!(again.replayed);
        assert_eq!(again.body, good.body);
        assert_eq!(again.original_request.as_deref(), Some("req_2"));
    }

    #[test]
    fn create_with_fail_once_metadata_fails_once_then_succeeds_with_the_same_key() {
        let mut state = State::new(Some(7));
        let request = |body: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", HeaderValue::from_static("Bearer sk_test_123"));
            headers.insert("idempotency-key", HeaderValue::from_static("retry-key"));
            ApiRequest {
                method: Method::POST,
                path: "/v1/payment_intents".to_owned(),
                query: None,
                headers,
                body: Bytes::from(body.to_owned()),
            }
        };
        let body = "amount=100&currency=usd&metadata[standin_fail_once]=t1";
        let failed = state.execute(&request(body), "req_1");
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(failed
            .headers
            .iter()
            .any(|(name, value)| *name == "stripe-should-retry" && value == "true"));
        let error: Value = serde_json::from_slice(&failed.body).expect("JSON");
        assert_eq!(
            error,
            json!({"error": {"message": "Simulated failure", "type": "api_error"}})
        );
        // The retry (same key, same parameters) runs for real, once.
        let retried = state.execute(&request(body), "req_2");
        assert_eq!(retried.status, StatusCode::OK);
        assert!(!retried.replayed);
        let intent: Value = serde_json::from_slice(&retried.body).expect("JSON");
        assert_eq!(intent["metadata"]["standin_fail_once"], "t1");
        let again = state.execute(&request(body), "req_3");
        assert!(again.replayed);
        // A seen token no longer fails, even under a new key; a new token does.
        let mut other = request(body);
        other
            .headers
            .insert("idempotency-key", HeaderValue::from_static("other-key"));
        assert_eq!(state.execute(&other, "req_4").status, StatusCode::OK);
        let fresh = state.execute(
            &request("amount=100&currency=usd&metadata[standin_fail_once]=t2"),
            "req_5",
        );
        assert_eq!(fresh.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn fail_once_metadata_only_applies_to_create() {
        let mut state = State::new(Some(7));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer sk_test_123"));
        let created = state.execute(
            &ApiRequest {
                method: Method::POST,
                path: "/v1/payment_intents".to_owned(),
                query: None,
                headers: headers.clone(),
                body: Bytes::from_static(b"amount=100&currency=usd"),
            },
            "req_1",
        );
        let id = serde_json::from_slice::<Value>(&created.body).expect("JSON")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let update = state.execute(
            &ApiRequest {
                method: Method::POST,
                path: format!("/v1/payment_intents/{id}"),
                query: None,
                headers,
                body: Bytes::from_static(b"metadata[standin_fail_once]=t1"),
            },
            "req_2",
        );
        assert_eq!(update.status, StatusCode::OK);
    }
}
