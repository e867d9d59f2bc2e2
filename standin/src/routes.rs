//! Routing: method and path to an endpoint.

use hyper::Method;

/// The endpoints served.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    List,
    Create,
    Search,
    Retrieve(String),
    Update(String),
    Confirm(String),
    Capture(String),
    Cancel(String),
    CustomerCreate,
    CustomerList,
    CustomerRetrieve(String),
    CustomerUpdate(String),
    CustomerPaymentMethods(String),
    PaymentMethodCreate,
    PaymentMethodList,
    PaymentMethodRetrieve(String),
    PaymentMethodAttach(String),
    PaymentMethodDetach(String),
    SetupIntentCreate,
    SetupIntentRetrieve(String),
    SetupIntentConfirm(String),
    RefundCreate,
    RefundList,
    RefundRetrieve(String),
    ChargeList,
    ChargeRetrieve(String),
    EventList,
    EventRetrieve(String),
    CustomerSessionCreate,
    CheckoutSessionCreate,
    EphemeralKeyCreate,
    WebhookEndpointCreate,
    TokenCreate,
    AccountLinkCreate,
    LoginLinkCreate(String),
    V2EventDestinationCreate,
    V2EventDestinationList,
    V2EventDestinationRetrieve(String),
}

impl Route {
    /// The route of a request, or `None` for an unrecognized URL.
    pub(crate) fn parse(method: &Method, path: &str) -> Option<Self> {
        if path.starts_with("/v1/payment_intents") {
            return Self::parse_payment_intents(method, path);
        }
        Self::parse_others(method, path)
    }

    /// Every resource but PaymentIntents.
    fn parse_others(method: &Method, path: &str) -> Option<Self> {
        let segments: Vec<String> = path
            .strip_prefix('/')?
            .split('/')
            .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        if segments.iter().any(String::is_empty) {
            return None;
        }
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let get = method == Method::GET;
        let post = method == Method::POST;
        let id = |i: usize| segments.get(i).cloned().unwrap_or_default();
        let route = match s.as_slice() {
            ["v1", "customers"] if post => Route::CustomerCreate,
            ["v1", "customers"] if get => Route::CustomerList,
            ["v1", "customers", "search"] => return None,
            ["v1", "customers", _] if get => Route::CustomerRetrieve(id(2)),
            ["v1", "customers", _] if post => Route::CustomerUpdate(id(2)),
            ["v1", "customers", _, "payment_methods"] if get => Route::CustomerPaymentMethods(id(2)),
            ["v1", "payment_methods"] if post => Route::PaymentMethodCreate,
            ["v1", "payment_methods"] if get => Route::PaymentMethodList,
            ["v1", "payment_methods", _] if get => Route::PaymentMethodRetrieve(id(2)),
            ["v1", "payment_methods", _, "attach"] if post => Route::PaymentMethodAttach(id(2)),
            ["v1", "payment_methods", _, "detach"] if post => Route::PaymentMethodDetach(id(2)),
            ["v1", "setup_intents"] if post => Route::SetupIntentCreate,
            ["v1", "setup_intents", _] if get => Route::SetupIntentRetrieve(id(2)),
            ["v1", "setup_intents", _, "confirm"] if post => Route::SetupIntentConfirm(id(2)),
            ["v1", "refunds"] if post => Route::RefundCreate,
            ["v1", "refunds"] if get => Route::RefundList,
            ["v1", "refunds", _] if get => Route::RefundRetrieve(id(2)),
            ["v1", "charges"] if get => Route::ChargeList,
            ["v1", "charges", _] if get => Route::ChargeRetrieve(id(2)),
            ["v1", "events"] if get => Route::EventList,
            ["v1", "events", _] if get => Route::EventRetrieve(id(2)),
            ["v1", "customer_sessions"] if post => Route::CustomerSessionCreate,
            ["v1", "checkout", "sessions"] if post => Route::CheckoutSessionCreate,
            ["v1", "ephemeral_keys"] if post => Route::EphemeralKeyCreate,
            ["v1", "webhook_endpoints"] if post => Route::WebhookEndpointCreate,
            ["v1", "tokens"] if post => Route::TokenCreate,
            ["v1", "account_links"] if post => Route::AccountLinkCreate,
            ["v1", "accounts", _, "login_links"] if post => Route::LoginLinkCreate(id(2)),
            ["v2", "core", "event_destinations"] if post => Route::V2EventDestinationCreate,
            ["v2", "core", "event_destinations"] if get => Route::V2EventDestinationList,
            ["v2", "core", "event_destinations", _] if get => Route::V2EventDestinationRetrieve(id(3)),
            _ => return None,
        };
        Some(route)
    }

    /// `/v1/payment_intents…`, exactly as the stand-in always routed it.
    fn parse_payment_intents(method: &Method, path: &str) -> Option<Self> {
        let rest = path.trim_end_matches('/').strip_prefix("/v1/payment_intents")?;
        let segments: Vec<String> = rest
            .split('/')
            .skip(1)
            .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let get = method == Method::GET;
        let post = method == Method::POST;
        match segments.as_slice() {
            [] if get => Some(Route::List),
            [] if post => Some(Route::Create),
            [s] if get && s == "search" => Some(Route::Search),
            [id] if get && !id.is_empty() => Some(Route::Retrieve(id.clone())),
            [id] if post && !id.is_empty() => Some(Route::Update(id.clone())),
            [id, action] if post && !id.is_empty() => match action.as_str() {
                "confirm" => Some(Route::Confirm(id.clone())),
                "capture" => Some(Route::Capture(id.clone())),
                "cancel" => Some(Route::Cancel(id.clone())),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resources_and_refuses_unknown_paths() {
        assert_eq!(
            Route::parse(&Method::POST, "/v1/customers"),
            Some(Route::CustomerCreate)
        );
        assert_eq!(
            Route::parse(&Method::POST, "/v1/payment_methods/pm_1/attach"),
            Some(Route::PaymentMethodAttach("pm_1".to_owned()))
        );
        assert_eq!(
            Route::parse(&Method::GET, "/v2/core/event_destinations/ed_1"),
            Some(Route::V2EventDestinationRetrieve("ed_1".to_owned()))
        );
        assert_eq!(
            Route::parse(&Method::GET, "/v1/payment_intents/pi_1"),
            Some(Route::Retrieve("pi_1".to_owned()))
        );
        assert_eq!(Route::parse(&Method::GET, "/v1/balance"), None);
        assert_eq!(Route::parse(&Method::GET, "/v1/customers/search"), None);
        assert_eq!(Route::parse(&Method::DELETE, "/v1/customers/cus_1"), None);
        assert_eq!(Route::parse(&Method::GET, "/v1/customers//payment_methods"), None);
    }
}
