//! Lock files, and how the lock a dead server left is told from one a live process holds.
//!
//! git and libgit2 lock a file by creating `<file>.lock` exclusively and renaming it over
//! the file when done; a process killed in between leaves the lock behind, and every later
//! update of that file fails until someone removes it. Nothing in the lock file says
//! whether its holder still lives: a lock that looks old may belong to a `git` command
//! that is slow, or to another server that is paused (stopped, swapped out), and removing
//! it lets two writers move the branch at once. So this server never removes a lock
//! because of its age. It removes one only when it knows the holder is dead:
//!
//! - A process that is about to take locks first opens a *journal*: a folder of its own
//!   under `<git dir>/palimpsest/locks/`, named after its process id, on which it holds
//!   an exclusive `flock` for as long as it may take locks. The kernel drops a flock when
//!   its process dies, so whoever can take a journal's flock knows that its holder is gone.
//! - A lock file is created in the journal first and then hard-linked to `<file>.lock`;
//!   `link(2)` fails if the lock exists, as an exclusive create would. The journal's entry
//!   and the lock are then one file (one inode), so the lock can be recognised as the
//!   journal's own; the entry's link also keeps the inode from being freed, so its number
//!   cannot be reused by someone else's lock while the entry exists. The entry's name is the
//!   lock's path in the git dir, with `%` and `/` percent-encoded.
//! - Recovery ([`Store::recover_dead_writers`], at start and whenever a write meets a
//!   lock) takes the flock of every other journal it can, removes each of that dead
//!   journal's locks that is still the same inode as its entry, then the entries and the
//!   journal. A lock no journal names (left by a killed `git`, or by a server that did not
//!   keep journals) is never removed: an operator removes it, as with git.
//!
//! A write takes one lock file: the branch's (see `branch`). libgit2 takes none for it:
//! objects go through temporary files renamed into place, the reflog is appended, not
//! rewritten (see `reflog`), and neither `packed-refs` nor `config` is written.
//!
//! A journal is created under a temporary name (`.new`), locked, and only then renamed to
//! its own name; if recovery takes a new journal's flock before its creator does, the
//! creator's lock or rename fails and it starts over with a fresh journal. A [`Store`]
//! opens its journal at its first lock and keeps it until the last of its clones is
//! dropped (see [`JournalSlot`]): a folder made and removed per write would allocate and
//! free a block each time, which waits for the device on a filesystem mounted with
//! `discard`.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{Store, StoreError};

/// Where the journals live, inside the git dir.
const JOURNALS: &str = "palimpsest/locks";

/// Suffix of a journal whose creator has not locked it yet.
const NEW: &str = ".new";

/// How often creating a journal is started over when recovery races with it.
const JOURNAL_ATTEMPTS: usize = 8;

/// Recovering locks that dead servers left behind.
impl Store {
    /// Removes every lock that a server process, now dead, recorded in its journal, and
    /// the journal; leaves locks that a live process may hold. Returns the removed locks
    /// (each is logged).
    ///
    /// # Errors
    /// `NotARepository`, or I/O errors reading the journals or removing a lock.
    pub fn recover_dead_writers(&self) -> Result<Vec<PathBuf>, StoreError> {
        let git_dir = self.repository()?.commondir().to_path_buf();
        recover(&git_dir).map_err(|source| StoreError::Io {
            context: format!(
                "removing the locks of dead servers ({})",
                git_dir.join(JOURNALS).display()
            ),
            source,
        })
    }
}

/// A store's journal, opened at its first lock and shared by the store's clones.
#[derive(Debug, Clone, Default)]
pub(crate) struct JournalSlot(Arc<Mutex<Option<Journal>>>);

impl JournalSlot {
    /// Runs `work` with this store's journal in `git_dir`, opening one if there is none (or
    /// if its folder was removed from under it). Takers of locks through one store take
    /// turns here; they would wait for each other at the lock anyway.
    ///
    /// # Errors
    /// `Io` when no journal can be opened; what `work` returns.
    pub(crate) fn with<T>(
        &self,
        git_dir: &Path,
        work: impl FnOnce(&Journal) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot
            .as_ref()
            .is_some_and(|journal| journal.git_dir != git_dir || !journal.folder.is_dir())
        {
            *slot = None;
        }
        let journal = match slot.take() {
            Some(journal) => slot.insert(journal),
            None => slot.insert(Journal::open(git_dir).map_err(|source| StoreError::Io {
                context: format!("opening a lock journal in {}", git_dir.display()),
                source,
            })?),
        };
        // No lock of this journal is held between two calls, so an entry left is a lock
        // whose release failed (a read-only filesystem, say): released now, or it would
        // stay until this process ends.
        if let Err(error) = release_entries(git_dir, &journal.folder) {
            tracing::warn!(%error, journal = %journal.folder.display(),
                "could not release the locks a failed write left");
        }
        work(journal)
    }
}

/// What taking a lock can fail with.
#[derive(Debug)]
pub(crate) enum LockError {
    /// The lock file exists: another process holds it (or a dead one that kept no journal).
    Held(PathBuf),
    Io(io::Error),
}

impl From<io::Error> for LockError {
    fn from(error: io::Error) -> Self {
        LockError::Io(error)
    }
}

/// A live process's record of the lock files it holds, flocked while it exists.
#[derive(Debug)]
pub(crate) struct Journal {
    git_dir: PathBuf,
    folder: PathBuf,
    /// The folder itself, open and flocked; the flock goes when this closes.
    flock: Option<File>,
}

impl Journal {
    /// Creates and locks a journal of this process's own in `git_dir`.
    ///
    /// # Errors
    /// I/O errors creating or locking the folder.
    pub(crate) fn open(git_dir: &Path) -> io::Result<Journal> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let journals = git_dir.join(JOURNALS);
        std::fs::create_dir_all(&journals)?;
        let mut last = io::Error::other("no attempt");
        for _ in 0..JOURNAL_ATTEMPTS {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let name = format!(
                "{}-{nanos}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let folder = journals.join(&name);
            let new = journals.join(format!("{name}{NEW}"));
            std::fs::create_dir(&new)?;
            match lock_folder(&new) {
                Ok(Some(flock)) => match std::fs::rename(&new, &folder) {
                    Ok(()) => {
                        return Ok(Journal {
                            git_dir: git_dir.to_path_buf(),
                            folder,
                            flock: Some(flock),
                        });
                    }
                    // Recovery removed it before it was locked: start over.
                    Err(e) if e.kind() == ErrorKind::NotFound => last = e,
                    Err(e) => {
                        let _ = std::fs::remove_dir(&new);
                        return Err(e);
                    }
                },
                // Recovery holds it, or removed it: start over under another name.
                Ok(None) => last = io::Error::other("a new journal was taken by recovery"),
                Err(e) if e.kind() == ErrorKind::NotFound => last = e,
                Err(e) => {
                    let _ = std::fs::remove_dir(&new);
                    return Err(e);
                }
            }
        }
        Err(last)
    }

    /// Takes `<git dir>/<name>.lock` (`name` relative to the git dir), recording it here
    /// first.
    ///
    /// # Errors
    /// `Held` when the lock exists; I/O errors creating it.
    pub(crate) fn lock(&self, name: &str) -> Result<LockFile<'_>, LockError> {
        let relative = format!("{name}.lock");
        let entry = self.folder.join(entry_name(&relative));
        let path = self.git_dir.join(&relative);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&entry)?;
        let linked = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::hard_link(&entry, &path));
        match linked {
            Ok(()) => Ok(LockFile {
                journal: self,
                path,
                entry,
                file: Some(file),
            }),
            Err(error) => {
                remove_logged(&entry);
                match error.kind() {
                    ErrorKind::AlreadyExists => Err(LockError::Held(path)),
                    _ => Err(LockError::Io(error)),
                }
            }
        }
    }
}

impl Drop for Journal {
    /// A journal with no entries left is removed before its flock is dropped; one that
    /// still has entries (removing a lock failed) stays for recovery.
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir(&self.folder) {
            tracing::warn!(%error, journal = %self.folder.display(),
                "a lock journal is left for recovery");
        }
        drop(self.flock.take());
    }
}

/// A lock file held through a [`Journal`], until it is renamed over its file or released.
#[derive(Debug)]
pub(crate) struct LockFile<'j> {
    journal: &'j Journal,
    path: PathBuf,
    entry: PathBuf,
    file: Option<File>,
}

impl LockFile<'_> {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the lock's content, the file's next version.
    ///
    /// # Errors
    /// I/O errors writing (a full disk among them).
    pub(crate) fn write(&self, content: &[u8]) -> io::Result<()> {
        let mut file = self.file.as_ref().expect("held until committed");
        file.write_all(content)
    }

    /// Renames the lock over `target`: the file now holds the lock's content. The journal's
    /// entry goes afterwards (it names the same inode, not a lock, from the rename on).
    ///
    /// # Errors
    /// I/O errors renaming; the lock is released then and `target` is unchanged.
    pub(crate) fn commit(mut self, target: &Path) -> io::Result<()> {
        drop(self.file.take());
        if let Err(error) = std::fs::rename(&self.path, target) {
            self.release();
            return Err(error);
        }
        remove_logged(&self.entry);
        Ok(())
    }

    /// Removes the lock, then its entry: in that order, so that no lock is ever left
    /// without the entry that lets recovery remove it.
    fn release(&self) {
        if std::fs::remove_file(&self.path).is_ok() || !self.path.exists() {
            remove_logged(&self.entry);
        } else {
            tracing::warn!(lock = %self.path.display(), journal = %self.journal.folder.display(),
                "could not release a lock; the next write (or recovery) removes it");
        }
    }
}

impl Drop for LockFile<'_> {
    /// A lock not committed (the branch moved, an error) is released.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            self.release();
        }
    }
}

/// Takes the flock of every journal in `git_dir` that no live process holds, and removes
/// what it recorded. Returns the lock files removed.
pub(crate) fn recover(git_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let journals = match std::fs::read_dir(git_dir.join(JOURNALS)) {
        Ok(journals) => journals,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for journal in journals {
        let journal = journal?;
        if !journal.file_type()?.is_dir() {
            continue;
        }
        let folder = journal.path();
        // Held by a live process (this one included: a flock taken through another open
        // file conflicts), or already recovered by someone else.
        let Ok(Some(_flock)) = lock_folder(&folder) else {
            continue;
        };
        removed.extend(recover_journal(git_dir, &folder)?);
    }
    Ok(removed)
}

/// Removes what the dead journal `folder`, whose flock the caller holds, recorded, then
/// the journal.
fn recover_journal(git_dir: &Path, folder: &Path) -> io::Result<Vec<PathBuf>> {
    let removed = release_entries(git_dir, folder)?;
    match std::fs::remove_dir(folder) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(removed),
    }
}

/// Removes each lock the journal `folder` recorded that is still its entry's inode, and
/// the entries; the caller holds the journal's flock and none of its locks.
fn release_entries(git_dir: &Path, folder: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        // Another process recovered it between our open and our flock.
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry?.path();
        let lock = entry
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(lock_path)
            .map(|relative| git_dir.join(relative));
        if let Some(lock) = lock
            && same_file(&entry, &lock)?
        {
            remove_present(&lock)?;
            tracing::warn!(lock = %lock.display(), journal = %folder.display(),
                "removed a lock whose holder is gone");
            removed.push(lock);
        }
        remove_present(&entry)?;
    }
    Ok(removed)
}

fn remove_present(file: &Path) -> io::Result<()> {
    match std::fs::remove_file(file) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Opens `folder` and takes its flock without waiting: `None` when a live process holds it.
fn lock_folder(folder: &Path) -> io::Result<Option<File>> {
    let file = File::open(folder)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Whether both paths name one inode; `false` when either does not exist.
fn same_file(entry: &Path, lock: &Path) -> io::Result<bool> {
    let entry = match std::fs::symlink_metadata(entry) {
        Ok(entry) => entry,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match std::fs::symlink_metadata(lock) {
        Ok(lock) => Ok(lock.dev() == entry.dev() && lock.ino() == entry.ino()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A lock's path in the git dir as one file name: `%` and `/` percent-encoded.
fn entry_name(relative: &str) -> String {
    relative.replace('%', "%25").replace('/', "%2F")
}

/// The lock path an entry's name stands for; `None` for a name no journal writes.
fn lock_path(name: &str) -> Option<String> {
    let path = name.replace("%2F", "/").replace("%25", "%");
    let safe = name.ends_with(".lock")
        && !path.starts_with('/')
        && path.split('/').all(|part| !part.is_empty() && part != "..");
    safe.then_some(path)
}

fn remove_logged(file: &Path) {
    if let Err(error) = std::fs::remove_file(file)
        && error.kind() != ErrorKind::NotFound
    {
        tracing::warn!(%error, file = %file.display(), "could not remove a lock journal's entry");
    }
}

/// What a server killed while holding a lock leaves: its journal (no flock any more,
/// the process is gone) and the lock, one inode.
#[cfg(test)]
pub(crate) fn left_by_a_dead_server(git_dir: &Path, name: &str) -> PathBuf {
    let journal = Journal::open(git_dir).unwrap();
    let lock = journal.lock(name).unwrap();
    let path = lock.path().to_path_buf();
    std::mem::forget(lock);
    // The folder stays, its flock goes: as when the kernel closes a dead process's files.
    let mut journal = std::mem::ManuallyDrop::new(journal);
    drop(journal.flock.take());
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_servers_lock_is_removed_and_a_live_ones_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path();
        let dead = left_by_a_dead_server(git, "refs/heads/main");
        let live = Journal::open(git).unwrap();
        let held = live.lock("refs/heads/other").unwrap();

        let removed = recover(git).unwrap();

        assert_eq!(removed, vec![dead.clone()]);
        assert!(!dead.exists());
        assert!(held.path().exists(), "a live journal's lock stays");
        let journals: Vec<_> = std::fs::read_dir(git.join(JOURNALS)).unwrap().collect();
        assert_eq!(journals.len(), 1, "only the live journal is left");
        drop(held);
        drop(live);
        assert_eq!(std::fs::read_dir(git.join(JOURNALS)).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_no_journal_names_is_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path();
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        let foreign = git.join("refs/heads/main.lock");
        std::fs::write(&foreign, "as git leaves it\n").unwrap();

        assert!(recover(git).unwrap().is_empty());
        assert!(foreign.exists());
        let journal = Journal::open(git).unwrap();
        assert!(matches!(
            journal.lock("refs/heads/main"),
            Err(LockError::Held(path)) if path == foreign
        ));
    }

    #[test]
    fn a_dead_servers_entry_for_a_lock_someone_else_took_since_leaves_that_lock() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path();
        let dead = left_by_a_dead_server(git, "refs/heads/main");
        // The dead server's lock was removed by hand and git took the branch since.
        std::fs::remove_file(&dead).unwrap();
        std::fs::write(&dead, "git's own\n").unwrap();

        assert!(recover(git).unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(&dead).unwrap(), "git's own\n");
        assert_eq!(std::fs::read_dir(git.join(JOURNALS)).unwrap().count(), 0);
    }

    #[test]
    fn a_committed_lock_becomes_the_file_and_leaves_no_entry() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path();
        let journal = Journal::open(git).unwrap();
        let lock = journal.lock("refs/heads/a%b/c").unwrap();
        assert!(git.join("refs/heads/a%b/c.lock").exists());
        lock.write(b"new\n").unwrap();
        lock.commit(&git.join("refs/heads/a%b/c")).unwrap();

        assert_eq!(
            std::fs::read_to_string(git.join("refs/heads/a%b/c")).unwrap(),
            "new\n"
        );
        assert_eq!(std::fs::read_dir(&journal.folder).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_whose_release_failed_is_released_by_the_next_taker_of_the_same_journal() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path();
        let slot = JournalSlot::default();
        slot.with(git, |journal| {
            // As when removing it failed: the lock and its entry stay.
            std::mem::forget(journal.lock("refs/heads/main").unwrap());
            Ok(())
        })
        .unwrap();
        assert!(git.join("refs/heads/main.lock").exists());

        slot.with(git, |journal| {
            journal
                .lock("refs/heads/main")
                .map_err(|e| StoreError::Seed(format!("{e:?}")))
                .map(drop)
        })
        .unwrap();
        assert!(!git.join("refs/heads/main.lock").exists());
    }

    #[test]
    fn entry_names_stand_for_paths_inside_the_git_dir_only() {
        assert_eq!(
            entry_name("refs/heads/a%2Fb.lock"),
            "refs%2Fheads%2Fa%252Fb.lock"
        );
        assert_eq!(
            lock_path("refs%2Fheads%2Fa%252Fb.lock").as_deref(),
            Some("refs/heads/a%2Fb.lock")
        );
        assert_eq!(lock_path("..%2Fconfig.lock"), None);
        assert_eq!(lock_path("%2Fetc%2Fpasswd.lock"), None);
        assert_eq!(lock_path("refs%2Fheads%2Fmain"), None);
    }
}
