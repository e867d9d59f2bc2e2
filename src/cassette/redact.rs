//! Secret redaction: replaces API keys, client secrets and raw card data with
//! fixed placeholders before anything is written to disk, logged, or used as a
//! match key.
//!
//! Placeholders keep the secret's prefix and structure (`sk_test_REDACTED`,
//! `pi_3Rs…_secret_REDACTED`, `************4242`), so SDK-side parsing still
//! works, and are fixed strings, so re-recording the same session writes the
//! same bytes. Redaction is idempotent: a placeholder redacts to itself, which
//! is what lets a replayed request carrying the placeholder match the same
//! cassette as one carrying the real secret.
//!
//! The only way to get a cassette the store will write is [`Redactor::seal`],
//! which runs the whole cassette through the redactor: there is no code path
//! that writes an unredacted copy first.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

use crate::cassette::format::Cassette;
use crate::stripe::params::{Param, Params, Text};

/// The fixed text that stands in for a secret's random part.
pub const PLACEHOLDER: &str = "REDACTED";

/// Keys whose value is a card number when it looks like one (Luhn-valid).
const CARD_NUMBER_KEYS: [&str; 2] = ["number", "card_number"];

/// Keys whose value is a card security code: removed outright.
const CARD_SECRET_KEYS: [&str; 5] = ["cvc", "cvv", "cvc2", "cvv2", "security_code"];

/// One redaction rule: what it finds, and what the finding is called.
struct Rule {
    name: String,
    /// Literals every match contains; a string with none of them is skipped
    /// without running the regex (the hot path sees mostly plain values).
    /// Empty for user rules: always run.
    needles: &'static [&'static str],
    pattern: Regex,
    /// `$p` placeholders etc. for built-in rules; `None` for user rules
    /// (replace group 1 if there is one, else the whole match).
    replacement: Option<&'static str>,
}

/// Applies every redaction rule. Build one per process (built-ins plus the
/// user's `--redact` patterns) and share it.
pub struct Redactor {
    rules: Vec<Rule>,
    /// Every built-in rule's literals in one automaton: one pass over a
    /// string tells whether any built-in rule needs to look at it.
    literals: aho_corasick::AhoCorasick,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.rules.iter().map(|r| r.name.as_str()).collect();
        f.debug_struct("Redactor").field("rules", &names).finish()
    }
}

/// A user-supplied pattern that is not a valid regular expression.
#[derive(Debug, thiserror::Error)]
#[error("--redact pattern `{pattern}` is not a valid regular expression: {source}")]
pub struct PatternError {
    pattern: String,
    #[source]
    source: regex::Error,
}

/// A value that has been through the redactor. Only this module makes them,
/// and the cassette store writes nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// The redacted value.
    pub fn get(&self) -> &T {
        &self.0
    }
}

static STANDARD: LazyLock<Redactor> = LazyLock::new(Redactor::builtin);

fn builtin_rule(name: &str, needles: &'static [&'static str], pattern: &str, replacement: &'static str) -> Rule {
    Rule {
        name: name.to_owned(),
        needles,
        // The patterns are literals covered by the tests below.
        pattern: Regex::new(pattern).expect("built-in redaction pattern compiles"),
        replacement: Some(replacement),
    }
}

impl Redactor {
    /// The built-in rules, shared process-wide.
    pub fn standard() -> &'static Redactor {
        &STANDARD
    }

    /// The built-in rules alone.
    pub fn builtin() -> Redactor {
        let rules = vec![
            builtin_rule(
                "secret API key",
                &["_test_", "_live_"],
                r"\b(?P<p>(?:sk|rk)_(?:test|live)_)[A-Za-z0-9]+",
                "${p}REDACTED",
            ),
            builtin_rule(
                "ephemeral key",
                &["_test_", "_live_"],
                r"\b(?P<p>ek_(?:test|live)_)[A-Za-z0-9]+",
                "${p}REDACTED",
            ),
            builtin_rule(
                "client secret",
                &["_secret_"],
                r"\b(?P<p>(?:pi|seti)_[A-Za-z0-9]+_secret_)[A-Za-z0-9]+",
                "${p}REDACTED",
            ),
            builtin_rule(
                "webhook signing secret",
                &["whsec_"],
                r"\bwhsec_[A-Za-z0-9+/=]+",
                "whsec_REDACTED",
            ),
        ];
        let literals: Vec<&str> = rules.iter().flat_map(|r: &Rule| r.needles.iter().copied()).collect();
        Redactor {
            // Built from the literal needles above; building cannot fail.
            // A DFA without the rare-byte prefilter: Stripe's ids and paths
            // are full of `_`, the byte every needle shares, so the prefilter
            // kept stopping; the DFA reads each byte once.
            literals: aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .prefilter(false)
                .build(literals)
                .expect("literal needles build an automaton"),
            rules,
        }
    }

    /// The built-in rules plus the user's patterns (`--redact`, `--redact-file`).
    pub fn with_patterns(patterns: &[String]) -> Result<Redactor, PatternError> {
        let mut redactor = Redactor::builtin();
        for pattern in patterns {
            let compiled = Regex::new(pattern).map_err(|source| PatternError {
                pattern: pattern.clone(),
                source,
            })?;
            redactor.rules.push(Rule {
                name: format!("--redact {pattern}"),
                needles: &[],
                pattern: compiled,
                replacement: None,
            });
        }
        Ok(redactor)
    }

    /// Redacts every secret in `text`; borrows when there is nothing to do.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let maybe = self.maybe_builtin(text);
        let mut out = Cow::Borrowed(text);
        for rule in &self.rules {
            if !rule.applies(&out, maybe) {
                continue;
            }
            let replaced = match rule.replacement {
                Some(template) => rule.pattern.replace_all(&out, template).into_owned(),
                None => rule.pattern.replace_all(&out, user_replacement).into_owned(),
            };
            out = Cow::Owned(replaced);
        }
        out
    }

    /// Whether any built-in literal occurs in `text`. Every one contains `_`,
    /// so text without one (most values) is settled by one `memchr`.
    fn maybe_builtin(&self, text: &str) -> bool {
        text.as_bytes().contains(&b'_') && self.literals.is_match(text)
    }

    /// Whether any rule could match `text` (cheap for the usual case).
    pub fn might_redact(&self, text: &str) -> bool {
        let maybe = self.maybe_builtin(text);
        self.rules.iter().any(|r| r.applies(text, maybe))
    }

    /// The first rule that finds something not yet redacted in `text`, and
    /// the text it found.
    pub fn find<'a>(&'a self, text: &'a str) -> Option<(&'a str, &'a str)> {
        self.rules.iter().find_map(|rule| {
            rule.pattern
                .find_iter(text)
                .find(|m| self.redact(m.as_str()) != m.as_str())
                .map(|m| (rule.name.as_str(), m.as_str()))
        })
    }

    /// Redacts every string (keys and values) inside a JSON value, masks card
    /// numbers and drops card security codes.
    pub fn redact_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.redact(s).into_owned()),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.redact_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, v)| !(is_card_secret_key(k) && !v.is_object() && !v.is_array()))
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) if is_card_number_key(k) && is_card_number(s) => {
                                Value::String(mask_card_number(s))
                            }
                            other => self.redact_json(other),
                        };
                        (self.redact(k).into_owned(), v)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The same rules over decoded request parameters, in place: only the
    /// strings that need it are rewritten (the usual request has none).
    pub fn redact_params_owned(&self, mut params: Params) -> Params {
        self.redact_map_in_place(&mut params.0);
        params
    }

    fn redact_map_in_place(&self, map: &mut BTreeMap<Text, Param>) {
        map.retain(|k, v| !(is_card_secret_key(k) && matches!(v, Param::Str(_))));
        if map.keys().any(|k| self.might_redact(k)) {
            let old = std::mem::take(map);
            *map = old.into_iter().map(|(k, v)| (Text::from(self.redact(&k)), v)).collect();
        }
        for (k, v) in map.iter_mut() {
            match v {
                Param::Str(s) if is_card_number_key(k) && is_card_number(s) => *s = mask_card_number(s).into(),
                other => self.redact_param_in_place(other),
            }
        }
    }

    fn redact_param_in_place(&self, param: &mut Param) {
        match param {
            Param::Str(s) => {
                if let Cow::Owned(redacted) = self.redact(s) {
                    *s = redacted.into();
                }
            }
            Param::List(items) => items.iter_mut().for_each(|p| self.redact_param_in_place(p)),
            Param::Map(m) => self.redact_map_in_place(m),
        }
    }

    /// The same rules over decoded request parameters.
    pub fn redact_params(&self, params: &Params) -> Params {
        Params(self.redact_param_map(&params.0))
    }

    fn redact_param_map(&self, map: &BTreeMap<Text, Param>) -> BTreeMap<Text, Param> {
        map.iter()
            .filter(|(k, v)| !(is_card_secret_key(k) && matches!(v, Param::Str(_))))
            .map(|(k, v)| {
                let v = match v {
                    Param::Str(s) if is_card_number_key(k) && is_card_number(s) => {
                        Param::Str(mask_card_number(s).into())
                    }
                    Param::Str(s) => Param::Str(self.redact(s).into()),
                    Param::List(items) => Param::List(items.iter().map(|p| self.redact_param(p)).collect()),
                    Param::Map(m) => Param::Map(self.redact_param_map(m)),
                };
                (Text::from(self.redact(k)), v)
            })
            .collect()
    }

    fn redact_param(&self, param: &Param) -> Param {
        match param {
            Param::Str(s) => Param::Str(self.redact(s).into()),
            Param::List(items) => Param::List(items.iter().map(|p| self.redact_param(p)).collect()),
            Param::Map(m) => Param::Map(self.redact_param_map(m)),
        }
    }

    /// Runs a whole cassette through the redactor: every key and string in
    /// it, whatever part it sits in. The result is what the store writes.
    pub fn seal(&self, cassette: &Cassette) -> Result<Redacted<Cassette>, serde_json::Error> {
        let value = serde_json::to_value(cassette)?;
        Ok(Redacted(serde_json::from_value(self.redact_json(&value))?))
    }
}

impl Rule {
    /// `maybe` is whether any built-in literal occurs in the text at all.
    fn applies(&self, text: &str, maybe: bool) -> bool {
        let worth_a_look = if self.needles.is_empty() {
            true
        } else {
            maybe && self.needles.iter().any(|n| text.contains(n))
        };
        worth_a_look && self.pattern.is_match(text)
    }
}

/// User rules: replace capture group 1 when the pattern has one (so
/// `token=(\w+)` keeps `token=`), else the whole match.
fn user_replacement(caps: &Captures<'_>) -> String {
    let whole = caps.get(0).map(|m| m.as_str()).unwrap_or_default();
    match (caps.get(0), caps.get(1)) {
        (Some(all), Some(group)) => {
            let start = group.start() - all.start();
            let end = group.end() - all.start();
            format!("{}{PLACEHOLDER}{}", &whole[..start], &whole[end..])
        }
        _ => PLACEHOLDER.to_owned(),
    }
}

fn is_card_number_key(key: &str) -> bool {
    CARD_NUMBER_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// Card security codes (`cvc`, `cvv`, …) are never kept.
pub fn is_card_secret_key(key: &str) -> bool {
    CARD_SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// 12 to 19 digits (spaces and dashes allowed between them) that pass the
/// Luhn check: a primary account number. Ids and amounts fail it.
pub fn is_card_number(value: &str) -> bool {
    if !value.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-') {
        return false;
    }
    let digits: Vec<u32> = value.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(12..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                *d
            }
        })
        .sum();
    sum % 10 == 0
}

/// A card number reduced to its last four digits: `************4242`.
pub fn mask_card_number(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    let keep = digits.len().saturating_sub(4);
    let tail: String = digits[keep..].iter().collect();
    format!("{}{tail}", "*".repeat(keep))
}

/// A secret as Stripe shows it in messages: first 8 characters, one `*` per
/// hidden character, last 4 (short values keep only the last 4).
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 12 {
        let shown: String = chars.iter().skip(chars.len().saturating_sub(4)).collect();
        return format!("{}{shown}", "*".repeat(chars.len().saturating_sub(4)));
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_needle_contains_an_underscore() {
        // `maybe_builtin` skips text without `_` on that promise.
        for rule in &Redactor::builtin().rules {
            assert!(rule.needles.iter().all(|n| n.contains('_')), "{}", rule.name);
        }
        assert_eq!(Redactor::standard().redact("sk_test_abc123"), "sk_test_REDACTED");
        assert_eq!(Redactor::standard().redact("no underscore here"), "no underscore here");
    }

    #[test]
    fn redacts_keys_and_client_secrets_keeping_prefixes() {
        let r = Redactor::standard();
        let cases = [
            ("sk_test_51AbcDEF123", "sk_test_REDACTED"),
            ("Bearer sk_live_xyz987", "Bearer sk_live_REDACTED"),
            ("rk_test_abc", "rk_test_REDACTED"),
            ("rk_live_abc", "rk_live_REDACTED"),
            ("ek_live_abc", "ek_live_REDACTED"),
            (
                "pi_3Rsx4dDtWMrPDtgt0mUrePJ9_secret_7sqfufxuIYiBhbw52Vi51Z47o",
                "pi_3Rsx4dDtWMrPDtgt0mUrePJ9_secret_REDACTED",
            ),
            ("seti_123_secret_abc", "seti_123_secret_REDACTED"),
            ("whsec_abc+/=", "whsec_REDACTED"),
            (
                "Invalid API Key provided: sk_test_abc and pi_1_secret_z",
                "Invalid API Key provided: sk_test_REDACTED and pi_1_secret_REDACTED",
            ),
            (
                "https://x/?client_secret=pi_1_secret_z&a=1",
                "https://x/?client_secret=pi_1_secret_REDACTED&a=1",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(r.redact(input), want, "{input}");
            // Idempotent: the placeholder redacts to itself.
            assert_eq!(r.redact(want), want);
            assert!(r.find(want).is_none(), "{want}");
            assert!(r.find(input).is_some(), "{input}");
        }
    }

    #[test]
    fn leaves_ordinary_values_alone() {
        let r = Redactor::standard();
        for s in [
            "pi_3Rsx4dDtWMrPDtgt0mUrePJ9",
            "pk_test_abc",
            "usd",
            "task_test_1",
            "ask_test_x",
        ] {
            assert!(matches!(r.redact(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn user_patterns_replace_their_group_or_whole_match() {
        let r = Redactor::with_patterns(&[r"acct_[A-Za-z0-9]+".into(), r"token=(\w+)".into()]).expect("valid");
        assert_eq!(r.redact("on acct_1Abc"), "on REDACTED");
        assert_eq!(r.redact("x token=abc123 y"), "x token=REDACTED y");
        assert_eq!(r.redact("x token=REDACTED y"), "x token=REDACTED y");
        assert!(r.find("acct_1Abc").is_some());
        assert!(Redactor::with_patterns(&["(".into()]).is_err());
    }

    #[test]
    fn card_numbers_need_luhn_and_a_card_key() {
        for valid in [
            "4242424242424242",
            "4000 0566 5566 5556",
            "5555-5555-5555-4444",
            "378282246310005",
        ] {
            assert!(is_card_number(valid), "{valid}");
        }
        // Amounts, ids, timestamps and Luhn failures are not card numbers.
        for not in [
            "4242424242424241",
            "2000",
            "99999999",
            "1604012360740110336",
            "pi_4242424242424242",
            "1767225600",
        ] {
            assert!(!is_card_number(not), "{not}");
        }
        assert_eq!(mask_card_number("4242 4242 4242 4242"), "************4242");
        let p = Params::from_form(
            b"payment_method_data[card][number]=4242424242424242&payment_method_data[card][cvc]=123\
              &payment_method_data[card][exp_month]=12&metadata[number]=4242424242424241&amount=4242424242424242",
            "body",
        )
        .expect("form");
        let json = serde_json::to_string(&Redactor::standard().redact_params(&p)).expect("json");
        assert_eq!(
            json,
            r#"{"amount":"4242424242424242","metadata":{"number":"4242424242424241"},"payment_method_data":{"card":{"exp_month":"12","number":"************4242"}}}"#
        );
    }

    #[test]
    fn in_place_and_copying_redaction_agree() {
        let r = Redactor::with_patterns(&["acct_[A-Za-z0-9]+".into()]).expect("pattern");
        for form in [
            "amount=1&currency=usd",
            "metadata[sk_test_abc]=x&metadata[k]=pi_1_secret_z&expand[0]=acct_123",
            "payment_method_data[card][number]=4242424242424242&payment_method_data[card][cvc]=1&a[][b]=whsec_x",
            "card[cvc][x]=1&number=4242424242424242&list[0][number]=4000056655665556",
        ] {
            let p = Params::from_form(form.as_bytes(), "body").expect("form");
            assert_eq!(r.redact_params_owned(p.clone()), r.redact_params(&p), "{form}");
        }
    }

    #[test]
    fn redacts_inside_json_keys_and_values() {
        let v = serde_json::json!({
            "client_secret": "pi_1_secret_abc",
            "nested": [{"sk_test_k": "x"}],
            "card": {"number": "4242424242424242", "cvc": "123", "last4": "4242"}
        });
        let out = Redactor::standard().redact_json(&v);
        assert_eq!(
            out,
            serde_json::json!({
                "client_secret": "pi_1_secret_REDACTED",
                "nested": [{"sk_test_REDACTED": "x"}],
                "card": {"number": "************4242", "last4": "4242"}
            })
        );
    }

    #[test]
    fn masks_like_stripe() {
        assert_eq!(
            mask_secret("sk_test_51Hxyzsecretvalue1234"),
            "sk_test_*****************1234"
        );
        assert_eq!(mask_secret("undefined"), "*****ined");
    }
}
