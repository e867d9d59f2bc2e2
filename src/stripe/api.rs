//! The whole API, operation by operation: every `/v1` and `/v2` request
//! stripe-python can make (`schema/stripe-api.json`, generated from its
//! pinned release by `scripts/gen-schema.py`), with its name
//! (`customers.create`, `payment_methods.attach`), its path template and its
//! documented parameters. Routing names requests with it; validation and the
//! audit tell documented parameters from undocumented ones with it.
//!
//! Payment Intents are not looked up here: `route` knows them by heart and
//! `stripe-payment-intents.json` holds their richer schema.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use hyper::Method;
use serde::Deserialize;

use crate::stripe::validate::schema::ParamSchema;

/// The format version of `stripe-api.json` this stripe-vcr reads.
pub const API_SCHEMA_VERSION: u32 = 1;

const BUILTIN: &str = include_str!("../../schema/stripe-api.json");

static API: LazyLock<Api> = LazyLock::new(|| Api::parse(BUILTIN).expect("the built-in API table parses (unit-tested)"));

/// How an operation's parameters travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The query string (GET and DELETE).
    Query,
    /// An `application/x-www-form-urlencoded` body (POST under `/v1`).
    Form,
    /// An `application/json` body (POST under `/v2`).
    Json,
    /// A `multipart/form-data` body (file uploads).
    Multipart,
}

#[derive(Debug, Deserialize)]
struct File {
    api_schema_version: u32,
    endpoints: BTreeMap<String, Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    method: String,
    path: String,
    encoding: Encoding,
    #[serde(default)]
    params: Option<BTreeMap<String, ParamSchema>>,
    #[serde(default)]
    see: Option<See>,
}

#[derive(Debug, Deserialize)]
struct See {
    endpoint: String,
}

/// One operation of the API.
#[derive(Debug)]
pub struct Operation {
    /// `customers.create`: cassette file names and reports use it.
    pub name: String,
    pub method: Method,
    /// The path template (`/v1/customers/{customer}/sources/{id}`).
    pub path: String,
    pub encoding: Encoding,
    /// Its documented parameters; `None` for Payment Intents, whose schema
    /// is `stripe-payment-intents.json` (endpoint [`Operation::payment_intents`]).
    pub params: Option<BTreeMap<String, ParamSchema>>,
    /// For a Payment Intents operation, its name there (`create`).
    pub payment_intents: Option<String>,
    /// The template's segments after the leading `/`; `None` is a placeholder.
    segments: Vec<Option<String>>,
}

impl Operation {
    /// How well `segments` fit this template: `None` if they do not, else
    /// the number of literal segments matched (more is more specific:
    /// `/v1/customers/search` beats `/v1/customers/{customer}`).
    fn fit(&self, segments: &[&str]) -> Option<usize> {
        if segments.len() != self.segments.len() {
            return None;
        }
        let mut literals = 0;
        for (template, sent) in self.segments.iter().zip(segments) {
            match template {
                Some(literal) if literal == sent => literals += 1,
                Some(_) => return None,
                None if sent.is_empty() => return None,
                None => {}
            }
        }
        Some(literals)
    }
}

/// Every operation, indexed by the path's first two segments (`v1/customers`).
#[derive(Debug)]
pub struct Api {
    operations: Vec<Operation>,
    by_root: HashMap<(String, String), Vec<usize>>,
    by_name: HashMap<String, usize>,
}

impl Api {
    /// The built-in table (parsed once, on first use; the proxy forces it at
    /// start so no request pays for it).
    pub fn builtin() -> &'static Api {
        &API
    }

    fn parse(text: &str) -> Result<Api, String> {
        let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.api_schema_version != API_SCHEMA_VERSION {
            return Err(format!(
                "api_schema_version {} (this stripe-vcr reads {API_SCHEMA_VERSION})",
                file.api_schema_version
            ));
        }
        let mut api = Api {
            operations: Vec::with_capacity(file.endpoints.len()),
            by_root: HashMap::new(),
            by_name: HashMap::new(),
        };
        for (name, entry) in file.endpoints {
            let method = Method::from_bytes(entry.method.as_bytes()).map_err(|e| format!("{name}: {e}"))?;
            let segments: Vec<Option<String>> = entry
                .path
                .trim_start_matches('/')
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                .collect();
            let root = match (segments.first(), segments.get(1)) {
                (Some(Some(a)), Some(Some(b))) => (a.clone(), b.clone()),
                _ => return Err(format!("{name}: path {} has no literal root", entry.path)),
            };
            let mut params = entry.params;
            if let Some(params) = &mut params {
                params.values_mut().for_each(ParamSchema::prepare);
            }
            let index = api.operations.len();
            api.by_root.entry(root).or_default().push(index);
            api.by_name.insert(name.clone(), index);
            api.operations.push(Operation {
                name,
                method,
                path: entry.path,
                encoding: entry.encoding,
                params,
                payment_intents: entry.see.map(|s| s.endpoint),
                segments,
            });
        }
        Ok(api)
    }

    /// The operation a request is, if the table knows it.
    pub fn find(&self, method: &Method, path: &str) -> Option<&Operation> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let root = (segments.first()?.to_string(), segments.get(1)?.to_string());
        self.by_root
            .get(&root)?
            .iter()
            .map(|&i| &self.operations[i])
            .filter(|op| op.method == method)
            .filter_map(|op| op.fit(&segments).map(|literals| (literals, op)))
            .max_by_key(|(literals, _)| *literals)
            .map(|(_, op)| op)
    }

    /// An operation by its name.
    pub fn by_name(&self, name: &str) -> Option<&Operation> {
        self.by_name.get(name).map(|&i| &self.operations[i])
    }

    /// How many operations the table holds.
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    /// Whether the table is empty (never, for the built-in one).
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}

/// The name of a request the table does not know, from the request alone:
/// the literal segments after `/v1/` (`v2.` and those after `/v2/`), ids
/// dropped, then a verb: `retrieve`/`update`/`delete` for a path ending in
/// an id, none for `POST …/{id}/<action>` (the action names it), else
/// `list`/`create`/`delete` by method. A segment is an id when it holds a
/// digit or an upper-case letter, or is not plain lower-case words: Stripe's
/// resource and action names never do.
pub fn derived_name(method: &Method, path: &str) -> String {
    let mut segments = path.trim_start_matches('/').split('/');
    let mut name: Vec<Cow<'_, str>> = Vec::new();
    if segments.next() == Some("v2") {
        name.push(Cow::Borrowed("v2"));
    }
    let mut last_was_id = false;
    let mut after_id_action = false;
    for segment in segments.filter(|s| !s.is_empty()) {
        if is_id(segment) {
            last_was_id = true;
            after_id_action = false;
        } else {
            after_id_action = last_was_id;
            last_was_id = false;
            name.push(Cow::Borrowed(segment));
        }
    }
    let verb = match (method, last_was_id, after_id_action) {
        (&Method::GET, true, _) => Some("retrieve"),
        (&Method::POST, true, _) => Some("update"),
        (&Method::DELETE, _, _) => Some("delete"),
        (&Method::POST, false, true) => None,
        (&Method::GET, false, _) => Some("list"),
        (&Method::POST, false, false) => Some("create"),
        _ => Some("other"),
    };
    if let Some(verb) = verb {
        name.push(Cow::Borrowed(verb));
    }
    if name.is_empty() || name == [Cow::Borrowed("v2")] {
        return "unknown".to_owned();
    }
    name.join(".")
}

/// Whether a path segment is an object id (or some other value) rather than
/// a resource or action name (`customers`, `line_items`, `attach`).
fn is_id(segment: &str) -> bool {
    !segment.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') || segment.starts_with('_') || segment.ends_with('_')
}

/// A name made safe for a file name and a report: lower-case letters,
/// digits, `_` and `.`, nothing else (a derived name comes from the request).
pub fn file_safe(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '.' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .take(100)
        .collect();
    if cleaned.is_empty() {
        "unknown".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_table_parses_and_names_the_checkout_operations() {
        let api = Api::builtin();
        assert!(api.len() >= 600, "{}", api.len());
        let find = |m: Method, p: &str| api.find(&m, p).map(|o| o.name.as_str());
        assert_eq!(find(Method::POST, "/v1/customers"), Some("customers.create"));
        assert_eq!(find(Method::GET, "/v1/customers/cus_123"), Some("customers.retrieve"));
        assert_eq!(find(Method::GET, "/v1/customers/search"), Some("customers.search"));
        assert_eq!(
            find(Method::POST, "/v1/payment_methods/pm_1/attach"),
            Some("payment_methods.attach")
        );
        assert_eq!(
            find(Method::GET, "/v1/customers/cus_1/sources/card_1"),
            Some("customers.sources.retrieve")
        );
        assert_eq!(
            find(Method::GET, "/v1/checkout/sessions/cs_1/line_items"),
            Some("checkout.sessions.line_items.list")
        );
        assert_eq!(
            find(Method::POST, "/v2/core/event_destinations"),
            Some("v2.core.event_destinations.create")
        );
        assert_eq!(find(Method::GET, "/v1/nothing_here"), None);
        assert_eq!(find(Method::GET, "/v1/customers/"), None, "an empty id is no id");
        let pi = api.find(&Method::POST, "/v1/payment_intents/pi_1/confirm").expect("pi");
        assert_eq!(pi.payment_intents.as_deref(), Some("confirm"));
        assert!(pi.params.is_none());
        let customers = api.by_name("customers.create").expect("by name");
        assert!(customers.params.as_ref().is_some_and(|p| p.contains_key("email")));
        assert_eq!(customers.encoding, Encoding::Form);
    }

    #[test]
    fn a_path_the_table_does_not_know_is_named_from_the_request() {
        for (method, path, name) in [
            (Method::POST, "/v1/widgets", "widgets.create"),
            (Method::GET, "/v1/widgets", "widgets.list"),
            (Method::GET, "/v1/widgets/wdg_123", "widgets.retrieve"),
            (Method::POST, "/v1/widgets/wdg_123", "widgets.update"),
            (Method::DELETE, "/v1/widgets/wdg_123", "widgets.delete"),
            (Method::POST, "/v1/widgets/wdg_123/polish", "widgets.polish"),
            (Method::GET, "/v1/widgets/wdg_1/parts/prt_2", "widgets.parts.retrieve"),
            (Method::POST, "/v2/things/thing_1", "v2.things.update"),
            (Method::GET, "/v1", "list"),
        ] {
            assert_eq!(derived_name(&method, path), name, "{method} {path}");
        }
        assert_eq!(file_safe("Widgets.Create/../x y"), "widgets.create_.._x_y");
    }
}
