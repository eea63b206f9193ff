//! A small OpenAPI 3.0 schema validator (the subset the 1NCE specs use): `$ref`, `type`,
//! `properties`, `required`, `items`, `enum`, `nullable`, `oneOf`/`anyOf`/`allOf`,
//! `minimum`/`maximum`, `pattern` (hex only). Formats are not asserted (like JSON Schema).
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

/// The specs directory: `shared/1nce-api` beside the repository.
pub fn spec_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/1nce-api"))
}

pub const SPEC_FILES: [&str; 6] = [
    "authorization.yml",
    "sim-management.yml",
    "sim-management-v2.yml",
    "order-management.yml",
    "product-information.yml",
    "support-management.yml",
];

/// Loads one spec as JSON.
pub fn load(file: &str) -> Value {
    let path = spec_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {file}: {e}"))
}

/// Follows a local `$ref` (`#/components/...`).
pub fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    let mut cur = v;
    for _ in 0..32 {
        match cur.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let ptr = r.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {r}"));
                cur = spec.pointer(ptr).unwrap_or_else(|| panic!("dangling $ref {r}"));
            }
            None => return cur,
        }
    }
    panic!("$ref loop")
}

/// Validates `inst` against `schema`; returns the list of violations.
pub fn validate(spec: &Value, schema: &Value, inst: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    check(spec, schema, inst, "$", &mut errs);
    errs
}

fn check(spec: &Value, schema: &Value, inst: &Value, at: &str, errs: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if inst.is_null() {
        if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
            return;
        }
        if schema.get("type").is_some() || schema.get("properties").is_some() {
            errs.push(format!("{at}: null where not nullable"));
        }
        return;
    }
    for (key, need_exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let ok = alts.iter().filter(|a| validate(spec, a, inst).is_empty()).count();
            if (need_exactly_one && ok != 1) || ok == 0 {
                errs.push(format!("{at}: {key} matched {ok} alternatives"));
            }
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for a in all {
            check(spec, a, inst, at, errs);
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        let same = |o: &Value| match (o.as_f64(), inst.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => o == inst,
        };
        if !options.iter().any(same) {
            errs.push(format!("{at}: {inst} not in enum {options:?}"));
        }
    }
    let ty = schema.get("type").and_then(Value::as_str).or_else(|| schema.get("properties").map(|_| "object"));
    match ty {
        Some("object") => {
            let Some(obj) = inst.as_object() else {
                return errs.push(format!("{at}: expected object, got {inst}"));
            };
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let r = r.as_str().unwrap_or_default();
                if !obj.contains_key(r) {
                    errs.push(format!("{at}: missing required '{r}'"));
                }
            }
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in obj {
                    if let Some(ps) = props.get(k) {
                        check(spec, ps, v, &format!("{at}.{k}"), errs);
                    } else if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                        errs.push(format!("{at}: unexpected property '{k}'"));
                    }
                }
            }
        }
        Some("array") => {
            let Some(arr) = inst.as_array() else {
                return errs.push(format!("{at}: expected array"));
            };
            if let Some(items) = schema.get("items") {
                for (i, v) in arr.iter().enumerate() {
                    check(spec, items, v, &format!("{at}[{i}]"), errs);
                }
            }
        }
        Some("string") => {
            let Some(s) = inst.as_str() else {
                return errs.push(format!("{at}: expected string, got {inst}"));
            };
            if schema.get("pattern").and_then(Value::as_str) == Some("^([0-9a-fA-F])*$")
                && !s.chars().all(|c| c.is_ascii_hexdigit())
            {
                errs.push(format!("{at}: '{s}' is not hex"));
            }
        }
        Some("integer") => match inst.as_f64() {
            Some(n) if n.fract() == 0.0 => bounds(schema, n, at, errs),
            _ => errs.push(format!("{at}: expected integer, got {inst}")),
        },
        Some("number") => match inst.as_f64() {
            Some(n) => bounds(schema, n, at, errs),
            None => errs.push(format!("{at}: expected number, got {inst}")),
        },
        Some("boolean") if !inst.is_boolean() => errs.push(format!("{at}: expected boolean, got {inst}")),
        _ => {}
    }
}

fn bounds(schema: &Value, n: f64, at: &str, errs: &mut Vec<String>) {
    if schema.get("minimum").and_then(Value::as_f64).is_some_and(|m| n < m)
        || schema.get("maximum").and_then(Value::as_f64).is_some_and(|m| n > m)
    {
        errs.push(format!("{at}: {n} out of bounds"));
    }
}

#[test]
fn validator_self_check() {
    let spec = serde_json::json!({"components": {"schemas": {"A": {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer", "minimum": 1}, "y": {"type": "string", "nullable": true}}}}}});
    let s = serde_json::json!({"$ref": "#/components/schemas/A"});
    assert!(validate(&spec, &s, &serde_json::json!({"x": 2, "y": null})).is_empty());
    assert_eq!(validate(&spec, &s, &serde_json::json!({"y": 3})).len(), 2);
    assert_eq!(validate(&spec, &s, &serde_json::json!({"x": 0})).len(), 1);
}

#[test]
fn validator_rejects_real_spec_violations() {
    let spec = load("sim-management-v2.yml");
    let s = serde_json::json!({"$ref": "#/components/schemas/SimsConnectivityDetail"});
    assert!(
        !validate(&spec, &s, &serde_json::json!({"status": {"description": "ONLINE"}})).is_empty(),
        "services is required"
    );
    assert!(
        !validate(&spec, &s, &serde_json::json!({"status": {"description": "SLEEPING"}, "services": []})).is_empty(),
        "enum"
    );
    assert!(validate(&spec, &s, &serde_json::json!({"status": {"description": "OFFLINE"}, "services": []})).is_empty());
}
