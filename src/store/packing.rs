//! Consolidating the writer's loose objects into packs, with libgit2's `PackBuilder`, on a
//! thread of its own (see `session` for when, and why it is safe beside `git gc`).
//!
//! A packing writes its pack and index into a scratch folder of the server's own
//! (`<git dir>/palimpsest/tmp-<pid>/pack`), learns there which loose objects it holds,
//! renames the pack and then the index into `objects/pack`, flushes, and only then
//! removes those loose copies, and, when it packed everything the refs reach, the
//! server's own earlier packs. The server's packs are listed in `<git dir>/palimpsest/packs`
//! (written before anything is removed), so that a restarted server still knows them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use git2::{Odb, Oid, Repository};

use super::{Store, StoreError};

/// How many of its own packs the server keeps before packing them together.
pub(crate) const MAX_OWN_PACKS: usize = 8;

/// A packing running on its thread; says whether it removed packs or loose objects.
pub(crate) struct Packing(std::thread::JoinHandle<Result<bool, StoreError>>);

impl Packing {
    pub(crate) fn start(store: &Store) -> Result<Packing, StoreError> {
        let store = store.clone();
        std::thread::Builder::new()
            .name("packer".into())
            .spawn(move || pack(&store))
            .map(Packing)
            .map_err(|source| StoreError::Io {
                context: "starting to pack the writer's objects".into(),
                source,
            })
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.0.is_finished()
    }

    /// Waits for the packing and says what it did.
    pub(crate) fn finish(self) -> Result<bool, StoreError> {
        self.0.join().unwrap_or_else(|_| {
            Err(StoreError::Io {
                context: "packing the writer's objects".into(),
                source: std::io::Error::other("the packing thread panicked"),
            })
        })
    }
}

/// Packs what the branch reaches from its loose commits (or, once the server has
/// [`MAX_OWN_PACKS`] packs, everything the refs reach) and removes what the pack replaces.
///
/// # Errors
/// Git or I/O errors; nothing is removed before the new pack is installed and flushed.
pub(crate) fn pack(store: &Store) -> Result<bool, StoreError> {
    let repo = store.repository()?;
    let Some(tip) = store.tip_in(&repo)? else {
        return Ok(false);
    };
    let git_dir = repo.commondir().to_path_buf();
    let objects = git_dir.join("objects");
    let ledger = Ledger(git_dir.join("palimpsest").join("packs"));
    let own: Vec<String> = ledger
        .read()
        .into_iter()
        .filter(|name| objects.join("pack").join(format!("{name}.idx")).exists())
        .collect();
    let mut walk = repo.revwalk()?;
    let everything = own.len() >= MAX_OWN_PACKS && walk.push_glob("*").is_ok();
    if !everything {
        walk = repo.revwalk()?;
        walk.push(tip)?;
        for packed in packed_boundary(&repo, &objects, tip)? {
            walk.hide(packed)?;
        }
    }
    let mut builder = repo.packbuilder()?;
    builder.set_threads(1);
    builder.insert_walk(&mut walk)?;
    if builder.object_count() == 0 {
        return Ok(false);
    }
    let scratch = git_dir
        .join("palimpsest")
        .join(format!("tmp-{}", std::process::id()));
    let scratch_packs = scratch.join("pack");
    std::fs::create_dir_all(&scratch_packs).map_err(io("creating the packing's folder"))?;
    builder.write(&scratch_packs, 0)?;
    let name = format!(
        "pack-{}",
        builder
            .name()?
            .ok_or_else(|| git2::Error::from_str("a written pack without a name"))?
    );
    let packed_loose = loose_objects_in(&scratch, &repo)?;
    for extension in ["pack", "idx"] {
        let file = format!("{name}.{extension}");
        std::fs::rename(scratch_packs.join(&file), objects.join("pack").join(&file))
            .map_err(io("installing the writer's pack"))?;
    }
    store
        .durability
        .flush(&objects, "making the writer's pack durable")?;
    let replaced: Vec<&String> = own.iter().filter(|n| everything && **n != name).collect();
    let mut listed: Vec<String> = own.iter().filter(|n| **n != name).cloned().collect();
    listed.push(name.clone());
    ledger.write(&listed)?;
    for path in &packed_loose {
        remove_if_present(path);
    }
    for old in &replaced {
        remove_pack(&objects.join("pack"), old);
    }
    listed.retain(|n| !replaced.contains(&n));
    ledger.write(&listed)?;
    let _ = std::fs::remove_dir_all(&scratch);
    tracing::info!(
        objects = builder.object_count(),
        loose_removed = packed_loose.len(),
        packs_replaced = replaced.len(),
        "the writer's objects packed"
    );
    Ok(!packed_loose.is_empty() || !replaced.is_empty())
}

/// The commits where the branch's loose history ends: the packed commits reached from
/// `tip` through loose ones (`tip` itself when it is packed).
fn packed_boundary(repo: &Repository, objects: &Path, tip: Oid) -> Result<Vec<Oid>, StoreError> {
    let (mut boundary, mut seen, mut queue) = (Vec::new(), HashSet::new(), vec![tip]);
    while let Some(id) = queue.pop() {
        if !seen.insert(id) {
            continue;
        }
        if loose_path(objects, id).exists() {
            queue.extend(repo.find_commit(id)?.parent_ids());
        } else {
            boundary.push(id);
        }
    }
    Ok(boundary)
}

/// Where git keeps `id` as a loose object: `objects/xx/<38 more hex digits>`.
fn loose_path(objects: &Path, id: Oid) -> PathBuf {
    let hex = id.to_string();
    objects.join(&hex[..2]).join(&hex[2..])
}

/// The loose objects of `repo` that the pack in `scratch/pack` holds, by path.
fn loose_objects_in(scratch: &Path, repo: &Repository) -> Result<Vec<PathBuf>, StoreError> {
    let written = Odb::new()?;
    let folder = scratch
        .to_str()
        .ok_or_else(|| git2::Error::from_str("a repository path that is not UTF-8"))?;
    written.add_disk_alternate(folder)?;
    Ok(loose_objects(repo)
        .into_iter()
        .filter(|(id, _)| written.exists(*id))
        .map(|(_, path)| path)
        .collect())
}

/// Every loose object in the repository, with its file.
pub(crate) fn loose_objects(repo: &Repository) -> Vec<(Oid, PathBuf)> {
    let objects = repo.commondir().join("objects");
    let mut found = Vec::new();
    let Ok(folders) = std::fs::read_dir(&objects) else {
        return found;
    };
    for folder in folders.flatten() {
        let prefix = folder.file_name().to_string_lossy().into_owned();
        if prefix.len() != 2 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        for file in std::fs::read_dir(folder.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let rest = file.file_name().to_string_lossy().into_owned();
            if let Ok(id) = Oid::from_str(&format!("{prefix}{rest}"))
                && rest.len() == 38
            {
                found.push((id, file.path()));
            }
        }
    }
    found
}

/// Removes a pack of the server's own (each of its files), unless someone kept it.
fn remove_pack(pack_dir: &Path, name: &str) {
    if pack_dir.join(format!("{name}.keep")).exists() {
        return;
    }
    // The index first: without it git and libgit2 no longer see the pack.
    for extension in ["idx", "pack", "rev", "bitmap"] {
        remove_if_present(&pack_dir.join(format!("{name}.{extension}")));
    }
}

/// Removes a file made redundant; a failure leaves only a redundant copy.
fn remove_if_present(file: &Path) {
    match std::fs::remove_file(file) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(%error, file = %file.display(), "could not remove a packed copy")
        }
    }
}

/// The list of the server's own packs (`pack-<checksum>`, one a line).
struct Ledger(PathBuf);

impl Ledger {
    fn read(&self) -> Vec<String> {
        std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.starts_with("pack-") && !line.contains('/'))
            .map(str::to_string)
            .collect()
    }

    /// Replaces the list, atomically (a temporary file renamed over it).
    fn write(&self, names: &[String]) -> Result<(), StoreError> {
        let temporary = self.0.with_extension(format!("tmp-{}", std::process::id()));
        let text: String = names.iter().map(|name| format!("{name}\n")).collect();
        std::fs::write(&temporary, text)
            .and_then(|()| std::fs::rename(&temporary, &self.0))
            .map_err(io("listing the writer's packs"))
    }
}

fn io(context: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        context: context.to_string(),
        source,
    }
}
