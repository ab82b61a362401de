//! JSON objects read with every key at most once. serde_json keeps the last of duplicate keys
//! without a word, while the YAML front matter refuses them: a front matter sent as JSON is
//! held to the same rule. serde_json has no option for this, so a visitor builds the value
//! and refuses a key met twice, at any depth.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// `deserialize_with` for an optional front matter (`null` is none).
pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    let value = deserializer.deserialize_any(UniqueKeys)?;
    Ok((!value.is_null()).then_some(value))
}

/// `deserialize_with` for a front matter that must be there.
pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
    deserializer.deserialize_any(UniqueKeys)
}

struct UniqueKeys;

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value whose objects name each key once")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Seed)?;
            if object.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format!(
                    "duplicate key `{key}` in front_matter"
                )));
            }
        }
        Ok(Value::Object(object))
    }
}

struct Seed;

impl<'de> de::DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(UniqueKeys)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::optional")]
        front_matter: Option<serde_json::Value>,
    }

    fn read(text: &str) -> Result<Option<serde_json::Value>, String> {
        serde_json::from_str::<Body>(text)
            .map(|b| b.front_matter)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert_eq!(
            read(r#"{"front_matter": {"a": [1, {"b": null}], "c": 1.5}}"#).unwrap(),
            Some(json!({"a": [1, {"b": null}], "c": 1.5}))
        );
        assert_eq!(read("{}").unwrap(), None);
        assert_eq!(read(r#"{"front_matter": null}"#).unwrap(), None);
        assert!(
            read(r#"{"front_matter": {"t": 1, "t": 2}}"#)
                .unwrap_err()
                .contains("`t`")
        );
        assert!(read(r#"{"front_matter": {"x": {"t": 1, "t": 2}}}"#).is_err());
    }
}
