//! The only module that touches git: opening the content repository, reading the branch
//! tip and the posts in it, and writing commits without a working tree, through libgit2's
//! own object machinery (see `session` for what is written where, and why `git gc` beside
//! the server cannot drop it).
//!
//! `git2::Repository` is `Send` but not `Sync`, and its objects borrow it, so a `Store` is a
//! cheap, cloneable description of where the repository is; each blocking call opens its own
//! handle and returns owned data.

mod assets;
mod branch;
mod commit;
mod durability;
mod failure;
mod history;
mod leftovers;
mod lock;
mod packing;
mod read;
mod reflog;
mod remote;
mod seed;
mod session;

use std::path::{Path, PathBuf};

use git2::Repository;

use durability::Durability;

pub use assets::AssetFile;
pub use branch::{LOCK_WAIT, ReplacedBranch};
pub use commit::{Change, CommitRequest, Identity};
pub use failure::WriteFailure;
pub use git2::Oid;
pub use history::{CommitFacts, HistoryReader, PostFileChange, TreeChange, read_threads};
pub use read::{PostFile, is_revision};
pub use remote::{Pushed, Remote, clone_bare};
pub use seed::{SeedReport, seed_repository};
pub use session::{Batch, LOOSE_OBJECTS_PER_PACK, WriteSession};

/// Where the content lives: a repository (bare or not) and the branch the blog is served from.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    branch: String,
    durability: Durability,
    /// Where this store's writes record the locks they take (see `lock`).
    journal: lock::JournalSlot,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no git repository at {path}: {source}")]
    NotARepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("`{0}` is not a commit id")]
    InvalidRevision(String),
    #[error("no commit {0} on the served branch")]
    UnknownRevision(String),
    #[error("`{0}` is ambiguous")]
    AmbiguousRevision(String),
    #[error("the branch moved while committing (expected {expected:?})")]
    BranchMoved { expected: Option<Oid> },
    #[error("the branch is locked by another process (`{0}` exists)")]
    BranchLocked(PathBuf),
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Seed(String),
}

impl Store {
    /// Opens an existing repository and checks that it is one.
    ///
    /// # Errors
    /// `NotARepository` when `path` holds no git repository.
    pub fn open(path: &Path, branch: &str) -> Result<Store, StoreError> {
        let store = Store {
            path: path.to_path_buf(),
            branch: branch.to_string(),
            durability: Durability::default(),
            journal: lock::JournalSlot::default(),
        };
        store.repository()?;
        Ok(store)
    }

    /// The same store, its flushes going through `durability` (tests record them).
    #[cfg(test)]
    pub(crate) fn with_durability(self, durability: Durability) -> Store {
        Store { durability, ..self }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The full name of the served branch, `refs/heads/<branch>`.
    pub fn branch_ref(&self) -> String {
        format!("refs/heads/{}", self.branch)
    }

    /// A fresh handle on the repository, for one blocking unit of work.
    ///
    /// # Errors
    /// `NotARepository` when the repository is gone or unreadable.
    pub fn repository(&self) -> Result<Repository, StoreError> {
        // Durability must not depend on every entry point remembering to configure libgit2.
        configure_libgit2();
        Repository::open(&self.path).map_err(|source| StoreError::NotARepository {
            path: self.path.clone(),
            source,
        })
    }
}

/// Drops repository handles on a thread of their own. The last handle on a removed pack
/// frees the pack's blocks when it closes, which on a filesystem mounted with `discard`
/// waits for the device: the writer, after a packing removed files, must not wait for
/// that. Without a thread they close here.
pub fn close_in_background<T: Send + 'static>(handles: T) {
    let _ = std::thread::Builder::new()
        .name("closer".into())
        .spawn(move || drop(handles));
}

/// Process-wide libgit2 settings; call once at startup, before any thread opens a repository.
///
/// libgit2's own fsync (`GIT_OPT_ENABLE_FSYNC_GITDIR`) stays off: it would flush every file
/// and folder it writes one by one, six flushes per branch move. Durability comes instead
/// from the two flushes every [`Store::move_branch`] makes, in order (see `durability`); the
/// option is process-wide, which is sound because every write path of this crate publishes
/// its commits through `move_branch`, and reads write nothing.
pub fn configure_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    const GIT_OPT_ENABLE_FSYNC_GITDIR: std::ffi::c_int = 19;
    ONCE.call_once(|| {
        // SAFETY: runs once, before this process opens a repository; the option takes one int.
        unsafe {
            libgit2_sys::init();
            libgit2_sys::git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR as _, 0 as std::ffi::c_int);
            // Many packs would otherwise each keep a file descriptor open (libgit2#2758).
            let _ = git2::opts::set_mwindow_file_limit(128);
            // libgit2 re-hashes every object it reads (with collision-detecting SHA-1, over
            // half the cost of indexing history); git itself trusts its object store on
            // reads and verifies when objects arrive (index-pack, fsck).
            git2::opts::strict_hash_verification(false);
        }
    });
}
