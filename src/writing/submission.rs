//! What an author submits for a whole post (front matter and Markdown, or the raw file),
//! checked and turned into the exact file that will be committed.

use serde_json::{Map, Value};

use crate::post::{self, FrontMatter, Post, PostError, Slug};

/// A submission refused before anything is written, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    pub field: String,
    pub message: String,
}

impl Rejection {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Rejection {
        Rejection {
            field: field.into(),
            message: message.into(),
        }
    }

    fn from_post_error(error: &PostError, raw: bool) -> Rejection {
        let field = match error {
            // In a raw file the YAML itself is at fault, so point at the file.
            PostError::InvalidYaml(_) | PostError::NoFrontMatter if raw => "raw",
            other => other.field(),
        };
        Rejection::new(field, error.to_string())
    }
}

/// The two ways of sending a whole post.
#[derive(Debug, Clone, Copy)]
pub enum PostBody<'a> {
    /// Front matter as a JSON object, and the Markdown body.
    Structured {
        front_matter: &'a Value,
        markdown: &'a str,
    },
    /// The whole file, front matter included, as it will be stored.
    Raw(&'a str),
}

/// A post ready to commit: its slug and the file's text.
#[derive(Debug, Clone)]
pub struct PostFile {
    pub slug: Slug,
    pub text: String,
}

/// Checks a submitted post and composes its file.
///
/// The slug is, in order: `slug` (from the URL or the body), the front matter's `slug`, or
/// one derived from the title.
///
/// # Errors
/// A [`Rejection`] naming the field: `front_matter` not a mapping, `title` missing, an
/// invalid `slug`, YAML that does not parse (`raw`), or any front matter field of the
/// wrong type.
pub fn prepare(slug: Option<&str>, body: PostBody<'_>) -> Result<PostFile, Rejection> {
    let raw = matches!(body, PostBody::Raw(_));
    let text = match body {
        PostBody::Structured {
            front_matter,
            markdown,
        } => {
            let Value::Object(fields) = front_matter else {
                return Err(Rejection::new(
                    "front_matter",
                    "front_matter must be an object of keys to values",
                ));
            };
            FrontMatter::from_map(fields.clone())
                .map_err(|e| Rejection::from_post_error(&e, false))?;
            post::compose(fields, markdown).map_err(|e| Rejection::from_post_error(&e, false))?
        }
        PostBody::Raw(text) => text.to_owned(),
    };
    let front_matter =
        Post::front_matter(&text).map_err(|e| Rejection::from_post_error(&e, raw))?;
    check_characters(&front_matter.fields, &text, raw)?;
    check_render_cost(&text, raw)?;
    let slug = choose_slug(slug, &front_matter.fields, &front_matter.title)?;
    // What is committed reads back as a post: its front matter, read here as the site will
    // read it, is all a post can fail on (the Markdown always renders). The site renders
    // it while the writer makes the commit durable, off the acknowledgement's path.
    Ok(PostFile { slug, text })
}

/// Whether `c` may not be stored in a post: a control character other than tab and line
/// breaks. A NUL makes git treat the file as binary (its diffs say only "Binary files
/// differ"); the others render as nothing or break terminals.
fn forbidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Refuses control characters in the post's file and in its front matter's values (where a
/// YAML escape such as `"\0"` hides them from the file), naming the field that holds one.
///
/// # Errors
/// A [`Rejection`] naming the front matter key, or `markdown` (`raw`) for the body.
pub fn check_characters(
    fields: &Map<String, Value>,
    text: &str,
    raw: bool,
) -> Result<(), Rejection> {
    fn holds(value: &Value) -> bool {
        match value {
            Value::String(text) => text.chars().any(forbidden),
            Value::Array(items) => items.iter().any(holds),
            Value::Object(map) => map
                .iter()
                .any(|(k, v)| k.chars().any(forbidden) || holds(v)),
            _ => false,
        }
    }
    let refuse = |field: &str| {
        Err(Rejection::new(
            field,
            "control characters (NUL and others but tab and line breaks) are not allowed",
        ))
    };
    if let Some((key, _)) = fields
        .iter()
        .find(|(key, value)| key.chars().any(forbidden) || holds(value))
    {
        return refuse(if raw { "raw" } else { key });
    }
    if text.chars().any(forbidden) {
        return refuse(if raw { "raw" } else { "markdown" });
    }
    Ok(())
}

/// Refuses a post that would cost more to render than [`post::limits`] allows, so that the
/// fallback to plain text is only ever met by files that arrive by `git push`.
fn check_render_cost(text: &str, raw: bool) -> Result<(), Rejection> {
    let field = if raw { "raw" } else { "markdown" };
    let (_, body) = post::split_front_matter(text);
    if body.len() > post::limits::MAX_BODY_BYTES {
        return Err(Rejection::new(
            field,
            format!(
                "the body is {} bytes; at most {} bytes are allowed",
                body.len(),
                post::limits::MAX_BODY_BYTES
            ),
        ));
    }
    // The HTML's size is known only once rendered; the size check above bounds the cost.
    let rendered = Post::parse(Slug::parse("limit-check").expect("a valid slug"), text)
        .map_err(|e| Rejection::from_post_error(&e, raw))?;
    if let Some(reason) = rendered.not_rendered {
        return Err(Rejection::new(field, reason));
    }
    Ok(())
}

fn choose_slug(
    given: Option<&str>,
    fields: &Map<String, Value>,
    title: &str,
) -> Result<Slug, Rejection> {
    if let Some(given) = given {
        let slug = Slug::parse(given).map_err(|e| Rejection::new("slug", e.to_string()))?;
        check_front_matter_slug(fields, &slug)?;
        return Ok(slug);
    }
    match fields.get("slug") {
        Some(Value::String(text)) => {
            Slug::parse(text).map_err(|e| Rejection::new("front_matter.slug", e.to_string()))
        }
        Some(Value::Null) | None => slug_from_title(title).ok_or_else(|| {
            Rejection::new(
                "slug",
                "no slug given and none can be made from the title; send `slug`",
            )
        }),
        Some(_) => Err(Rejection::new(
            "front_matter.slug",
            "the front matter's slug must be a string",
        )),
    }
}

/// The front matter's `slug`, when there is one, must be a valid slug and the post's own:
/// the same rule for every write (create, replace, patch), so no route stores a slug
/// another refuses.
///
/// # Errors
/// A [`Rejection`] of `front_matter.slug`.
pub fn check_front_matter_slug(fields: &Map<String, Value>, slug: &Slug) -> Result<(), Rejection> {
    let field = "front_matter.slug";
    match fields.get("slug") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(text)) => {
            let named = Slug::parse(text).map_err(|e| Rejection::new(field, e.to_string()))?;
            if named == *slug {
                Ok(())
            } else {
                Err(Rejection::new(
                    field,
                    format!(
                        "the front matter's slug `{named}` is not the post's slug `{slug}`; \
                         rename the post instead"
                    ),
                ))
            }
        }
        Some(_) => Err(Rejection::new(
            field,
            "the front matter's slug must be a string",
        )),
    }
}

/// A slug made from a title: lower-cased ASCII letters and digits, every other run of
/// characters a single hyphen, cut at a word boundary to fit 80 characters.
pub fn slug_from_title(title: &str) -> Option<Slug> {
    let mut slug = String::new();
    for word in title
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        if slug.len() + word.len() + 1 > post::slug::MAX_LEN {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(word);
    }
    Slug::parse(&slug).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_slug_is_derived_from_the_title() {
        let slug = slug_from_title("Why does LayerNorm come before attention?").unwrap();
        assert_eq!(slug.as_str(), "why-does-layernorm-come-before-attention");
        assert_eq!(slug_from_title("√ — ?"), None);
        let long = slug_from_title(&"word ".repeat(40)).unwrap();
        assert!(long.as_str().len() <= 80 && !long.as_str().ends_with('-'));
    }

    #[test]
    fn a_structured_post_becomes_a_file_that_parses_back() {
        let front_matter = json!({"title": "KV cache", "tags": ["inference"], "series": "x"});
        let file = prepare(
            None,
            PostBody::Structured {
                front_matter: &front_matter,
                markdown: "## Question\n\nWhy?\n",
            },
        )
        .unwrap();
        assert_eq!(file.slug.as_str(), "kv-cache");
        let post = Post::parse(file.slug, &file.text).unwrap();
        assert_eq!(post.front_matter["series"], "x");
        assert_eq!(post.tags, ["inference"]);
    }

    #[test]
    fn the_front_matter_slug_is_used_when_none_is_given() {
        let front_matter = json!({"title": "T", "slug": "chosen"});
        let body = PostBody::Structured {
            front_matter: &front_matter,
            markdown: "",
        };
        assert_eq!(prepare(None, body).unwrap().slug.as_str(), "chosen");
        assert_eq!(
            prepare(Some("chosen"), body).unwrap().slug.as_str(),
            "chosen"
        );
        assert_eq!(field(Some("given"), body), "front_matter.slug");
        let escaping = json!({"title": "T", "slug": "../../etc"});
        assert_eq!(field(Some("t"), structured(&escaping)), "front_matter.slug");
    }

    fn field(slug: Option<&str>, body: PostBody<'_>) -> String {
        prepare(slug, body).unwrap_err().field
    }

    fn structured(front_matter: &Value) -> PostBody<'_> {
        PostBody::Structured {
            front_matter,
            markdown: "",
        }
    }

    #[test]
    fn rejections_name_the_offending_field() {
        assert_eq!(field(None, structured(&json!({"tags": []}))), "title");
        assert_eq!(field(None, structured(&json!(["a"]))), "front_matter");
        let titled = json!({"title": "T"});
        assert_eq!(field(Some("../x"), structured(&titled)), "slug");
        assert_eq!(field(None, PostBody::Raw("---\ntitle: [\n---\n")), "raw");
        assert_eq!(field(None, PostBody::Raw("no front matter")), "raw");
        assert_eq!(
            field(None, PostBody::Raw("---\n- a\n---\n")),
            "front_matter"
        );
        assert_eq!(field(None, PostBody::Raw("---\ntitle: 3\n---\n")), "title");
    }
}
