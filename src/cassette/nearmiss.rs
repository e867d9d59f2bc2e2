//! How a request differs from a recording, and how close that makes it:
//! the differences (method, path, identifying headers, each parameter), their
//! ranking, and the one-line wording a replay miss and `diff` show.

use std::collections::BTreeMap;
use std::fmt;

use crate::cassette::key::CanonicalRequest;
use crate::stripe::params::Param;

/// The closest recording to a request that missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub file_name: String,
    /// `METHOD /path` of the recording.
    pub recorded: String,
    pub differences: Vec<Difference>,
}

/// One way a request differs from a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    Method {
        sent: String,
        recorded: String,
    },
    Path {
        sent: String,
        recorded: String,
    },
    Header {
        name: String,
        sent: Option<String>,
        recorded: Option<String>,
    },
    Param {
        path: String,
        sent: Option<String>,
        recorded: Option<String>,
    },
}

pub(crate) fn score(diffs: &[Difference]) -> u32 {
    diffs
        .iter()
        .map(|d| match d {
            Difference::Method { .. } => 100,
            Difference::Path { sent, recorded } if same_shape(sent, recorded) => 5,
            Difference::Path { .. } => 50,
            Difference::Header { .. } => 3,
            Difference::Param { .. } => 1,
        })
        .sum()
}

/// How far apart the differing values are, in edits: between two
/// recordings that differ from a request in the same places, the one whose
/// values are nearest is the one the request was meant to match.
pub(crate) fn dissimilarity(diffs: &[Difference]) -> usize {
    /// Values are compared on this many characters at most (ids, amounts
    /// and names are shorter; a long text costs no more than this).
    const COMPARED: usize = 64;
    let edits = |a: &str, b: &str| {
        let cut = |s: &str| s.chars().take(COMPARED).collect::<String>();
        strsim::levenshtein(&cut(a), &cut(b))
    };
    let one_sided = |v: &str| v.chars().count().clamp(1, COMPARED);
    diffs
        .iter()
        .map(|d| match d {
            Difference::Method { .. } => 0,
            Difference::Path { sent, recorded } => edits(sent, recorded),
            Difference::Header { sent, recorded, .. } | Difference::Param { sent, recorded, .. } => {
                match (sent, recorded) {
                    (Some(s), Some(r)) => edits(s, r),
                    (Some(v), None) | (None, Some(v)) => one_sided(v),
                    (None, None) => 0,
                }
            }
        })
        .sum()
}

/// Two paths of the same endpoint that differ only in the object id.
fn same_shape(a: &str, b: &str) -> bool {
    let (sa, sb): (Vec<_>, Vec<_>) = (a.split('/').collect(), b.split('/').collect());
    sa.len() == sb.len() && sa.iter().zip(&sb).filter(|(x, y)| x != y).count() <= 1
}

/// How `sent` differs from `recorded`, method and path first, then headers
/// (a different `Stripe-Version` is the commonest surprise), then parameters.
pub fn differences(sent: &CanonicalRequest, recorded: &CanonicalRequest) -> Vec<Difference> {
    let mut out = Vec::new();
    if sent.method != recorded.method {
        out.push(Difference::Method {
            sent: sent.method.clone(),
            recorded: recorded.method.clone(),
        });
    }
    if sent.path != recorded.path {
        out.push(Difference::Path {
            sent: sent.path.clone(),
            recorded: recorded.path.clone(),
        });
    }
    let names: std::collections::BTreeSet<&String> = sent.headers.keys().chain(recorded.headers.keys()).collect();
    for name in names {
        let (s, r) = (sent.headers.get(name), recorded.headers.get(name));
        if s != r {
            out.push(Difference::Header {
                name: name.clone(),
                sent: s.cloned(),
                recorded: r.cloned(),
            });
        }
    }
    let sent_params: BTreeMap<String, &Param> = sent.params.flatten().into_iter().collect();
    let recorded_params: BTreeMap<String, &Param> = recorded.params.flatten().into_iter().collect();
    let paths: std::collections::BTreeSet<&String> = sent_params.keys().chain(recorded_params.keys()).collect();
    for path in paths {
        let (s, r) = (sent_params.get(path), recorded_params.get(path));
        if s != r {
            // Values of two types are shown with them (`"10" (string)` and
            // `10 (integer)`), or a type difference could read `10 ≠ 10`.
            let typed = matches!((s, r), (Some(s), Some(r)) if s.json_type() != r.json_type());
            out.push(Difference::Param {
                path: path.clone(),
                sent: s.map(|v| shown_value(v, typed)),
                recorded: r.map(|v| shown_value(v, typed)),
            });
        }
    }
    if sent.body != recorded.body {
        out.push(Difference::Param {
            path: "(raw body)".to_owned(),
            sent: sent.body.clone(),
            recorded: recorded.body.clone(),
        });
    }
    out
}

/// A parameter's value in a difference: its text, or, when `typed`, the
/// value as JSON writes it followed by its JSON type (`"10" (string)`).
fn shown_value(value: &Param, typed: bool) -> String {
    match (typed, value) {
        (false, _) => value.text().to_owned(),
        (true, Param::Str(s)) => format!("{} (string)", serde_json::Value::from(s.as_str())),
        (true, Param::List(_)) => "[] (array)".to_owned(),
        (true, Param::Map(_)) => "{} (object)".to_owned(),
        (true, other) => format!("{} ({})", other.text(), other.json_type()),
    }
}

fn shown(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() > MAX {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    } else {
        value.to_owned()
    }
}

fn header_title(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

impl fmt::Display for Difference {
    /// `amount: 2000 ≠ 1000` reads "sent 2000, recorded 1000";
    /// `amount: "10" (string) ≠ 10 (integer)`, a JSON type difference.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pair = |f: &mut fmt::Formatter<'_>, what: &str, s: &Option<String>, r: &Option<String>| match (s, r) {
            (Some(s), Some(r)) => write!(f, "{what}: {} ≠ {}", shown(s), shown(r)),
            (Some(s), None) => write!(f, "{what}: sent {}, not in the recording", shown(s)),
            (None, Some(r)) => write!(f, "{what}: not sent, recorded {}", shown(r)),
            (None, None) => Ok(()),
        };
        match self {
            Difference::Method { sent, recorded } => write!(f, "method: {sent} ≠ {recorded}"),
            Difference::Path { sent, recorded } => write!(f, "path: {sent} ≠ {recorded}"),
            Difference::Header { name, sent, recorded } => pair(f, &header_title(name), sent, recorded),
            Difference::Param { path, sent, recorded } => pair(f, path, sent, recorded),
        }
    }
}

impl NearMiss {
    /// One line: `create-…-001.json (POST /v1/payment_intents) differs in amount: 2000 ≠ 1000`.
    pub fn describe(&self) -> String {
        const MAX_LISTED: usize = 5;
        let mut listed: Vec<String> = self
            .differences
            .iter()
            .take(MAX_LISTED)
            .map(|d| d.to_string())
            .collect();
        if self.differences.len() > MAX_LISTED {
            listed.push(format!("and {} more", self.differences.len() - MAX_LISTED));
        }
        if listed.is_empty() {
            format!("{} ({})", self.file_name, self.recorded)
        } else {
            format!(
                "{} ({}), which differs in {}",
                self.file_name,
                self.recorded,
                listed.join("; ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::params::Params;
    use crate::stripe::redact::Redactor;

    fn json(body: &str) -> CanonicalRequest {
        let params = Params::from_json(body.as_bytes()).expect("json");
        CanonicalRequest::new(Redactor::standard(), "POST", "/v1/payment_intents", &params, |_| None)
    }

    fn form(body: &str) -> CanonicalRequest {
        let params = Params::from_form(body.as_bytes(), "body").expect("form");
        CanonicalRequest::new(Redactor::standard(), "POST", "/v1/payment_intents", &params, |_| None)
    }

    fn described(sent: &CanonicalRequest, recorded: &CanonicalRequest) -> Vec<String> {
        differences(sent, recorded).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_type_difference_names_both_types() {
        assert_eq!(
            described(&json(r#"{"amount":"10"}"#), &json(r#"{"amount":10}"#)),
            [r#"amount: "10" (string) ≠ 10 (integer)"#]
        );
        assert_eq!(
            described(&form("amount=10"), &json(r#"{"amount":10}"#)),
            [r#"amount: "10" (string) ≠ 10 (integer)"#],
            "a form sends text"
        );
        assert_eq!(
            described(&json(r#"{"x":null,"c":"true"}"#), &json(r#"{"x":"","c":true}"#)),
            [
                r#"c: "true" (string) ≠ true (boolean)"#,
                r#"x: null (null) ≠ "" (string)"#
            ]
        );
        assert_eq!(
            described(&json(r#"{"amount":10.5}"#), &json(r#"{"amount":10}"#)),
            ["amount: 10.5 (number) ≠ 10 (integer)"]
        );
        // Values of one type read as before.
        assert_eq!(
            described(&json(r#"{"amount":1000}"#), &json(r#"{"amount":2000}"#)),
            ["amount: 1000 ≠ 2000"]
        );
        assert_eq!(
            described(&form("amount=1000"), &form("amount=2000")),
            ["amount: 1000 ≠ 2000"]
        );
        assert_eq!(
            described(&json(r#"{"quantity":2}"#), &json("{}")),
            ["quantity: sent 2, not in the recording"]
        );
        assert!(described(&json(r#"{"a":"x"}"#), &form("a=x")).is_empty());
    }
}
