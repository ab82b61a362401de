//! The layout of a post file: a `---` fenced YAML block, then the Markdown body.

use serde_json::{Map, Value};

use super::PostError;
use super::front_matter::MAX_FRONT_MATTER_BYTES;

/// Splits a post file into its front matter YAML and its body.
///
/// The file must open with a `---` line (a byte-order mark and `\r\n` endings are
/// fine); the block ends at the next line that is exactly `---` or `...`. The body's
/// leading blank lines are dropped, so `compose` and `split_front_matter` round-trip.
/// Without a complete block the result is `(None, source)`.
pub fn split_front_matter(source: &str) -> (Option<&str>, &str) {
    let text = source.strip_prefix('\u{feff}').unwrap_or(source);
    let Some((first, mut rest)) = text.split_once('\n') else {
        return (None, source);
    };
    if !is_delimiter(first, "---") {
        return (None, source);
    }
    let yaml_start = rest;
    let mut yaml_len = 0;
    while !rest.is_empty() {
        let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
        if is_delimiter(line, "---") || is_delimiter(line, "...") {
            return (Some(&yaml_start[..yaml_len]), skip_blank_lines(after));
        }
        yaml_len += rest.len() - after.len();
        rest = after;
    }
    (None, source)
}

/// A delimiter line, allowing trailing spaces and a `\r`.
fn is_delimiter(line: &str, delimiter: &str) -> bool {
    line.trim_end() == delimiter
}

/// Drops whole lines that hold only whitespace from the start of `text`, keeping the
/// indentation of the first real line (it can make that line a code block).
pub(crate) fn skip_blank_lines(text: &str) -> &str {
    let mut rest = text;
    loop {
        match rest.split_once('\n') {
            Some((line, after)) if line.trim().is_empty() => rest = after,
            None if rest.trim().is_empty() => return "",
            _ => return rest,
        }
    }
}

/// Writes a post file: `---\n<yaml>---\n\n<body>`, the body ending with a newline.
///
/// # Errors
/// [`PostError::FrontMatterTooLarge`] when the YAML would exceed the 64 KiB cap that
/// reading applies, so nothing is written that could not be read back;
/// [`PostError::InvalidYaml`] if the mapping cannot be written as YAML.
pub fn compose(front_matter: &Map<String, Value>, markdown: &str) -> Result<String, PostError> {
    let mut yaml =
        yaml_serde::to_string(front_matter).map_err(|e| PostError::InvalidYaml(e.to_string()))?;
    if yaml.len() > MAX_FRONT_MATTER_BYTES {
        return Err(PostError::FrontMatterTooLarge(MAX_FRONT_MATTER_BYTES));
    }
    if !yaml.ends_with('\n') {
        yaml.push('\n');
    }
    let mut file = format!("---\n{yaml}---\n");
    let body = skip_blank_lines(markdown);
    if !body.is_empty() {
        file.push('\n');
        file.push_str(body);
        if !body.ends_with('\n') {
            file.push('\n');
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_and_body_are_split() {
        let (yaml, body) = split_front_matter("---\ntitle: T\n---\n\n## Question\n");
        assert_eq!(yaml, Some("title: T\n"));
        assert_eq!(body, "## Question\n");
    }

    #[test]
    fn crlf_bom_dots_and_trailing_spaces_are_accepted() {
        let (yaml, body) = split_front_matter("\u{feff}---\r\ntitle: T\r\n...\r\n\r\nBody\r\n");
        assert_eq!(yaml, Some("title: T\r\n"));
        assert_eq!(body, "Body\r\n");
        let (yaml, body) = split_front_matter("---  \ntitle: T\n---\t\nBody");
        assert_eq!((yaml, body), (Some("title: T\n"), "Body"));
    }

    #[test]
    fn an_empty_block_and_an_empty_body_are_fine() {
        assert_eq!(split_front_matter("---\n---\n"), (Some(""), ""));
        assert_eq!(
            split_front_matter("---\ntitle: T\n---"),
            (Some("title: T\n"), "")
        );
    }

    #[test]
    fn without_a_complete_block_there_is_no_front_matter() {
        for source in [
            "",
            "---",
            "---\n",
            "---\ntitle: T\n",
            "title: T\n---\n",
            " ---\ntitle: T\n---\n",
            "----\ntitle: T\n----\n",
            "# Heading\n",
        ] {
            assert_eq!(split_front_matter(source), (None, source), "{source:?}");
        }
    }

    #[test]
    fn a_dashed_line_inside_a_yaml_string_still_closes_the_block() {
        // The delimiter rule is line-based, as in Hugo and Jekyll.
        let (yaml, body) = split_front_matter("---\na: |\n  x\n---\n  y\n");
        assert_eq!((yaml, body), (Some("a: |\n  x\n"), "  y\n"));
    }

    #[test]
    fn leading_blank_lines_are_skipped_but_indentation_kept() {
        assert_eq!(skip_blank_lines("\n  \n    code\n"), "    code\n");
        assert_eq!(skip_blank_lines(" \n \t "), "");
        assert_eq!(skip_blank_lines("text"), "text");
    }

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn compose_writes_a_fenced_block_and_a_newline_terminated_body() {
        let fm = map(serde_json::json!({"title": "T", "tags": ["a", "b"]}));
        let file = compose(&fm, "## Question\nWhy?").unwrap();
        assert_eq!(
            file,
            "---\ntitle: T\ntags:\n- a\n- b\n---\n\n## Question\nWhy?\n"
        );
        assert_eq!(
            compose(&fm, "\n\n").unwrap(),
            "---\ntitle: T\ntags:\n- a\n- b\n---\n"
        );
    }

    #[test]
    fn compose_and_split_round_trip_awkward_values() {
        let fm = map(serde_json::json!({
            "title": "Colons: and #hashes",
            "date": "2026-11-02",
            "looks_bool": "true",
            "looks_null": "null",
            "looks_number": "1e3",
            "empty": "",
            "dashes": "---",
            "multi": "line one\nline two\n",
            "unicode": "√d_k — ok",
            "number": 3.5,
            "nested": {"list": [1, null, false]},
        }));
        let body = "## Question\n\n---\n\nBody.\n";
        let file = compose(&fm, body).unwrap();
        let (yaml, parsed_body) = split_front_matter(&file);
        let parsed: Value = yaml_serde::from_str(yaml.unwrap()).unwrap();
        assert_eq!(parsed, Value::Object(fm));
        assert_eq!(parsed_body, body);
    }

    #[test]
    fn compose_refuses_front_matter_that_could_not_be_read_back() {
        let fm = map(serde_json::json!({"title": "a".repeat(MAX_FRONT_MATTER_BYTES)}));
        assert_eq!(
            compose(&fm, "").unwrap_err(),
            PostError::FrontMatterTooLarge(MAX_FRONT_MATTER_BYTES)
        );
    }
}
