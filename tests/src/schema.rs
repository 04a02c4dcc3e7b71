//! A small JSON-Schema validator for checking real responses against `/openapi.json`.
#![allow(clippy::panic)]

use serde_json::{Value, json};

/// A small JSON-Schema check covering what the document uses: $ref, allOf/oneOf/anyOf, type
/// (incl. type lists and nullable), enum, properties/required and items.
pub fn validate(doc: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    check(doc, schema, value, path, true)
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => resolve(
            doc,
            &doc["components"]["schemas"][reference.trim_start_matches("#/components/schemas/")],
        ),
        None => schema,
    }
}

/// Property names a schema declares, through `allOf` compositions (serde's `flatten`).
fn declared(doc: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut names: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(declared(doc, part));
    }
    names
}

/// `strict`: also reject object keys the schema does not declare (off inside `allOf` parts,
/// which each see only their share of the object).
fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
    strict: bool,
) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            check(doc, s, value, path, false)?;
        }
    }
    if let (true, Some(object)) = (strict, value.as_object()) {
        let names = declared(doc, schema);
        let unknown = object.keys().find(|k| !names.contains(k));
        if let (false, Some(unknown)) = (names.is_empty(), unknown) {
            return Err(format!("{path}: `{unknown}` is not in the schema"));
        }
    }
    for key in ["oneOf", "anyOf"] {
        let options = schema[key].as_array();
        if options.is_some_and(|o| !o.iter().any(|s| check(doc, s, value, path, true).is_ok())) {
            return Err(format!("{path}: {value} matches none of {key}"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array().filter(|a| !a.contains(value)) {
        return Err(format!("{path}: {value} not in {allowed:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() {
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.contains(&actual)
            || (actual == "integer" && types.contains(&"number"))
            || (actual == "null" && schema["nullable"] == json!(true));
        if !ok {
            return Err(format!("{path}: expected {types:?}, got {value}"));
        }
    }
    if let (Some(props), Some(object)) = (schema["properties"].as_object(), value.as_object()) {
        for required in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(required) {
                return Err(format!("{path}: missing required `{required}`"));
            }
        }
        for (key, item) in object {
            if let Some(s) = props.get(key) {
                check(doc, s, item, &format!("{path}.{key}"), true)?;
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(doc, items, item, &format!("{path}[{i}]"), true)?;
        }
    }
    Ok(())
}

pub fn response_schema<'a>(doc: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(!schema.is_null(), "no schema for {method} {path} {status}");
    schema
}
