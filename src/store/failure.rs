//! Why a write failed, in the terms a client can act on: the disk is full, the repository
//! cannot be written, the branch is locked by another process, or something else.
//!
//! The store's own I/O errors carry the OS error number. libgit2's mostly carry only a
//! message: for an OS error it ends with the system's text for the error number
//! (`strerror`), which is what is matched here.

use std::io;

use super::StoreError;

/// What kept a write from being committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFailure {
    /// No space (or quota) left on the repository's filesystem.
    DiskFull,
    /// The repository's files cannot be written: a read-only filesystem or no permission.
    ReadOnly,
    /// Another live process holds the branch's lock.
    Locked,
    /// Anything else.
    Other,
}

const DISK_FULL: [i32; 2] = [libc::ENOSPC, libc::EDQUOT];
const READ_ONLY: [i32; 3] = [libc::EROFS, libc::EACCES, libc::EPERM];

impl StoreError {
    /// What kind of failure this is, for the answer to the write.
    pub fn write_failure(&self) -> WriteFailure {
        match self {
            StoreError::BranchLocked(_) => WriteFailure::Locked,
            StoreError::Io { source, .. } => of_io(source),
            StoreError::Git(error) | StoreError::NotARepository { source: error, .. } => {
                of_git(error)
            }
            _ => WriteFailure::Other,
        }
    }
}

fn of_io(error: &io::Error) -> WriteFailure {
    match error.raw_os_error() {
        Some(code) if DISK_FULL.contains(&code) => WriteFailure::DiskFull,
        Some(code) if READ_ONLY.contains(&code) => WriteFailure::ReadOnly,
        _ => WriteFailure::Other,
    }
}

fn of_git(error: &git2::Error) -> WriteFailure {
    let says = |codes: &[i32]| {
        codes
            .iter()
            .any(|&code| error.message().contains(&os_text(code)))
    };
    if error.code() == git2::ErrorCode::Locked {
        WriteFailure::Locked
    } else if says(&DISK_FULL) {
        WriteFailure::DiskFull
    } else if says(&READ_ONLY) {
        WriteFailure::ReadOnly
    } else {
        WriteFailure::Other
    }
}

impl StoreError {
    /// Whether libgit2 lost the race with git's own maintenance for an object's folder:
    /// libgit2 writes a new loose object to a temporary file, creates its fan-out folder
    /// (`objects/ab/`), then renames the file into it; `git prune-packed` (run by `repack -d`
    /// and `gc`) removes the fan-out folders it empties, and when it does so in between, the
    /// rename fails with "no such file". Objects are named by their content, so writing
    /// again is safe, and is what git itself does.
    pub fn is_vanished_object_folder(&self) -> bool {
        match self {
            StoreError::Git(error) => {
                error.class() == git2::ErrorClass::Os
                    && error.message().starts_with("failed to rename lockfile")
                    && error.message().contains(&os_text(libc::ENOENT))
            }
            _ => false,
        }
    }
}

/// The system's text for an error number, as libgit2 appends it (`strerror`).
fn os_text(code: i32) -> String {
    let text = io::Error::from_raw_os_error(code).to_string();
    match text.rfind(" (os error ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(code: i32) -> StoreError {
        StoreError::Io {
            context: "writing".into(),
            source: io::Error::from_raw_os_error(code),
        }
    }

    fn git(message: &str) -> StoreError {
        StoreError::Git(git2::Error::new(
            git2::ErrorCode::GenericError,
            git2::ErrorClass::Os,
            message,
        ))
    }

    #[test]
    fn os_errors_say_what_kept_the_write_out() {
        assert_eq!(io(libc::ENOSPC).write_failure(), WriteFailure::DiskFull);
        assert_eq!(io(libc::EDQUOT).write_failure(), WriteFailure::DiskFull);
        assert_eq!(io(libc::EROFS).write_failure(), WriteFailure::ReadOnly);
        assert_eq!(io(libc::EACCES).write_failure(), WriteFailure::ReadOnly);
        assert_eq!(io(libc::EIO).write_failure(), WriteFailure::Other);
        let locked = StoreError::BranchLocked("refs/heads/main.lock".into());
        assert_eq!(locked.write_failure(), WriteFailure::Locked);
    }

    #[test]
    fn libgit2_messages_are_read_for_the_os_error() {
        let full = format!("failed to write object: {}", os_text(libc::ENOSPC));
        assert_eq!(git(&full).write_failure(), WriteFailure::DiskFull);
        let read_only = format!(
            "failed to make directory '/r/objects/ab': {}",
            os_text(libc::EROFS)
        );
        assert_eq!(git(&read_only).write_failure(), WriteFailure::ReadOnly);
        assert_eq!(git("object not found").write_failure(), WriteFailure::Other);
        assert_eq!(os_text(libc::ENOSPC), "No space left on device");
    }

    #[test]
    fn an_object_folder_removed_by_git_under_a_write_is_recognised() {
        let vanished = format!(
            "failed to rename lockfile to '/r/objects/ae/374bb07b3eceaba42f6afe4a3c3be347da31ca': {}",
            os_text(libc::ENOENT)
        );
        assert!(git(&vanished).is_vanished_object_folder());
        let full = format!(
            "failed to rename lockfile to '/r/objects/ae/37': {}",
            os_text(libc::ENOSPC)
        );
        assert!(!git(&full).is_vanished_object_folder());
        assert!(!git("object not found").is_vanished_object_folder());
        assert!(!io(libc::ENOENT).is_vanished_object_folder());
    }

    #[test]
    fn a_real_libgit2_error_on_a_read_only_folder_is_recognised() {
        // Root ignores permission bits, so this needs a folder that is truly read-only.
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(dir.path().join("c.git")).unwrap();
        let objects = dir.path().join("c.git/objects");
        let mut permissions = std::fs::metadata(&objects).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o555);
        std::fs::set_permissions(&objects, permissions).unwrap();
        let written = repo.blob(b"a post");
        if let Err(error) = written {
            assert_eq!(
                StoreError::Git(error).write_failure(),
                WriteFailure::ReadOnly
            );
        } else {
            println!("skipped: permission bits do not bind this user (root)");
        }
    }
}
