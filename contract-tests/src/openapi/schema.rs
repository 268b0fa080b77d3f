//! A validator for the subset of JSON Schema the OpenAPI document uses: `$ref` (local),
//! `type`, `properties`, `required`, `additionalProperties`, `items`, `enum`, `oneOf` and
//! the limits `minimum`, `maximum`, `minItems`, `maxItems`, `minLength`, `maxLength`,
//! `minProperties`. Any other keyword is an error, so the document cannot use one that is
//! not checked; `description`, `title` and `examples` are annotations and pass.

use serde_json::Value;

const ANNOTATIONS: [&str; 3] = ["description", "title", "examples"];

/// Checks `value` against `schema`; `root` is the document `$ref`s point into. The error
/// names the place in `value` (a JSON pointer) and the rule it breaks.
pub fn validate(root: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    check(root, schema, value, "")
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let Some(rules) = schema.as_object() else {
        return Err(format!("{at}: the schema is not an object: {schema}"));
    };
    for (keyword, rule) in rules {
        match keyword.as_str() {
            "$ref" => check(root, resolve(root, rule)?, value, at)?,
            "type" => check_type(rule, value, at)?,
            "enum" => {
                let allowed = rule.as_array().ok_or_else(|| format!("{at}: enum is not a list"))?;
                if !allowed.contains(value) {
                    return Err(format!("{at}: {value} is not one of {rule}"));
                }
            }
            "oneOf" => one_of(root, rule, value, at)?,
            "properties" | "required" | "additionalProperties" | "minProperties" => {
                check_object(root, keyword, rule, schema, value, at)?
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    check(root, rule, item, &format!("{at}/{i}"))?;
                }
            }
            "minimum" | "maximum" | "minItems" | "maxItems" | "minLength" | "maxLength" => {
                check_limit(keyword, rule, value, at)?
            }
            k if ANNOTATIONS.contains(&k) => {}
            other => return Err(format!("{at}: the validator does not know the keyword `{other}`")),
        }
    }
    Ok(())
}

/// The schema a local `$ref` (`#/components/...`) points at.
pub fn resolve<'a>(root: &'a Value, reference: &Value) -> Result<&'a Value, String> {
    let text = reference.as_str().unwrap_or_default();
    let pointer = text.strip_prefix('#').ok_or_else(|| format!("only local $refs are followed, not `{text}`"))?;
    root.pointer(pointer).ok_or_else(|| format!("`{text}` points at nothing"))
}

fn check_type(rule: &Value, value: &Value, at: &str) -> Result<(), String> {
    let names: Vec<&str> = match rule {
        Value::String(s) => vec![s.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(format!("{at}: type is neither a name nor a list")),
    };
    let fits = |name: &str| match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    };
    if names.iter().any(|n| fits(n)) {
        Ok(())
    } else {
        Err(format!("{at}: {value} is not of type {rule}"))
    }
}

fn one_of(root: &Value, rule: &Value, value: &Value, at: &str) -> Result<(), String> {
    let options = rule.as_array().ok_or_else(|| format!("{at}: oneOf is not a list"))?;
    let results: Vec<Result<(), String>> = options.iter().map(|s| check(root, s, value, at)).collect();
    match results.iter().filter(|r| r.is_ok()).count() {
        1 => Ok(()),
        0 => {
            let why: Vec<String> = results.into_iter().filter_map(Result::err).collect();
            Err(format!("{at}: matches none of oneOf: [{}]", why.join("; ")))
        }
        n => Err(format!("{at}: matches {n} schemas of oneOf, not exactly one")),
    }
}

fn check_object(
    root: &Value,
    keyword: &str,
    rule: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
) -> Result<(), String> {
    let Some(object) = value.as_object() else { return Ok(()) };
    match keyword {
        "properties" => {
            let properties = rule.as_object().ok_or_else(|| format!("{at}: properties is not an object"))?;
            for (name, sub) in properties {
                if let Some(v) = object.get(name) {
                    check(root, sub, v, &format!("{at}/{name}"))?;
                }
            }
        }
        "required" => {
            for name in rule.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    return Err(format!("{at}: the required property `{name}` is missing"));
                }
            }
        }
        "minProperties" => {
            if (object.len() as u64) < rule.as_u64().unwrap_or(0) {
                return Err(format!("{at}: fewer than {rule} properties"));
            }
        }
        _ => {
            let known = schema["properties"].as_object();
            for (name, v) in object.iter().filter(|(n, _)| known.is_none_or(|k| !k.contains_key(*n))) {
                match rule {
                    Value::Bool(false) => return Err(format!("{at}: the property `{name}` is not allowed")),
                    Value::Bool(true) => {}
                    sub => check(root, sub, v, &format!("{at}/{name}"))?,
                }
            }
        }
    }
    Ok(())
}

fn check_limit(keyword: &str, rule: &Value, value: &Value, at: &str) -> Result<(), String> {
    let limit = rule.as_f64().ok_or_else(|| format!("{at}: {keyword} is not a number"))?;
    let measured = match keyword {
        "minimum" | "maximum" => value.as_f64(),
        "minItems" | "maxItems" => value.as_array().map(|a| a.len() as f64),
        _ => value.as_str().map(|s| s.chars().count() as f64),
    };
    let Some(measured) = measured else { return Ok(()) };
    let fits = if keyword.starts_with("min") { measured >= limit } else { measured <= limit };
    if fits {
        Ok(())
    } else {
        Err(format!("{at}: {keyword} {rule} is not met by {value}"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_keyword_refuses_what_breaks_it() {
        let root = json!({"components": {"schemas": {"n": {"type": "integer", "minimum": 0, "maximum": 1}}}});
        let schema = json!({
            "type": "object", "required": ["a"], "additionalProperties": false,
            "properties": {
                "a": {"$ref": "#/components/schemas/n"},
                "b": {"type": "array", "items": {"type": "string", "maxLength": 2}, "minItems": 1},
                "c": {"oneOf": [{"type": "string", "enum": ["x"]}, {"type": "integer"}]}
            }
        });
        assert_eq!(validate(&root, &schema, &json!({"a": 1, "b": ["ab"], "c": "x"})), Ok(()));
        let bad = [
            json!({}),
            json!({"a": 2}),
            json!({"a": "1"}),
            json!({"a": 1, "b": []}),
            json!({"a": 1, "b": ["abc"]}),
            json!({"a": 1, "c": "y"}),
            json!({"a": 1, "d": 0}),
        ];
        for value in bad {
            assert!(validate(&root, &schema, &value).is_err(), "{value} passed");
        }
    }

    #[test]
    fn an_unknown_keyword_is_an_error_not_a_pass() {
        let refused = validate(&json!({}), &json!({"pattern": "^a$"}), &json!("b"));
        assert_eq!(refused, Err(": the validator does not know the keyword `pattern`".into()));
    }

    #[test]
    fn one_of_wants_exactly_one_match() {
        let schema = json!({"oneOf": [{"type": "number"}, {"type": "integer"}]});
        assert!(validate(&json!({}), &schema, &json!(1)).is_err());
        assert!(validate(&json!({}), &schema, &json!(1.5)).is_ok());
    }
}
