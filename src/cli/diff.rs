//! `stripe-vcr diff OLD NEW`: what changed between two recordings of the
//! same session (before and after re-recording), per interaction, as
//! field-level differences in the responses — ignoring what always changes
//! (object ids, timestamps, client secrets, request ids).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use crate::cassette::format::{Cassette, ResponseBody};
use crate::cassette::store::{CassetteStore, StoreError};

/// A Stripe object id (`pi_3Rsx…`, `req_…`, `ch_…`): varies per recording.
/// Its random part has a digit or a capital, which tells it from enum values
/// like `requires_confirmation`.
static ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([a-z]{2,12})_([A-Za-z0-9]{8,})").expect("literal regex compiles"));

/// Response fields whose values change on every recording.
fn volatile_key(key: &str) -> bool {
    key == "created" || key == "date" || key == "client_secret" || key.ends_with("_at") || key == "request_log_url"
}

/// One field-level difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `added`, `removed` or `changed`.
    pub kind: &'static str,
    /// Dotted JSON path in the response body (`payment_method_options.card.network`).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// One interaction present in both recordings that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interaction {
    /// `POST /v1/payment_intents/pi_*/confirm #1` (ids masked).
    pub request: String,
    pub old_file: String,
    pub new_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<(u16, u16)>,
    pub changes: Vec<Change>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffReport {
    pub old: String,
    pub new: String,
    /// Interactions matched in both.
    pub matched: usize,
    pub changed: Vec<Interaction>,
    pub only_old: Vec<String>,
    pub only_new: Vec<String>,
}

impl DiffReport {
    /// Nothing differs.
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.only_old.is_empty() && self.only_new.is_empty()
    }
}

/// Masks ids so the same request in two recordings gets the same identity.
fn mask_ids(text: &str) -> String {
    ID.replace_all(text, |caps: &regex::Captures<'_>| {
        let random = caps.get(2).map(|m| m.as_str()).unwrap_or_default();
        if random.chars().any(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
            format!("{}_*", caps.get(1).map(|m| m.as_str()).unwrap_or_default())
        } else {
            caps.get(0).map(|m| m.as_str().to_owned()).unwrap_or_default()
        }
    })
    .into_owned()
}

/// The identity of an interaction across recordings: set, method, path,
/// parameters, Stripe-Version and occurrence — with ids masked when `masked`.
fn identity(set: &str, c: &Cassette, masked: bool) -> String {
    let r = &c.request.canonical;
    let mask = |s: &str| if masked { mask_ids(s) } else { s.to_owned() };
    let params = mask(&serde_json::to_string(&r.params).unwrap_or_default());
    let version = r.headers.get("stripe-version").cloned().unwrap_or_default();
    format!(
        "{set}|{} {}|{params}|{version}|#{}",
        r.method,
        mask(&r.path),
        c.occurrence
    )
}

fn label(c: &Cassette) -> String {
    format!(
        "{} {} #{}",
        c.request.canonical.method,
        mask_ids(&c.request.canonical.path),
        c.occurrence
    )
}

/// One cassette: its set, its file name relative to the directory, itself.
type Item = (String, String, Cassette);

fn load(dir: &Path) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    for (set, loaded) in CassetteStore::new(dir).load_sets()? {
        for l in loaded {
            out.push((set.name().to_owned(), set.qualify(&l.file_name), l.cassette));
        }
    }
    Ok(out)
}

/// Pairs old and new items with the same identity (in file-name order);
/// returns the pairs and the leftovers of each side.
fn pair(old: Vec<Item>, new: Vec<Item>, masked: bool) -> (Vec<(Item, Item)>, Vec<Item>, Vec<Item>) {
    let mut by_identity: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for item in new {
        by_identity
            .entry(identity(&item.0, &item.2, masked))
            .or_default()
            .push(item);
    }
    for items in by_identity.values_mut() {
        items.sort_by(|a, b| b.1.cmp(&a.1)); // popped from the end: file-name order
    }
    let mut old = old;
    old.sort_by(|a, b| a.1.cmp(&b.1));
    let (mut pairs, mut only_old) = (Vec::new(), Vec::new());
    for item in old {
        match by_identity
            .get_mut(&identity(&item.0, &item.2, masked))
            .and_then(Vec::pop)
        {
            Some(matched) => pairs.push((item, matched)),
            None => only_old.push(item),
        }
    }
    (pairs, only_old, by_identity.into_values().flatten().collect())
}

/// Compares two cassette directories.
pub fn diff_dirs(old: &Path, new: &Path) -> Result<DiffReport, StoreError> {
    // Same request with the same ids first (an unknown id sent by the app is
    // the same in both recordings); then what differs only in generated ids.
    let (exact, old_rest, new_rest) = pair(load(old)?, load(new)?, false);
    let (masked, only_old, only_new) = pair(old_rest, new_rest, true);
    let mut pairs: Vec<(Item, Item)> = exact.into_iter().chain(masked).collect();
    pairs.sort_by(|a, b| a.0 .1.cmp(&b.0 .1));
    let mut report = DiffReport {
        old: old.display().to_string(),
        new: new.display().to_string(),
        matched: pairs.len(),
        changed: Vec::new(),
        only_old: only_old.into_iter().map(|i| i.1).collect(),
        only_new: only_new.into_iter().map(|i| i.1).collect(),
    };
    diff_events(old, new, &mut report)?;
    report.only_new.sort();
    for ((_, old_file, a), (_, new_file, b)) in pairs {
        let status = (a.response.status != b.response.status).then_some((a.response.status, b.response.status));
        let mut changes = Vec::new();
        compare(&body(&a.response.body), &body(&b.response.body), "", &mut changes);
        if status.is_some() || !changes.is_empty() {
            report.changed.push(Interaction {
                request: label(&a),
                old_file,
                new_file,
                status,
                changes,
            });
        }
    }
    Ok(report)
}

/// Webhook events of a directory by identity across recordings: set, type,
/// and the how-manieth of that type in the set (`checkout|charge.refunded|#1`),
/// with the file name and the event's object.
fn events(dir: &Path) -> Result<BTreeMap<String, (String, String, Value)>, StoreError> {
    let mut out = BTreeMap::new();
    for (set, events) in CassetteStore::new(dir).walk()?.read_events()? {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for e in events {
            let file = set.qualify(&e.file_name());
            let n = seen.entry(e.event_type.clone()).or_insert(0);
            *n += 1;
            let label = format!("webhook {} #{n}", e.event_type);
            out.insert(
                format!("{}|{}|#{n}", set.name(), e.event_type),
                (label, file, e.event["data"]["object"].clone()),
            );
        }
    }
    Ok(out)
}

/// Adds the webhook events' differences: the same event (type and place)
/// whose object differs, and events only one recording has.
fn diff_events(old: &Path, new: &Path, report: &mut DiffReport) -> Result<(), StoreError> {
    let (old, mut new) = (events(old)?, events(new)?);
    for (identity, (label, old_file, a)) in old {
        match new.remove(&identity) {
            Some((_, new_file, b)) => {
                report.matched += 1;
                let mut changes = Vec::new();
                compare(&a, &b, "", &mut changes);
                if !changes.is_empty() {
                    report.changed.push(Interaction {
                        request: label,
                        old_file,
                        new_file,
                        status: None,
                        changes,
                    });
                }
            }
            None => report.only_old.push(old_file),
        }
    }
    report.only_new.extend(new.into_values().map(|(_, file, _)| file));
    Ok(())
}

fn body(b: &ResponseBody) -> Value {
    match b {
        ResponseBody::Body(v) => v.clone(),
        ResponseBody::BodyText(t) => Value::String(t.clone()),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Two scalars that differ only in what always changes count as equal.
fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => mask_ids(x) == mask_ids(y),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value, path: &str, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                if volatile_key(k) {
                    continue;
                }
                match y.get(k) {
                    Some(vb) => compare(va, vb, &join(path, k), out),
                    None => out.push(Change {
                        kind: "removed",
                        path: join(path, k),
                        old: Some(va.clone()),
                        new: None,
                    }),
                }
            }
            for (k, vb) in y {
                if !volatile_key(k) && !x.contains_key(k) {
                    out.push(Change {
                        kind: "added",
                        path: join(path, k),
                        old: None,
                        new: Some(vb.clone()),
                    });
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let p = format!("{path}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => compare(va, vb, &p, out),
                    (Some(va), None) => out.push(Change {
                        kind: "removed",
                        path: p,
                        old: Some(va.clone()),
                        new: None,
                    }),
                    (None, Some(vb)) => out.push(Change {
                        kind: "added",
                        path: p,
                        old: None,
                        new: Some(vb.clone()),
                    }),
                    (None, None) => {}
                }
            }
        }
        _ if same_scalar(a, b) => {}
        _ => out.push(Change {
            kind: "changed",
            path: path.to_owned(),
            old: Some(a.clone()),
            new: Some(b.clone()),
        }),
    }
}

fn show(v: &Option<Value>) -> String {
    let text = v.as_ref().map(Value::to_string).unwrap_or_default();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

impl DiffReport {
    /// For a terminal or a CI log.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for i in &self.changed {
            out.push_str(&format!("{}  ({} → {})\n", i.request, i.old_file, i.new_file));
            if let Some((a, b)) = i.status {
                out.push_str(&format!("  status   {a} → {b}\n"));
            }
            for c in &i.changes {
                match c.kind {
                    "changed" => out.push_str(&format!("  changed  {}: {} → {}\n", c.path, show(&c.old), show(&c.new))),
                    "added" => out.push_str(&format!("  added    {}: {}\n", c.path, show(&c.new))),
                    _ => out.push_str(&format!("  removed  {}: {}\n", c.path, show(&c.old))),
                }
            }
        }
        for f in &self.only_old {
            out.push_str(&format!("only in {}: {f}\n", self.old));
        }
        for f in &self.only_new {
            out.push_str(&format!("only in {}: {f}\n", self.new));
        }
        out.push_str(&format!(
            "{}: {} interactions matched, {} changed, {} only in old, {} only in new (ids, timestamps and client secrets ignored)\n",
            if self.is_clean() { "SAME" } else { "DIFFERENT" },
            self.matched,
            self.changed.len(),
            self.only_old.len(),
            self.only_new.len()
        ));
        out
    }

    /// For a pull request.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "## stripe-vcr diff\n\n`{}` → `{}`: {} interactions matched, **{} changed**, {} only in old, {} only in new.\n\n",
            self.old,
            self.new,
            self.matched,
            self.changed.len(),
            self.only_old.len(),
            self.only_new.len()
        );
        for i in &self.changed {
            out.push_str(&format!(
                "### `{}`\n\n| change | path | old | new |\n|---|---|---|---|\n",
                i.request
            ));
            if let Some((a, b)) = i.status {
                out.push_str(&format!("| status | | {a} | {b} |\n"));
            }
            for c in &i.changes {
                let cell = |v: &Option<Value>| show(v).replace('|', "\\|");
                out.push_str(&format!(
                    "| {} | `{}` | {} | {} |\n",
                    c.kind,
                    c.path,
                    cell(&c.old),
                    cell(&c.new)
                ));
            }
            out.push('\n');
        }
        for (title, files) in [("Only in old", &self.only_old), ("Only in new", &self.only_new)] {
            if !files.is_empty() {
                out.push_str(&format!(
                    "### {title}\n\n{}\n\n",
                    files.iter().map(|f| format!("- `{f}`")).collect::<Vec<_>>().join("\n")
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_timestamps_and_secrets_are_ignored_real_changes_are_not() {
        let a = serde_json::json!({"id": "pi_AAAAAAAA1111", "created": 1, "client_secret": "pi_AAAAAAAA1111_secret_REDACTED",
            "status": "requires_payment_method", "latest_charge": "ch_AAAAAAAA1111", "metadata": {"k": "v"}, "list": [1, 2]});
        let b = serde_json::json!({"id": "pi_BBBBBBBB2222", "created": 2, "client_secret": "pi_BBBBBBBB2222_secret_REDACTED",
            "status": "requires_confirmation", "latest_charge": "ch_BBBBBBBB2222", "metadata": {}, "list": [1, 2, 3], "new": true});
        let mut changes = Vec::new();
        compare(&a, &b, "", &mut changes);
        let summary: Vec<(&str, &str)> = changes.iter().map(|c| (c.kind, c.path.as_str())).collect();
        assert_eq!(
            summary,
            [
                ("changed", "status"),
                ("removed", "metadata.k"),
                ("added", "list[2]"),
                ("added", "new")
            ]
        );
    }

    #[test]
    fn identities_match_across_recordings() {
        assert_eq!(
            mask_ids("/v1/payment_intents/pi_3AbCdEfGh12/confirm"),
            "/v1/payment_intents/pi_*/confirm"
        );
        assert_eq!(mask_ids("usd"), "usd");
        assert_eq!(mask_ids("pm_card_visa"), "pm_card_visa");
        assert_eq!(mask_ids("requires_confirmation"), "requires_confirmation");
        assert_eq!(mask_ids("req_ABCdef123456"), "req_*");
        assert_eq!(mask_ids("pi_3AbCdEfGh12_secret_REDACTED"), "pi_*_secret_REDACTED");
    }
}
