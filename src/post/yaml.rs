//! YAML text to order-preserving JSON values, the form front matter is served and stored in.

use serde_json::{Map, Number, Value};
use yaml_serde::Value as Yaml;

use super::PostError;

/// Parses YAML into JSON values.
///
/// This goes through YAML's own value type rather than straight into JSON because
/// YAML's mapping rejects duplicate keys, which a JSON map would silently collapse
/// (losing data when the post is written back), and because it lets scalar keys such
/// as `1:` become strings while tags and complex keys get a clear error.
///
/// # Errors
/// [`PostError::InvalidYaml`] for malformed YAML, duplicate keys, tags (`!x`),
/// non-scalar keys and non-finite numbers.
pub(crate) fn to_json(yaml: &str) -> Result<Value, PostError> {
    let value: Yaml =
        yaml_serde::from_str(yaml).map_err(|e| PostError::InvalidYaml(e.to_string()))?;
    convert(value, "").map_err(PostError::InvalidYaml)
}

/// `path` names the value in error messages, e.g. `references[2].url`.
fn convert(value: Yaml, path: &str) -> Result<Value, String> {
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => Value::Number(
            number(&n)
                .ok_or_else(|| format!("{}: {n} cannot be represented in JSON", display(path)))?,
        ),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| convert(item, &format!("{path}[{}]", i + 1)))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut map = Map::with_capacity(mapping.len());
            for (key, item) in mapping {
                let key = key_string(key, path)?;
                let item_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                map.insert(key, convert(item, &item_path)?);
            }
            Value::Object(map)
        }
        Yaml::Tagged(tagged) => {
            return Err(format!(
                "{}: YAML tags such as {} are not supported",
                display(path),
                tagged.tag
            ));
        }
    })
}

fn number(n: &yaml_serde::Number) -> Option<Number> {
    n.as_i64()
        .map(Number::from)
        .or_else(|| n.as_u64().map(Number::from))
        .or_else(|| n.as_f64().and_then(Number::from_f64))
}

/// Scalar keys become strings (`1:` -> `"1"`); sequences, mappings and tags cannot be
/// JSON keys.
fn key_string(key: Yaml, path: &str) -> Result<String, String> {
    match key {
        Yaml::String(s) => Ok(s),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Null => Ok("null".to_owned()),
        _ => Err(format!(
            "{}: keys must be plain text, not lists or mappings",
            display(path)
        )),
    }
}

fn display(path: &str) -> String {
    if path.is_empty() {
        "the front matter".to_owned()
    } else {
        format!("`{path}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(yaml: &str) -> String {
        match to_json(yaml) {
            Err(PostError::InvalidYaml(message)) => message,
            other => panic!("expected invalid YAML for {yaml:?}, got {other:?}"),
        }
    }

    #[test]
    fn values_convert_with_key_order_kept() {
        let value =
            to_json("b: [1, -2, 2.5, true, null, text]\na: {z: 1, y: 18446744073709551615}\n")
                .unwrap();
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            r#"{"b":[1,-2,2.5,true,null,"text"],"a":{"z":1,"y":18446744073709551615}}"#
        );
    }

    #[test]
    fn scalar_keys_become_strings() {
        let value = to_json("1: one\ntrue: yes\n~: nothing\n").unwrap();
        let keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["1", "true", "null"]);
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        assert!(error("title: T\ntitle: U\n").contains("duplicate"));
    }

    #[test]
    fn tags_complex_keys_and_non_finite_numbers_are_rejected_with_their_path() {
        assert!(error("refs:\n  - url: !x y\n").contains("`refs[1].url`"));
        assert!(
            error("title: T\n? [a, b]\n: v\n")
                .contains("keys must be plain text, not lists or mappings")
        );
        assert!(error("n: .nan\n").contains("`n`"));
        assert!(error("n: -.inf\n").contains("cannot be represented"));
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n".to_owned();
        for n in 1..8 {
            let refs = vec![format!("*a{}", n - 1); 9].join(", ");
            yaml.push_str(&format!("a{n}: &a{n} [{refs}]\n"));
        }
        assert!(error(&yaml).contains("repetition limit"));
    }
}
