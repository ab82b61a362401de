//! How request bodies are read and how their failures answer: JSON bodies up to the size
//! limit, with invalid JSON a 400, an oversized body a 413 and a wrong content type a 415,
//! all as problem+json through [`ApiError`].

use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::web;

use crate::error::ApiError;

/// The JSON extractor's settings: `limit` bytes at most, failures as [`ApiError`]s.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |error, _| json_error(error, limit).into())
}

/// The raw body extractors' (`Bytes`, `String`) limit; their failures become problems in
/// [`problem_fallback`](super::problem_fallback).
pub fn payload_config(limit: usize) -> web::PayloadConfig {
    web::PayloadConfig::new(limit)
}

fn json_error(error: JsonPayloadError, limit: usize) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { .. }
        | JsonPayloadError::Overflow { .. }
        | JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::PayloadTooLarge(limit),
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("send the body as application/json".into())
        }
        JsonPayloadError::Deserialize(error) if error.is_data() => ApiError::bad_request(format!(
            "the body does not have the expected shape: {error}"
        )),
        JsonPayloadError::Deserialize(error) => {
            ApiError::bad_request(format!("the body is not valid JSON: {error}"))
        }
        other => ApiError::bad_request(format!("the body could not be read: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;

    use super::*;

    fn status(error: JsonPayloadError) -> u16 {
        json_error(error, 10).status_code().as_u16()
    }

    #[test]
    fn oversized_bodies_are_413() {
        assert_eq!(status(JsonPayloadError::Overflow { limit: 10 }), 413);
        assert_eq!(
            status(JsonPayloadError::OverflowKnownLength {
                length: 11,
                limit: 10
            }),
            413
        );
        assert_eq!(
            status(JsonPayloadError::Payload(PayloadError::Overflow)),
            413
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_415_or_400() {
        assert_eq!(status(JsonPayloadError::ContentType), 415);
        let syntax = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        assert_eq!(status(JsonPayloadError::Deserialize(syntax)), 400);
        let shape = serde_json::from_str::<Vec<u8>>("{}").unwrap_err();
        assert_eq!(status(JsonPayloadError::Deserialize(shape)), 400);
    }
}
