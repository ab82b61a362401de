//! The tip each webhook last acknowledged, kept in `<gitdir>/palimpsest/webhooks.json` so
//! that a restart delivers what a receiver missed while the server was down.
//!
//! The file is rewritten whole (temporary file, fsync, rename) on every acknowledgement, so
//! a crash leaves the old file or the new one; at worst a delivery is made twice, which
//! at-least-once delivery allows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::store::Oid;

/// Where the acknowledged tips of the repository at `git_dir` are kept.
pub fn file(git_dir: &Path) -> PathBuf {
    crate::own_files::path(git_dir, "webhooks.json")
}

/// The file's contents: per webhook URL, the tip it acknowledged (`null`: an empty branch).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    acknowledged: BTreeMap<String, Option<String>>,
}

/// The acknowledged tips of every webhook, as on disk.
pub struct Acknowledged {
    file: PathBuf,
    tips: Mutex<BTreeMap<String, Option<Oid>>>,
}

impl Acknowledged {
    /// Reads `file`; a missing or unreadable one is empty (and a warning).
    pub fn load(file: PathBuf) -> Acknowledged {
        let saved: Saved = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%error, file = %file.display(), "ignoring an unreadable webhooks file");
                Saved::default()
            }),
            Err(_) => Saved::default(),
        };
        let tips = saved
            .acknowledged
            .into_iter()
            .filter_map(
                |(url, tip)| match tip.map(|t| Oid::from_str(&t)).transpose() {
                    Ok(tip) => Some((url, tip)),
                    Err(_) => None,
                },
            )
            .collect();
        Acknowledged {
            file,
            tips: Mutex::new(tips),
        }
    }

    /// The tip `url` last acknowledged; `None` when it never did (a webhook new to this
    /// repository), else `Some` of the tip.
    pub fn get(&self, url: &str) -> Option<Option<Oid>> {
        self.lock().get(url).copied()
    }

    /// Records that `url` acknowledged `tip`, on disk before returning.
    ///
    /// # Errors
    /// I/O errors writing the file; the tip is remembered in memory all the same.
    pub fn set(&self, url: &str, tip: Option<Oid>) -> std::io::Result<()> {
        let mut tips = self.lock();
        tips.insert(url.to_string(), tip);
        let saved = Saved {
            acknowledged: tips
                .iter()
                .map(|(url, tip)| (url.clone(), tip.map(|t| t.to_string())))
                .collect(),
        };
        // Written under the lock, so two acknowledgements never race to the rename.
        crate::own_files::replace(&self.file, &serde_json::to_vec_pretty(&saved)?)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Option<Oid>>> {
        self.tips.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledged_tips_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path());
        let tip = Oid::from_str("3f9a1c0d5e7b2a4c6e8f0a1b3c5d7e9f1a2b3c4d").unwrap();
        let acknowledged = Acknowledged::load(path.clone());
        assert_eq!(acknowledged.get("http://a/"), None);
        acknowledged.set("http://a/", Some(tip)).unwrap();
        acknowledged.set("http://b/", None).unwrap();

        let reloaded = Acknowledged::load(path);
        assert_eq!(reloaded.get("http://a/"), Some(Some(tip)));
        assert_eq!(reloaded.get("http://b/"), Some(None));
        assert_eq!(reloaded.get("http://c/"), None);
    }

    #[test]
    fn a_damaged_file_is_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(Acknowledged::load(path).get("http://a/"), None);
    }
}
