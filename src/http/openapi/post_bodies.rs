//! What a whole post in a request body must hold, beyond the types of its fields: exactly one
//! of `front_matter` (an object with a `title`) and `raw`. utoipa derives each field on its
//! own, so the rule is added to the two schemas that carry a whole post.

use utoipa::Modify;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};

/// The request bodies that carry a whole post.
const WHOLE_POSTS: [&str; 2] = ["NewPost", "ReplacedPost"];

pub struct PostBodies;

impl Modify for PostBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in WHOLE_POSTS {
            if let Some(RefOr::T(fields)) = components.schemas.remove(name) {
                let whole = AllOfBuilder::new().item(fields).item(one_form()).build();
                components
                    .schemas
                    .insert(name.to_string(), RefOr::T(Schema::AllOf(whole)));
            }
        }
    }
}

/// Either the front matter (with a title) or the raw file, never both.
fn one_form() -> OneOfBuilder {
    let title = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1));
    let front_matter = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("title", title)
        .required("title");
    let structured = ObjectBuilder::new()
        .property("front_matter", front_matter)
        .required("front_matter");
    let raw = ObjectBuilder::new()
        .property(
            "raw",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1)),
        )
        .required("raw");
    OneOfBuilder::new().item(structured).item(raw)
}
