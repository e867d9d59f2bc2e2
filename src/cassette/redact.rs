//! Secret redaction: replaces API keys and client secrets with fixed
//! placeholders before anything is written to disk or used as a match key.
//!
//! Placeholders keep the secret's prefix (`sk_test_`, `pi_3Rs…_secret_`), so
//! SDK-side parsing still works, and are fixed strings, so re-recording the
//! same session writes the same bytes. Redaction is idempotent: a placeholder
//! redacts to itself, which is what lets a replayed request that carries the
//! placeholder match the same cassette as one carrying the real secret.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// The fixed text that stands in for a secret's random part.
pub const PLACEHOLDER: &str = "REDACTED";

/// One redaction rule: a pattern and the replacement (with `$name` groups).
struct Rule {
    pattern: Regex,
    replacement: &'static str,
}

/// Applies every redaction rule to a string. Cheap to share (`&'static`).
pub struct Redactor {
    rules: Vec<Rule>,
}

static DEFAULT: LazyLock<Redactor> = LazyLock::new(Redactor::builtin);

impl Redactor {
    /// The built-in rules, shared process-wide.
    pub fn standard() -> &'static Redactor {
        &DEFAULT
    }

    fn builtin() -> Redactor {
        let rule = |pattern: &str, replacement: &'static str| Rule {
            // The patterns are literals tested below; failing here is a bug.
            pattern: Regex::new(pattern).expect("built-in redaction pattern compiles"),
            replacement,
        };
        Redactor {
            rules: vec![
                // Secret, restricted and ephemeral keys, test or live.
                rule(r"\b(?P<p>(?:sk|rk|ek)_(?:test|live)_)[A-Za-z0-9]+", "${p}REDACTED"),
                // Client secrets of PaymentIntents and SetupIntents: keep the id.
                rule(r"\b(?P<p>(?:pi|seti)_[A-Za-z0-9]+_secret_)[A-Za-z0-9]+", "${p}REDACTED"),
                // Webhook signing secrets.
                rule(r"\bwhsec_[A-Za-z0-9+/=]+", "whsec_REDACTED"),
            ],
        }
    }

    /// Redacts every secret in `text`; borrows when there is nothing to do.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for rule in &self.rules {
            if rule.pattern.is_match(&out) {
                let replaced = rule.pattern.replace_all(&out, rule.replacement).into_owned();
                out = Cow::Owned(replaced);
            }
        }
        out
    }

    /// Redacts every string (keys and values) inside a JSON value.
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.redact(s).into_owned()),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.redact_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.redact(k).into_owned(), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_keys_and_client_secrets_keeping_prefixes() {
        let r = Redactor::standard();
        let cases = [
            ("sk_test_51AbcDEF123", "sk_test_REDACTED"),
            ("Bearer sk_live_xyz987", "Bearer sk_live_REDACTED"),
            ("rk_test_abc", "rk_test_REDACTED"),
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
    fn redacts_inside_json_keys_and_values() {
        let v = serde_json::json!({"client_secret": "pi_1_secret_abc", "nested": [{"sk_test_k": "x"}]});
        let out = Redactor::standard().redact_json(&v);
        assert_eq!(
            out,
            serde_json::json!({"client_secret": "pi_1_secret_REDACTED", "nested": [{"sk_test_REDACTED": "x"}]})
        );
    }
}
