//! Consolidating the writer's loose objects into packs, with libgit2's `PackBuilder`, on a
//! thread of its own (see `session` for when, and why it is safe beside `git gc`).
//!
//! A packing writes its pack and index into a scratch folder of the server's own
//! (`<git dir>/palimpsest/tmp-<pid>/pack`), learns there which loose objects it holds,
//! renames the pack and then the index into `objects/pack`, flushes, and only then
//! removes those loose copies and the server's own packs it absorbed (every object of
//! which it holds). The server's packs are listed in `<git dir>/palimpsest/packs` (written
//! before anything is removed), so that a restarted server still knows them.

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

/// Packs what the branch reaches from its loose commits, together with the server's own
/// newest packs when they are no more than twice as big as what it packs besides them (a
/// geometric progression: the server keeps O(log writes) packs, and each object is packed
/// again O(log writes) times), and all of them once there are [`MAX_OWN_PACKS`]. Removes
/// what the new pack replaces: the loose copies and the absorbed packs, every object of
/// which it holds.
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
    let pack_dir = objects.join("pack");
    let ledger = Ledger(git_dir.join("palimpsest").join("packs"));
    let own: Vec<(String, usize)> = ledger
        .read()
        .into_iter()
        .filter(|(name, _)| pack_dir.join(format!("{name}.idx")).exists())
        .collect();
    let mut walk = repo.revwalk()?;
    walk.push(tip)?;
    for packed in packed_boundary(&repo, &objects, tip)? {
        walk.hide(packed)?;
    }
    let mut builder = repo.packbuilder()?;
    builder.set_threads(1);
    builder.insert_walk(&mut walk)?;
    if builder.object_count() == 0 {
        return Ok(false);
    }
    let (mut total, mut absorbed) = (builder.object_count(), 0);
    for (_, objects) in own.iter().rev() {
        if *objects > 2 * total && own.len() - absorbed < MAX_OWN_PACKS {
            break;
        }
        total += objects;
        absorbed += 1;
    }
    let (kept, absorbed) = own.split_at(own.len() - absorbed);
    let scratch = git_dir
        .join("palimpsest")
        .join(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let scratch_packs = scratch.join("pack");
    std::fs::create_dir_all(&scratch_packs).map_err(io("creating the packing's folder"))?;
    for id in objects_of(&scratch.join("absorbed"), &pack_dir, absorbed)? {
        builder.insert_object(id, None)?;
    }
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
        std::fs::rename(scratch_packs.join(&file), pack_dir.join(&file))
            .map_err(io("installing the writer's pack"))?;
    }
    store
        .durability
        .flush(&objects, "making the writer's pack durable")?;
    let new = (name.clone(), builder.object_count());
    let mut listed: Vec<(String, usize)> =
        own.iter().filter(|(n, _)| *n != name).cloned().collect();
    listed.push(new.clone());
    ledger.write(&listed)?;
    for path in &packed_loose {
        remove_if_present(path);
    }
    let replaced: Vec<&String> = absorbed
        .iter()
        .map(|(n, _)| n)
        .filter(|n| **n != name)
        .collect();
    for old in &replaced {
        remove_pack(&pack_dir, old);
    }
    let mut listed: Vec<(String, usize)> =
        kept.iter().filter(|(n, _)| *n != name).cloned().collect();
    listed.push(new);
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

/// Every object in the packs `names` of `pack_dir`, read through hard links in `folder`
/// (an object database of those packs alone).
fn objects_of(
    folder: &Path,
    pack_dir: &Path,
    names: &[(String, usize)],
) -> Result<Vec<Oid>, StoreError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let linked = folder.join("pack");
    std::fs::create_dir_all(&linked).map_err(io("creating the packing's folder"))?;
    for (name, _) in names {
        for extension in ["pack", "idx"] {
            let file = format!("{name}.{extension}");
            std::fs::hard_link(pack_dir.join(&file), linked.join(&file))
                .map_err(io("reading the server's own packs"))?;
        }
    }
    let odb = Odb::new()?;
    odb.add_disk_alternate(utf8(folder)?)?;
    let mut ids = Vec::new();
    odb.foreach(|id| {
        ids.push(*id);
        true
    })?;
    Ok(ids)
}

fn utf8(path: &Path) -> Result<&str, StoreError> {
    Ok(path
        .to_str()
        .ok_or_else(|| git2::Error::from_str("a repository path that is not UTF-8"))?)
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
    written.add_disk_alternate(utf8(scratch)?)?;
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

/// The list of the server's own packs: `pack-<checksum> <objects>`, one a line.
struct Ledger(PathBuf);

impl Ledger {
    fn read(&self) -> Vec<(String, usize)> {
        std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (name, objects) = line.split_once(' ').unwrap_or((line, "0"));
                let valid = name.starts_with("pack-") && !name.contains('/');
                valid.then(|| (name.to_string(), objects.trim().parse().unwrap_or(0)))
            })
            .collect()
    }

    /// Replaces the list, atomically (a temporary file renamed over it).
    fn write(&self, packs: &[(String, usize)]) -> Result<(), StoreError> {
        let temporary = self.0.with_extension(format!("tmp-{}", std::process::id()));
        let text: String = packs
            .iter()
            .map(|(name, n)| format!("{name} {n}\n"))
            .collect();
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
