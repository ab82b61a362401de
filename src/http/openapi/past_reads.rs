//! The answers that reads of the past may get besides their own, both with `Retry-After`:
//! 429 for an anonymous client over its share, 503 when anonymous clients together have
//! spent their budget of bytes (see [`throttle`](crate::http::throttle)) or when too many
//! past versions and diffs are being computed at once (see
//! [`PastPosts`](crate::site::PastPosts)).

use utoipa::Modify;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::Type;
use utoipa::openapi::{ObjectBuilder, RefOr};

use super::conventions::problem;

/// The operations whose reads of the past are limited per anonymous client: those that take
/// `rev` or `as_of`, diffs and blames.
const LIMITED: [&str; 6] = [
    "get_post",
    "get_revision",
    "get_diff",
    "get_blame",
    "list_posts",
    "list_tags",
];

/// The operations that compute a past version or a diff under a turn.
const COMPUTED: [&str; 3] = ["get_post", "get_revision", "get_diff"];

pub struct PastReads;

impl Modify for PastReads {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let Some(operation) = item.get.as_mut() else {
                continue;
            };
            let id = operation.operation_id.as_deref().unwrap_or_default();
            let mut add = |status: &str, description: &str| {
                let mut response = problem(description);
                response
                    .headers
                    .insert("Retry-After".into(), retry_after().into());
                operation
                    .responses
                    .responses
                    .insert(status.into(), RefOr::T(response));
            };
            if LIMITED.contains(&id) {
                add(
                    "429",
                    "An anonymous client asked for more reads of the past (`rev`, `as_of`, \
                     diffs, blames) than its share; authors are not limited",
                );
            }
            let busy = "Anonymous clients together have been sent all the bytes of the past \
                        the server serves per second (authors are not limited)";
            if COMPUTED.contains(&id) {
                add(
                    "503",
                    &format!(
                        "{busy}, or too many past versions and diffs are being computed; \
                         try again"
                    ),
                );
            } else if LIMITED.contains(&id) {
                add("503", &format!("{busy}; try again"));
            }
        }
    }
}

fn retry_after() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        ))
        .description(Some("Seconds to wait before asking again"))
        .build()
}
