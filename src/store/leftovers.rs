//! What a crashed writer left in the repository, cleaned up when the next one starts, so
//! that `git count-objects -v` finds no garbage and no half-installed pack lingers.
//!
//! The server's own scratch files carry its process id (`<git dir>/palimpsest/tmp-<pid>`,
//! see `packing`) and are removed once that process is gone; a pack it had renamed into
//! `objects/pack` without its index yet is removed with them (its objects are still loose).
//! Temporary files git and libgit2 name alike for every process (`tmp_obj_*`, `tmp_pack_*`,
//! `tmp_object_git2_*`, a `.pack` without its `.idx`) may belong to a live `git`, so
//! only those older than [`LEFTOVER_AGE`] go. Lock files are not touched here.

use std::path::Path;
use std::time::{Duration, SystemTime};

use git2::Repository;

/// How old a temporary file of git's naming must be before it counts as a crash's
/// leftover: no git or libgit2 process writes one for that long.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// Removes what dead writers left; failures are logged, never fatal.
pub(crate) fn clean(repo: &Repository) {
    let git_dir = repo.commondir();
    let pack_dir = git_dir.join("objects").join("pack");
    for entry in entries(&git_dir.join("palimpsest")) {
        let name = entry
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some(pid) = name
            .rsplit_once("tmp-")
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || alive(pid) {
            continue;
        }
        // A pack the dead packing renamed into place without its index yet.
        for scratch in entries(&entry.join("pack")) {
            if scratch.extension().is_some_and(|e| e == "idx")
                && let Some(stem) = scratch.file_stem()
                && !pack_dir.join(stem).with_extension("idx").exists()
            {
                remove(&pack_dir.join(stem).with_extension("pack"));
            }
        }
        remove(&entry);
    }
    let young = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| SystemTime::now().duration_since(at).ok())
            .is_none_or(|age| age < LEFTOVER_AGE)
    };
    let objects = git_dir.join("objects");
    let mut candidates = entries(&objects);
    candidates.extend(entries(&pack_dir));
    for folder in entries(&objects) {
        let name = folder
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            candidates.extend(entries(&folder));
        }
    }
    for path in candidates {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let temporary = [
            "tmp_obj_",
            "tmp_pack_",
            "tmp_idx_",
            "tmp_object_git2_",
            "pack_git2_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix));
        let unindexed = path.parent() == Some(pack_dir.as_path())
            && name.starts_with("pack-")
            && path.extension().is_some_and(|e| e == "pack")
            && !path.with_extension("idx").exists();
        if (temporary || unindexed) && path.is_file() && !young(&path) {
            remove(&path);
        }
    }
}

/// Whether a process with this id exists (signal 0 checks without sending anything).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid, 0) } == 0;
    exists || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect()
}

fn remove(path: &Path) {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Ok(()) => tracing::info!(file = %path.display(), "removed a crashed writer's leftover"),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(%error, file = %path.display(), "could not remove a leftover"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(path: &Path, age: Duration) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn a_dead_writers_scratch_and_old_temporary_files_are_removed_young_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let git = dir.path();
        let pack_dir = git.join("objects/pack");
        // A process id no process has (above the kernel's maximum).
        let scratch = git.join("palimpsest/tmp-4194305/pack");
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::write(scratch.join("pack-ab.idx"), "").unwrap();
        std::fs::write(pack_dir.join("pack-ab.pack"), "").unwrap();
        let mine = git.join(format!("palimpsest/tmp-{}", std::process::id()));
        std::fs::create_dir_all(&mine).unwrap();
        let old = [
            git.join("objects/tmp_object_git2_x"),
            pack_dir.join("tmp_pack_x"),
            pack_dir.join("pack-cd.pack"),
        ];
        let young = pack_dir.join("tmp_pack_y");
        for file in old.iter().chain([&young]) {
            std::fs::write(file, "").unwrap();
        }
        for file in &old {
            aged(file, LEFTOVER_AGE * 2);
        }

        clean(&repo);

        assert!(!git.join("palimpsest/tmp-4194305").exists());
        assert!(!pack_dir.join("pack-ab.pack").exists(), "half installed");
        assert!(mine.exists(), "this process's own");
        assert!(old.iter().all(|file| !file.exists()));
        assert!(young.exists(), "a live git may be writing it");
    }
}
