//! Secret redaction: replaces API keys, client secrets and raw card data with
//! fixed placeholders before anything is written to disk, logged, or used as a
//! match key. `verify` uses the same detection: what the redactor would
//! change in a cassette is exactly what `verify` reports.
//!
//! Placeholders keep the secret's prefix and structure (`sk_test_REDACTED`,
//! `pi_3Rs…_secret_REDACTED`, `************4242`), so SDK-side parsing still
//! works, and are fixed strings, so re-recording the same session writes the
//! same bytes. Redaction is idempotent: a placeholder redacts to itself, which
//! is what lets a replayed request carrying the placeholder match the same
//! cassette as one carrying the real secret.
//!
//! Secrets are found in every spelling a client or an upstream can give
//! them:
//!
//! - **Escaped**: `%XX` percent escapes, `\uXXXX`, `\/` and `\\` escapes are undone
//!   (up to [`DECODE_ROUNDS`] layers, so `%255F` counts too) before matching;
//!   the secret's random part is replaced in the original spelling, and the
//!   rest of the text keeps its bytes (`sk%5Ftest%5FREDACTED`).
//! - **Glued** to what comes before (`key_sk_test_…`, `token1sk_live_…`,
//!   `x_pi_…_secret_…`, `ésk_test_…`): prefixes match anywhere, not only after
//!   a word boundary. All built-in prefixes are found by one Aho-Corasick
//!   automaton, overlapping matches included, so a prefix inside another
//!   secret's random part (`sk_test_sk_live_…`) is redacted too.
//! - **Card data in any shape**: a value under a card-number key
//!   (`number`, `card_number`, `card[number]` as a literal key, `number[]`,
//!   nested arrays, a JSON number) that passes the Luhn check is masked, with
//!   spaces, tabs or dashes between the groups; a security-code key (`cvc`,
//!   `cvv`, …) is removed whatever its value's shape (only `null` is kept).
//! - **Text bodies** (`body_text`: `text/plain`, JSON after a BOM or with
//!   trailing bytes): the JSON inside is redacted like any JSON body, and in
//!   the text itself Luhn-valid card numbers and `cvc=123`-style codes are
//!   masked too.
//!
//! The only way to get a cassette the store will write is `cassette::seal`,
//! which runs the whole cassette through [`Redactor::redact_cassette_value`]:
//! there is no code path that writes an unredacted copy first. `verify` runs
//! the same function over a cassette file and reports every change it would
//! make ([`Detection`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

use crate::stripe::params::{Param, Params, Text};

/// The fixed text that stands in for a secret's random part.
pub const PLACEHOLDER: &str = "REDACTED";

/// How many layers of escaping are undone before matching: `%5F` is one,
/// `%255F` two.
pub const DECODE_ROUNDS: usize = 3;

/// How many passes of the built-in rules at most, until nothing changes.
const SETTLE_PASSES: usize = 3;

/// Keys whose value is a card number when it looks like one (Luhn-valid).
const CARD_NUMBER_KEYS: [&str; 2] = ["number", "card_number"];

/// Keys whose value is a card security code: removed outright.
const CARD_SECRET_KEYS: [&str; 5] = ["cvc", "cvv", "cvc2", "cvv2", "security_code"];

/// How a built-in secret sits around its literal.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// The literal is the prefix (`sk_test_`); the random part follows.
    Prefix,
    /// The literal is `_secret_`, after an object id (`pi_…`, `seti_…`,
    /// `cs_test_…`) or a bare prefix (`cuss`); the random part follows.
    ClientSecret,
    /// The literal is the start of a Stripe-hosted page's URL whose path
    /// carries a one-time token (account links, login links, Checkout,
    /// the customer portal); the rest of the URL is the token.
    UrlToken,
}

/// One built-in secret literal.
struct Needle {
    literal: &'static str,
    rule: &'static str,
    shape: Shape,
    /// The bytes a secret's random part is made of.
    body: fn(u8) -> bool,
}

fn alphanumeric(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

fn url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b'#' | b'=' | b'.' | b'~' | b'+')
}

/// Every built-in secret, by the literal each one contains. Every literal
/// but the URLs' ends with `_`, which no other random part contains: two
/// such secrets' random parts never overlap (a URL's token may hold one; the
/// URL's edit, which starts first, wins).
const NEEDLES: [Needle; 12] = [
    Needle {
        literal: "sk_test_",
        rule: "secret API key",
        shape: Shape::Prefix,
        body: alphanumeric,
    },
    Needle {
        literal: "sk_live_",
        rule: "secret API key",
        shape: Shape::Prefix,
        body: alphanumeric,
    },
    Needle {
        literal: "rk_test_",
        rule: "secret API key",
        shape: Shape::Prefix,
        body: alphanumeric,
    },
    Needle {
        literal: "rk_live_",
        rule: "secret API key",
        shape: Shape::Prefix,
        body: alphanumeric,
    },
    Needle {
        literal: "ek_test_",
        rule: "ephemeral key",
        shape: Shape::Prefix,
        body: alphanumeric,
    },
    Needle {
        literal: "ek_live_",
        rule: "ephemeral key",
        shape: Shape::Prefix,
        body: alphanumeric,
    },
    Needle {
        literal: "_secret_",
        rule: "client secret",
        shape: Shape::ClientSecret,
        body: alphanumeric,
    },
    Needle {
        literal: "whsec_",
        rule: "webhook signing secret",
        shape: Shape::Prefix,
        body: base64_char,
    },
    Needle {
        literal: "connect.stripe.com/setup/",
        rule: "account link URL",
        shape: Shape::UrlToken,
        body: url_char,
    },
    Needle {
        literal: "connect.stripe.com/express/",
        rule: "login link URL",
        shape: Shape::UrlToken,
        body: url_char,
    },
    Needle {
        literal: "checkout.stripe.com/c/pay/",
        rule: "Checkout Session URL",
        shape: Shape::UrlToken,
        body: url_char,
    },
    Needle {
        literal: "billing.stripe.com/p/session/",
        rule: "customer portal URL",
        shape: Shape::UrlToken,
        body: url_char,
    },
];

/// A user rule (`--redact REGEX`).
struct Rule {
    name: String,
    pattern: Regex,
}

/// Applies every redaction rule. Build one per process (built-ins plus the
/// user's `--redact` patterns) and share it.
pub struct Redactor {
    /// The user's patterns, applied after the built-ins.
    rules: Vec<Rule>,
    /// Every built-in literal ([`NEEDLES`]) in one automaton.
    literals: aho_corasick::AhoCorasick,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = NEEDLES.iter().map(|n| n.rule).collect();
        names.dedup();
        names.extend(self.rules.iter().map(|r| r.name.as_str()));
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

/// What redaction changes in one place of a JSON document: what `verify`
/// reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// JSON path of the value or key (`response.body.client_secret`).
    pub path: String,
    pub kind: DetectionKind,
    /// What was found, for people; secrets appear masked ([`mask_secret`]).
    pub message: String,
}

/// The kinds of [`Detection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectionKind {
    /// An API key, client secret, webhook secret or a `--redact` match.
    Secret,
    /// A Luhn-valid card number where a card number goes.
    CardNumber,
    /// A card security code.
    CardSecurityCode,
}

impl DetectionKind {
    /// The stable machine name: `secret`, `card-number`, `card-security-code`.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionKind::Secret => "secret",
            DetectionKind::CardNumber => "card-number",
            DetectionKind::CardSecurityCode => "card-security-code",
        }
    }
}

static STANDARD: LazyLock<Redactor> = LazyLock::new(Redactor::builtin);

/// `cvc=123`, `"cvv": "123"`, `card[cvc][]=123` in free text: group 1 is the code.
static TEXT_SECURITY_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:cvc2?|cvv2?|security_code)["'\]]*(?:\[\d*\])*["']?\s*[:=]\s*\[?\s*["']?(\d{3,4})\b"#)
        .expect("literal regex compiles")
});

/// A text with its escapes undone, and where each byte came from.
struct View<'a> {
    text: Cow<'a, str>,
    /// For each byte of `text`, its span in the original; `None` when
    /// nothing was decoded (the spans are the identity).
    spans: Option<Vec<(usize, usize)>>,
}

impl<'a> View<'a> {
    /// `text` with up to [`DECODE_ROUNDS`] layers of `%XX`, `\uXXXX`, `\/`
    /// and `\\` escapes undone (only escapes that decode to ASCII: no secret has
    /// anything else). Borrows when there is no escape.
    fn of(text: &'a str) -> View<'a> {
        let mut view = View {
            text: Cow::Borrowed(text),
            spans: None,
        };
        for _ in 0..DECODE_ROUNDS {
            let Some((decoded, round)) = decode_once(&view.text) else {
                break;
            };
            view.spans = Some(match view.spans.take() {
                None => round,
                Some(previous) => round
                    .iter()
                    .map(|&(start, end)| (previous[start].0, previous[end - 1].1))
                    .collect(),
            });
            view.text = Cow::Owned(decoded);
        }
        view
    }

    /// The span in the original text of a span of the decoded one.
    fn original(&self, range: Range<usize>, original_len: usize) -> Range<usize> {
        match &self.spans {
            None => range,
            Some(spans) if range.is_empty() => {
                let at = spans.get(range.start).map_or(original_len, |s| s.0);
                at..at
            }
            Some(spans) => spans[range.start].0..spans[range.end - 1].1,
        }
    }
}

fn hex_value(digits: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

/// The ASCII byte an escape at `at` stands for, and the escape's length.
fn escape_at(bytes: &[u8], at: usize) -> Option<(u8, usize)> {
    let ascii = |v: u32| u8::try_from(v).ok().filter(u8::is_ascii);
    match bytes[at] {
        b'%' => {
            let digits = bytes.get(at + 1..at + 3)?;
            digits
                .iter()
                .all(u8::is_ascii_hexdigit)
                .then(|| hex_value(digits))
                .flatten()
                .and_then(ascii)
                .map(|b| (b, 3))
        }
        b'\\' => match bytes.get(at + 1) {
            Some(b'u') => {
                let digits = bytes.get(at + 2..at + 6)?;
                digits
                    .iter()
                    .all(u8::is_ascii_hexdigit)
                    .then(|| hex_value(digits))
                    .flatten()
                    .and_then(ascii)
                    .map(|b| (b, 6))
            }
            Some(b'/') => Some((b'/', 2)),
            // An escaped backslash: a `\u005f` echoed inside a JSON string.
            Some(b'\\') => Some((b'\\', 2)),
            _ => None,
        },
        _ => None,
    }
}

/// One layer of escapes undone, with each decoded byte's span; `None` when
/// there is nothing to undo.
fn decode_once(text: &str) -> Option<(String, Vec<(usize, usize)>)> {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'%' | b'\\')) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut spans = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        match escape_at(bytes, i) {
            Some((byte, len)) => {
                out.push(byte);
                spans.push((i, i + len));
                i += len;
                changed = true;
            }
            None => {
                out.push(bytes[i]);
                spans.push((i, i + 1));
                i += 1;
            }
        }
    }
    // Escapes start at ASCII bytes, never inside a multi-byte character,
    // and decode to ASCII: the result is UTF-8.
    changed
        .then(|| String::from_utf8(out).ok().map(|s| (s, spans)))
        .flatten()
}

/// One built-in secret found in a (decoded) text.
struct Hit {
    rule: &'static str,
    /// Where the whole secret starts (for messages).
    start: usize,
    /// Its random part: what the placeholder replaces.
    body: Range<usize>,
}

/// Where a client secret whose `_secret_` starts at `at` begins: an object
/// id right before it (`pi_…`, `seti_…`, `cs_test_…`, `src_client…`,
/// anywhere, not only after a word boundary), or a bare prefix
/// (`cuss_secret_…`, a CustomerSession's).
fn client_secret_start(bytes: &[u8], at: usize) -> Option<usize> {
    const BARE: [&[u8]; 1] = [b"cuss"];
    const BEFORE_ID: [&[u8]; 5] = [b"seti", b"pi", b"cs_test", b"cs_live", b"src"];
    let id_start = at
        - bytes[..at]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
    if id_start == at {
        return None;
    }
    if let Some(bare) = BARE.iter().find(|b| bytes[id_start..at].ends_with(b)) {
        return Some(at - bare.len());
    }
    if id_start == 0 || bytes[id_start - 1] != b'_' {
        return None;
    }
    let before = &bytes[..id_start - 1];
    BEFORE_ID
        .iter()
        .find(|prefix| before.ends_with(prefix))
        .map(|prefix| id_start - 1 - prefix.len())
}

/// `text` with `edits` (sorted, non-overlapping spans of it) replaced.
fn apply_edits(text: &str, edits: &[(Range<usize>, Cow<'_, str>)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, replacement) in edits {
        out.push_str(&text[at..range.start]);
        out.push_str(replacement);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

impl Redactor {
    /// The built-in rules, shared process-wide.
    pub fn standard() -> &'static Redactor {
        &STANDARD
    }

    /// The built-in rules alone.
    pub fn builtin() -> Redactor {
        Redactor {
            // Built from the literal needles above; building cannot fail. A
            // DFA without the rare-byte prefilter: Stripe's ids and paths
            // are full of `_`, the byte every needle shares, so the
            // prefilter kept stopping; the DFA reads each byte once.
            // Standard match semantics, for overlapping search.
            literals: aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .prefilter(false)
                .build(NEEDLES.iter().map(|n| n.literal))
                .expect("literal needles build an automaton"),
            rules: Vec::new(),
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
                pattern: compiled,
            });
        }
        Ok(redactor)
    }

    /// Redacts every secret in `text`, in any spelling; borrows when there
    /// is nothing to do (the usual case, settled by one byte scan or one
    /// pass of the automaton).
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = self.redact_builtin(text);
        // A replacement can, in contrived text, complete another secret's
        // spelling: go again until nothing changes (the placeholder is
        // stable, so this ends at once in practice). Text with nothing to
        // redact (the usual case) is looked at once.
        if let Cow::Owned(first) = out {
            let mut current = first;
            for _ in 1..SETTLE_PASSES {
                match self.redact_builtin(&current) {
                    Cow::Owned(again) => current = again,
                    Cow::Borrowed(_) => break,
                }
            }
            out = Cow::Owned(current);
        }
        for rule in &self.rules {
            if let Cow::Owned(replaced) = rule.apply(&out) {
                out = Cow::Owned(replaced);
            }
        }
        out
    }

    /// Whether `text` may hold a built-in secret: it has a `_` or a `/`
    /// (every literal has one) or an escape that could spell one. Most
    /// values have none and cost one byte scan.
    fn may_hold_builtin(text: &str) -> bool {
        text.bytes().any(|b| matches!(b, b'_' | b'%' | b'\\' | b'/'))
    }

    /// The built-in secrets in `text` (decoded), not yet redacted.
    fn hits(&self, decoded: &str) -> Vec<Hit> {
        let bytes = decoded.as_bytes();
        let mut hits: Vec<Hit> = Vec::new();
        for m in self.literals.find_overlapping_iter(decoded) {
            let needle = &NEEDLES[m.pattern().as_usize()];
            let start = match needle.shape {
                Shape::Prefix | Shape::UrlToken => m.start(),
                Shape::ClientSecret => match client_secret_start(bytes, m.start()) {
                    Some(start) => start,
                    None => continue,
                },
            };
            let body_end = m.end() + bytes[m.end()..].iter().take_while(|b| (needle.body)(**b)).count();
            let body = m.end()..body_end;
            if body.is_empty() || &decoded[body.clone()] == PLACEHOLDER {
                continue;
            }
            hits.push(Hit {
                rule: needle.rule,
                start,
                body,
            });
        }
        // Random parts never overlap (see `NEEDLES`); keep the first if they
        // ever did, so the edits stay apart.
        hits.sort_by_key(|h| h.body.start);
        let mut end = 0;
        hits.retain(|h| {
            let apart = h.body.start >= end;
            if apart {
                end = h.body.end;
            }
            apart
        });
        hits
    }

    /// One pass of the built-in rules.
    fn redact_builtin<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !Redactor::may_hold_builtin(text) {
            return Cow::Borrowed(text);
        }
        let view = View::of(text);
        if !self.literals.is_match(view.text.as_ref()) {
            return Cow::Borrowed(text);
        }
        let hits = self.hits(&view.text);
        if hits.is_empty() {
            return Cow::Borrowed(text);
        }
        let edits: Vec<(Range<usize>, Cow<'_, str>)> = hits
            .iter()
            .map(|h| (view.original(h.body.clone(), text.len()), Cow::Borrowed(PLACEHOLDER)))
            .collect();
        Cow::Owned(apply_edits(text, &edits))
    }

    /// Whether redaction would change `text` (cheap for the usual case).
    pub fn might_redact(&self, text: &str) -> bool {
        matches!(self.redact(text), Cow::Owned(_))
    }

    /// The first secret redaction would replace in `text`: the rule that
    /// finds it, and the secret as found (escapes undone).
    pub fn find<'a>(&'a self, text: &str) -> Option<(&'a str, String)> {
        if Redactor::may_hold_builtin(text) {
            let view = View::of(text);
            if let Some(hit) = self.hits(&view.text).first() {
                return Some((hit.rule, view.text[hit.start..hit.body.end].to_owned()));
            }
        }
        self.rules.iter().find_map(|rule| {
            let view = View::of(text);
            let found = rule
                .pattern
                .captures_iter(&view.text)
                .find(|caps| {
                    caps.get(0)
                        .is_some_and(|m| !m.is_empty() && user_replacement(caps) != m.as_str())
                })
                .and_then(|caps| caps.get(0).map(|m| m.as_str().to_owned()));
            found.map(|f| (rule.name.as_str(), f))
        })
    }

    /// Redacts every string (keys and values) inside a JSON value, masks card
    /// numbers and drops card security codes.
    pub fn redact_json(&self, value: &Value) -> Value {
        Walk {
            redactor: self,
            report: None,
        }
        .value(value, "", false)
    }

    /// Redacts a whole cassette as JSON, reporting every change to `report`
    /// (with its JSON path): `response.body_text` is redacted as a text
    /// body ([`Redactor::redact_text_body`]), everything else as JSON. This
    /// is the one detection behind both sealing a cassette and `verify`.
    pub fn redact_cassette_value(&self, value: &Value, report: Option<&mut dyn FnMut(Detection)>) -> Value {
        let mut walk = Walk { redactor: self, report };
        let Value::Object(top) = value else {
            return walk.value(value, "", false);
        };
        let mut out = serde_json::Map::with_capacity(top.len());
        for (key, v) in top {
            let path = walk.child(key, "");
            let redacted = match (key.as_str(), v) {
                ("response", Value::Object(response)) => {
                    let mut inner = serde_json::Map::with_capacity(response.len());
                    for (k, v) in response {
                        let child = walk.child(k, &path);
                        let redacted = match (k.as_str(), v) {
                            ("body_text", Value::String(text)) => Value::String(walk.text_body(text, &child)),
                            _ => walk.entry_value(k, v, &child, false),
                        };
                        if let Some(redacted) = redacted_entry(k, v, redacted) {
                            inner.insert(walk.key(k, &child), redacted);
                        }
                    }
                    Some(Value::Object(inner))
                }
                _ => redacted_entry(key, v, walk.entry_value(key, v, &path, false)),
            };
            if let Some(redacted) = redacted {
                out.insert(walk.key(key, &path), redacted);
            }
        }
        Value::Object(out)
    }

    /// Redacts a non-JSON response body (`body_text`): the JSON inside it,
    /// if it starts with some (after a byte-order mark), like a JSON body;
    /// then secrets in any spelling, Luhn-valid card numbers and
    /// `cvc=123`-style security codes anywhere in the text.
    pub fn redact_text_body(&self, text: &str) -> String {
        Walk {
            redactor: self,
            report: None,
        }
        .text_body(text, "")
    }

    /// The same rules over decoded request parameters, in place: only the
    /// strings that need it are rewritten (the usual request has none).
    pub fn redact_params_owned(&self, mut params: Params) -> Params {
        self.redact_map_in_place(&mut params.0, false);
        params
    }

    fn redact_map_in_place(&self, map: &mut BTreeMap<Text, Param>, card: bool) {
        map.retain(|k, _| !is_card_secret_key(k));
        if map.keys().any(|k| self.might_redact(k)) {
            let old = std::mem::take(map);
            *map = old.into_iter().map(|(k, v)| (Text::from(self.redact(&k)), v)).collect();
        }
        for (k, v) in map.iter_mut() {
            self.redact_param_in_place(v, card || is_card_number_key(k));
        }
    }

    fn redact_param_in_place(&self, param: &mut Param, card: bool) {
        match param {
            Param::Str(s) if card && is_card_number(s) => *s = mask_card_number(s).into(),
            Param::Str(s) => {
                if let Cow::Owned(redacted) = self.redact(s) {
                    *s = redacted.into();
                }
            }
            // A JSON number is only ever a card number to mask (as in a
            // JSON body, `Walk::value`): its digits hold no secret.
            Param::Num(n) if card && is_card_number(n.as_str()) => {
                *param = Param::Str(mask_card_number(n.as_str()).into());
            }
            Param::Num(_) | Param::Bool(_) | Param::Null => {}
            Param::List(items) => items.iter_mut().for_each(|p| self.redact_param_in_place(p, card)),
            Param::Map(m) => self.redact_map_in_place(m, card),
        }
    }

    /// The same rules over decoded request parameters.
    pub fn redact_params(&self, params: &Params) -> Params {
        Params(self.redact_param_map(&params.0, false))
    }

    fn redact_param_map(&self, map: &BTreeMap<Text, Param>, card: bool) -> BTreeMap<Text, Param> {
        map.iter()
            .filter(|(k, _)| !is_card_secret_key(k))
            .map(|(k, v)| {
                (
                    Text::from(self.redact(k)),
                    self.redact_param(v, card || is_card_number_key(k)),
                )
            })
            .collect()
    }

    fn redact_param(&self, param: &Param, card: bool) -> Param {
        match param {
            Param::Str(s) if card && is_card_number(s) => Param::Str(mask_card_number(s).into()),
            Param::Str(s) => Param::Str(self.redact(s).into()),
            Param::Num(n) if card && is_card_number(n.as_str()) => Param::Str(mask_card_number(n.as_str()).into()),
            Param::Num(_) | Param::Bool(_) | Param::Null => param.clone(),
            Param::List(items) => Param::List(items.iter().map(|p| self.redact_param(p, card)).collect()),
            Param::Map(m) => Param::Map(self.redact_param_map(m, card)),
        }
    }
}

/// The value to keep for a key after redaction: `None` drops the entry
/// (a card security code).
fn redacted_entry(key: &str, original: &Value, redacted: Value) -> Option<Value> {
    (!drops_entry(key, original)).then_some(redacted)
}

/// Whether the redactor removes `key: value` from a JSON object: a card
/// security code, whatever its shape, unless it is `null`.
fn drops_entry(key: &str, value: &Value) -> bool {
    is_card_secret_key(key) && !value.is_null()
}

/// One walk of a JSON value: builds the redacted copy and, when asked,
/// reports each change with its path.
struct Walk<'r, 'f> {
    redactor: &'r Redactor,
    report: Option<&'f mut dyn FnMut(Detection)>,
}

impl Walk<'_, '_> {
    fn reporting(&self) -> bool {
        self.report.is_some()
    }

    fn report(&mut self, path: &str, kind: DetectionKind, message: impl FnOnce() -> String) {
        if let Some(report) = self.report.as_mut() {
            report(Detection {
                path: path.to_owned(),
                kind,
                message: message(),
            });
        }
    }

    /// The path of `key` below `parent` (only built when reporting), with
    /// any secret in the key redacted: paths are shown to people.
    fn child(&self, key: &str, parent: &str) -> String {
        if self.reporting() {
            json_child_path(parent, &self.redactor.redact(key))
        } else {
            String::new()
        }
    }

    /// A key, redacted (reported at `path`).
    fn key(&mut self, key: &str, path: &str) -> String {
        match self.redactor.redact(key) {
            Cow::Borrowed(_) => key.to_owned(),
            Cow::Owned(redacted) => {
                let redactor = self.redactor;
                self.report(path, DetectionKind::Secret, || match redactor.find(key) {
                    Some((rule, found)) => format!("{rule} in a key name: {}", mask_secret(&found)),
                    None => "secret in a key name".to_owned(),
                });
                redacted
            }
        }
    }

    /// The value of `key: value`, redacted; a dropped entry is reported
    /// here (the caller leaves it out).
    fn entry_value(&mut self, key: &str, value: &Value, path: &str, card: bool) -> Value {
        if drops_entry(key, value) {
            self.report(path, DetectionKind::CardSecurityCode, || {
                "card security code present".to_owned()
            });
            return Value::Null;
        }
        self.value(value, path, card || is_card_number_key(key))
    }

    /// `card`: the value sits under a card-number key.
    fn value(&mut self, value: &Value, path: &str, card: bool) -> Value {
        match value {
            Value::String(s) => Value::String(self.string(s, path, card)),
            Value::Number(n) if card => {
                let digits = n.to_string();
                if is_card_number(&digits) {
                    self.report(path, DetectionKind::CardNumber, || {
                        format!("card number: {}", mask_secret(&digits))
                    });
                    Value::String(mask_card_number(&digits))
                } else {
                    value.clone()
                }
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let child = if self.reporting() {
                            format!("{path}[{i}]")
                        } else {
                            String::new()
                        };
                        self.value(v, &child, card)
                    })
                    .collect(),
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    let child = self.child(k, path);
                    let redacted = self.entry_value(k, v, &child, card);
                    if let Some(redacted) = redacted_entry(k, v, redacted) {
                        out.insert(self.key(k, &child), redacted);
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    fn string(&mut self, s: &str, path: &str, card: bool) -> String {
        if card && is_card_number(s) {
            self.report(path, DetectionKind::CardNumber, || {
                format!("card number: {}", mask_secret(s))
            });
            return mask_card_number(s);
        }
        match self.redactor.redact(s) {
            Cow::Borrowed(_) => s.to_owned(),
            Cow::Owned(redacted) => {
                let redactor = self.redactor;
                self.report(path, DetectionKind::Secret, || match redactor.find(s) {
                    Some((rule, found)) => format!("{rule}: {}", mask_secret(&found)),
                    None => "secret".to_owned(),
                });
                redacted
            }
        }
    }

    /// A text body: see [`Redactor::redact_text_body`].
    fn text_body(&mut self, text: &str, path: &str) -> String {
        let mut out = Cow::Borrowed(text);
        // JSON after an optional byte-order mark, perhaps with bytes after it.
        let lead = text.len() - text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']).len();
        if text[lead..].starts_with(['{', '[']) {
            let mut values = serde_json::Deserializer::from_str(&text[lead..]).into_iter::<Value>();
            if let Some(Ok(json)) = values.next() {
                let end = lead + values.byte_offset();
                let redacted = self.value(&json, path, false);
                if redacted != json {
                    let pretty = serde_json::to_string_pretty(&redacted).unwrap_or_default();
                    out = Cow::Owned(format!("{}{pretty}{}", &text[..lead], &text[end..]));
                }
            }
        }
        if let Cow::Owned(redacted) = self.redactor.redact(&out) {
            let redactor = self.redactor;
            let before = out.clone();
            self.report(path, DetectionKind::Secret, || match redactor.find(&before) {
                Some((rule, found)) => format!("{rule}: {}", mask_secret(&found)),
                None => "secret".to_owned(),
            });
            out = Cow::Owned(redacted);
        }
        if let Some(masked) = mask_card_numbers_in_text(&out) {
            let first = first_card_number_in_text(&out).unwrap_or_default();
            self.report(path, DetectionKind::CardNumber, || {
                format!("card number in the text: {}", mask_secret(&first))
            });
            out = Cow::Owned(masked);
        }
        if TEXT_SECURITY_CODE.is_match(&out) {
            self.report(path, DetectionKind::CardSecurityCode, || {
                "card security code in the text".to_owned()
            });
            let replaced = TEXT_SECURITY_CODE
                .replace_all(&out, |caps: &Captures<'_>| replace_group(caps, PLACEHOLDER))
                .into_owned();
            out = Cow::Owned(replaced);
        }
        out.into_owned()
    }
}

impl Rule {
    /// The rule over `text` with escapes undone; each match (not yet
    /// redacted) is replaced in the original spelling.
    fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let view = View::of(text);
        let mut edits: Vec<(Range<usize>, Cow<'_, str>)> = Vec::new();
        for caps in self.pattern.captures_iter(&view.text) {
            let Some(whole) = caps.get(0).filter(|m| !m.is_empty()) else {
                continue;
            };
            let replacement = user_replacement(&caps);
            if replacement == whole.as_str() {
                continue;
            }
            edits.push((view.original(whole.range(), text.len()), Cow::Owned(replacement)));
        }
        if edits.is_empty() {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(apply_edits(text, &edits))
        }
    }
}

/// User rules: replace capture group 1 when the pattern has one (so
/// `token=(\w+)` keeps `token=`), else the whole match.
fn user_replacement(caps: &Captures<'_>) -> String {
    replace_group(caps, PLACEHOLDER)
}

/// The match with group 1 (or, without one, the whole match) replaced.
fn replace_group(caps: &Captures<'_>, with: &str) -> String {
    let whole = caps.get(0).map(|m| m.as_str()).unwrap_or_default();
    match (caps.get(0), caps.get(1)) {
        (Some(all), Some(group)) => {
            let start = group.start() - all.start();
            let end = group.end() - all.start();
            format!("{}{with}{}", &whole[..start], &whole[end..])
        }
        _ => with.to_owned(),
    }
}

/// The JSON path of `key` below `parent`: `a.b`, or `a["x.y"]` for keys
/// that are not plain names.
pub fn json_child_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", Value::String(key.to_owned())),
    }
}

/// The field a parameter key names: `number` for `number`, `number[]`,
/// `card[number]` (a literal key in JSON) or `card[cvc][0]`.
fn card_field(key: &str) -> &str {
    if !key.ends_with(']') {
        return key;
    }
    let mut k = key;
    loop {
        if let Some(stripped) = k.strip_suffix("[]") {
            k = stripped;
            continue;
        }
        if let Some(open) = k.strip_suffix(']').and_then(|inner| inner.rfind('[')) {
            let index = &k[open + 1..k.len() - 1];
            if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) {
                k = &k[..open];
                continue;
            }
        }
        break;
    }
    match k
        .strip_suffix(']')
        .and_then(|inner| inner.rfind('[').map(|open| &inner[open + 1..]))
    {
        Some(field) => field,
        None => k,
    }
}

fn is_card_number_key(key: &str) -> bool {
    let field = card_field(key);
    CARD_NUMBER_KEYS.iter().any(|k| k.eq_ignore_ascii_case(field))
}

/// Card security codes (`cvc`, `cvv`, …, also as `card[cvc]` or `cvc[]`)
/// are never kept.
pub fn is_card_secret_key(key: &str) -> bool {
    let field = card_field(key);
    CARD_SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(field))
}

/// Whether digits pass the Luhn check.
fn luhn(digits: impl DoubleEndedIterator<Item = u32>) -> bool {
    let sum: u32 = digits
        .rev()
        .enumerate()
        .map(|(i, d)| match (i % 2 == 1, d * 2) {
            (true, doubled) if doubled > 9 => doubled - 9,
            (true, doubled) => doubled,
            (false, _) => d,
        })
        .sum();
    sum % 10 == 0
}

/// 12 to 19 digits (spaces, tabs and dashes allowed between them) that pass
/// the Luhn check: a primary account number. Ids and amounts fail it.
pub fn is_card_number(value: &str) -> bool {
    if !value
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b.is_ascii_whitespace())
    {
        return false;
    }
    let digits: Vec<u32> = value.chars().filter_map(|c| c.to_digit(10)).collect();
    (12..=19).contains(&digits.len()) && luhn(digits.into_iter())
}

/// The card numbers in free text: runs of 12 to 19 digits (one space, tab
/// or dash allowed between digits), not part of a longer number, that pass
/// the Luhn check. Spans of `text`.
fn card_numbers_in_text(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let (mut j, mut end, mut digits) = (i, i, 0);
        while j < bytes.len() {
            if bytes[j].is_ascii_digit() {
                digits += 1;
                j += 1;
                end = j;
            } else if matches!(bytes[j], b' ' | b'\t' | b'-') && bytes.get(j + 1).is_some_and(u8::is_ascii_digit) {
                j += 1;
            } else {
                break;
            }
        }
        if (12..=19).contains(&digits) && is_card_number(&text[i..end]) {
            found.push(i..end);
        }
        i = end.max(i + 1);
    }
    found
}

/// Free text with its card numbers masked; `None` when it has none.
fn mask_card_numbers_in_text(text: &str) -> Option<String> {
    let found = card_numbers_in_text(text);
    if found.is_empty() {
        return None;
    }
    let edits: Vec<(Range<usize>, Cow<'_, str>)> = found
        .into_iter()
        .map(|r| {
            let masked = mask_card_number(&text[r.clone()]);
            (r, Cow::Owned(masked))
        })
        .collect();
    Some(apply_edits(text, &edits))
}

fn first_card_number_in_text(text: &str) -> Option<String> {
    card_numbers_in_text(text).first().map(|r| text[r.clone()].to_owned())
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
    fn every_builtin_needle_ends_with_an_underscore_or_a_slash() {
        // `may_hold_builtin` skips text without `_`, `/` (or an escape) on
        // that promise, and random parts other than a URL's never overlap
        // because of it.
        for needle in &NEEDLES {
            if matches!(needle.shape, Shape::UrlToken) {
                assert!(needle.literal.ends_with('/'), "{}", needle.literal);
            } else {
                assert!(needle.literal.ends_with('_'), "{}", needle.literal);
                assert!(!(needle.body)(b'_'), "{}", needle.literal);
            }
        }
        assert_eq!(Redactor::standard().redact("sk_test_abc123"), "sk_test_REDACTED");
        assert_eq!(Redactor::standard().redact("no underscore here"), "no underscore here");
    }

    /// Redacts `input` to `want`; the result is stable, `find` sees the
    /// secret in the input and nothing in the result.
    fn redacts(r: &Redactor, input: &str, want: &str) {
        assert_eq!(r.redact(input), want, "{input}");
        assert_eq!(r.redact(want), want, "not idempotent: {want}");
        assert!(r.find(want).is_none(), "{want}");
        assert!(r.find(input).is_some(), "{input}");
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
            redacts(r, input, want);
        }
    }

    #[test]
    fn escaped_secrets_are_decoded_before_matching_and_replaced_in_their_spelling() {
        let r = Redactor::standard();
        for (input, want) in [
            (
                "/v1/payment_intents/sk%5Ftest%5F51AbcDEF",
                "/v1/payment_intents/sk%5Ftest%5FREDACTED",
            ),
            (
                "/v1/payment_intents/%73k_test_51AbcDEF",
                "/v1/payment_intents/%73k_test_REDACTED",
            ),
            (
                "/v1/payment_intents/pi_1Abc_secret%5Fz9Y8",
                "/v1/payment_intents/pi_1Abc_secret%5FREDACTED",
            ),
            ("sk_test_ab%63d%20and more", "sk_test_REDACTED%20and more"),
            (
                "%255F double: sk%255Flive%255Fabc",
                "%255F double: sk%255Flive%255FREDACTED",
            ),
            ("sk\\u005ftest\\u005fabc", "sk\\u005ftest\\u005fREDACTED"),
            // Escaped again, as an error message quoting JSON shows it.
            (
                "[{\\\"k\\\":\\\"sk\\\\u005ftest\\\\u005fabc\\\"}]",
                "[{\\\"k\\\":\\\"sk\\\\u005ftest\\\\u005fREDACTED\\\"}]",
            ),
            (r#"{"k": "whsec\u005fab\/cd=="}"#, r#"{"k": "whsec\u005fREDACTED"}"#),
            (
                "%53K_TEST_x stays, sk%5Ftest%5Fy goes",
                "%53K_TEST_x stays, sk%5Ftest%5FREDACTED goes",
            ),
        ] {
            redacts(r, input, want);
        }
        // Escapes that spell no secret are left as they are.
        for plain in ["/v1/payment_intents/pi_1%20x", "100%", "a\\u00e9b", "%zz_test_"] {
            assert!(matches!(r.redact(plain), Cow::Borrowed(_)), "{plain}");
        }
    }

    #[test]
    fn secrets_glued_to_a_word_are_found() {
        let r = Redactor::standard();
        for (input, want) in [
            ("key_sk_test_51Abc", "key_sk_test_REDACTED"),
            ("token1sk_live_51Abc", "token1sk_live_REDACTED"),
            ("x_pi_3Abc_secret_Zz9", "x_pi_3Abc_secret_REDACTED"),
            ("a_whsec_abc", "a_whsec_REDACTED"),
            ("ésk_test_51Abc", "ésk_test_REDACTED"),
            ("日本rk_live_51Abc", "日本rk_live_REDACTED"),
            ("xseti_1_secret_abc", "xseti_1_secret_REDACTED"),
            // A prefix inside another secret's random part.
            ("sk_test_sk_live_realsecret", "sk_test_REDACTED_live_REDACTED"),
            ("pi_1_secret_pi_2_secret_abc", "pi_1_secret_REDACTED_2_secret_REDACTED"),
        ] {
            redacts(r, input, want);
        }
    }

    #[test]
    fn leaves_ordinary_values_alone() {
        let r = Redactor::standard();
        for s in [
            "pi_3Rsx4dDtWMrPDtgt0mUrePJ9",
            "pk_test_abc",
            "usd",
            "client_secret",
            "payment_intent_secret_x",
            "pi__secret_x",
            "sk_test_",
            "requires_payment_method",
            "/v1/payment_intents/pi_3Rsx4dDtWMrPDtgt0mUrePJ9/confirm",
        ] {
            assert!(matches!(r.redact(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn the_demo_cassettes_have_no_false_positive() {
        // Their ids, amounts, timestamps and request ids are the corpus of
        // ordinary values: matching without word boundaries must find
        // nothing in them.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cassettes");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("cassettes/") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let value: Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
            let mut found = Vec::new();
            let redacted = Redactor::standard().redact_cassette_value(&value, Some(&mut |d| found.push(d)));
            assert!(found.is_empty(), "{}: {found:?}", path.display());
            assert_eq!(redacted, value, "{}", path.display());
            checked += 1;
        }
        assert!(checked >= 8, "{checked}");
    }

    #[test]
    fn user_patterns_replace_their_group_or_whole_match() {
        let r = Redactor::with_patterns(&[r"acct_[A-Za-z0-9]+".into(), r"token=(\w+)".into()]).expect("valid");
        assert_eq!(r.redact("on acct_1Abc"), "on REDACTED");
        assert_eq!(r.redact("x token=abc123 y"), "x token=REDACTED y");
        assert_eq!(r.redact("x token=REDACTED y"), "x token=REDACTED y");
        // Escapes are undone for user patterns too.
        assert_eq!(r.redact("x token%3Dabc123 y"), "x token=REDACTED y");
        assert!(r.find("acct_1Abc").is_some());
        assert!(r.find("on REDACTED").is_none());
        assert!(Redactor::with_patterns(&["(".into()]).is_err());
    }

    #[test]
    fn card_numbers_need_luhn_and_a_card_key() {
        for valid in [
            "4242424242424242",
            "4000 0566 5566 5556",
            "5555-5555-5555-4444",
            "378282246310005",
            "4242\t4242\t4242\t4242",
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
    fn card_data_in_other_shapes_is_masked_or_removed() {
        let r = Redactor::standard();
        let form = Params::from_form(
            b"number[]=4242424242424242&card[cvc][]=321&card[cvv][0]=654&card[cvc2][x]=1\
              &card[number]=4242%094242%094242%094242&list[0][card_number][0]=6011111111111117&card[exp_month]=12",
            "body",
        )
        .expect("form");
        let json = serde_json::to_string(&r.redact_params(&form)).expect("json");
        assert_eq!(
            json,
            r#"{"card":{"exp_month":"12","number":"************4242"},"list":[{"card_number":["************1117"]}],"number":["************4242"]}"#
        );
        let body = Params::from_json(
            br#"{"number": ["6011111111111117"], "cvc": ["111"], "card[number]": "4000056655665556",
                 "card[cvc]": "123", "payment_method_data": {"card": {"number": 4242424242424242}}}"#,
        )
        .expect("json");
        let json = serde_json::to_string(&r.redact_params(&body)).expect("json");
        assert_eq!(
            json,
            r#"{"card[number]":"************5556","number":["************1117"],"payment_method_data":{"card":{"number":"************4242"}}}"#
        );
        // The same shapes in a response body (JSON numbers stay numbers
        // only when they are not card numbers).
        let response = serde_json::json!({
            "number": ["6011111111111117"], "cvc": ["111"], "card[number]": "4000056655665556",
            "card": {"number": 4242424242424242u64, "cvv": {"value": "654"}, "cvc": null, "exp_year": 2030},
            "other": {"number": 4242424242424241u64}
        });
        assert_eq!(
            r.redact_json(&response),
            serde_json::json!({
                "number": ["************1117"], "card[number]": "************5556",
                "card": {"number": "************4242", "cvc": null, "exp_year": 2030},
                "other": {"number": 4242424242424241u64}
            })
        );
    }

    #[test]
    fn in_place_and_copying_redaction_agree_and_json_redaction_adds_nothing() {
        let r = Redactor::with_patterns(&["acct_[A-Za-z0-9]+".into()]).expect("pattern");
        for form in [
            "amount=1&currency=usd",
            "metadata[sk_test_abc]=x&metadata[k]=pi_1_secret_z&expand[0]=acct_123",
            "payment_method_data[card][number]=4242424242424242&payment_method_data[card][cvc]=1&a[][b]=whsec_x",
            "card[cvc][x]=1&number=4242424242424242&list[0][number]=4000056655665556",
            "number[]=4242424242424242&card[cvv][0]=654&k=key_sk_test_a&m[x_pi_1_secret_b]=sk%255Ftest%255Fc",
        ] {
            let p = Params::from_form(form.as_bytes(), "body").expect("form");
            let redacted = r.redact_params(&p);
            assert_eq!(r.redact_params_owned(p.clone()), redacted, "{form}");
            // Sealing a cassette redacts its parameters again as JSON: that
            // must change nothing, or the stored request would no longer
            // hash to the cassette's name.
            let value = serde_json::to_value(&redacted).expect("json");
            assert_eq!(r.redact_json(&value), value, "{form}");
        }
        // JSON bodies, their types kept: numbers, booleans and null.
        for body in [
            r#"{"amount":10,"confirm":true,"x":null,"metadata":{"k":"acct_1"}}"#,
            r#"{"payment_method_data":{"card":{"number":4242424242424242,"cvc":123,"exp_month":12}},"n":4242424242424242}"#,
            r#"{"card":{"cvc":null,"number":"4242 4242 4242 4242"},"list":[1,true,null,"sk_test_abc"]}"#,
        ] {
            let p = Params::from_json(body.as_bytes()).expect("json");
            let redacted = r.redact_params(&p);
            assert_eq!(r.redact_params_owned(p.clone()), redacted, "{body}");
            let value = serde_json::to_value(&redacted).expect("json");
            assert_eq!(r.redact_json(&value), value, "{body}");
        }
        let p = Params::from_json(
            br#"{"card":{"number":4242424242424242,"cvc":123,"exp_month":12},"amount":4242424242424242}"#,
        )
        .expect("json");
        assert_eq!(
            serde_json::to_string(&r.redact_params(&p)).expect("json"),
            r#"{"amount":4242424242424242,"card":{"exp_month":12,"number":"************4242"}}"#,
            "a card number is masked (as text), other numbers keep their type"
        );
    }

    #[test]
    fn the_secrets_of_other_resources_are_redacted() {
        let r = Redactor::standard();
        for (text, want) in [
            ("cuss_secret_QWxhZGRpbjpvcGVu", "cuss_secret_REDACTED"),
            (
                "cs_test_a1B2c3D4_secret_fidwbEhqYWAnPydmcHZxamgneCUl",
                "cs_test_a1B2c3D4_secret_REDACTED",
            ),
            ("seti_1Abc_secret_Xyz123", "seti_1Abc_secret_REDACTED"),
            ("src_client_secret_Abc123", "src_client_secret_REDACTED"),
            ("ek_test_YWNjdF8xTTJK", "ek_test_REDACTED"),
            ("whsec_C0ffee+/=", "whsec_REDACTED"),
            (
                "https://connect.stripe.com/setup/s/acct_1Nv0FGQ9RKHgCVdK/Nq1kZ4jI3vpq",
                "https://connect.stripe.com/setup/REDACTED",
            ),
            (
                "https://connect.stripe.com/express/acct_123/Ln7FsWQ7YbLh",
                "https://connect.stripe.com/express/REDACTED",
            ),
            (
                "https://checkout.stripe.com/c/pay/cs_test_a1b2#fidkdWxOYHwnPyd1blpxYHZxWjA0",
                "https://checkout.stripe.com/c/pay/REDACTED",
            ),
            (
                "see https://billing.stripe.com/p/session/test_YWNjdF8xTTJK now",
                "see https://billing.stripe.com/p/session/REDACTED now",
            ),
        ] {
            assert_eq!(r.redact(text), want, "{text}");
            assert_eq!(r.redact(want), want, "redaction is idempotent: {want}");
            assert!(r.find(text).is_some(), "verify reports {text}");
        }
        // Ordinary URLs and words are left alone.
        for text in [
            "https://example.com/return",
            "https://stripe.com/docs/api",
            "secret_sauce",
            "top_secret_plan",
        ] {
            assert_eq!(r.redact(text), text);
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
    fn text_bodies_are_redacted_as_text_and_as_the_json_inside() {
        let r = Redactor::standard();
        for (input, want) in [
            (
                "error: key sk\\u005ftest\\u005fabc123 and sk%5Flive%5Fdef456",
                "error: key sk\\u005ftest\\u005fREDACTED and sk%5Flive%5FREDACTED",
            ),
            (
                "paid with 4242 4242 4242 4242, cvc=123; order 1767225600",
                "paid with ************4242, cvc=REDACTED; order 1767225600",
            ),
            (
                "\u{feff}{\"card\": {\"number\": \"4000056655665556\", \"cvc\": \"123\"}, \"s\": \"pi_1_secret\\u005fz\"}",
                "\u{feff}{\n  \"card\": {\n    \"number\": \"************5556\"\n  },\n  \"s\": \"pi_1_secret_REDACTED\"\n}",
            ),
            (
                "{\"number\": 4242424242424242}\ntrailing card[cvc][]=321 whsec%5Fabc",
                "{\n  \"number\": \"************4242\"\n}\ntrailing card[cvc][]=REDACTED whsec%5FREDACTED",
            ),
        ] {
            assert_eq!(r.redact_text_body(input), want, "{input}");
            assert_eq!(r.redact_text_body(want), want, "not idempotent: {want}");
        }
        // Nothing to redact: byte for byte, JSON formatting included.
        let plain = "\u{feff}{\"id\":\"pi_1\",\"amount\":2000}  trailing";
        assert_eq!(r.redact_text_body(plain), plain);
    }

    #[test]
    fn every_change_is_reported_with_its_path() {
        let r = Redactor::standard();
        let cassette = serde_json::json!({
            "request": {"path": "/v1/payment_intents/sk%5Ftest%5F51Abcdefghijkl", "params": {"card": {"cvc": "1"}, "x_pi_1_secret_k": "v"}},
            "response": {"headers": {"x": ["ok", "a_whsec_abc"]}, "body_text": "key sk_live_abc"}
        });
        let mut found = Vec::new();
        let redacted = r.redact_cassette_value(&cassette, Some(&mut |d| found.push(d)));
        let seen: Vec<(&str, &str)> = found.iter().map(|d| (d.path.as_str(), d.kind.as_str())).collect();
        assert_eq!(
            seen,
            [
                ("request.path", "secret"),
                ("request.params.card.cvc", "card-security-code"),
                ("request.params.x_pi_1_secret_REDACTED", "secret"),
                ("response.headers.x[1]", "secret"),
                ("response.body_text", "secret"),
            ]
        );
        assert_eq!(found[0].message, "secret API key: sk_test_**********ijkl");
        assert!(found.iter().all(|d| !d.message.contains("51Abcdefgh")), "{found:?}");
        let mut again = Vec::new();
        assert_eq!(
            r.redact_cassette_value(&redacted, Some(&mut |d| again.push(d))),
            redacted
        );
        assert!(again.is_empty(), "{again:?}");
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
