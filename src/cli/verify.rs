//! `stripe-vcr verify`: checks a cassette directory (and every set in it)
//! before it is committed — no secret-looking value anywhere, every file
//! parses, has the current format version, and is named after the hash of
//! the request it holds.
//!
//! Secrets and card data are found by the redactor itself
//! ([`Redactor::redact_cassette_value`], the function `record` seals every
//! cassette with): every change it would make to a file is a problem, in
//! whatever position and spelling (escaped, glued to a word, in `body_text`,
//! in a key name). On top of that, `verify` flags random-looking values next
//! to credential-like names, which the redactor cannot know to remove, and
//! secret-looking file or set names. A name that was right under an older canonical form
//! (before `expand` became a set) is listed to rename, not called tampered;
//! `--fix-names` renames them.
//!
//! Findings never print a secret whole: they show it masked the way Stripe
//! masks keys, because CI logs are often public too.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use crate::cassette::format::{Cassette, FormatError};
use crate::cassette::key::file_name;
use crate::cassette::set::CassetteSet;
use crate::cassette::store::{CassetteStore, StoreError};
use crate::stripe::redact::{json_child_path, mask_secret, Detection, Redactor, PLACEHOLDER};

/// Names that suggest the value next to them is a credential.
static KEY_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(secret|token|passw|api[_-]?key|private[_-]?key|credential|signature|auth)")
        .expect("literal regex compiles")
});

/// A Stripe object id (`pi_…`, `ctoken_…`): an identifier, not a secret.
static OBJECT_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z]{2,12}_[A-Za-z0-9]{8,}$").expect("literal regex compiles"));

/// Minimum length and Shannon entropy (bits per character) of a value next to
/// a key-like name before it counts as a likely credential; it must also mix
/// letters and digits, as generated tokens do and words do not.
const ENTROPY_MIN_LEN: usize = 16;
const ENTROPY_MIN_BITS: f64 = 3.5;

/// One thing wrong with one cassette.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// File name inside the directory.
    pub file: String,
    /// JSON path of the value (`response.body.client_secret`), or empty for
    /// problems with the whole file. Secrets in key names are redacted.
    pub path: String,
    /// Stable machine name: `secret`, `card-number`, `card-security-code`,
    /// `high-entropy`, `unparseable`, `format-version`, `name-mismatch`.
    pub kind: &'static str,
    /// What is wrong, for people; secrets appear masked.
    pub message: String,
}

/// The result of checking a directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub directory: String,
    pub cassettes: usize,
    /// Webhook event cassettes checked (`webhook-*.json`).
    pub events: usize,
    pub problems: Vec<Problem>,
    /// Files whose name was the hash of their request under an older
    /// canonical form: they load and match as they are, and `--fix-names`
    /// gives them today's name. Not a failure.
    pub renames: Vec<Rename>,
    pub ok: bool,
}

/// A cassette to give today's name (both relative to the directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rename {
    pub from: String,
    pub to: String,
    /// Set by `--fix-names`: whether it was renamed, or why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// What a cassette's name says about it.
enum Naming {
    /// The hash of the request it holds.
    Current,
    /// The hash under the canonical form of an earlier stripe-vcr.
    Earlier { expected: String },
    /// Neither: renamed by hand, or the request was edited.
    Mismatch { expected: String },
}

/// Checks every cassette in `dir` and in every set below it, reporting all
/// problems at once. With `fix_names`, renames the files listed in
/// [`Report::renames`] (never over an existing file).
pub fn verify_dir(dir: &Path, redactor: &Redactor, fix_names: bool) -> Result<Report, StoreError> {
    let store = CassetteStore::new(dir);
    if !dir.is_dir() {
        return Err(StoreError::MissingDir(dir.to_path_buf()));
    }
    let walk = store.walk()?;
    let mut paths = walk.cassettes;
    paths.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut problems = Vec::new();
    for (set, path) in &walk.events {
        let (name, shown, bytes) = read_file(set, path, redactor, &mut problems)?;
        problems.extend(check_event_file(&shown, &name, &bytes, redactor));
    }
    let mut renames = Vec::new();
    for (set, path) in &paths {
        let (name, shown, bytes) = read_file(set, path, redactor, &mut problems)?;
        let (found, earlier) = check_file(&shown, &name, &bytes, redactor);
        problems.extend(found);
        if let Some(expected) = earlier {
            let mut rename = Rename {
                from: set.qualify(&name),
                to: set.qualify(&expected),
                outcome: None,
            };
            if fix_names {
                let target = path.with_file_name(&expected);
                rename.outcome = Some(if target.exists() {
                    "not renamed: a cassette of that name exists (the request was re-recorded; delete one)".to_owned()
                } else {
                    match std::fs::rename(path, &target) {
                        Ok(()) => "renamed".to_owned(),
                        Err(e) => format!("not renamed: {e}"),
                    }
                });
            }
            renames.push(rename);
        }
    }
    Ok(Report {
        directory: dir.display().to_string(),
        cassettes: paths.len(),
        events: walk.events.len(),
        ok: problems.is_empty(),
        problems,
        renames,
    })
}

/// Reads one file of the walk: its own name, its name as reports show it
/// (qualified by its set, redacted: reports go to CI logs) and its bytes. A
/// secret in the file or set name is a problem of its own.
fn read_file(
    set: &CassetteSet,
    path: &Path,
    redactor: &Redactor,
    problems: &mut Vec<Problem>,
) -> Result<(String, String, Vec<u8>), StoreError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let qualified = set.qualify(&name);
    let shown = redactor.redact(&qualified).into_owned();
    if let Some((rule, found)) = redactor.find(&qualified) {
        problems.push(Problem {
            file: shown.clone(),
            path: String::new(),
            kind: "secret",
            message: format!(
                "{rule} in the file or cassette set name: {} (rename it; set names that look like secrets are refused when recording)",
                mask_secret(&found)
            ),
        });
    }
    Ok((name, shown, bytes))
}

/// The file's JSON and what is secret in it: what the redactor would change
/// (the same function seals every cassette `record` writes), then
/// random-looking credentials in what is left. A file that does not parse
/// is one problem.
fn secrets_in(shown: &str, bytes: &[u8], redactor: &Redactor) -> Result<(Value, Vec<Problem>), Problem> {
    let problem = |path: String, kind: &'static str, message: String| Problem {
        file: shown.to_owned(),
        path,
        kind,
        message,
    };
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| problem(String::new(), "unparseable", format!("does not parse: {e}")))?;
    let mut problems = Vec::new();
    let redacted = redactor.redact_cassette_value(
        &value,
        Some(&mut |d: Detection| problems.push(problem(d.path, d.kind.as_str(), d.message))),
    );
    scan_entropy(&redacted, "", None, &mut |path, kind, message| {
        problems.push(problem(path, kind, message))
    });
    Ok((value, problems))
}

/// Checks one webhook event cassette: it parses, holds no secret (the same
/// detection as any cassette's), and is named for its place and type.
fn check_event_file(shown: &str, name: &str, bytes: &[u8], redactor: &Redactor) -> Vec<Problem> {
    let problem = |path: String, kind: &'static str, message: String| Problem {
        file: shown.to_owned(),
        path,
        kind,
        message,
    };
    let (value, mut problems) = match secrets_in(shown, bytes, redactor) {
        Ok(found) => found,
        Err(unparseable) => return vec![unparseable],
    };
    match serde_json::from_value::<crate::cassette::event::EventCassette>(value) {
        Err(e) => problems.push(problem(
            String::new(),
            "unparseable",
            format!("not a webhook event cassette: {e}"),
        )),
        Ok(event) if event.file_name() != name => problems.push(problem(
            String::new(),
            "name-mismatch",
            format!(
                "should be named {}: an event cassette is named for its place and type",
                event.file_name()
            ),
        )),
        Ok(_) => {}
    }
    problems
}

/// Checks one cassette file's bytes (`file` is its name in the directory).
pub fn verify_file(file: &str, bytes: &[u8], redactor: &Redactor) -> Vec<Problem> {
    check_file(file, file, bytes, redactor).0
}

/// Checks one cassette: `shown` names it in problems, `name` is its own file
/// name. Also returns today's name when the file is named as an earlier
/// stripe-vcr named it.
fn check_file(shown: &str, name: &str, bytes: &[u8], redactor: &Redactor) -> (Vec<Problem>, Option<String>) {
    let file = shown;
    let problem = |path: String, kind: &'static str, message: String| Problem {
        file: file.to_owned(),
        path,
        kind,
        message,
    };
    let mut earlier = None;
    let mut problems = match secrets_in(shown, bytes, redactor) {
        Ok((_, found)) => found,
        Err(unparseable) => return (vec![unparseable], None),
    };
    match Cassette::from_slice(bytes) {
        Err(FormatError::Version { found }) => problems.push(problem(
            "format_version".into(),
            "format-version",
            format!(
                "format version {found}; this stripe-vcr writes and reads version {}",
                crate::cassette::format::FORMAT_VERSION
            ),
        )),
        Err(e) => problems.push(problem(String::new(), "unparseable", e.to_string())),
        Ok(cassette) => match naming(&cassette, name) {
            Naming::Current => {}
            Naming::Earlier { expected } => earlier = Some(expected),
            Naming::Mismatch { expected } => problems.push(problem(
                String::new(),
                "name-mismatch",
                format!("should be named {expected}: a cassette's name is the hash of the request it holds (renamed, or the request was edited?)"),
            )),
        },
    }
    (problems, earlier)
}

/// Whether `name` is the hash of the request `cassette` holds, today or
/// under the canonical form it was recorded with.
fn naming(cassette: &Cassette, name: &str) -> Naming {
    let named = |canonical: &crate::cassette::key::CanonicalRequest| {
        file_name(&cassette.endpoint, &canonical.key(), cassette.occurrence)
    };
    let stored = &cassette.request.canonical;
    let expected = named(&stored.clone().canonicalised());
    if expected == name {
        Naming::Current
    } else if named(stored) == name {
        Naming::Earlier { expected }
    } else {
        Naming::Mismatch { expected }
    }
}

/// Looks for random-looking values next to credential-like names (in a
/// cassette already redacted: secrets the redactor knows are gone).
fn scan_entropy(value: &Value, path: &str, key: Option<&str>, report: &mut dyn FnMut(String, &'static str, String)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                scan_entropy(v, &json_child_path(path, k), Some(k), report);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                scan_entropy(v, &format!("{path}[{i}]"), key, report);
            }
        }
        Value::String(s) => {
            let key = key.unwrap_or_default();
            if !KEY_LIKE.is_match(key) {
                return;
            }
            let token = s.split_whitespace().last().unwrap_or_default();
            if token.len() >= ENTROPY_MIN_LEN
                && !token.contains(PLACEHOLDER)
                && !OBJECT_ID.is_match(token)
                && token.chars().any(|c| c.is_ascii_digit())
                && token.chars().any(|c| c.is_ascii_alphabetic())
                && entropy_bits(token) >= ENTROPY_MIN_BITS
            {
                report(
                    path.to_owned(),
                    "high-entropy",
                    format!(
                        "random-looking value next to `{key}`: {} (add a --redact pattern, or redact it by hand)",
                        mask_secret(token)
                    ),
                );
            }
        }
        _ => {}
    }
}

/// Shannon entropy in bits per character.
fn entropy_bits(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let total = s.chars().count() as f64;
    for c in s.chars() {
        *counts.entry(c).or_insert(0u32) += 1;
    }
    counts
        .values()
        .map(|&n| {
            let p = f64::from(n) / total;
            -p * p.log2()
        })
        .sum()
}

impl Report {
    /// The report for a terminal or a CI log.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut current = "";
        for p in &self.problems {
            if p.file != current {
                out.push_str(&format!("{}/{}\n", self.directory.trim_end_matches('/'), p.file));
                current = &p.file;
            }
            let at = if p.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", p.path)
            };
            out.push_str(&format!("  {at}{}\n", p.message));
        }
        for r in &self.renames {
            let outcome = r
                .outcome
                .as_deref()
                .unwrap_or("run `stripe-vcr verify --fix-names` to rename");
            out.push_str(&format!(
                "{}/{}\n  named under an earlier canonical form (`expand` is now a set); today's name is {}: {outcome}\n",
                self.directory.trim_end_matches('/'),
                r.from,
                r.to
            ));
        }
        if self.ok {
            out.push_str(&format!(
                "OK: {} cassettes in {}: no secrets found, all parse, all named after their requests\n",
                self.cassettes, self.directory
            ));
        } else {
            let files: std::collections::BTreeSet<&str> = self.problems.iter().map(|p| p.file.as_str()).collect();
            out.push_str(&format!(
                "FAILED: {} problems in {} of {} cassettes in {}\n",
                self.problems.len(),
                files.len(),
                self.cassettes,
                self.directory
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(json: &str) -> Vec<(String, &'static str)> {
        verify_file("x.json", json.as_bytes(), Redactor::standard())
            .into_iter()
            .filter(|p| p.kind != "unparseable" && p.kind != "name-mismatch")
            .map(|p| (p.path, p.kind))
            .collect()
    }

    #[test]
    fn finds_secrets_anywhere_and_masks_them() {
        let found = verify_file(
            "x.json",
            br#"{"a": {"b": ["ok", "sk_live_abcdefghijklmnop"]}, "pi_1_secret_zzz": 1}"#,
            Redactor::standard(),
        );
        let secrets: Vec<_> = found.iter().filter(|p| p.kind == "secret").collect();
        assert_eq!(secrets.len(), 2, "{found:?}");
        assert_eq!(secrets[0].path, "a.b[1]");
        assert_eq!(secrets[0].message, "secret API key: sk_live_************mnop");
        assert!(!format!("{found:?}").contains("abcdefghijkl"));
        // A secret in a key is masked in the path too.
        assert_eq!(secrets[1].path, "pi_1_secret_REDACTED");
        assert_eq!(json_child_path("a", "x.y"), "a[\"x.y\"]");
    }

    #[test]
    fn finds_card_data_and_random_credentials_but_not_ids_or_placeholders() {
        let found = kinds(
            r#"{"card": {"number": "4242424242424242", "cvc": "123"},
                "metadata": {"api_key": "Zx8fQ2pLm9Rt4Vw7Yb3N", "session_token": "ctoken_1AbCdEfGhIjKlMnOp"},
                "client_secret": "pi_1_secret_REDACTED", "other": {"number": "1604012360740110336"},
                "authorization": "short", "amount": "4242424242424242"}"#,
        );
        assert_eq!(
            found,
            vec![
                ("card.number".to_owned(), "card-number"),
                ("card.cvc".to_owned(), "card-security-code"),
                ("metadata.api_key".to_owned(), "high-entropy"),
            ]
        );
    }

    #[test]
    fn unparseable_and_old_files_are_reported() {
        let found = verify_file("x.json", b"{\"format_version\": 1,", Redactor::standard());
        assert_eq!(found[0].kind, "unparseable");
        assert!(found[0].message.contains("line 1"), "{}", found[0].message);
        let found = verify_file("x.json", br#"{"format_version": 0}"#, Redactor::standard());
        assert_eq!(found.iter().map(|p| p.kind).collect::<Vec<_>>(), ["format-version"]);
    }

    #[test]
    fn entropy_separates_random_from_words() {
        assert!(entropy_bits("Zx8fQ2pLm9Rt4Vw7Yb3N") > ENTROPY_MIN_BITS);
        assert!(entropy_bits("aaaaaaaaaaaaaaaaaaaa") < ENTROPY_MIN_BITS);
        assert!(entropy_bits("aabbaabbaabbaabb") < ENTROPY_MIN_BITS);
        // Words can be varied too; they are told apart by having no digits.
        assert!(kinds(r#"{"auth_flow": "requires_payment_method_now"}"#).is_empty());
    }
}
