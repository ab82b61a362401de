//! Free-form maps (a post's `front_matter`, a diff's added and removed keys) allow any key
//! in the document (`additionalProperties: true`): a bare `{"type": "object"}` becomes
//! `Record<string, never>` in generated TypeScript clients, which can then neither read
//! nor write a single key.

use utoipa::Modify;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema, SchemaType, Type};

pub struct FreeFormMaps;

impl Modify for FreeFormMaps {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            for schema in components.schemas.values_mut() {
                open_up(schema);
            }
        }
    }
}

fn is_object(schema_type: &SchemaType) -> bool {
    match schema_type {
        SchemaType::Type(kind) => *kind == Type::Object,
        SchemaType::Array(kinds) => kinds.contains(&Type::Object),
        SchemaType::AnyValue => false,
    }
}

/// Marks every object schema without properties, here and below, as a free-form map.
fn open_up(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else {
        return;
    };
    match schema {
        Schema::Object(object) => {
            if is_object(&object.schema_type)
                && object.properties.is_empty()
                && object.additional_properties.is_none()
            {
                object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(true)));
            }
            object.properties.values_mut().for_each(open_up);
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                open_up(items);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(open_up),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(open_up),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(open_up),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    /// Every object in the document either lists its properties or says what else it
    /// allows.
    #[test]
    fn every_object_without_properties_allows_any_key() {
        let document = serde_json::to_value(super::super::ApiDoc::openapi()).unwrap();
        let mut bare = Vec::new();
        find_bare_objects(&document["components"], "components", &mut bare);
        assert!(
            bare.is_empty(),
            "objects without additionalProperties: {bare:?}"
        );
        let front_matter =
            &document["components"]["schemas"]["PostSummary"]["properties"]["front_matter"];
        assert_eq!(front_matter["additionalProperties"], true);
    }

    fn find_bare_objects(value: &serde_json::Value, at: &str, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                let object = match &map.get("type") {
                    Some(serde_json::Value::String(t)) => t == "object",
                    Some(serde_json::Value::Array(ts)) => ts.iter().any(|t| t == "object"),
                    _ => false,
                };
                if object
                    && !map.contains_key("properties")
                    && !map.contains_key("additionalProperties")
                {
                    found.push(at.to_string());
                }
                for (key, inner) in map {
                    find_bare_objects(inner, &format!("{at}/{key}"), found);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    find_bare_objects(inner, &format!("{at}/{i}"), found);
                }
            }
            _ => {}
        }
    }
}
