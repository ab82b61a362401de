//! Where a post's links point once rendered: links between posts go to the frontend's page
//! for the post (`--post-url`), references to assets to where they are served
//! (`--public-url`), whichever way the author wrote them.

use super::asset::{AssetPath, asset_reference};
use super::links::post_reference;
use super::slug::Slug;

/// What a link or an image in a body refers to, when it is a post or an asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reference {
    Post(Slug),
    Asset(AssetPath),
}

/// The placeholder a post URL template holds for the slug.
pub const SLUG_PLACEHOLDER: &str = "{slug}";

/// The URLs rendered links point to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    /// A template holding `{slug}` once or more, e.g. `/posts/{slug}`.
    post_url: String,
    /// Prefixed to `/assets/<path>`: the public URL without its trailing `/`, or nothing.
    asset_base: String,
}

impl Default for Addresses {
    fn default() -> Addresses {
        Addresses::new("/posts/{slug}", None)
    }
}

impl Addresses {
    /// `post_url` should hold `{slug}` (else every post link points to the same place);
    /// `public_url`, when set, makes asset URLs absolute.
    pub fn new(post_url: &str, public_url: Option<&str>) -> Addresses {
        Addresses {
            post_url: post_url.to_owned(),
            asset_base: public_url
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned(),
        }
    }

    /// Where the post `slug` lives on the frontend.
    pub fn post(&self, slug: &Slug) -> String {
        self.post_url.replace(SLUG_PLACEHOLDER, slug.as_str())
    }

    /// Where the asset is served.
    pub fn asset(&self, path: &AssetPath) -> String {
        format!("{}/assets/{path}", self.asset_base)
    }

    /// The rendered destination of a link, when it points to an asset or a post (keeping
    /// its `?query` and `#fragment`); `None` leaves it as written.
    pub fn link(&self, destination: &str) -> Option<String> {
        self.resolve_link(destination).map(|(_, url)| url)
    }

    /// The rendered source of an image, when it is an asset.
    pub fn image(&self, destination: &str) -> Option<String> {
        self.resolve_image(destination).map(|(_, url)| url)
    }

    /// [`Addresses::link`], with what the link refers to.
    pub(crate) fn resolve_link(&self, destination: &str) -> Option<(Reference, String)> {
        if let Some(asset) = self.resolve_image(destination) {
            return Some(asset);
        }
        let (slug, rest) = post_reference(destination)?;
        let url = format!("{}{rest}", self.post(&slug));
        Some((Reference::Post(slug), url))
    }

    /// [`Addresses::image`], with the asset it refers to. Images never refer to posts.
    pub(crate) fn resolve_image(&self, destination: &str) -> Option<(Reference, String)> {
        let (path, rest) = asset_reference(destination)?;
        let url = format!("{}{rest}", self.asset(&path));
        Some((Reference::Asset(path), url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_links_follow_the_template_whichever_way_they_were_written() {
        let addresses = Addresses::new("https://blog.example.org/p/{slug}/", None);
        for written in [
            "other",
            "/posts/other",
            "posts/other.md",
            "./other",
            "other/",
        ] {
            assert_eq!(
                addresses.link(written).as_deref(),
                Some("https://blog.example.org/p/other/"),
                "{written}"
            );
        }
        assert_eq!(
            addresses.link("other#takeaways").as_deref(),
            Some("https://blog.example.org/p/other/#takeaways")
        );
        for left in [
            "https://example.org/x",
            "#takeaways",
            "/about",
            "mailto:a@b.c",
        ] {
            assert_eq!(addresses.link(left), None, "{left}");
        }
    }

    #[test]
    fn asset_references_point_to_the_public_url_or_the_root() {
        let public = Addresses::new("/posts/{slug}", Some("https://api.example.org/"));
        let local = Addresses::default();
        for written in ["/assets/x.svg", "assets/x.svg", "../assets/x.svg"] {
            assert_eq!(
                public.image(written).as_deref(),
                Some("https://api.example.org/assets/x.svg")
            );
            assert_eq!(local.image(written).as_deref(), Some("/assets/x.svg"));
            assert_eq!(local.link(written).as_deref(), Some("/assets/x.svg"));
        }
        assert_eq!(local.image("https://example.org/a.png"), None);
        assert_eq!(local.image("plot.png"), None);
    }
}
