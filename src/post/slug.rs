//! The `Slug` newtype: a post's name in URLs and in the repository (`posts/<slug>.md`).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// The longest slug accepted, in bytes (slugs are ASCII, so also characters).
pub const MAX_LEN: usize = 80;

/// The slug grammar, for documentation and the OpenAPI schema.
pub const PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

/// Where posts live inside the content repository.
const POSTS_DIR: &str = "posts/";
const EXTENSION: &str = ".md";

/// A validated post slug: lowercase ASCII letters and digits in hyphen-separated runs,
/// at most 80 characters. Being a closed alphabet, it is safe to use as a file name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

/// Why a string is not a slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("the slug is empty")]
    Empty,
    #[error("the slug is {0} characters long; at most {MAX_LEN} are allowed")]
    TooLong(usize),
    #[error(
        "the slug {0:?} may only contain lowercase letters a-z, digits and single hyphens \
         between them (no leading, trailing or doubled hyphen)"
    )]
    InvalidCharacters(String),
}

impl Slug {
    /// Validates `input` against `^[a-z0-9]+(-[a-z0-9]+)*$` and the length limit.
    ///
    /// # Errors
    /// [`SlugError`] says which rule the input breaks.
    pub fn parse(input: &str) -> Result<Slug, SlugError> {
        if input.is_empty() {
            return Err(SlugError::Empty);
        }
        // Count characters, not bytes, so the message is right for non-ASCII input; a text
        // of at most that many bytes has at most that many characters.
        if input.len() > MAX_LEN {
            let len = input.chars().count();
            if len > MAX_LEN {
                return Err(SlugError::TooLong(len));
            }
        }
        // Runs of letters and digits joined by single hyphens: a hyphen neither first, nor
        // last, nor after another hyphen.
        let mut after = b'-';
        let well_formed = input.bytes().all(|b| {
            let fits = b.is_ascii_lowercase() || b.is_ascii_digit() || (b == b'-' && after != b'-');
            after = b;
            fits
        }) && after != b'-';
        if !well_formed {
            return Err(SlugError::InvalidCharacters(input.to_owned()));
        }
        Ok(Slug(input.to_owned()))
    }

    /// The slug of a repository path `posts/<slug>.md`; `None` for anything else,
    /// including files in subfolders of `posts/` and names that are not valid slugs.
    pub fn from_path(path: &str) -> Option<Slug> {
        let name = path.strip_prefix(POSTS_DIR)?.strip_suffix(EXTENSION)?;
        Slug::parse(name).ok()
    }

    /// The repository path of this post's file: `posts/<slug>.md`.
    pub fn path(&self) -> String {
        format!("{POSTS_DIR}{}{EXTENSION}", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Slug {
    type Err = SlugError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Slug::parse(s)
    }
}

impl Serialize for Slug {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Cow::<str>::deserialize(deserializer)?;
        Slug::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl PartialSchema for Slug {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A post's name: lowercase letters and digits in hyphen-separated runs, \
                 at most 80 characters.",
            ))
            .pattern(Some(PATTERN))
            .min_length(Some(1))
            .max_length(Some(MAX_LEN))
            .examples(["why-layernorm-comes-first"])
            .into()
    }
}

impl ToSchema for Slug {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Slug")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_slugs_are_accepted() {
        for input in [
            "a",
            "0",
            "why-layernorm",
            "gpt-2",
            "a1-b2-c3",
            &"a".repeat(80),
        ] {
            let slug = Slug::parse(input).expect(input);
            assert_eq!(slug.as_str(), input);
            assert_eq!(slug.to_string(), input);
        }
    }

    #[test]
    fn an_empty_slug_is_rejected() {
        assert_eq!(Slug::parse(""), Err(SlugError::Empty));
    }

    #[test]
    fn a_slug_over_80_characters_is_rejected() {
        assert_eq!(Slug::parse(&"a".repeat(81)), Err(SlugError::TooLong(81)));
        assert_eq!(Slug::parse(&"a".repeat(300)), Err(SlugError::TooLong(300)));
    }

    #[test]
    fn path_like_and_malformed_slugs_are_rejected() {
        for input in [
            "../x", ".git", "a/b", "Upper", "ABC", "a--b", "-a", "a-", "-", "a b", "a_b", "a.md",
            "é", "a\0b",
        ] {
            assert!(
                matches!(Slug::parse(input), Err(SlugError::InvalidCharacters(_))),
                "{input:?} should be rejected"
            );
        }
    }

    #[test]
    fn errors_explain_the_rule() {
        let message = Slug::parse("Bad_Slug").unwrap_err().to_string();
        assert!(message.contains("lowercase"), "{message}");
        assert!(
            Slug::parse(&"a".repeat(90))
                .unwrap_err()
                .to_string()
                .contains("80")
        );
    }

    #[test]
    fn from_path_accepts_only_direct_markdown_children_of_posts() {
        assert_eq!(
            Slug::from_path("posts/x.md"),
            Some(Slug::parse("x").unwrap())
        );
        for path in [
            "posts/sub/x.md",
            "posts/x.txt",
            "posts/X.md",
            "posts/.md",
            "x.md",
            "assets/x.md",
            "posts/../x.md",
            "/posts/x.md",
        ] {
            assert_eq!(Slug::from_path(path), None, "{path}");
        }
    }

    #[test]
    fn path_round_trips_through_from_path() {
        let slug = Slug::parse("pre-ln").unwrap();
        assert_eq!(slug.path(), "posts/pre-ln.md");
        assert_eq!(Slug::from_path(&slug.path()), Some(slug));
    }

    #[test]
    fn serde_uses_a_plain_string_and_validates() {
        let slug = Slug::parse("a-b").unwrap();
        assert_eq!(serde_json::to_string(&slug).unwrap(), "\"a-b\"");
        assert_eq!(serde_json::from_str::<Slug>("\"a-b\"").unwrap(), slug);
        assert!(serde_json::from_str::<Slug>("\"../x\"").is_err());
    }

    #[test]
    fn the_schema_is_a_string_with_the_slug_pattern() {
        let schema = serde_json::to_value(Slug::schema()).unwrap();
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["pattern"], PATTERN);
        assert_eq!(schema["maxLength"], 80);
    }
}
