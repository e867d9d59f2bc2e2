//! Request bodies: form (Stripe's bracket notation) and JSON, into one parameter map.

use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::http::ApiRequest;

/// Decodes a request's parameters: the query string plus, for form bodies, the
/// body; or the query string plus a JSON object body.
pub(crate) fn decode_request(req: &ApiRequest) -> Result<Map<String, Value>, ApiError> {
    let query = req.query.as_deref().unwrap_or_default().as_bytes();
    let is_json = req
        .header("content-type")
        .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
    if is_json && !req.body.is_empty() {
        let mut params = decode_form(query)?;
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(body)) => params.extend(body),
            _ => {
                return Err(ApiError::invalid(
                    "Invalid request: the JSON body could not be parsed as an object.",
                ))
            }
        }
        return Ok(params);
    }
    let mut joined = query.to_vec();
    if !req.body.is_empty() {
        if !joined.is_empty() {
            joined.push(b'&');
        }
        joined.extend_from_slice(&req.body);
    }
    decode_form(&joined)
}

/// Decodes `application/x-www-form-urlencoded` data with Stripe's bracket
/// notation (`a[b][c]=x`, `a[]=x`, `a[0]=x`) into a JSON object whose leaves
/// are strings.
pub(crate) fn decode_form(input: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut root = Map::new();
    for (key, value) in form_urlencoded::parse(input) {
        let (name, segments) = split_key(&key);
        insert_path(&mut root, name, &segments, value.into_owned());
    }
    let mut out = Map::new();
    for (name, value) in root {
        let value = arrayify(value, &name, &name)?;
        out.insert(name, value);
    }
    Ok(out)
}

/// Splits `a[b][]` into `("a", ["b", ""])`; malformed keys are kept whole.
pub(crate) fn split_key(key: &str) -> (String, Vec<String>) {
    let whole = || (key.to_owned(), Vec::new());
    let Some(open) = key.find('[') else {
        return whole();
    };
    if open == 0 {
        return whole();
    }
    let mut segments = Vec::new();
    let mut rest = &key[open..];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return whole();
        };
        segments.push(inner[..close].to_owned());
        rest = &inner[close + 1..];
    }
    if !rest.is_empty() {
        return whole();
    }
    (key[..open].to_owned(), segments)
}

/// Inserts `value` at `name[segments...]`; `[]` appends a new element.
pub(crate) fn insert_path(map: &mut Map<String, Value>, name: String, segments: &[String], value: String) {
    let Some((first, rest)) = segments.split_first() else {
        map.insert(name, Value::String(value));
        return;
    };
    let slot = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(child) = slot {
        let key = if first.is_empty() {
            child.len().to_string()
        } else {
            first.clone()
        };
        insert_path(child, key, rest, value);
    }
}

/// Turns objects whose keys are all indices into arrays (except under
/// `metadata`, whose keys are free-form). Indices must run from 0 without gaps.
pub(crate) fn arrayify(value: Value, name: &str, path: &str) -> Result<Value, ApiError> {
    let Value::Object(map) = value else {
        return Ok(value);
    };
    let mut children = Map::new();
    for (key, child) in map {
        let child_path = format!("{path}[{key}]");
        let child = arrayify(child, &key, &child_path)?;
        children.insert(key, child);
    }
    let numeric = !children.is_empty()
        && name != "metadata"
        && children
            .keys()
            .all(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()));
    if !numeric {
        return Ok(Value::Object(children));
    }
    let mut indexed: Vec<(usize, Value)> = Vec::new();
    for (key, child) in children {
        let index = key.parse::<usize>().unwrap_or(usize::MAX);
        indexed.push((index, child));
    }
    indexed.sort_by_key(|(index, _)| *index);
    let expected = indexed
        .iter()
        .enumerate()
        .find(|(position, (index, _))| position != index)
        .map(|(position, _)| position);
    if let Some(expected) = expected {
        let passed: Vec<String> = indexed.iter().map(|(i, _)| i.to_string()).collect();
        return Err(ApiError::invalid(format!(
            "If passing an array with explicit keys (e.g. foo[0]=a&foo[1]=b) instead of as an array (e.g. foo[]=a&foo[]=b), the keys must be numeric and sequential starting from 0. You passed the keys `{}`, we expected to have a key with the value `{expected}`.",
            passed.join(", ")
        ))
        .param(path));
    }
    Ok(Value::Array(indexed.into_iter().map(|(_, v)| v).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(s: &str) -> Value {
        Value::Object(decode_form(s.as_bytes()).expect("decodes"))
    }

    #[test]
    fn decodes_nested_hashes_and_arrays() {
        let v = decode(
            "amount=2000&metadata[order_id]=42&shipping%5Baddress%5D%5Bcity%5D=San+Francisco\
             &expand[]=a&expand[]=b&payment_method_types[1]=link&payment_method_types[0]=card\
             &description=hello%20world",
        );
        assert_eq!(
            v,
            json!({
                "amount": "2000",
                "metadata": {"order_id": "42"},
                "shipping": {"address": {"city": "San Francisco"}},
                "expand": ["a", "b"],
                "payment_method_types": ["card", "link"],
                "description": "hello world",
            })
        );
    }

    #[test]
    fn metadata_keys_stay_a_hash_and_gaps_are_rejected() {
        assert_eq!(decode("metadata[0]=x"), json!({"metadata": {"0": "x"}}));
        let err = decode_form(b"expand[1]=a").expect_err("gap");
        assert_eq!(err.param.as_deref(), Some("expand"));
        assert!(err.message.contains("You passed the keys `1`"));
    }

    #[test]
    fn malformed_keys_are_kept_whole() {
        assert_eq!(split_key("a[b"), ("a[b".to_owned(), vec![]));
        assert_eq!(
            split_key("a[b][]"),
            ("a".to_owned(), vec!["b".to_owned(), String::new()])
        );
    }
}
