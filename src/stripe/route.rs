//! Which operation a request is: every `/v1` and `/v2` path is the API
//! (recorded and replayed), Payment Intents known by heart and every other
//! operation named from the API table ([`crate::stripe::api`]) or, for a
//! path the table does not know, from the request itself; anything else is
//! not the API.

use std::fmt;

use hyper::Method;

use crate::stripe::api::{derived_name, file_safe, Api, Operation};

/// The Payment Intents endpoints, named as Stripe's API reference names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    List,
    Create,
    Search,
    Retrieve,
    Update,
    Confirm,
    Capture,
    Cancel,
    IncrementAuthorization,
    ApplyCustomerBalance,
    VerifyMicrodeposits,
    ListAmountDetailsLineItems,
    /// Under `/v1/payment_intents` but not a documented route (e.g. a typo'd
    /// action). Still recorded, since Stripe's 404 for it is app behaviour.
    Unknown,
}

/// Where a request is going, as far as stripe-vcr is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v1/payment_intents` or below.
    PaymentIntents(Endpoint),
    /// Any other `/v1/` or `/v2/` path: another operation of the API.
    Api(OperationName),
    /// Not the API (`/`, `/health`): forwarded in record mode, refused in replay.
    Other,
}

/// The name of an API operation other than Payment Intents.
#[derive(Debug, Clone)]
pub enum OperationName {
    /// One the API table knows (`customers.create`).
    Known(&'static Operation),
    /// One it does not, named from the request (`widgets.create`).
    Derived(Box<str>),
}

impl OperationName {
    /// `customers.create`.
    pub fn as_str(&self) -> &str {
        match self {
            OperationName::Known(op) => &op.name,
            OperationName::Derived(name) => name,
        }
    }

    /// The table's entry, when it has one.
    pub fn operation(&self) -> Option<&'static Operation> {
        match self {
            OperationName::Known(op) => Some(op),
            OperationName::Derived(_) => None,
        }
    }
}

impl PartialEq for OperationName {
    fn eq(&self, other: &OperationName) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for OperationName {}

const PREFIX: &str = "/v1/payment_intents";

impl Route {
    /// Classifies a request path (without query string). Payment Intents
    /// first, without a table lookup, so their requests cost what they did
    /// before the rest of the API was routed.
    pub fn classify(method: &Method, path: &str) -> Route {
        let Some(rest) = path.strip_prefix(PREFIX).filter(|r| r.is_empty() || r.starts_with('/')) else {
            // `/v1/payment_intentsX` is not Payment Intents.
            return Route::classify_api(method, path);
        };
        // Up to three segments after the prefix, without collecting them.
        let mut segments = rest.split('/').skip(1);
        let segments = (segments.next(), segments.next(), segments.next());
        let get = method == Method::GET;
        let post = method == Method::POST;
        let endpoint = match segments {
            (None, _, _) if get => Endpoint::List,
            (None, _, _) if post => Endpoint::Create,
            (Some("search"), None, _) if get => Endpoint::Search,
            (Some(id), None, _) if get && !id.is_empty() => Endpoint::Retrieve,
            (Some(id), None, _) if post && !id.is_empty() && id != "search" => Endpoint::Update,
            (Some(id), Some(action), None) if !id.is_empty() => match (action, post, get) {
                ("confirm", true, _) => Endpoint::Confirm,
                ("capture", true, _) => Endpoint::Capture,
                ("cancel", true, _) => Endpoint::Cancel,
                ("increment_authorization", true, _) => Endpoint::IncrementAuthorization,
                ("apply_customer_balance", true, _) => Endpoint::ApplyCustomerBalance,
                ("verify_microdeposits", true, _) => Endpoint::VerifyMicrodeposits,
                ("amount_details_line_items", _, true) => Endpoint::ListAmountDetailsLineItems,
                _ => Endpoint::Unknown,
            },
            _ => Endpoint::Unknown,
        };
        Route::PaymentIntents(endpoint)
    }

    /// Any other path under `/v1/` or `/v2/`.
    fn classify_api(method: &Method, path: &str) -> Route {
        if !(path.starts_with("/v1/") || path.starts_with("/v2/")) {
            return Route::Other;
        }
        Route::Api(match Api::builtin().find(method, path) {
            Some(op) => OperationName::Known(op),
            None => OperationName::Derived(file_safe(&derived_name(method, path)).into()),
        })
    }

    /// The name cassette files and reports give the request's operation:
    /// Payment Intents keep the short names their cassettes have always had
    /// (`create`, `confirm`); every other operation is named in full
    /// (`customers.create`). `None` outside the API.
    pub fn name(&self) -> Option<&str> {
        match self {
            Route::PaymentIntents(endpoint) => Some(endpoint.name()),
            Route::Api(name) => Some(name.as_str()),
            Route::Other => None,
        }
    }

    /// Whether the request is to the API (recorded and replayed).
    pub fn is_api(&self) -> bool {
        !matches!(self, Route::Other)
    }
}

impl Endpoint {
    /// Every documented endpoint, in the order reports list them.
    pub const ALL: [Endpoint; 12] = [
        Endpoint::List,
        Endpoint::Create,
        Endpoint::Search,
        Endpoint::Retrieve,
        Endpoint::Update,
        Endpoint::Confirm,
        Endpoint::Capture,
        Endpoint::Cancel,
        Endpoint::IncrementAuthorization,
        Endpoint::ApplyCustomerBalance,
        Endpoint::VerifyMicrodeposits,
        Endpoint::ListAmountDetailsLineItems,
    ];

    /// Short, file-name-safe name (`create`, `increment_authorization`).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::List => "list",
            Endpoint::Create => "create",
            Endpoint::Search => "search",
            Endpoint::Retrieve => "retrieve",
            Endpoint::Update => "update",
            Endpoint::Confirm => "confirm",
            Endpoint::Capture => "capture",
            Endpoint::Cancel => "cancel",
            Endpoint::IncrementAuthorization => "increment_authorization",
            Endpoint::ApplyCustomerBalance => "apply_customer_balance",
            Endpoint::VerifyMicrodeposits => "verify_microdeposits",
            Endpoint::ListAmountDetailsLineItems => "list_amount_details_line_items",
            Endpoint::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use Endpoint::*;
        let cases = [
            (Method::GET, "/v1/payment_intents", Route::PaymentIntents(List)),
            (Method::POST, "/v1/payment_intents", Route::PaymentIntents(Create)),
            (Method::GET, "/v1/payment_intents/search", Route::PaymentIntents(Search)),
            (Method::GET, "/v1/payment_intents/pi_1", Route::PaymentIntents(Retrieve)),
            (Method::POST, "/v1/payment_intents/pi_1", Route::PaymentIntents(Update)),
            (
                Method::POST,
                "/v1/payment_intents/pi_1/confirm",
                Route::PaymentIntents(Confirm),
            ),
            (
                Method::POST,
                "/v1/payment_intents/pi_1/capture",
                Route::PaymentIntents(Capture),
            ),
            (
                Method::POST,
                "/v1/payment_intents/pi_1/cancel",
                Route::PaymentIntents(Cancel),
            ),
            (
                Method::POST,
                "/v1/payment_intents/pi_1/increment_authorization",
                Route::PaymentIntents(IncrementAuthorization),
            ),
            (
                Method::GET,
                "/v1/payment_intents/pi_1/amount_details_line_items",
                Route::PaymentIntents(ListAmountDetailsLineItems),
            ),
            (
                Method::POST,
                "/v1/payment_intents/pi_1/void",
                Route::PaymentIntents(Unknown),
            ),
            (Method::GET, "/v1/payment_intents/", Route::PaymentIntents(Unknown)),
            (
                Method::DELETE,
                "/v1/payment_intents/pi_1",
                Route::PaymentIntents(Unknown),
            ),
            (Method::GET, "/", Route::Other),
            (Method::GET, "/health", Route::Other),
            (Method::GET, "/v3/customers", Route::Other),
        ];
        for (method, path, want) in cases {
            assert_eq!(Route::classify(&method, path), want, "{method} {path}");
        }
        for (method, path, name) in [
            (Method::GET, "/v1/payment_intentsx", "payment_intentsx.list"),
            (Method::GET, "/v1/customers", "customers.list"),
            (Method::POST, "/v1/customers/cus_1", "customers.update"),
            (Method::POST, "/v1/refunds", "refunds.create"),
            (
                Method::GET,
                "/v2/core/event_destinations/ed_1",
                "v2.core.event_destinations.retrieve",
            ),
            (Method::POST, "/v1/widgets/wdg_1/polish", "widgets.polish"),
        ] {
            let route = Route::classify(&method, path);
            assert!(matches!(route, Route::Api(_)), "{method} {path}: {route:?}");
            assert_eq!(route.name(), Some(name), "{method} {path}");
        }
        assert_eq!(
            Route::classify(&Method::POST, "/v1/payment_intents").name(),
            Some("create")
        );
        assert_eq!(Route::Other.name(), None);
    }
}
