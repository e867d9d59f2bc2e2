//! Stripe's request parameters: decodes query strings, form bodies and JSON
//! bodies into one tree, the way Stripe's API server reads them.
//!
//! Stripe (a Rack application) accepts "bracket notation": `metadata[k]=v` is a
//! hash, `expand[]=a` and `expand[0]=a` are both arrays, `a[b][0][c]=x` nests.
//! Brackets may be literal or percent-encoded and `+` means a space. The decoder
//! is total: any input gives either a tree or a [`DecodeError`], never a panic.
//!
//! A query string or form body carries only text, so every scalar it gives is
//! a [`Param::Str`]. A JSON body keeps its types: `10`, `"10"`, `true` and
//! `null` are four different values ([`Param::Num`], [`Param::Str`],
//! [`Param::Bool`], [`Param::Null`]). A JSON string and the same text in a
//! form are the same value.

use std::borrow::Cow;
use std::collections::BTreeMap;

use percent_encoding::percent_decode;
use serde::{Deserialize, Serialize};

/// How deep bracket nesting may go before a request is refused. Stripe's
/// deepest documented parameter is six levels; this leaves ample room while
/// keeping recursion bounded on hostile input.
pub const MAX_DEPTH: usize = 32;

/// A parameter name or scalar value. Most are short (`amount`, `usd`,
/// `order_id`, `6735`): up to 24 bytes live inline, with no allocation to
/// make or free per parameter on the replay hot path.
pub type Text = compact_str::CompactString;

/// One decoded parameter value.
///
/// Serialised as the JSON it stands for: a string, a number with its digits
/// as sent, `true`/`false`, `null`, an array or an object. That is the form
/// hashed into a request's key, so a form's `amount=10` (a string) and a JSON
/// body's `"amount": 10` (a number) are different requests, while a JSON
/// string and the same text in a form are the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Param {
    /// Text: any scalar of a query string or form body (`amount=2000`), or
    /// a JSON string. The empty string means "unset" to Stripe.
    Str(Text),
    /// A JSON number, its digits exactly as sent (`10` and `10.0` differ).
    Num(serde_json::Number),
    /// A JSON `true` or `false`.
    Bool(bool),
    /// A JSON `null`.
    Null,
    /// An array: `expand[]=a`, `expand[0]=a`, or a JSON array.
    List(Vec<Param>),
    /// A hash: `metadata[order_id]=6735`, or a JSON object. Sorted by key.
    Map(BTreeMap<Text, Param>),
}

impl<'de> Deserialize<'de> for Param {
    /// Reads a value as stored in a cassette or an audit log: through
    /// [`serde_json::Value`], which keeps a number's exact digits even when
    /// the value was buffered on the way (a `#[serde(flatten)]` parent).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Param, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Param::from_json(value, 1).map_err(serde::de::Error::custom)
    }
}

/// What the scalars of a request can say, for checking them against a
/// schema: their text only, or a JSON type too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Typing {
    /// A query string, form or multipart body: every value is text, read as
    /// the schema says (`amount=10` is the integer 10), as Stripe reads it.
    #[default]
    Text,
    /// A JSON body: every value must have the JSON type the schema says
    /// (`"amount": "10"` is a string, not an integer).
    Json,
}

/// All parameters of one request, query string and body merged (Stripe mixes
/// both into one bucket), keyed and sorted by top-level name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Params(pub BTreeMap<Text, Param>);

/// Why a request's parameters could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A percent escape decoded to bytes that are not UTF-8.
    #[error("invalid UTF-8 in the {location} after percent-decoding: {fragment}")]
    InvalidUtf8 { location: &'static str, fragment: String },
    /// A `%` not followed by two hex digits (Rack refuses these too).
    #[error("invalid percent-encoding in the {location}: {fragment}")]
    InvalidPercent { location: &'static str, fragment: String },
    /// Bracket nesting deeper than [`MAX_DEPTH`].
    #[error("parameter `{key}` is nested more than {MAX_DEPTH} levels deep")]
    TooDeep { key: String },
    /// A JSON body that does not parse, or is not an object.
    #[error("invalid JSON body: {0}")]
    InvalidJson(String),
    /// A `multipart/form-data` body that does not parse.
    #[error("invalid multipart body: {0}")]
    InvalidMultipart(String),
}

impl Params {
    /// Decodes an `application/x-www-form-urlencoded` string (a query string
    /// or a form body). `location` names it in error messages.
    pub fn from_form(input: &[u8], location: &'static str) -> Result<Self, DecodeError> {
        let mut root = Param::Map(BTreeMap::new());
        for pair in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (raw_key, raw_value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let key = form_decode(raw_key, location)?;
            let value = form_decode(raw_value, location)?;
            // A key has at most one segment more than it has `[`s: only a
            // key with that many needs counting.
            let brackets = key.bytes().filter(|b| *b == b'[').count();
            if brackets >= MAX_DEPTH && Segments::of(&key).count() > MAX_DEPTH {
                return Err(DecodeError::TooDeep { key: key.into_owned() });
            }
            insert(&mut root, Segments::of(&key), value);
        }
        let Param::Map(mut map) = root else {
            // Only names are ever inserted at the root.
            return Ok(Params::default());
        };
        map.values_mut().for_each(indexed_hashes_to_lists);
        Ok(Params(map))
    }

    /// Decodes a JSON object body (used by Stripe-compatible gateways).
    pub fn from_json(input: &[u8]) -> Result<Self, DecodeError> {
        let value: serde_json::Value =
            serde_json::from_slice(input).map_err(|e| DecodeError::InvalidJson(e.to_string()))?;
        match value {
            serde_json::Value::Object(map) => {
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    out.insert(k.into(), Param::from_json(v, 1)?);
                }
                Ok(Params(out))
            }
            other => Err(DecodeError::InvalidJson(format!(
                "expected an object at the top level, found {}",
                json_kind(&other)
            ))),
        }
    }

    /// Merges `other` into `self`; on a name present in both, `other` wins
    /// (the body overrides the query string, as in Rack).
    pub fn merge(&mut self, other: Params) {
        if self.0.is_empty() {
            // The usual case (no query string on a POST): no re-inserting.
            *self = other;
        } else {
            self.0.extend(other.0);
        }
    }

    /// Puts parameters that Stripe reads as sets into one order: `expand`
    /// (top level, where Stripe accepts it) sorted and de-duplicated, so an
    /// app that builds it from a set in any order sends the same request.
    pub fn canonicalise_sets(&mut self) {
        if let Some(Param::List(items)) = self.0.get_mut("expand") {
            if items.len() > 1 && items.iter().all(|p| matches!(p, Param::Str(_))) {
                items.sort_by(|a, b| match (a, b) {
                    (Param::Str(a), Param::Str(b)) => a.cmp(b),
                    _ => std::cmp::Ordering::Equal,
                });
                items.dedup();
            }
        }
    }

    /// True when there are no parameters at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every leaf as a `(bracket path, value)` pair, e.g.
    /// `("shipping[address][city]", Str("Paris"))`, in sorted order: the
    /// scalars, and each empty hash or array as a leaf of its own.
    pub fn flatten(&self) -> Vec<(String, &Param)> {
        let mut out = Vec::new();
        for (name, value) in &self.0 {
            value.flatten_into(name.to_string(), &mut out);
        }
        out
    }

    /// True when some value has a type only JSON can give (a number, a
    /// boolean or `null`): the parameters came from a JSON body.
    pub fn has_json_types(&self) -> bool {
        self.0.values().any(Param::has_json_types)
    }

    /// The value at a top-level name, if it is a scalar.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(Param::Str(s)) => Some(s),
            _ => None,
        }
    }
}

impl Param {
    fn from_json(value: serde_json::Value, depth: usize) -> Result<Param, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep {
                key: "(JSON body)".to_owned(),
            });
        }
        Ok(match value {
            serde_json::Value::Null => Param::Null,
            serde_json::Value::Bool(b) => Param::Bool(b),
            serde_json::Value::Number(n) => Param::Num(n),
            serde_json::Value::String(s) => Param::Str(s.into()),
            serde_json::Value::Array(items) => Param::List(
                items
                    .into_iter()
                    .map(|v| Param::from_json(v, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(map) => Param::Map(
                map.into_iter()
                    .map(|(k, v)| Ok((k.into(), Param::from_json(v, depth + 1)?)))
                    .collect::<Result<_, DecodeError>>()?,
            ),
        })
    }

    /// The value as messages show it: text as it is, a JSON number by its
    /// digits, `true`, `false`, `null`; an empty string for an (empty) hash
    /// or array.
    pub fn text(&self) -> &str {
        match self {
            Param::Str(s) => s,
            Param::Num(n) => n.as_str(),
            Param::Bool(true) => "true",
            Param::Bool(false) => "false",
            Param::Null => "null",
            Param::List(_) | Param::Map(_) => "",
        }
    }

    /// The value's JSON type: `string`, `integer` (a number without a
    /// fraction or exponent), `number`, `boolean`, `null`, `array` or
    /// `object`. Every value of a form or query string is a `string`.
    pub fn json_type(&self) -> &'static str {
        match self {
            Param::Str(_) => "string",
            Param::Num(n) if n.as_str().contains(['.', 'e', 'E']) => "number",
            Param::Num(_) => "integer",
            Param::Bool(_) => "boolean",
            Param::Null => "null",
            Param::List(_) => "array",
            Param::Map(_) => "object",
        }
    }

    /// True for a value that unsets a parameter: `""`, or JSON `null`.
    pub fn is_unset(&self) -> bool {
        match self {
            Param::Str(s) => s.is_empty(),
            Param::Null => true,
            _ => false,
        }
    }

    /// True for `true`, as a form says it (`confirm=true`) or as JSON does.
    pub fn is_true(&self) -> bool {
        match self {
            Param::Str(s) => s == "true",
            Param::Bool(b) => *b,
            _ => false,
        }
    }

    /// True when this value, or one below it, is a number, boolean or `null`.
    fn has_json_types(&self) -> bool {
        match self {
            Param::Str(_) => false,
            Param::Num(_) | Param::Bool(_) | Param::Null => true,
            Param::List(items) => items.iter().any(Param::has_json_types),
            Param::Map(map) => map.values().any(Param::has_json_types),
        }
    }

    fn flatten_into<'a>(&'a self, path: String, out: &mut Vec<(String, &'a Param)>) {
        match self {
            Param::Str(_) | Param::Num(_) | Param::Bool(_) | Param::Null => out.push((path, self)),
            Param::List(items) if items.is_empty() => out.push((path, self)),
            Param::Map(map) if map.is_empty() => out.push((path, self)),
            Param::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.flatten_into(format!("{path}[{i}]"), out);
                }
            }
            Param::Map(map) => {
                for (k, v) in map {
                    v.flatten_into(format!("{path}[{k}]"), out);
                }
            }
        }
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// `+` is a space, then percent escapes; every `%` must start a two-digit
/// hex escape, and the result must be UTF-8. Borrows from the input when
/// there is nothing to decode (most keys and values).
fn form_decode<'a>(raw: &'a [u8], location: &'static str) -> Result<Cow<'a, str>, DecodeError> {
    let invalid_utf8 = || DecodeError::InvalidUtf8 {
        location,
        fragment: String::from_utf8_lossy(raw).chars().take(64).collect(),
    };
    if !raw.contains(&b'%') {
        let text = std::str::from_utf8(raw).map_err(|_| invalid_utf8())?;
        return Ok(if text.contains('+') {
            Cow::Owned(text.replace('+', " "))
        } else {
            Cow::Borrowed(text)
        });
    }
    let malformed = raw.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !(raw.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && raw.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if malformed {
        return Err(DecodeError::InvalidPercent {
            location,
            fragment: String::from_utf8_lossy(raw).chars().take(64).collect(),
        });
    }
    // `+` must become a space before decoding, or `%2B` would too.
    let spaced: Cow<'_, [u8]> = if raw.contains(&b'+') {
        Cow::Owned(raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect())
    } else {
        Cow::Borrowed(raw)
    };
    percent_decode(&spaced)
        .decode_utf8()
        .map(|s| Cow::Owned(s.into_owned()))
        .map_err(|_| invalid_utf8())
}

/// One step of a bracket path: a name, or `[]` (append to an array).
#[derive(Debug, PartialEq, Eq)]
enum Segment<'k> {
    Name(Cow<'k, str>),
    Append,
}

/// The steps of a key: `a[b][][c]` gives `a`, `b`, append, `c`, borrowed
/// from the key. A key whose brackets do not balance is taken literally as
/// one name, as Rack does with the remainder; characters after the last
/// bracket (`a[b]c`) are ignored, as Rack does.
struct Segments<'k> {
    key: &'k str,
    /// What is left to split, starting at a `[` that has a `]` after it;
    /// `None` once done.
    rest: Option<&'k str>,
    started: bool,
}

impl<'k> Segments<'k> {
    fn of(key: &'k str) -> Self {
        Segments {
            key,
            rest: Some(key),
            started: false,
        }
    }

    /// Yields `segment`, followed by what comes `after` it.
    fn then(&mut self, segment: Segment<'k>, after: &'k str) -> Segment<'k> {
        match after.strip_prefix('[') {
            Some(inner) if !inner.contains(']') => {
                // Unbalanced: what is left becomes part of the last name.
                self.rest = None;
                match segment {
                    Segment::Name(name) => Segment::Name(Cow::Owned(format!("{name}{after}"))),
                    Segment::Append => Segment::Append,
                }
            }
            Some(_) => {
                self.rest = Some(after);
                segment
            }
            None => {
                if !after.is_empty() {
                    tracing::debug!(key = self.key, "ignoring trailing characters after brackets");
                }
                self.rest = None;
                segment
            }
        }
    }
}

impl<'k> Iterator for Segments<'k> {
    type Item = Segment<'k>;

    fn next(&mut self) -> Option<Segment<'k>> {
        let rest = self.rest?;
        if !self.started {
            self.started = true;
            return Some(match rest.find('[') {
                Some(open) if open > 0 => self.then(Segment::Name(Cow::Borrowed(&rest[..open])), &rest[open..]),
                _ => {
                    self.rest = None;
                    Segment::Name(Cow::Borrowed(rest))
                }
            });
        }
        let inner_and_after = &rest[1..];
        let close = inner_and_after.find(']')?;
        let inner = &inner_and_after[..close];
        let segment = if inner.is_empty() {
            Segment::Append
        } else {
            Segment::Name(Cow::Borrowed(inner))
        };
        Some(self.then(segment, &inner_and_after[close + 1..]))
    }
}

/// Turns `node` into a hash if it is not one (a later key wins over an
/// earlier scalar or array at the same place), and returns it.
fn as_map(node: &mut Param) -> &mut BTreeMap<Text, Param> {
    if !matches!(node, Param::Map(_)) {
        *node = Param::Map(BTreeMap::new());
    }
    match node {
        Param::Map(map) => map,
        _ => unreachable!("just made a hash"),
    }
}

/// Turns `node` into an array if it is not one, and returns it.
fn as_list(node: &mut Param) -> &mut Vec<Param> {
    if !matches!(node, Param::List(_)) {
        *node = Param::List(Vec::new());
    }
    match node {
        Param::List(items) => items,
        _ => unreachable!("just made an array"),
    }
}

/// Puts `value` at the place `segments` names below `root`, building the
/// hashes and arrays on the way, with one map search per name.
fn insert<'k>(root: &mut Param, segments: Segments<'k>, value: Cow<'_, str>) {
    let mut segments = segments.peekable();
    let mut node = root;
    while let Some(segment) = segments.next() {
        node = match segment {
            Segment::Name(name) => {
                let last = segments.peek().is_none();
                // The key is built before the search. A name of up to 24
                // bytes is kept inline, so this costs no allocation; a longer
                // one is copied to the heap even when it is already there.
                as_map(node).entry(Text::from(name.as_ref())).or_insert_with(|| {
                    if last {
                        Param::Str(Text::default())
                    } else {
                        Param::Map(BTreeMap::new())
                    }
                })
            }
            Segment::Append => {
                let items = as_list(node);
                // Rack: `a[][x]=1&a[][y]=2` fills one element until a key repeats.
                let reuse = match (items.last(), segments.peek()) {
                    (Some(Param::Map(m)), Some(Segment::Name(n))) => !m.contains_key(n.as_ref()),
                    _ => false,
                };
                if !reuse {
                    items.push(Param::Map(BTreeMap::new()));
                }
                items.last_mut().expect("present or just pushed")
            }
        };
    }
    *node = Param::Str(Text::from(value));
}

/// Below a decoded value, turns every hash that is really an indexed array
/// (`expand[0]=a&expand[1]=b`) into one, once every key is in.
fn indexed_hashes_to_lists(node: &mut Param) {
    match node {
        Param::Str(_) | Param::Num(_) | Param::Bool(_) | Param::Null => {}
        Param::List(items) => items.iter_mut().for_each(indexed_hashes_to_lists),
        Param::Map(map) => {
            map.values_mut().for_each(indexed_hashes_to_lists);
            if sequential_indices(map) {
                let mut indexed: Vec<(usize, Param)> = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (k.parse().unwrap_or(usize::MAX), v))
                    .collect();
                indexed.sort_unstable_by_key(|(i, _)| *i);
                *node = Param::List(indexed.into_iter().map(|(_, v)| v).collect());
            }
        }
    }
}

/// True if every key is a canonical decimal index and together they are
/// exactly `0..n`. Anything else (gaps, `01`, names) stays a hash, for the
/// validator to judge.
fn sequential_indices(map: &BTreeMap<Text, Param>) -> bool {
    !map.is_empty()
        && map.keys().all(|k| {
            let canonical = !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) && (k == "0" || !k.starts_with('0'));
            // Distinct canonical indices all below n are exactly 0..n.
            canonical && k.parse::<usize>().is_ok_and(|i| i < map.len())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> Params {
        Params::from_form(s.as_bytes(), "body").expect("decodes")
    }

    #[test]
    fn equivalent_encodings_decode_equal() {
        let cases = [
            ("expand[]=a&expand[]=b", "expand[0]=a&expand[1]=b"),
            ("expand[1]=b&expand[0]=a", "expand%5B0%5D=a&expand%5B1%5D=b"),
            ("description=a+b", "description=a%20b"),
            ("amount=1&currency=usd", "currency=usd&amount=1"),
            (
                "metadata[order_id]=6735&shipping[address][city]=Paris",
                "shipping%5Baddress%5D%5Bcity%5D=Paris&metadata%5Border_id%5D=6735",
            ),
        ];
        for (a, b) in cases {
            assert_eq!(form(a), form(b), "{a} vs {b}");
        }
    }

    #[test]
    fn nested_structures_decode() {
        let p = form("a[b][0][c]=x&a[b][0][d]=y&a[b][1][c]=z&m=");
        let json = serde_json::to_string(&p).expect("serialises");
        assert_eq!(json, r#"{"a":{"b":[{"c":"x","d":"y"},{"c":"z"}]},"m":""}"#);
    }

    #[test]
    fn non_sequential_indices_stay_a_hash() {
        let p = form("expand[1]=x");
        assert_eq!(serde_json::to_string(&p).expect("json"), r#"{"expand":{"1":"x"}}"#);
        let p = form("expand[0]=x&expand[01]=y");
        assert!(matches!(p.0.get("expand"), Some(Param::Map(_))));
    }

    #[test]
    fn top_level_numeric_names_stay_names() {
        // Only nested hashes can be indexed arrays; the top level is always
        // a hash of parameter names.
        assert_eq!(
            serde_json::to_string(&form("0=a&1=b")).expect("json"),
            r#"{"0":"a","1":"b"}"#
        );
    }

    #[test]
    fn rack_style_append_of_hashes() {
        let p = form("items[][name]=a&items[][qty]=1&items[][name]=b");
        assert_eq!(
            serde_json::to_string(&p).expect("json"),
            r#"{"items":[{"name":"a","qty":"1"},{"name":"b"}]}"#
        );
    }

    #[test]
    fn json_strings_and_form_text_agree() {
        let j = Params::from_json(br#"{"amount":"2000","confirm":"true","metadata":{"k":"v"},"expand":["a"],"x":""}"#)
            .expect("json");
        assert_eq!(j, form("amount=2000&confirm=true&metadata[k]=v&expand[0]=a&x="));
    }

    #[test]
    fn json_keeps_its_types() {
        let j = Params::from_json(br#"{"amount":10,"confirm":true,"x":null,"f":10.50,"s":"10","e":""}"#).expect("json");
        assert_eq!(
            serde_json::to_string(&j).expect("json"),
            r#"{"amount":10,"confirm":true,"e":"","f":10.50,"s":"10","x":null}"#,
            "numbers keep their digits, null stays null"
        );
        let types: Vec<(String, &str)> = j.flatten().into_iter().map(|(p, v)| (p, v.json_type())).collect();
        assert_eq!(
            types,
            [
                ("amount", "integer"),
                ("confirm", "boolean"),
                ("e", "string"),
                ("f", "number"),
                ("s", "string"),
                ("x", "null")
            ]
            .map(|(p, t)| (p.to_owned(), t))
        );
        assert!(j.has_json_types());
        assert!(!form("amount=10&confirm=true&x=").has_json_types());
        // Each typed value differs from the text a form would send.
        for (json, text) in [
            (r#"{"a":10}"#, "a=10"),
            (r#"{"a":true}"#, "a=true"),
            (r#"{"a":null}"#, "a="),
            (r#"{"a":[1]}"#, "a[]=1"),
        ] {
            assert_ne!(Params::from_json(json.as_bytes()).expect("json"), form(text), "{json}");
        }
        assert_ne!(
            Params::from_json(br#"{"a":10}"#).expect("json"),
            Params::from_json(br#"{"a":10.0}"#).expect("json"),
            "digits as sent"
        );
    }

    #[test]
    fn stored_params_read_back_with_their_types() {
        let j = Params::from_json(
            br#"{"amount":10,"big":123456789012345678901234567890,"ok":false,"x":null,"s":"10","m":{"k":["1",1]}}"#,
        )
        .expect("json");
        let text = serde_json::to_string(&j).expect("json");
        let back: Params = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, j);
        // Through a buffering parent (`#[serde(flatten)]`, as a cassette's
        // request is read), numbers keep their type and digits.
        #[derive(serde::Deserialize)]
        struct Outer {
            #[serde(flatten)]
            inner: Inner,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            params: Params,
        }
        let outer: Outer = serde_json::from_str(&format!(r#"{{"params":{text},"other":1}}"#)).expect("flattened");
        assert_eq!(outer.inner.params, j);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(
            Params::from_form(b"a=%ff", "query"),
            Err(DecodeError::InvalidUtf8 { .. })
        ));
        let deep = format!("a{}=1", "[x]".repeat(MAX_DEPTH + 1));
        assert!(matches!(
            Params::from_form(deep.as_bytes(), "body"),
            Err(DecodeError::TooDeep { .. })
        ));
        assert!(Params::from_json(b"[1]").is_err());
        assert!(Params::from_json(b"{").is_err());
        // Odd but valid shapes are accepted.
        assert!(matches!(
            Params::from_form(b"a=%ZZ", "body"),
            Err(DecodeError::InvalidPercent { .. })
        ));
        assert!(matches!(
            Params::from_form(b"a=50%", "body"),
            Err(DecodeError::InvalidPercent { .. })
        ));
        for odd in [
            "[a]=1",
            "a[=1",
            "a]b=1",
            "=",
            "&&&",
            "a[b]c=1",
            "%25",
            "a=1&a[b]=2&a[]=3",
        ] {
            let _ = form(odd);
        }
    }

    #[test]
    fn flatten_lists_bracket_paths() {
        let p = form("metadata[a]=1&expand[0]=x&shipping[address][city]=P&metadata[b]=");
        let flat: Vec<(String, String)> = p.flatten().into_iter().map(|(k, v)| (k, v.text().to_owned())).collect();
        assert_eq!(
            flat,
            vec![
                ("expand[0]".to_owned(), "x".to_owned()),
                ("metadata[a]".to_owned(), "1".to_owned()),
                ("metadata[b]".to_owned(), String::new()),
                ("shipping[address][city]".to_owned(), "P".to_owned()),
            ]
        );
    }
}
