//! The path table: which requests belong to the Payment Intents API (and so
//! get recorded and replayed), and which endpoint each one is.

use std::fmt;

use hyper::Method;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/v1/payment_intents` or below: recorded and replayed.
    PaymentIntents(Endpoint),
    /// Any other path: forwarded in record mode, refused in replay.
    Other,
}

const PREFIX: &str = "/v1/payment_intents";

impl Route {
    /// Classifies a request path (without query string).
    pub fn classify(method: &Method, path: &str) -> Route {
        let Some(rest) = path.strip_prefix(PREFIX) else {
            return Route::Other;
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            // `/v1/payment_intentsX` is not ours.
            return Route::Other;
        }
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
            (Method::GET, "/v1/payment_intentsx", Route::Other),
            (Method::GET, "/v1/customers", Route::Other),
            (Method::GET, "/", Route::Other),
        ];
        for (method, path, want) in cases {
            assert_eq!(Route::classify(&method, path), want, "{method} {path}");
        }
    }
}
