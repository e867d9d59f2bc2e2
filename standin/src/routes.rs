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
}

impl Route {
    pub(crate) fn parse(method: &Method, path: &str) -> Option<Self> {
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
