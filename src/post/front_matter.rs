//! Front matter: the YAML mapping at the top of a post, kept whole (every key, in
//! order) and checked for the fields the blog relies on.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{PostError, yaml};

/// Front matter larger than this is rejected before the YAML parser sees it.
pub const MAX_FRONT_MATTER_BYTES: usize = 64 * 1024;

/// Whether anonymous readers can see a post.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Published,
    Draft,
}

/// A post's front matter: every key as written, plus the typed fields the blog uses.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontMatter {
    /// Every key, in file order; unknown keys are kept untouched.
    pub fields: Map<String, Value>,
    pub title: String,
    /// As written: `YYYY-MM-DD` or RFC 3339.
    pub date: Option<String>,
    pub tags: Vec<String>,
    pub status: Status,
    pub summary: Option<String>,
    /// Problems worth telling the author about that do not make the post invalid.
    pub warnings: Vec<String>,
}

impl FrontMatter {
    /// Parses the YAML text between the `---` lines.
    ///
    /// # Errors
    /// [`PostError::FrontMatterTooLarge`] over 64 KiB, [`PostError::InvalidYaml`],
    /// [`PostError::NotAMapping`], or any error of [`FrontMatter::from_map`].
    pub fn parse(yaml: &str) -> Result<FrontMatter, PostError> {
        if yaml.len() > MAX_FRONT_MATTER_BYTES {
            return Err(PostError::FrontMatterTooLarge(MAX_FRONT_MATTER_BYTES));
        }
        // An empty block (or one of only comments) is an empty mapping, so the author
        // hears about the missing title rather than about YAML.
        let value = if yaml.trim().is_empty() {
            Value::Null
        } else {
            yaml::to_json(yaml)?
        };
        match value {
            Value::Object(fields) => FrontMatter::from_map(fields),
            Value::Null => FrontMatter::from_map(Map::new()),
            _ => Err(PostError::NotAMapping),
        }
    }

    /// Checks a mapping (parsed from YAML, or sent as JSON by a client).
    ///
    /// # Errors
    /// [`PostError::MissingTitle`], or [`PostError::InvalidField`] for a `title`,
    /// `tags`, `status`, `draft`, `date` or `summary` of the wrong type or value.
    pub fn from_map(fields: Map<String, Value>) -> Result<FrontMatter, PostError> {
        let mut warnings = Vec::new();
        let title = title(fields.get("title"))?;
        let date = optional_string(&fields, "date", "must be a date (YYYY-MM-DD or RFC 3339)")?;
        if let Some(date) = &date {
            warnings.extend(date_warning(date));
        }
        let status = status(&fields, &mut warnings)?;
        let tags = tags(fields.get("tags"))?;
        let summary = optional_string(&fields, "summary", "must be a string")?;
        warnings.extend(references_warning(fields.get("references")));
        Ok(FrontMatter {
            fields,
            title,
            date,
            tags,
            status,
            summary,
            warnings,
        })
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PostError {
    PostError::InvalidField {
        field,
        reason: reason.into(),
    }
}

fn title(value: Option<&Value>) -> Result<String, PostError> {
    match value {
        None | Some(Value::Null) => Err(PostError::MissingTitle),
        Some(Value::String(title)) if title.trim().is_empty() => Err(PostError::MissingTitle),
        Some(Value::String(title)) => Ok(title.trim().to_owned()),
        Some(other) => Err(invalid(
            "title",
            format!("must be a string, not {}", describe(other)),
        )),
    }
}

/// A string field that may be absent or null.
fn optional_string(
    fields: &Map<String, Value>,
    field: &'static str,
    requirement: &str,
) -> Result<Option<String>, PostError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(
            field,
            format!("{requirement}, not {}", describe(other)),
        )),
    }
}

/// Feeds and sorting need a machine-readable date, but a post with an odd one is
/// still worth serving, so this only warns.
fn date_warning(date: &str) -> Option<String> {
    let parses = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok()
        || chrono::DateTime::parse_from_rfc3339(date).is_ok();
    (!parses).then(|| format!("`date` {date:?} is not YYYY-MM-DD or RFC 3339"))
}

/// `status` wins; without it, Hugo's `draft: true` marks a draft.
fn status(fields: &Map<String, Value>, warnings: &mut Vec<String>) -> Result<Status, PostError> {
    let draft = match fields.get("draft") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(draft)) => Some(*draft),
        Some(other) => {
            return Err(invalid(
                "draft",
                format!("must be true or false, not {}", describe(other)),
            ));
        }
    };
    let status = match fields.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "published" => Some(Status::Published),
        Some(Value::String(s)) if s == "draft" => Some(Status::Draft),
        Some(other) => {
            return Err(invalid(
                "status",
                format!("must be \"published\" or \"draft\", not {other}"),
            ));
        }
    };
    match (status, draft) {
        (Some(Status::Published), Some(true)) => {
            warnings.push("`draft: true` is ignored because `status` is published".to_owned());
            Ok(Status::Published)
        }
        (Some(status), _) => Ok(status),
        (None, Some(true)) => Ok(Status::Draft),
        (None, _) => Ok(Status::Published),
    }
}

/// A list of strings, or a single string as one tag; blank and repeated tags dropped.
fn tags(value: Option<&Value>) -> Result<Vec<String>, PostError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.as_slice(),
        Some(single @ Value::String(_)) => std::slice::from_ref(single),
        Some(other) => {
            return Err(invalid(
                "tags",
                format!("must be a list of strings, not {}", describe(other)),
            ));
        }
    };
    let mut tags: Vec<String> = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let Value::String(tag) = item else {
            return Err(invalid(
                "tags",
                format!(
                    "must be a list of strings; item {} is {}",
                    n + 1,
                    describe(item)
                ),
            ));
        };
        let tag = tag.trim();
        if !tag.is_empty() && !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    }
    Ok(tags)
}

/// `references` is for readers, not for the API's logic, so a wrong shape only warns.
fn references_warning(value: Option<&Value>) -> Option<String> {
    const SHAPE: &str = "`references` should be a list of {title, url} entries";
    let items = match value? {
        Value::Null => return None,
        Value::Array(items) => items,
        other => return Some(format!("{SHAPE}, not {}", describe(other))),
    };
    let is_string =
        |entry: &Map<String, Value>, key: &str| entry.get(key).is_some_and(Value::is_string);
    let bad: Vec<String> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| {
            !item
                .as_object()
                .is_some_and(|entry| is_string(entry, "title") && is_string(entry, "url"))
        })
        .map(|(n, _)| (n + 1).to_string())
        .collect();
    (!bad.is_empty()).then(|| format!("{SHAPE}; check item(s) {}", bad.join(", ")))
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<FrontMatter, PostError> {
        FrontMatter::parse(yaml)
    }

    fn field_error(yaml: &str) -> &'static str {
        match parse(yaml) {
            Err(PostError::InvalidField { field, .. }) => field,
            other => panic!("expected an invalid field for {yaml:?}, got {other:?}"),
        }
    }

    #[test]
    fn every_key_is_kept_in_file_order() {
        let fm = parse("zeta: 1\ntitle: T\nalpha: {nested: [1, two]}\ndate: 2026-11-02\n").unwrap();
        let keys: Vec<_> = fm.fields.keys().map(String::as_str).collect();
        assert_eq!(keys, ["zeta", "title", "alpha", "date"]);
        assert_eq!(
            fm.fields["alpha"],
            serde_json::json!({"nested": [1, "two"]})
        );
    }

    #[test]
    fn dates_and_timestamps_stay_strings_as_written() {
        let fm = parse("title: T\ndate: 2026-11-02\n").unwrap();
        assert_eq!(fm.date.as_deref(), Some("2026-11-02"));
        assert_eq!(fm.fields["date"], "2026-11-02");
        let fm = parse("title: T\ndate: 2026-11-02T10:30:00+01:00\n").unwrap();
        assert_eq!(fm.date.as_deref(), Some("2026-11-02T10:30:00+01:00"));
        assert!(fm.warnings.is_empty(), "{:?}", fm.warnings);
    }

    #[test]
    fn an_unreadable_date_is_a_warning() {
        let fm = parse("title: T\ndate: next tuesday\n").unwrap();
        assert_eq!(fm.warnings.len(), 1, "{:?}", fm.warnings);
        assert_eq!(field_error("title: T\ndate: 2026\n"), "date");
    }

    #[test]
    fn the_title_is_required() {
        assert_eq!(parse("tags: [a]\n").unwrap_err(), PostError::MissingTitle);
        assert_eq!(
            parse("title: \"  \"\n").unwrap_err(),
            PostError::MissingTitle
        );
        assert_eq!(parse("title:\n").unwrap_err(), PostError::MissingTitle);
        assert_eq!(parse("").unwrap_err(), PostError::MissingTitle);
        assert_eq!(
            parse("# only a comment\n").unwrap_err(),
            PostError::MissingTitle
        );
        assert_eq!(field_error("title: [a]\n"), "title");
    }

    #[test]
    fn tags_are_a_list_of_strings_or_one_string() {
        assert_eq!(
            parse("title: T\ntags: [a, b, a, ' ']\n").unwrap().tags,
            ["a", "b"]
        );
        assert_eq!(parse("title: T\ntags: solo\n").unwrap().tags, ["solo"]);
        assert!(parse("title: T\n").unwrap().tags.is_empty());
        assert_eq!(field_error("title: T\ntags: 3\n"), "tags");
        assert_eq!(field_error("title: T\ntags: [a, 2]\n"), "tags");
        assert_eq!(field_error("title: T\ntags: {a: b}\n"), "tags");
    }

    #[test]
    fn status_defaults_to_published_and_honours_hugo_draft() {
        assert_eq!(parse("title: T\n").unwrap().status, Status::Published);
        assert_eq!(
            parse("title: T\nstatus: draft\n").unwrap().status,
            Status::Draft
        );
        assert_eq!(
            parse("title: T\ndraft: true\n").unwrap().status,
            Status::Draft
        );
        assert_eq!(
            parse("title: T\ndraft: false\n").unwrap().status,
            Status::Published
        );
        let fm = parse("title: T\nstatus: published\ndraft: true\n").unwrap();
        assert_eq!(fm.status, Status::Published);
        assert_eq!(fm.warnings.len(), 1);
    }

    #[test]
    fn an_unknown_status_is_rejected() {
        assert_eq!(field_error("title: T\nstatus: archived\n"), "status");
        assert_eq!(field_error("title: T\nstatus: true\n"), "status");
        assert_eq!(field_error("title: T\ndraft: maybe\n"), "draft");
        let message = parse("title: T\nstatus: Draft\n").unwrap_err().to_string();
        assert_eq!(
            message,
            "`status` must be \"published\" or \"draft\", not \"Draft\""
        );
    }

    #[test]
    fn summary_must_be_a_string() {
        assert_eq!(
            parse("title: T\nsummary: S\n").unwrap().summary.as_deref(),
            Some("S")
        );
        assert_eq!(field_error("title: T\nsummary: [s]\n"), "summary");
    }

    #[test]
    fn malformed_references_are_a_warning_not_an_error() {
        let good = "title: T\nreferences:\n  - {title: Paper, url: 'https://x.org'}\n";
        assert!(parse(good).unwrap().warnings.is_empty());
        let bad = parse("title: T\nreferences:\n  - just a string\n  - {title: x}\n").unwrap();
        assert_eq!(bad.warnings.len(), 1);
        assert!(
            bad.warnings[0].contains("item(s) 1, 2"),
            "{:?}",
            bad.warnings
        );
        assert_eq!(
            parse("title: T\nreferences: 3\n").unwrap().warnings.len(),
            1
        );
    }

    #[test]
    fn invalid_yaml_and_non_mappings_are_rejected() {
        assert!(matches!(
            parse("title: [unclosed\n"),
            Err(PostError::InvalidYaml(_))
        ));
        assert!(matches!(
            parse("title: a\n  bad: indent\n"),
            Err(PostError::InvalidYaml(_))
        ));
        assert_eq!(parse("- a\n- b\n").unwrap_err(), PostError::NotAMapping);
        assert_eq!(parse("just text\n").unwrap_err(), PostError::NotAMapping);
    }

    #[test]
    fn oversized_front_matter_is_rejected_before_parsing() {
        let yaml = format!("title: T\nx: \"{}\n", "a".repeat(MAX_FRONT_MATTER_BYTES));
        assert_eq!(
            parse(&yaml).unwrap_err(),
            PostError::FrontMatterTooLarge(MAX_FRONT_MATTER_BYTES)
        );
    }

    #[test]
    fn from_map_validates_json_sent_by_clients() {
        let map = serde_json::json!({"title": "From JSON", "tags": ["a"], "status": "draft"});
        let Value::Object(map) = map else {
            unreachable!()
        };
        let fm = FrontMatter::from_map(map).unwrap();
        assert_eq!((fm.title.as_str(), fm.status), ("From JSON", Status::Draft));
    }
}
