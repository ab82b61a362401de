//! What one post may cost to render: the size of the body that reaches the renderer and of
//! the HTML that comes out. The HTML sanitizer's time grows faster than linearly on some
//! inputs (thousands of tiny elements or character references in one paragraph), so the
//! only sure bound on time is a bound on size. A post over a limit is refused when written
//! through the API; one that arrives by `git push` is served as escaped plain text with a
//! warning instead.

/// The largest body (the file after its front matter) that is rendered as Markdown; fifteen
/// times the longest post of the sample blog.
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// The most HTML one post may render to, the whole post and its sections together: a body
/// within [`MAX_BODY_BYTES`] that expands past this (each `$x` becomes a math span) is shown
/// as plain text.
pub const MAX_HTML_BYTES: usize = 1024 * 1024;

/// Why a body is not rendered as Markdown, for a post's `warnings`; `None` when it is.
pub fn body_over_limit(markdown: &str) -> Option<String> {
    (markdown.len() > MAX_BODY_BYTES).then(|| {
        format!(
            "the body is {} bytes, over the limit of {MAX_BODY_BYTES} bytes rendered as \
             Markdown; it is shown as plain text",
            markdown.len()
        )
    })
}

/// The warning for a body whose HTML came out over [`MAX_HTML_BYTES`].
pub fn html_over_limit(bytes: usize) -> String {
    format!(
        "the body renders to {bytes} bytes of HTML, over the limit of {MAX_HTML_BYTES} \
         bytes; it is shown as plain text"
    )
}

/// The body as escaped plain text in a `<pre>`, cut to [`MAX_BODY_BYTES`] (at a character
/// boundary): linear in the size of the body, and never larger than six times the limit.
pub fn plain_text(markdown: &str) -> String {
    let mut end = markdown.len().min(MAX_BODY_BYTES);
    while !markdown.is_char_boundary(end) {
        end -= 1;
    }
    let mut html = String::with_capacity(end + end / 4 + 16);
    html.push_str("<pre>");
    pulldown_cmark_escape::escape_html(&mut html, &markdown[..end])
        .expect("writing to a String cannot fail");
    html.push_str("</pre>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_escaped_and_bounded() {
        assert_eq!(plain_text("<b>&\""), "<pre>&lt;b&gt;&amp;&quot;</pre>");
        let long = "é".repeat(MAX_BODY_BYTES);
        let html = plain_text(&long);
        assert!(html.len() <= MAX_BODY_BYTES + 11);
        assert!(body_over_limit(&long).is_some());
        assert!(body_over_limit("short").is_none());
    }
}
