//! Builds the audit report: per endpoint, which parameter paths were sent, how
//! often, with which kinds of value, whether they are documented; and the
//! risk findings (card data, live keys, invalid requests, deprecated or
//! undocumented parameters). The JSON form of [`Report`] is a stable,
//! documented interface (`docs/audit.md`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::audit_log::Entry;
use crate::cassette::format::BodyEncoding;
use crate::cassette::store::LoadedCassette;
use crate::stripe::api::Api;
use crate::stripe::params::{Param, Params, Typing};
use crate::stripe::route::Endpoint;
use crate::stripe::validate::check::{check, suggestion, unknown};
use crate::stripe::validate::schema::{Kind, ParamSchema, Schema};

/// Bumped when the JSON shape changes incompatibly.
pub const REPORT_VERSION: u32 = 1;

/// One request, from a cassette or from an audit-log line.
#[derive(Debug, Clone)]
pub struct Observation {
    pub endpoint: String,
    pub status: u16,
    /// `recorded` for cassettes; the logged outcome for log lines.
    pub outcome: String,
    pub params: Params,
    /// Whether the parameters came with JSON types (a JSON body).
    pub typing: Typing,
    pub stripe_version: Option<String>,
    pub user_agent: Option<String>,
    pub live_key: bool,
}

impl Observation {
    /// From a cassette.
    pub fn from_cassette(loaded: &LoadedCassette) -> Observation {
        let c = &loaded.cassette;
        Observation {
            endpoint: c.endpoint.clone(),
            status: c.response.status,
            outcome: "recorded".to_owned(),
            params: c.request.canonical.params.clone(),
            typing: match c.request.body_encoding {
                BodyEncoding::Json => Typing::Json,
                _ => Typing::Text,
            },
            stripe_version: c.request.canonical.headers.get("stripe-version").cloned(),
            user_agent: c.request.user_agent.clone(),
            live_key: false,
        }
    }

    /// From an audit-log line (`None` for paths outside the API).
    pub fn from_log(entry: &Entry) -> Option<Observation> {
        Some(Observation {
            endpoint: entry.endpoint.clone()?,
            status: entry.status,
            outcome: entry.outcome.clone(),
            params: entry.params.clone(),
            // A line from before `body_encoding` was logged: a number,
            // boolean or null can only have come from a JSON body.
            typing: match entry.body_encoding {
                Some(BodyEncoding::Json) => Typing::Json,
                None if entry.params.has_json_types() => Typing::Json,
                _ => Typing::Text,
            },
            stripe_version: entry.stripe_version.clone(),
            user_agent: entry.user_agent.clone(),
            live_key: entry.live_key,
        })
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub report_version: u32,
    pub schema: String,
    pub sources: Vec<String>,
    pub totals: Totals,
    pub endpoints: Vec<EndpointReport>,
    pub findings: Findings,
    /// Requests per `Stripe-Version` header (`(account default)` when absent).
    pub stripe_versions: BTreeMap<String, usize>,
    /// Webhook events recorded, per set and type (`checkout/charge.refunded`;
    /// the type alone at the top of the directory).
    pub webhook_events: BTreeMap<String, usize>,
    /// Requests per client, from `User-Agent` (`PythonBindings/15.3.1`, `curl/8.5.0`).
    pub clients: BTreeMap<String, usize>,
}

/// Headline counts.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub requests: usize,
    pub endpoints: usize,
    pub invalid_requests: usize,
    pub undocumented_params: usize,
    pub card_data_requests: usize,
    pub live_key_requests: usize,
}

/// One endpoint's traffic.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointReport {
    pub endpoint: String,
    /// The resource it belongs to (`payment_intents`, `customers`,
    /// `checkout.sessions`): reports group endpoints by it.
    pub resource: String,
    pub method: String,
    pub path: String,
    pub requests: usize,
    /// Requests per HTTP status.
    pub statuses: BTreeMap<u16, usize>,
    /// Requests per outcome (`recorded`, `hit`, `miss`, …).
    pub outcomes: BTreeMap<String, usize>,
    pub params: Vec<ParamUsage>,
    /// Documented top-level parameters no request sent.
    pub unused: Vec<String>,
    pub coverage: Coverage,
}

/// How one parameter path was used.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ParamUsage {
    /// `metadata[order_id]`, `expand[]`, `shipping[address][city]`.
    pub path: String,
    pub requests: usize,
    pub documented: bool,
    /// `integer`, `string`, `boolean`, `decimal`, `empty` (unset).
    pub kinds: Vec<String>,
    /// The first value seen (already redacted).
    pub example: String,
    /// For undocumented paths: the closest documented name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closest: Option<String>,
    pub deprecated: bool,
}

/// Documented top-level parameters used, out of those documented.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Coverage {
    pub used: usize,
    pub documented: usize,
}

/// What a reviewer should look at.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    pub card_data: Vec<PathFinding>,
    pub live_keys: usize,
    pub invalid: Vec<InvalidFinding>,
    pub undocumented: Vec<PathFinding>,
    pub deprecated: Vec<PathFinding>,
}

/// A parameter path on an endpoint, and how many requests carried it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PathFinding {
    pub endpoint: String,
    pub path: String,
    pub requests: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closest: Option<String>,
}

/// A validation failure, and how many requests failed that way.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InvalidFinding {
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub param: String,
    pub message: String,
    pub requests: usize,
}

/// What the schema says about one sent path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Classified {
    path: String,
    documented: bool,
    deprecated: bool,
    closest: Option<String>,
}

/// Splits `a[b][0][c]` into its segments.
fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (head, rest) = path.split_once('[').map_or((path, ""), |(h, r)| (h, r));
    out.push(head.to_owned());
    for part in rest.split('[') {
        let part = part.strip_suffix(']').unwrap_or(part);
        if !rest.is_empty() {
            out.push(part.to_owned());
        }
    }
    out
}

fn is_index(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit())
}

/// Normalises a sent path against the schema (`expand[0]` → `expand[]`) and
/// says whether it is documented; an undocumented path is cut at its first
/// unknown segment (`shipping[adress]`), with the closest documented name.
fn classify(documented: &BTreeMap<String, ParamSchema>, path: &str) -> Classified {
    let segs = segments(path);
    let mut out = String::new();
    let mut children = Some(documented);
    let mut node: Option<&ParamSchema> = None;
    let mut deprecated = false;
    for (i, seg) in segs.iter().enumerate() {
        let push = |out: &mut String, s: &str| {
            if i == 0 {
                out.push_str(s)
            } else {
                out.push_str(&format!("[{s}]"))
            }
        };
        if let Some(n) = node {
            let kinds = n.kinds();
            if n.open || kinds.contains(&Kind::Hash) {
                // Anything below a hash or an open object is documented.
                push(&mut out, seg);
                for rest in &segs[i + 1..] {
                    out.push_str(&format!("[{}]", if is_index(rest) { "" } else { rest }));
                }
                return Classified {
                    path: out,
                    documented: true,
                    deprecated,
                    closest: None,
                };
            }
            if kinds.contains(&Kind::Array) && is_index(seg) {
                push(&mut out, "");
                node = n.items.as_deref();
                children = node.and_then(|n| n.children.as_ref());
                continue;
            }
            children = n.children.as_ref();
        }
        match children.and_then(|c| c.get(seg.as_str())) {
            Some(child) => {
                push(&mut out, seg);
                deprecated |= child.deprecated;
                node = Some(child);
            }
            None => {
                let closest = children.and_then(|c| suggestion(seg, c.keys())).map(str::to_owned);
                push(&mut out, seg);
                return Classified {
                    path: out,
                    documented: false,
                    deprecated,
                    closest,
                };
            }
        }
    }
    Classified {
        path: out,
        documented: true,
        deprecated,
        closest: None,
    }
}

/// The kind of a value, for the report: a JSON body's values by their JSON
/// type (`"10"` is a `string` there), a form's by what their text reads as.
fn value_kind(value: &Param, typing: Typing) -> &'static str {
    match (value, typing) {
        (Param::Str(s), Typing::Text) => text_kind(s),
        (Param::Str(s), Typing::Json) if !s.is_empty() => "string",
        (Param::Num(_), _) if value.json_type() == "integer" => "integer",
        (Param::Num(_), _) => "decimal",
        (Param::Bool(_), _) => "boolean",
        (Param::Null, _) => "null",
        _ => "empty",
    }
}

/// The kind of a form value's text.
fn text_kind(value: &str) -> &'static str {
    if value.is_empty() {
        "empty"
    } else if value == "true" || value == "false" {
        "boolean"
    } else if value
        .strip_prefix('-')
        .unwrap_or(value)
        .bytes()
        .all(|b| b.is_ascii_digit())
    {
        "integer"
    } else if value.parse::<f64>().is_ok() && !value.chars().any(|c| c.is_alphabetic()) {
        "decimal"
    } else {
        "string"
    }
}

/// Raw card data: a card number or security code under a `card` hash, or a
/// `card_number` anywhere. (Cassettes hold them masked; the path is enough.)
fn is_card_data(path: &str) -> bool {
    let segs = segments(path);
    let last = segs.last().map(String::as_str).unwrap_or_default();
    last == "card_number"
        || (["number", "cvc", "cvv"].contains(&last) && segs.iter().rev().skip(1).any(|s| s == "card"))
}

/// `Stripe/v1 PythonBindings/15.3.1` → `PythonBindings/15.3.1`; else the
/// first word (`curl/8.5.0`).
pub fn client_of(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|u| !u.trim().is_empty()) else {
        return "(none)".to_owned();
    };
    let words: Vec<&str> = ua.split_whitespace().collect();
    match words.as_slice() {
        [first, second, ..] if first.starts_with("Stripe/") => (*second).to_owned(),
        [first, ..] => (*first).to_owned(),
        [] => "(none)".to_owned(),
    }
}

#[derive(Default)]
struct Usage {
    requests: usize,
    kinds: BTreeSet<&'static str>,
    example: String,
    class: Option<Classified>,
}

/// The resource an endpoint name belongs to: everything before its last
/// `.` (`customers.sources.retrieve` → `customers.sources`); Payment
/// Intents' short names (`create`) are `payment_intents`.
pub fn resource_of(endpoint: &str) -> String {
    match endpoint.rsplit_once('.') {
        Some((resource, _)) => resource.to_owned(),
        None => "payment_intents".to_owned(),
    }
}

/// Builds the report from observations, judged against `schema` (and, for
/// the rest of the API, against the whole API's table).
pub fn build(schema: &Schema, sources: Vec<String>, observations: &[Observation]) -> Report {
    let mut totals = Totals::default();
    let mut findings = Findings::default();
    let mut stripe_versions = BTreeMap::new();
    let mut clients = BTreeMap::new();
    let mut by_endpoint: BTreeMap<&str, Vec<&Observation>> = BTreeMap::new();
    for o in observations {
        by_endpoint.entry(o.endpoint.as_str()).or_default().push(o);
        *stripe_versions
            .entry(
                o.stripe_version
                    .clone()
                    .unwrap_or_else(|| "(account default)".to_owned()),
            )
            .or_insert(0) += 1;
        *clients.entry(client_of(o.user_agent.as_deref())).or_insert(0) += 1;
        if o.live_key {
            totals.live_key_requests += 1;
        }
    }
    findings.live_keys = totals.live_key_requests;
    totals.requests = observations.len();

    let mut names: Vec<&str> = by_endpoint.keys().copied().collect();
    // Payment Intents first, in the API reference's order; then every other
    // resource, by name.
    names.sort_by_key(|n| {
        let pi = Endpoint::ALL.iter().position(|e| e.name() == *n);
        (pi.is_none(), pi, resource_of(n), n.to_string())
    });
    let mut endpoints = Vec::new();
    for name in names {
        let seen = &by_endpoint[name];
        let spec = schema.endpoint(name);
        // Beyond the schema (Payment Intents, or a gateway's endpoints):
        // the whole API's table, stripe-python's parameters alone.
        let operation = spec.is_none().then(|| Api::builtin().by_name(name)).flatten();
        let empty = BTreeMap::new();
        let documented = spec
            .map(|s| &s.params)
            .or(operation.and_then(|o| o.params()))
            .unwrap_or(&empty);
        let mut statuses = BTreeMap::new();
        let mut outcomes = BTreeMap::new();
        let mut usage: BTreeMap<String, Usage> = BTreeMap::new();
        let mut invalid: BTreeMap<(Option<String>, String, String), usize> = BTreeMap::new();
        let mut card_paths: BTreeMap<String, usize> = BTreeMap::new();
        let mut card_requests = 0;
        let mut invalid_requests = 0;
        let mut sent_top: BTreeSet<String> = BTreeSet::new();
        for o in seen {
            *statuses.entry(o.status).or_insert(0) += 1;
            *outcomes.entry(o.outcome.clone()).or_insert(0) += 1;
            let mut paths_here: BTreeSet<String> = BTreeSet::new();
            let mut cards_here: BTreeSet<String> = BTreeSet::new();
            for (path, value) in o.params.flatten() {
                if is_card_data(&path) {
                    // Judged on the path as sent: card fields are often undocumented.
                    let shown: Vec<String> = segments(&path)
                        .into_iter()
                        .map(|s| if is_index(&s) { String::new() } else { s })
                        .collect();
                    cards_here.insert(format!(
                        "{}{}",
                        shown[0],
                        shown[1..].iter().map(|s| format!("[{s}]")).collect::<String>()
                    ));
                }
                let class = classify(documented, &path);
                sent_top.insert(segments(&class.path)[0].clone());
                let u = usage.entry(class.path.clone()).or_default();
                u.kinds.insert(value_kind(value, o.typing));
                if u.example.is_empty() {
                    u.example = value.text().chars().take(60).collect();
                }
                paths_here.insert(class.path.clone());
                u.class.get_or_insert(class);
            }
            for p in &paths_here {
                if let Some(u) = usage.get_mut(p) {
                    u.requests += 1;
                }
            }
            let card_here = !cards_here.is_empty();
            for p in cards_here {
                *card_paths.entry(p).or_insert(0) += 1;
            }
            if card_here {
                card_requests += 1;
            }
            let violations = match (spec, operation) {
                (Some(spec), _) => Some(check(schema, name, spec, &o.params, o.typing)),
                (None, Some(_)) => Some(unknown(documented, &o.params)),
                (None, None) => None,
            };
            if let Some(violations) = violations {
                if !violations.is_empty() {
                    invalid_requests += 1;
                }
                for v in violations {
                    *invalid
                        .entry((v.code.map(str::to_owned), v.param, v.message))
                        .or_insert(0) += 1;
                }
            }
        }
        let params: Vec<ParamUsage> = usage
            .into_iter()
            .map(|(path, u)| {
                let class = u.class.unwrap_or(Classified {
                    path: path.clone(),
                    documented: false,
                    deprecated: false,
                    closest: None,
                });
                ParamUsage {
                    path,
                    requests: u.requests,
                    documented: class.documented,
                    kinds: u.kinds.iter().map(|k| (*k).to_owned()).collect(),
                    example: u.example,
                    closest: class.closest,
                    deprecated: class.deprecated,
                }
            })
            .collect();
        for p in &params {
            let finding = PathFinding {
                endpoint: name.to_owned(),
                path: p.path.clone(),
                requests: p.requests,
                closest: p.closest.clone(),
            };
            if !p.documented {
                totals.undocumented_params += 1;
                findings.undocumented.push(finding.clone());
            }
            if p.deprecated {
                findings.deprecated.push(finding);
            }
        }
        for (path, requests) in card_paths {
            findings.card_data.push(PathFinding {
                endpoint: name.to_owned(),
                path,
                requests,
                closest: None,
            });
        }
        for ((code, param, message), requests) in invalid {
            findings.invalid.push(InvalidFinding {
                endpoint: name.to_owned(),
                code,
                param,
                message,
                requests,
            });
        }
        totals.card_data_requests += card_requests;
        totals.invalid_requests += invalid_requests;
        let unused: Vec<String> = documented.keys().filter(|k| !sent_top.contains(*k)).cloned().collect();
        endpoints.push(EndpointReport {
            endpoint: name.to_owned(),
            resource: resource_of(name),
            method: spec
                .map(|s| s.method.clone())
                .or(operation.map(|o| o.method.to_string()))
                .unwrap_or_default(),
            path: spec
                .map(|s| s.path.clone())
                .or(operation.map(|o| o.path.clone()))
                .unwrap_or_default(),
            requests: seen.len(),
            statuses,
            outcomes,
            coverage: Coverage {
                used: documented.len() - unused.len(),
                documented: documented.len(),
            },
            params,
            unused,
        });
    }
    totals.endpoints = endpoints.len();
    Report {
        report_version: REPORT_VERSION,
        schema: schema.name.clone(),
        sources,
        totals,
        endpoints,
        findings,
        stripe_versions,
        webhook_events: BTreeMap::new(),
        clients,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(endpoint: &str, path: &str) -> Classified {
        classify(&Schema::builtin().endpoint(endpoint).expect("endpoint").params, path)
    }

    #[test]
    fn paths_are_normalised_and_judged_against_the_schema() {
        let c = class("create", "expand[0]");
        assert_eq!((c.path.as_str(), c.documented), ("expand[]", true));
        let c = class("create", "metadata[order_id]");
        assert_eq!((c.path.as_str(), c.documented), ("metadata[order_id]", true));
        let c = class("create", "shipping[address][city]");
        assert_eq!((c.path.as_str(), c.documented), ("shipping[address][city]", true));
        let c = class("create", "shipping[adress][city]");
        assert_eq!(
            (c.path.as_str(), c.documented, c.closest.as_deref()),
            ("shipping[adress]", false, Some("address"))
        );
        let c = class("create", "amount_details[line_items][3][product_name]");
        assert_eq!(
            (c.path.as_str(), c.documented),
            ("amount_details[line_items][][product_name]", true)
        );
        // Raw card fields are not in the documented parameters (apps should
        // not send them); they are reported as undocumented *and* as card data.
        let c = class("create", "payment_method_data[card][number]");
        assert_eq!((c.path.as_str(), c.documented), ("payment_method_data[card]", false));
        assert!(is_card_data("payment_method_data[card][number]"));
        assert!(is_card_data("payment_method_data[card][cvc]"));
        assert!(!is_card_data("metadata[number]"));
        let c = class("list", "created[gte]");
        assert_eq!((c.path.as_str(), c.documented), ("created[gte]", true));
        let c = class("create", "ammount");
        assert_eq!((c.documented, c.closest.as_deref()), (false, Some("amount")));
    }

    #[test]
    fn value_kinds_and_clients() {
        assert_eq!(
            ["", "12", "-3", "true", "1.5", "usd", "1e3"].map(text_kind),
            ["empty", "integer", "integer", "boolean", "decimal", "string", "string"]
        );
        let json = Params::from_json(br#"{"a":"12","b":12,"c":1.5,"d":true,"e":null,"f":"","g":[]}"#).expect("json");
        let kinds: Vec<&str> = json
            .flatten()
            .into_iter()
            .map(|(_, v)| value_kind(v, Typing::Json))
            .collect();
        assert_eq!(
            kinds,
            ["string", "integer", "decimal", "boolean", "null", "empty", "empty"]
        );
        let form = Params::from_form(b"a=12&d=true", "body").expect("form");
        let kinds: Vec<&str> = form
            .flatten()
            .into_iter()
            .map(|(_, v)| value_kind(v, Typing::Text))
            .collect();
        assert_eq!(kinds, ["integer", "boolean"]);
        assert_eq!(
            client_of(Some("Stripe/v1 PythonBindings/15.3.1")),
            "PythonBindings/15.3.1"
        );
        assert_eq!(client_of(Some("curl/7.88.1")), "curl/7.88.1");
        assert_eq!(client_of(None), "(none)");
    }
}
