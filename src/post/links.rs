//! Links from one post to others, as written in its body; the store resolves backlinks.

use super::render::Document;
use super::slug::Slug;

/// The posts a body links to, distinct and sorted.
///
/// A link counts when its destination, minus any `#fragment` or `?query`, is one of
/// `other-slug`, `other-slug.md`, `posts/other-slug`, `/posts/other-slug` (optionally
/// with `.md` or a trailing `/`) and the name is a valid slug. External URLs, in-page
/// anchors, assets and images are not links to posts. Whether the target exists is
/// for the caller to decide. Links written as raw HTML (`<a href="other-slug">`) count
/// like Markdown ones.
pub fn links_to(markdown: &str) -> Vec<Slug> {
    let document = Document::parse(markdown);
    let (_, references) = document.html_and_references(&document.events);
    references.posts.into_iter().collect()
}

/// The post a link destination points to, and what follows its path (`?query#fragment`).
pub(crate) fn post_reference(destination: &str) -> Option<(Slug, &str)> {
    let end = destination.find(['#', '?']).unwrap_or(destination.len());
    let (path, rest) = destination.split_at(end);
    let name = ["/posts/", "posts/", "./"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))
        .unwrap_or(path);
    let name = name.strip_suffix('/').unwrap_or(name);
    let name = name.strip_suffix(".md").unwrap_or(name);
    // The slug alphabet has no `:` or `/`, so URLs with a scheme and other paths fail here.
    Slug::parse(name).ok().map(|slug| (slug, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slugs(markdown: &str) -> Vec<String> {
        links_to(markdown)
            .into_iter()
            .map(|slug| slug.to_string())
            .collect()
    }

    #[test]
    fn every_written_form_of_a_post_link_is_recognised() {
        let markdown = "[a](alpha) [b](/posts/beta) [c](posts/gamma) [d](delta.md) \
                        [e](/posts/epsilon.md) [f](zeta#section) [g](/posts/eta/) [h](./theta)";
        assert_eq!(
            slugs(markdown),
            [
                "alpha", "beta", "delta", "epsilon", "eta", "gamma", "theta", "zeta"
            ]
        );
    }

    #[test]
    fn raw_html_links_count_and_raw_html_images_do_not() {
        assert_eq!(
            slugs(
                "<a href=\"alpha\">a</a> <img src=\"beta\">\n\n<p><a href=\"/posts/gamma\">g</a></p>\n"
            ),
            ["alpha", "gamma"]
        );
    }

    #[test]
    fn reference_style_links_count() {
        assert_eq!(
            slugs("See [the post][p].\n\n[p]: /posts/pre-ln\n"),
            ["pre-ln"]
        );
    }

    #[test]
    fn external_anchor_asset_and_image_destinations_are_not_post_links() {
        let markdown = "[w](https://example.com/posts/x) [m](mailto:a@b.c) [t](#takeaways) \
                        [s](/assets/plot.svg) ![img](plot) [u](Upper-Case) [n](../x) \
                        <https://example.com> [r](/about) [q](posts/a/b)";
        assert!(slugs(markdown).is_empty(), "{:?}", slugs(markdown));
    }

    #[test]
    fn links_are_distinct_and_sorted() {
        assert_eq!(slugs("[1](b) [2](a) [3](/posts/b#x) [4](b.md)"), ["a", "b"]);
    }

    #[test]
    fn links_inside_code_are_ignored() {
        assert!(slugs("`[a](alpha)`\n\n```\n[b](beta)\n```\n").is_empty());
    }
}
