//! Typed, validating access to decoded parameters, and parsers shared by every resource.

use serde_json::{Map, Value};

use crate::errors::ApiError;

/// Typed, validating access to decoded parameters (or a nested hash of them).
#[derive(Clone)]
pub(crate) struct Params<'a> {
    pub(crate) map: &'a Map<String, Value>,
    /// Name of the enclosing hash, e.g. `shipping[address]`, for error messages.
    pub(crate) prefix: Option<String>,
}

/// Renders a scalar parameter value as text (strings, numbers, booleans).
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl<'a> Params<'a> {
    /// Top-level parameters.
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Self { map, prefix: None }
    }

    /// Parameters of a hash found elsewhere (e.g. an array element), named `prefix`.
    pub(crate) fn nested(map: &'a Map<String, Value>, prefix: String) -> Self {
        Self {
            map,
            prefix: Some(prefix),
        }
    }

    /// The full name of a parameter, e.g. `shipping[name]`.
    pub(crate) fn name(&self, key: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}[{key}]"),
            None => key.to_owned(),
        }
    }

    /// Rejects the first parameter not in `allowed`.
    pub(crate) fn check_known(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(unknown) => Err(ApiError::unknown_param(&self.name(unknown))),
            None => Ok(()),
        }
    }

    /// A string parameter (empty strings are returned as such).
    pub(crate) fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => scalar_text(value).map(Some).ok_or_else(|| {
                ApiError::invalid(format!("Invalid string: {value}"))
                    .code("parameter_invalid_string")
                    .param(self.name(key))
            }),
        }
    }

    /// A string that may be unset with an empty value: `Some(None)` means "clear".
    pub(crate) fn nullable_text(&self, key: &str) -> Result<Option<Option<String>>, ApiError> {
        if matches!(self.map.get(key), Some(Value::Null)) {
            return Ok(Some(None));
        }
        Ok(self.text(key)?.map(|s| if s.is_empty() { None } else { Some(s) }))
    }

    /// A non-empty string, or `None` when absent or empty.
    pub(crate) fn non_empty_text(&self, key: &str) -> Result<Option<String>, ApiError> {
        Ok(self.nullable_text(key)?.flatten())
    }

    /// An integer parameter; empty values count as absent.
    pub(crate) fn integer(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.non_empty_text(key)? else {
            return Ok(None);
        };
        raw.trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::invalid_integer(&self.name(key), &raw))
    }

    /// A boolean parameter (`true`/`false`).
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.non_empty_text(key)?.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(format!("Invalid boolean: {other}")).param(self.name(key))),
        }
    }

    /// A hash parameter: `Some(None)` when given as an empty string ("clear").
    pub(crate) fn hash(&self, key: &str) -> Result<Option<Option<Params<'a>>>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(None)),
            Some(Value::Object(map)) => Ok(Some(Some(Params {
                map,
                prefix: Some(self.name(key)),
            }))),
            Some(_) => Err(ApiError::invalid("Invalid hash").param(self.name(key))),
        }
    }

    /// A list of strings; an empty value means the empty list.
    pub(crate) fn text_list(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    scalar_text(item)
                        .ok_or_else(|| ApiError::invalid(format!("Invalid string: {item}")).param(self.name(key)))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ApiError::invalid("Invalid array").param(self.name(key))),
        }
    }
}

/// A change to `metadata`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MetadataChange {
    /// `metadata=`: remove every key.
    Clear,
    /// Set keys; `None` (an empty value) removes the key.
    Merge(Vec<(String, Option<String>)>),
}

/// Parses a string that must be one of `allowed`.
pub(crate) fn parse_enum(p: &Params, key: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match p.non_empty_text(key)? {
        Some(value) if !allowed.contains(&value.as_str()) => {
            Err(ApiError::invalid(format!("Invalid {key}: must be one of {}", allowed.join(", "))).param(p.name(key)))
        }
        other => Ok(other),
    }
}

/// Parses `metadata` (a hash of strings, or empty to clear).
pub(crate) fn parse_metadata(p: &Params) -> Result<Option<MetadataChange>, ApiError> {
    let Some(hash) = p.hash("metadata")? else {
        return Ok(None);
    };
    let Some(hash) = hash else {
        return Ok(Some(MetadataChange::Clear));
    };
    let mut entries = Vec::new();
    for key in hash.map.keys() {
        let value = hash.nullable_text(key)?.flatten();
        entries.push((key.clone(), value));
    }
    Ok(Some(MetadataChange::Merge(entries)))
}

/// Applies a metadata change, keeping key order.
pub(crate) fn apply_metadata(metadata: &mut Map<String, Value>, change: MetadataChange) {
    match change {
        MetadataChange::Clear => metadata.clear(),
        MetadataChange::Merge(entries) => {
            for (key, value) in entries {
                match value {
                    Some(value) => {
                        metadata.insert(key, Value::String(value));
                    }
                    None => {
                        metadata.shift_remove(&key);
                    }
                }
            }
        }
    }
}

/// Parses `limit` (1..=100, default 10).
pub(crate) fn parse_limit(p: &Params) -> Result<usize, ApiError> {
    let limit = p.integer("limit")?.unwrap_or(10);
    let bound_error = |message: &str| {
        ApiError::invalid(message)
            .code("parameter_invalid_integer")
            .param("limit")
    };
    if limit < 1 {
        return Err(bound_error("This value must be greater than or equal to 1."));
    }
    if limit > 100 {
        return Err(bound_error("This value must be less than or equal to 100."));
    }
    Ok(usize::try_from(limit).unwrap_or(10))
}

/// A `created` filter: exact value or `gt`/`gte`/`lt`/`lte` bounds.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RangeFilter {
    pub(crate) eq: Option<i64>,
    pub(crate) gt: Option<i64>,
    pub(crate) gte: Option<i64>,
    pub(crate) lt: Option<i64>,
    pub(crate) lte: Option<i64>,
}

impl RangeFilter {
    /// Parses `key=N` or `key[gte]=N` etc.
    pub(crate) fn parse(p: &Params, key: &'static str) -> Result<Self, ApiError> {
        if let Some(Some(bounds)) = p.hash(key)? {
            bounds.check_known(&["gt", "gte", "lt", "lte"])?;
            return Ok(Self {
                eq: None,
                gt: bounds.integer("gt")?,
                gte: bounds.integer("gte")?,
                lt: bounds.integer("lt")?,
                lte: bounds.integer("lte")?,
            });
        }
        Ok(Self {
            eq: p.integer(key)?,
            ..Self::default()
        })
    }

    pub(crate) fn contains(&self, value: i64) -> bool {
        self.eq.is_none_or(|v| value == v)
            && self.gt.is_none_or(|v| value > v)
            && self.gte.is_none_or(|v| value >= v)
            && self.lt.is_none_or(|v| value < v)
            && self.lte.is_none_or(|v| value <= v)
    }
}
