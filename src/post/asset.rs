//! `AssetPath`: a figure's (or other asset's) name under `assets/`, checked like a slug so
//! that it can never leave that folder, and what a post's body means by an asset reference.

use std::fmt;

/// Where assets live inside the content repository.
pub const ASSETS_DIR: &str = "assets/";

/// The longest asset path accepted, in bytes.
pub const MAX_LEN: usize = 255;

/// The media types an author may upload: images, PDF, CSV and JSON.
const ACCEPTED_TYPES: [&str; 3] = ["application/pdf", "text/csv", "application/json"];

/// A validated path below `assets/`: `/`-separated names of ASCII letters, digits and
/// `-_.~+`, none empty, `.` or `..`, none starting with `.git`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetPath(String);

/// Why a string is not an asset path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an asset path: names of letters, digits and `-_.~+` separated by `/`, \
     with no empty, `.`, `..` or `.git` part, at most 255 bytes"
)]
pub struct AssetPathError(pub String);

impl AssetPath {
    /// Checks `input`, a path relative to `assets/`.
    ///
    /// # Errors
    /// [`AssetPathError`] for traversal (`..`, a leading `/`), `.git`, other characters, or
    /// a path too long.
    pub fn parse(input: &str) -> Result<AssetPath, AssetPathError> {
        let refuse = || AssetPathError(input.chars().take(MAX_LEN).collect());
        if input.is_empty() || input.len() > MAX_LEN {
            return Err(refuse());
        }
        let well_formed = input.split('/').all(|name| {
            !name.is_empty()
                && name != "."
                && name != ".."
                && !name.to_ascii_lowercase().starts_with(".git")
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~+".contains(&b))
        });
        if !well_formed {
            return Err(refuse());
        }
        Ok(AssetPath(input.to_owned()))
    }

    /// The asset of a repository path `assets/<path>`; `None` for anything else.
    pub fn from_repo_path(path: &str) -> Option<AssetPath> {
        AssetPath::parse(path.strip_prefix(ASSETS_DIR)?).ok()
    }

    /// The repository path of the asset: `assets/<path>`.
    pub fn repo_path(&self) -> String {
        format!("{ASSETS_DIR}{}", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its media type, from the extension (`application/octet-stream` when unknown).
    pub fn content_type(&self) -> &'static str {
        mime_guess::from_path(&self.0)
            .first_raw()
            .unwrap_or("application/octet-stream")
    }

    /// Whether an author may upload a file of this type (images, PDF, CSV, JSON).
    pub fn is_accepted_upload(&self) -> bool {
        let content_type = self.content_type();
        content_type.starts_with("image/") || ACCEPTED_TYPES.contains(&content_type)
    }
}

impl fmt::Display for AssetPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The asset a link or image destination in a body refers to, and what follows its path
/// (`?query#fragment`): `/assets/x.svg`, `assets/x.svg`, `./assets/x.svg` and
/// `../assets/x.svg` (any number of `../`) all name `x.svg`. Anything else is not an asset
/// reference.
pub fn asset_reference(destination: &str) -> Option<(AssetPath, &str)> {
    let end = destination.find(['?', '#']).unwrap_or(destination.len());
    let (path, rest) = destination.split_at(end);
    let mut path = path.strip_prefix('/').unwrap_or(path);
    while let Some(up) = path.strip_prefix("../") {
        path = up;
    }
    let path = path.strip_prefix("./").unwrap_or(path);
    let asset = AssetPath::parse(path.strip_prefix(ASSETS_DIR)?).ok()?;
    Some((asset, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_in_folders_are_asset_paths() {
        for path in [
            "softmax-saturation.svg",
            "plots/loss_curve.v2.png",
            "a+b~c.csv",
        ] {
            assert_eq!(AssetPath::parse(path).unwrap().as_str(), path);
        }
        assert_eq!(
            AssetPath::parse("plots/x.png").unwrap().repo_path(),
            "assets/plots/x.png"
        );
    }

    #[test]
    fn traversal_git_and_odd_characters_are_refused() {
        for path in [
            "",
            "/x.svg",
            "../x.svg",
            "a/../x.svg",
            "./x.svg",
            "a//b.png",
            "a/",
            ".git/config",
            ".gitignore",
            "x/.GIT/y",
            "a b.png",
            "a\\b.png",
            "é.png",
            "x.png?y",
            "%2e%2e/x",
        ] {
            assert!(AssetPath::parse(path).is_err(), "{path:?} accepted");
        }
        assert!(AssetPath::parse(&"a".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn types_come_from_the_extension_and_only_some_are_accepted() {
        let path = |p| AssetPath::parse(p).unwrap();
        assert_eq!(path("x.svg").content_type(), "image/svg+xml");
        assert_eq!(path("x.png").content_type(), "image/png");
        assert_eq!(path("x").content_type(), "application/octet-stream");
        for accepted in [
            "x.svg", "x.png", "x.jpg", "x.webp", "x.pdf", "x.csv", "x.json",
        ] {
            assert!(path(accepted).is_accepted_upload(), "{accepted}");
        }
        for refused in ["x.html", "x.js", "x", "x.exe", "x.md"] {
            assert!(!path(refused).is_accepted_upload(), "{refused}");
        }
    }

    #[test]
    fn every_written_form_of_an_asset_reference_is_recognised() {
        let name = |d| asset_reference(d).map(|(a, rest)| format!("{a}{rest}"));
        assert_eq!(name("/assets/x.svg").as_deref(), Some("x.svg"));
        assert_eq!(name("assets/x.svg").as_deref(), Some("x.svg"));
        assert_eq!(name("../assets/x.svg").as_deref(), Some("x.svg"));
        assert_eq!(name("../../assets/p/x.png#f").as_deref(), Some("p/x.png#f"));
        assert_eq!(name("./assets/x.svg?v=2").as_deref(), Some("x.svg?v=2"));
        for other in [
            "https://e.org/assets/x.svg",
            "x.svg",
            "/posts/x",
            "assets/",
            "/assets/../x",
        ] {
            assert_eq!(name(other), None, "{other}");
        }
    }
}
