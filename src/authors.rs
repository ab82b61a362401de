//! Who may write: authors and their bearer tokens, held only as SHA-256 hashes and compared
//! in constant time.

use std::path::Path;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::Identity;

/// The prefix of every token `palimpsest token new` makes, so leaked tokens are easy to grep.
const TOKEN_PREFIX: &str = "pal_";

type TokenHash = [u8; 32];

/// The authors allowed to write, each with the hash of their token.
#[derive(Debug, Clone, Default)]
pub struct Authors {
    entries: Vec<(TokenHash, Identity)>,
}

impl Authors {
    /// One author from `PALIMPSEST_TOKEN` and `PALIMPSEST_AUTHOR`.
    pub fn single(token: &str, identity: Identity) -> Authors {
        Authors {
            entries: vec![(hash(token), identity)],
        }
    }

    /// Authors from a tokens file: one `sha256:<hex> Name <email>` per line, `#` comments.
    ///
    /// # Errors
    /// The line number and what is wrong with it (never the token itself).
    pub fn from_file(path: &Path) -> anyhow::Result<Authors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading tokens file {}: {e}", path.display()))?;
        Authors::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    fn parse(text: &str) -> Result<Authors, String> {
        let mut entries = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| format!("line {}: {what}", number + 1);
            let (hash, who) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| bad("expected `sha256:<hex> Name <email>`"))?;
            let hex_hash = hash
                .strip_prefix("sha256:")
                .ok_or_else(|| bad("the hash must start with `sha256:`"))?;
            let mut digest = [0u8; 32];
            hex::decode_to_slice(hex_hash, &mut digest)
                .map_err(|_| bad("the hash must be 64 hexadecimal digits"))?;
            let identity = Identity::parse(who).map_err(|e| bad(&e))?;
            entries.push((digest, identity));
        }
        Ok(Authors { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The author a bearer token belongs to.
    ///
    /// Every entry is compared, in constant time, whether or not an earlier one matched, so
    /// response timing says nothing about how close a guess was or which author it hit.
    pub fn authenticate(&self, token: &str) -> Option<&Identity> {
        let presented = hash(token);
        let mut found = None;
        for (digest, identity) in &self.entries {
            if bool::from(digest.ct_eq(&presented)) {
                found = Some(identity);
            }
        }
        found
    }
}

/// A new random token for `identity`, and the tokens-file line that admits it.
pub fn new_token(identity: &Identity) -> (String, String) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
    let line = format!("sha256:{} {identity}", hex::encode(hash(&token)));
    (token, line)
}

fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mira() -> Identity {
        Identity::parse("Mira <mira@example.org>").unwrap()
    }

    #[test]
    fn a_single_token_authenticates_its_author_only() {
        let authors = Authors::single("s3cret", mira());
        assert_eq!(authors.authenticate("s3cret"), Some(&mira()));
        assert_eq!(authors.authenticate("s3cre"), None);
        assert_eq!(authors.authenticate(""), None);
    }

    #[test]
    fn a_new_token_is_admitted_by_its_tokens_file_line() {
        let (token, line) = new_token(&mira());
        assert!(token.starts_with(TOKEN_PREFIX));
        let other = Identity::parse("Ola <ola@example.org>").unwrap();
        let (_, other_line) = new_token(&other);
        let authors = Authors::parse(&format!("# authors\n{other_line}\n{line}\n")).unwrap();
        assert_eq!(authors.authenticate(&token), Some(&mira()));
        assert!(
            !line.contains(&token),
            "the file holds the hash, never the token"
        );
    }

    #[test]
    fn a_malformed_tokens_file_names_the_line() {
        let error = Authors::parse("\nsha256:zz Mira <m@x.org>\n").unwrap_err();
        assert!(error.starts_with("line 2:"), "{error}");
        assert!(Authors::parse("md5:00 Mira <m@x.org>").is_err());
    }
}
