//! Saving the open-questions ledger (with the list keys of every version it read) beside the
//! history index and loading it at startup, so a restart extends the saved ledger instead of
//! reading every version of every post again.
//!
//! The file is `<gitdir>/palimpsest/questions.bin`: postcard (serde) behind a header naming
//! the format and its version, written to a temporary file and renamed into place, so a
//! crash leaves the old file or the new one. The ledger records its tip; one that does not
//! decode, is of another version, or whose tip is not on the branch's first-parent chain
//! where it says (the branch was rewritten) is ignored and built again: it is a cache,
//! never the truth.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::index::HistoryIndex;
use super::ledger::{Ledger, LedgerPost};
use super::list_keys::{SavedKeys, VersionKeys};
use crate::store::Oid;

/// What the file starts with: which program wrote it, in which version of the format.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Header {
    magic: [u8; 8],
    version: u32,
}

const HEADER: Header = Header {
    magic: *b"PLMLEDGR",
    version: 2,
};

/// The ledger as saved: its posts in a list (their slugs are in them).
#[derive(Serialize, Deserialize)]
struct Saved {
    #[serde(with = "optional_oid")]
    tip: Option<Oid>,
    covered: u64,
    live: Vec<LedgerPost>,
    gone: Vec<LedgerPost>,
    keys: SavedKeys,
}

/// Where the ledger of the repository at `git_dir` is kept.
pub fn ledger_file(git_dir: &Path) -> PathBuf {
    crate::own_files::path(git_dir, "questions.bin")
}

/// The file's bytes for `ledger`.
pub fn encode_ledger(ledger: &Ledger) -> Vec<u8> {
    let saved = Saved {
        tip: ledger.tip,
        covered: ledger.covered as u64,
        live: ledger.live.values().cloned().collect(),
        gone: ledger.gone.clone(),
        keys: ledger.keys.saved(),
    };
    let mut bytes = postcard::to_stdvec(&HEADER).expect("a header always encodes");
    postcard::to_io(&saved, &mut bytes).expect("writing into memory cannot fail");
    bytes
}

/// Writes `bytes` (from [`encode_ledger`]) to `file` atomically (temporary file, fsync,
/// rename).
///
/// # Errors
/// I/O errors creating, writing or renaming the file.
pub fn save_ledger(bytes: &[u8], file: &Path) -> std::io::Result<()> {
    crate::own_files::replace(file, bytes)
}

/// The ledger saved in `file`, if there is one that decodes and that `history` follows
/// (see [`Ledger::follows`]); `None` means it must be built.
pub fn load_ledger(file: &Path, history: &HistoryIndex) -> Option<Ledger> {
    let bytes = std::fs::read(file).ok()?;
    let Some(ledger) = decode(&bytes) else {
        tracing::warn!(file = %file.display(), "ignoring an unreadable open-questions ledger");
        return None;
    };
    if !ledger.follows(history) {
        tracing::info!(file = %file.display(), tip = ?ledger.tip,
            "ignoring an open-questions ledger of a rewritten branch");
        return None;
    }
    Some(ledger)
}

fn decode(bytes: &[u8]) -> Option<Ledger> {
    let (header, rest) = postcard::take_from_bytes::<Header>(bytes).ok()?;
    if header != HEADER {
        return None;
    }
    let (saved, rest) = postcard::take_from_bytes::<Saved>(rest).ok()?;
    if !rest.is_empty() || saved.tip.is_none() != (saved.covered == 0) {
        return None;
    }
    let live = saved
        .live
        .into_iter()
        .map(|post| (post.slug.clone(), post))
        .collect();
    Some(Ledger {
        tip: saved.tip,
        covered: usize::try_from(saved.covered).ok()?,
        live,
        gone: saved.gone,
        keys: VersionKeys::from_saved(saved.keys)?,
    })
}

/// A commit id as its 20 bytes.
pub(super) mod oid {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::store::Oid;

    pub fn serialize<S: Serializer>(oid: &Oid, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_bytes(oid.as_bytes())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Oid, D::Error> {
        let bytes = <&[u8]>::deserialize(input)?;
        Oid::from_bytes(bytes).map_err(serde::de::Error::custom)
    }
}

/// A commit id or none, as its 20 bytes or none.
mod optional_oid {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::store::Oid;

    pub fn serialize<S: Serializer>(oid: &Option<Oid>, out: S) -> Result<S::Ok, S::Error> {
        let bytes = oid.and_then(|oid| <[u8; 20]>::try_from(oid.as_bytes()).ok());
        bytes.serialize(out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Option<Oid>, D::Error> {
        let bytes = Option::<[u8; 20]>::deserialize(input)?;
        bytes
            .map(|bytes| Oid::from_bytes(&bytes).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A slug as its text, checked again when read.
pub(super) mod slug {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::post::Slug;

    pub fn serialize<S: Serializer>(slug: &Slug, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(slug.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Slug, D::Error> {
        let text = <&str>::deserialize(input)?;
        Slug::parse(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::LedgerQuestion;
    use crate::history::ledger::tests::mark;
    use crate::history::list_keys::tests::keys_of;
    use crate::post::{Slug, Status};

    fn ledger() -> Ledger {
        let post = |slug: &str, settled| LedgerPost {
            slug: Slug::parse(slug).unwrap(),
            status: Status::Draft,
            tags: vec!["kv".into()],
            questions: vec![LedgerQuestion {
                text: "Does it scale?".into(),
                raised: mark(1),
                settled,
                reworded_from: vec!["Scale?".into()],
            }],
        };
        let mut keys = VersionKeys::default();
        let text = b"---\ntitle: T\ntags: [kv]\n---\n";
        keys.record(Oid::from_bytes(&[7; 20]).unwrap(), keys_of(text));
        keys.record(Oid::from_bytes(&[8; 20]).unwrap(), None);
        Ledger {
            tip: Some(mark(2).commit),
            covered: 2,
            live: [(Slug::parse("a").unwrap(), post("a", None))].into(),
            gone: vec![post("b", Some(mark(2)))],
            keys,
        }
    }

    #[test]
    fn a_ledger_decodes_as_it_was_encoded() {
        let ledger = ledger();
        assert_eq!(decode(&encode_ledger(&ledger)), Some(ledger));
        let empty = Ledger::default();
        assert_eq!(decode(&encode_ledger(&empty)), Some(empty));
    }

    #[test]
    fn a_damaged_or_foreign_file_does_not_decode() {
        let bytes = encode_ledger(&ledger());
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None, "cut short");
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None, "trailing bytes");
        let mut other_version = bytes.clone();
        other_version[8] += 1;
        assert_eq!(decode(&other_version), None, "another version");
        assert_eq!(decode(b"not a ledger at all"), None);
        let mut bad_slug = encode_ledger(&ledger());
        let at = bad_slug.windows(1).rposition(|w| w == b"b").unwrap();
        bad_slug[at] = b'/';
        assert_eq!(decode(&bad_slug), None, "a slug that does not parse");
    }
}
