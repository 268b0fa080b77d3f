//! Rules declared in the TOML config (`[[rules]]`, for teams that cannot call the control
//! API): the same fields as the JSON form, plus the account's `ak`. `config.rs` adds the
//! file and line to the `field: problem` message returned here.

use serde_json::Value;

use super::rule::Rule;

/// One `[[rules]]` table: `ak` and a rule. Errors read `field: problem`.
pub fn from_toml(table: &toml::Value) -> Result<(String, Rule), String> {
    let json = serde_json::to_value(table).map_err(|e| format!("rules: {e}"))?;
    let Value::Object(mut fields) = json else { return Err("rules: each entry is a table".into()) };
    let ak = match fields.remove("ak") {
        Some(Value::String(ak)) if !ak.is_empty() => ak,
        _ => return Err("ak: each rule names the account it applies to, e.g. ak = \"mock-ak\"".into()),
    };
    let rule = Rule::from_json(Value::Object(fields))?;
    Ok((ak, rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::rule::{What, When};

    fn table(text: &str) -> toml::Value {
        let doc: toml::Table = toml::from_str(text).expect("toml");
        doc["rules"].as_array().expect("rules")[0].clone()
    }

    #[test]
    fn a_toml_rule_reads_like_its_json_form() {
        let (ak, rule) = from_toml(&table(
            "[[rules]]\nak = \"mock-ak\"\nendpoint = \"hat\"\nwhen = { next = 3 }\nwhat = { code = 4001 }\n",
        ))
        .expect("valid");
        assert_eq!(ak, "mock-ak");
        assert_eq!((rule.when, rule.what), (When::Next(3), What::Code(4001)));
        let (_, rule) = from_toml(&table("[[rules]]\nak = \"a\"\nwhen = \"always\"\nwhat = { reset = \"half\" }\n"))
            .expect("valid");
        assert_eq!(rule.when, When::Always);
    }

    #[test]
    fn a_toml_rule_without_an_account_or_with_a_bad_field_is_refused() {
        assert!(from_toml(&table("[[rules]]\nwhat = { code = 50000 }\n")).expect_err("no ak").starts_with("ak: "));
        assert_eq!(
            from_toml(&table("[[rules]]\nak = \"a\"\nwhat = { gateway = 500 }\n")).expect_err("bad"),
            "what.gateway: 502, 503 or 504"
        );
    }
}
