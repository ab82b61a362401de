//! The HTML allow-list: what of the rendered HTML (and of raw HTML in posts) reaches
//! clients. It keeps exactly what the renderer emits (heading and footnote ids, math
//! and code classes, table alignment, task-list checkboxes) and drops scripts,
//! frames, styles, event handlers and `javascript:` URLs.
//!
//! It is also where links and images point where the [`Addresses`] say: the sanitizer
//! sees every `href`, `src` and `srcset` that reaches a reader, written in Markdown or as
//! raw HTML, so both follow one rule, and what they refer to is collected here too.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::addresses::{Addresses, Reference};
use super::asset::AssetPath;
use super::slug::Slug;

/// The three alignments pulldown-cmark writes on table cells, the only styles kept.
const TABLE_ALIGNMENTS: [&str; 3] = [
    "text-align: left",
    "text-align: center",
    "text-align: right",
];

/// The posts and assets that the links and images of sanitized HTML refer to.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct References {
    pub(crate) posts: BTreeSet<Slug>,
    pub(crate) assets: BTreeSet<AssetPath>,
}

/// The addresses of the `sanitize` call running on this thread, and what it found so far.
struct Addressing {
    addresses: Addresses,
    found: References,
}

thread_local! {
    /// The sanitizer is built once, so its attribute filter cannot capture the addresses
    /// of one call; `sanitize` lends them here for the duration of `clean`, which calls
    /// the filter on this same thread.
    static ADDRESSING: RefCell<Option<Addressing>> = const { RefCell::new(None) };
}

/// Cleans rendered HTML, including any raw HTML the author wrote, with its links and
/// images pointing where `addresses` say; returns what they refer to.
pub(crate) fn sanitize(html: &str, addresses: &Addresses) -> (String, References) {
    ADDRESSING.set(Some(Addressing {
        addresses: addresses.clone(),
        found: References::default(),
    }));
    let html = sanitizer().clean(html).to_string();
    let found = ADDRESSING
        .take()
        .map(|addressing| addressing.found)
        .unwrap_or_default();
    (html, found)
}

/// Built once: the builder is immutable after setup and `clean` takes `&self`.
fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
        let mut builder = ammonia::Builder::default();
        builder
            .add_tags(["input", "picture", "source"])
            .add_clean_content_tags(["iframe"])
            .add_tag_attributes("span", ["class"])
            .add_tag_attributes("code", ["class"])
            .add_tag_attributes("div", ["class", "id"])
            .add_tag_attributes("sup", ["class"])
            .add_tag_attributes("th", ["style"])
            .add_tag_attributes("td", ["style"])
            .add_tag_attributes("input", ["checked", "type", "disabled"])
            // Responsive figures; `srcset` URLs are checked in `address_srcset`.
            .add_tag_attributes("img", ["srcset", "sizes"])
            .add_tag_attributes("source", ["srcset", "sizes", "type", "media"])
            // Any <input> that survives is disabled, and a checkbox if it has a type (see
            // `filter_attribute`). One value set, not two: ammonia appends missing set
            // attributes in its hash map's order, which differs from process to process,
            // and the HTML is hashed into the post's ETag.
            .set_tag_attribute_value("input", "disabled", "")
            .attribute_filter(filter_attribute);
        for heading in ["h1", "h2", "h3", "h4", "h5", "h6"] {
            builder.add_tag_attributes(heading, ["id"]);
        }
        builder
    });
    &SANITIZER
}

/// Narrows the allowed `class` and `style` attributes to the values the renderer uses, makes
/// any `<input>` with a type a checkbox, and points links and images to posts and assets where the addresses say. Ammonia has
/// already dropped disallowed elements' attributes and URLs with unsafe schemes.
fn filter_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    match (element, attribute) {
        (_, "class") => {
            let kept: Vec<&str> = value
                .split_ascii_whitespace()
                .filter(|class| class_allowed(element, class))
                .collect();
            (!kept.is_empty()).then(|| Cow::Owned(kept.join(" ")))
        }
        (_, "style") => TABLE_ALIGNMENTS
            .contains(&value)
            .then_some(Cow::Borrowed(value)),
        ("input", "type") => Some(Cow::Borrowed("checkbox")),
        ("a" | "area", "href") => Some(address(value, Addresses::resolve_link)),
        ("img", "src") => Some(address(value, Addresses::resolve_image)),
        ("img" | "source", "srcset") => address_srcset(value).map(Cow::Owned),
        _ => Some(Cow::Borrowed(value)),
    }
}

/// `destination` pointing where the current call's addresses say, noting what it refers to.
fn address<'u>(
    destination: &'u str,
    resolve: fn(&Addresses, &str) -> Option<(Reference, String)>,
) -> Cow<'u, str> {
    ADDRESSING.with_borrow_mut(|addressing| {
        let Some(addressing) = addressing else {
            return Cow::Borrowed(destination);
        };
        let Some((reference, url)) = resolve(&addressing.addresses, destination) else {
            return Cow::Borrowed(destination);
        };
        match reference {
            Reference::Post(slug) => addressing.found.posts.insert(slug),
            Reference::Asset(path) => addressing.found.assets.insert(path),
        };
        Cow::Owned(url)
    })
}

/// A `srcset` (`url [width or density], ...`) with each image pointing where the addresses
/// say. Ammonia does not check the URLs of a `srcset` as it does `src`, so the attribute is
/// dropped unless every candidate is a relative or `http(s)` URL with at most a plain
/// `480w` or `2x` descriptor.
fn address_srcset(srcset: &str) -> Option<String> {
    let candidates: Vec<(&str, Option<&str>)> = srcset
        .split(',')
        .map(|candidate| {
            let mut parts = candidate.split_ascii_whitespace();
            let url = parts.next().filter(|url| safe_image_url(url))?;
            let descriptor = parts.next();
            let plain = parts.next().is_none() && descriptor.is_none_or(is_descriptor);
            plain.then_some((url, descriptor))
        })
        .collect::<Option<_>>()?;
    let addressed: Vec<String> = candidates
        .into_iter()
        .map(|(url, descriptor)| {
            let url = address(url, Addresses::resolve_image);
            match descriptor {
                Some(descriptor) => format!("{url} {descriptor}"),
                None => url.into_owned(),
            }
        })
        .collect();
    Some(addressed.join(", "))
}

fn safe_image_url(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(url) => matches!(url.scheme(), "http" | "https"),
        Err(error) => error == url::ParseError::RelativeUrlWithoutBase,
    }
}

/// A width (`480w`) or a pixel density (`2x`, `1.5x`).
fn is_descriptor(descriptor: &str) -> bool {
    let number = |n: &str| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && n.parse::<f64>().is_ok()
    };
    match descriptor.split_at(descriptor.len().saturating_sub(1)) {
        (width, "w") => !width.is_empty() && width.bytes().all(|b| b.is_ascii_digit()),
        (density, "x") => number(density),
        _ => false,
    }
}

fn class_allowed(element: &str, class: &str) -> bool {
    match element {
        "span" => matches!(class, "math" | "math-inline" | "math-display"),
        "code" => class
            .strip_prefix("language-")
            .is_some_and(|language| !language.is_empty()),
        "div" => class == "footnote-definition",
        "sup" => matches!(class, "footnote-reference" | "footnote-definition-label"),
        _ => false,
    }
}

/// Elements without content, which therefore never nest.
const VOID_ELEMENTS: [&str; 15] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr",
];

/// Whether `html` might nest elements more than `limit` deep once parsed.
///
/// The HTML parser behind the sanitizer spends time proportional to nesting depth on
/// each element, so a megabyte of `<div>` costs minutes. This estimate errs high: an end
/// tag only closes the element opened last, so unclosed or misnested tags, which the
/// browser-grade parser might keep open, count as open.
pub(crate) fn may_nest_deeper_than(html: &str, limit: usize) -> bool {
    let mut open: Vec<&str> = Vec::new();
    for after_bracket in html.split('<').skip(1) {
        let (closing, tag) = match after_bracket.strip_prefix('/') {
            Some(tag) => (true, tag),
            None => (false, after_bracket),
        };
        if !tag.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue; // text, comment, doctype
        }
        let name_len = tag.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let name = &tag[..name_len];
        if closing {
            if open
                .last()
                .is_some_and(|top| top.eq_ignore_ascii_case(name))
            {
                open.pop();
            }
        } else if !VOID_ELEMENTS.iter().any(|v| v.eq_ignore_ascii_case(name)) {
            open.push(name);
            if open.len() > limit {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sanitize(html: &str) -> String {
        super::sanitize(html, &Addresses::default()).0
    }

    #[test]
    fn what_the_renderer_emits_survives() {
        for html in [
            r#"<h2 id="question">Question</h2>"#,
            r#"<span class="math math-inline">a&lt;b</span>"#,
            r#"<span class="math math-display">\sqrt{d_k}</span>"#,
            r#"<pre><code class="language-rust">fn main() {}</code></pre>"#,
            r#"<table><thead><tr><th style="text-align: center">a</th></tr></thead></table>"#,
            r##"<a href="#fn-1" rel="noopener noreferrer">1</a>"##,
            r#"<sup class="footnote-reference">1</sup>"#,
            r#"<div class="footnote-definition" id="fn-1">x</div>"#,
            r#"<sup class="footnote-definition-label">1</sup>"#,
            r#"<del>old</del>"#,
        ] {
            assert_eq!(sanitize(html), html);
        }
    }

    #[test]
    fn scripts_frames_and_styles_are_removed_with_their_content() {
        let out = sanitize(concat!(
            "<script>alert(1)</script>",
            "<iframe src=\"https://evil.example\">inside</iframe>",
            "<style>body { display: none }</style>",
            "<p>kept</p>",
        ));
        assert_eq!(out, "<p>kept</p>");
    }

    #[test]
    fn event_handlers_and_javascript_urls_are_removed() {
        let out = sanitize(
            r#"<a href="javascript:alert(1)" onclick="x()">a</a><img src=x onerror="y()">"#,
        );
        assert_eq!(out, r#"<a rel="noopener noreferrer">a</a><img src="x">"#);
    }

    #[test]
    fn raw_html_cannot_forge_renderer_attributes() {
        let out = sanitize(concat!(
            r#"<span class="math evil" style="text-align: left">x</span>"#,
            r#"<p class="math" id="p">p</p>"#,
            r#"<table><tr><td style="text-align: left; background: url(x)">c</td></tr></table>"#,
        ));
        assert_eq!(
            out,
            concat!(
                r#"<span class="math">x</span><p>p</p>"#,
                "<table><tbody><tr><td>c</td></tr></tbody></table>"
            )
        );
    }

    #[test]
    fn srcset_keeps_plain_candidates_and_drops_any_unsafe_one() {
        let kept = sanitize(concat!(
            r#"<picture><source srcset="assets/dark.svg" media="(prefers-color-scheme: dark)" type="image/svg+xml">"#,
            r#"<img src="/assets/a.png" srcset="/assets/a.png 1x, ../assets/a-2x.png 2x, https://cdn.example.org/a.png 1.5x" sizes="50vw" alt="a"></picture>"#,
        ));
        assert_eq!(
            kept,
            concat!(
                r#"<picture><source srcset="/assets/dark.svg" media="(prefers-color-scheme: dark)" type="image/svg+xml">"#,
                r#"<img src="/assets/a.png" srcset="/assets/a.png 1x, /assets/a-2x.png 2x, https://cdn.example.org/a.png 1.5x" sizes="50vw" alt="a"></picture>"#,
            )
        );
        for unsafe_srcset in [
            "javascript:alert(1) 1x",
            "a.png 1x, javascript:alert(1) 2x",
            "data:image/png;base64,AAAA 1x",
            "a.png 1x 2x",
            "a.png evil",
            "a.png 1x,",
        ] {
            let out = sanitize(&format!(r#"<img srcset="{unsafe_srcset}">"#));
            assert_eq!(out, "<img>", "{unsafe_srcset}");
        }
    }

    #[test]
    fn any_input_becomes_disabled_and_a_typed_one_a_checkbox() {
        let out = sanitize(r#"<input type="text" value="v" onfocus="f()">"#);
        // Attributes in the order written, the one added last: the same in every process.
        assert_eq!(out, r#"<input type="checkbox" disabled="">"#);
        assert_eq!(
            sanitize(r#"<input type="password" disabled="no">"#),
            r#"<input type="checkbox" disabled="">"#
        );
        assert_eq!(sanitize("<input>"), r#"<input disabled="">"#);
        assert!(
            !out.contains("text") && !out.contains("value") && !out.contains("onfocus"),
            "{out}"
        );
    }

    #[test]
    fn nesting_estimate_follows_well_formed_html() {
        let balanced = "<div><p>a<br><img src=x></p></div>".repeat(1_000);
        assert!(!may_nest_deeper_than(&balanced, 2));
        assert!(may_nest_deeper_than(&balanced, 1));
        assert!(!may_nest_deeper_than(
            "<DIV><b>x</B></div> a < b <!-- <x> -->",
            2
        ));
    }

    #[test]
    fn nesting_estimate_counts_unclosed_and_misnested_tags() {
        assert!(may_nest_deeper_than(&"<div>".repeat(11), 10));
        assert!(may_nest_deeper_than(&"<b><i></b></i>".repeat(11), 10));
        assert!(may_nest_deeper_than(&"<div/></x>".repeat(11), 10));
    }
}
