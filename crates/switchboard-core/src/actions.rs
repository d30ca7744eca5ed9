//! Actions' pure parts: the typed rendering of a request body from the input,
//! the names an input schema declares, its defaults, and the digest that tells
//! one run's request from another for `Idempotency-Key`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::catalog::template::{self, Piece, TemplateError};

/// A body template rendered over typed values. A string that is exactly one `{name}` takes the
/// value as it is (a number stays a number, an array an array); a string with text around its
/// names is rendered as text. A name `lookup` does not know drops the member or element that
/// uses it, and an object or array left empty by that is dropped too, so optional inputs
/// simply leave their keys out.
///
/// # Errors
/// A malformed template.
pub fn render(template: &Value, lookup: &dyn Fn(&str) -> Option<Value>) -> Result<Option<Value>, TemplateError> {
    Ok(match template {
        Value::String(s) => {
            let pieces = template::parse(s)?;
            match pieces.as_slice() {
                [Piece::Var(name)] => lookup(name),
                _ => {
                    let mut out = String::new();
                    for p in pieces {
                        match p {
                            Piece::Text(t) => out.push_str(t),
                            Piece::Var(name) => match lookup(name) {
                                Some(v) => out.push_str(&text_of(&v)),
                                None => return Ok(None),
                            },
                        }
                    }
                    Some(Value::String(out))
                }
            }
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                if let Some(v) = render(i, lookup)? {
                    out.push(v);
                }
            }
            (items.is_empty() || !out.is_empty()).then_some(Value::Array(out))
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if let Some(v) = render(v, lookup)? {
                    out.insert(k.clone(), v);
                }
            }
            (map.is_empty() || !out.is_empty()).then_some(Value::Object(out))
        }
        other => Some(other.clone()),
    })
}

/// A value as text in a URL, header or form field: strings as they are, everything else as JSON.
#[must_use]
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `input.…` names an input schema declares: each property, and the properties of object
/// properties (`input.start.date_time`).
#[must_use]
pub fn input_names(schema: &Value) -> BTreeSet<String> {
    fn walk(schema: &Value, prefix: &str, out: &mut BTreeSet<String>, depth: usize) {
        let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
        for (name, sub) in props {
            let full = format!("{prefix}.{name}");
            if depth < 4 {
                walk(sub, &full, out, depth + 1);
            }
            out.insert(full);
        }
    }
    let mut out = BTreeSet::new();
    walk(schema, "input", &mut out, 0);
    out
}

/// The top-level properties the schema marks `required`.
#[must_use]
pub fn required(schema: &Value) -> BTreeSet<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Fills absent top-level properties that declare a `default`.
pub fn apply_defaults(schema: &Value, input: &mut Map<String, Value>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
    for (name, sub) in props {
        if let Some(d) = sub.get("default")
            && !input.contains_key(name)
        {
            input.insert(name.clone(), d.clone());
        }
    }
}

/// What makes two runs the same request: the action and its input, canonically encoded (object
/// keys sorted), hashed.
#[must_use]
pub fn request_digest(action: &str, input: &Value) -> String {
    let mut h = Sha256::new();
    h.update(action.as_bytes());
    h.update([0]);
    h.update(input.to_string().as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(name: &str) -> Option<Value> {
        let input = json!({"text": "hi", "count": 3, "tags": ["a", "b"], "start": {"date": "2026-12-01"}});
        let path = name.strip_prefix("input.")?;
        crate::catalog::path::get(&input, path).cloned()
    }

    #[test]
    fn a_lone_name_keeps_its_type_and_text_around_names_renders_as_text() {
        let t = json!({"n": "{input.count}", "tags": "{input.tags}", "msg": "say {input.text} {input.count}x"});
        assert_eq!(render(&t, &lookup).unwrap(), Some(json!({"n": 3, "tags": ["a", "b"], "msg": "say hi 3x"})));
    }

    #[test]
    fn absent_values_drop_their_members_and_emptied_containers() {
        let t = json!({
            "text": "{input.text}",
            "gone": "{input.missing}",
            "also": "x {input.missing}",
            "start": {"date": "{input.start.date}", "dateTime": "{input.start.date_time}"},
            "end": {"dateTime": "{input.end.date_time}"},
            "list": ["{input.missing}"],
            "kept_empty": {},
            "fixed": true,
        });
        assert_eq!(
            render(&t, &lookup).unwrap(),
            Some(json!({"text": "hi", "start": {"date": "2026-12-01"}, "kept_empty": {}, "fixed": true}))
        );
    }

    #[test]
    fn braces_can_be_literal_and_malformed_templates_are_errors() {
        assert_eq!(render(&json!("{{x}}"), &lookup).unwrap(), Some(json!("{x}")));
        assert!(render(&json!("{input.text"), &lookup).is_err());
    }

    #[test]
    fn names_defaults_and_digests() {
        let schema = json!({"type": "object", "required": ["a"], "properties": {
            "a": {"type": "string"}, "b": {"type": "object", "properties": {"c": {"type": "string"}}},
            "d": {"type": "string", "default": "x"}}});
        let names: Vec<String> = input_names(&schema).into_iter().collect();
        assert_eq!(names, ["input.a", "input.b", "input.b.c", "input.d"]);
        assert_eq!(required(&schema).into_iter().collect::<Vec<_>>(), ["a"]);
        let mut input = Map::new();
        apply_defaults(&schema, &mut input);
        assert_eq!(Value::Object(input), json!({"d": "x"}));
        assert_eq!(request_digest("a", &json!({"x": 1, "y": 2})), request_digest("a", &json!({"y": 2, "x": 1})));
        assert_ne!(request_digest("a", &json!({"x": 1})), request_digest("b", &json!({"x": 1})));
    }
}
