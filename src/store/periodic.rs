//! The periodic pack (see `session`): the objects of the group packs written since the
//! last one, in one pack, each stored as a delta against its previous version when that
//! version is in the pack too.
//!
//! The commits say what each object's previous version is, so nothing is searched: a
//! commit's tree is compared with its parent's, and an object that replaced another at the
//! same path (a post's blob, the folders above it) becomes a delta against it (see
//! `delta`), as `git fast-import` does. libgit2's pack builder tried up to ten candidates
//! per object, then compressed everything at zlib's default level and indexed the result
//! again, hashing every object: a third of all the CPU of a run of concurrent writes.
//! Objects with no previous version here (a new post, the first commit's, the commits
//! themselves) are stored whole, compressed at zlib's fastest level (the smallest entries
//! not at all). The ids are known, so the index is written here as well (see `pack`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use git2::{ObjectType, Oid};
use sha1::{Digest, Sha1};

use super::StoreError;
use super::compose::{parse_tree, recorded_id};
use super::delta;
use super::pack::{self, Entry, Source};

/// The longest chain of deltas an object is read through, as git's `pack.depth`: each
/// link is a delta applied when the object is read.
const MAX_DEPTH: u32 = 50;

/// Writes the objects of `group_packs` (oldest first), except those `skip` names, as one
/// pack with its index into `pack_dir`; nothing is flushed. Returns the index's path and
/// the ids it lists, sorted.
///
/// # Errors
/// I/O errors, or a group pack that does not match its index, holds anything but whole
/// objects (the writer's never do) or does not inflate.
pub(crate) fn write(
    pack_dir: &Path,
    group_packs: &[PathBuf],
    skip: impl Fn(&Oid) -> bool,
) -> Result<(PathBuf, Vec<Oid>), StoreError> {
    let objects = Objects::read(group_packs, &skip)?;
    let previous = objects.previous_versions();
    let count = u32::try_from(objects.list.len())
        .map_err(|_| pack::io_error("writing a pack", std::io::ErrorKind::InvalidInput.into()))?;
    let mut bytes = pack::pack_header(count).to_vec();
    let mut entries = Vec::with_capacity(objects.list.len());
    // Where each written object starts, and how many deltas reading it goes through.
    let mut written: HashMap<Oid, (u64, u32)> = HashMap::with_capacity(objects.list.len());
    let mut compressor = Compress::new(Compression::fast(), true);
    let mut deltas = 0;
    for object in &objects.list {
        let start = bytes.len() as u64;
        let base = previous
            .get(&object.id)
            .and_then(|base| Some((*base, *written.get(base)?)))
            .filter(|(_, (_, depth))| *depth < MAX_DEPTH);
        let delta = base.and_then(|(base, (offset, depth))| {
            let base_data = &objects.list[objects.by_id[&base]].data;
            let limit = (object.data.len() / 2).saturating_sub(20);
            let delta = delta::encode(base_data, &object.data, limit)?;
            // Checked before it is trusted: an object is never stored as a delta that does
            // not rebuild it.
            (delta::apply(base_data, &delta).as_deref() == Some(&object.data[..]))
                .then_some((delta, offset, depth))
        });
        let depth = match delta {
            Some((delta, offset, depth)) => {
                pack::entry_header_of_kind(&mut bytes, pack::OFFSET_DELTA, delta.len());
                base_distance(&mut bytes, start - offset);
                deflate(&mut compressor, &delta, &mut bytes)?;
                deltas += 1;
                depth + 1
            }
            None => {
                let kind = pack::entry_kind(object.kind)?;
                pack::entry_header_of_kind(&mut bytes, kind, object.data.len());
                deflate(&mut compressor, &object.data, &mut bytes)?;
                0
            }
        };
        written.insert(object.id, (start, depth));
        entries.push(Entry {
            id: object.id,
            offset: start,
            crc: crc32fast::hash(&bytes[start as usize..]),
        });
    }
    let checksum = Sha1::digest(&bytes);
    bytes.extend_from_slice(&checksum);
    let index = pack::index_bytes(&mut entries, &checksum);
    let name = format!("pack-{}", hex::encode(checksum));
    std::fs::create_dir_all(pack_dir)
        .map_err(|source| pack::io_error(&format!("creating {}", pack_dir.display()), source))?;
    pack::install(pack_dir, &pack_dir.join(format!("{name}.pack")), &bytes)?;
    let index_path = pack_dir.join(format!("{name}.idx"));
    pack::install(pack_dir, &index_path, &index)?;
    tracing::debug!(
        objects = objects.list.len(),
        deltas,
        bytes = bytes.len(),
        "the writer's commits packed"
    );
    // Sorted by the index.
    Ok((index_path, entries.iter().map(|entry| entry.id).collect()))
}

/// One object of the group packs, inflated.
struct Object {
    id: Oid,
    kind: ObjectType,
    data: Vec<u8>,
}

/// The objects to pack, in the order the group packs hold them (so a commit's objects come
/// after its parent's), each once.
struct Objects {
    list: Vec<Object>,
    by_id: HashMap<Oid, usize>,
}

impl Objects {
    fn read(group_packs: &[PathBuf], skip: &impl Fn(&Oid) -> bool) -> Result<Objects, StoreError> {
        let mut objects = Objects {
            list: Vec::new(),
            by_id: HashMap::new(),
        };
        let mut inflater = Decompress::new(true);
        for index in group_packs {
            let source = Source::read(index)?;
            let path = index.with_extension("pack");
            let mut entries = source.entries.clone();
            entries.sort_by_key(|entry| entry.offset);
            for entry in entries {
                if skip(&entry.id) || objects.by_id.contains_key(&entry.id) {
                    continue;
                }
                let at = &source.pack[entry.offset as usize..source.pack.len() - 20];
                let Some((kind, size, header)) = pack::read_entry_header(at) else {
                    return Err(pack::damaged(&path, "an entry's header is cut short"));
                };
                let Some(kind) = pack::whole_kind(kind) else {
                    return Err(pack::damaged(&path, "a group pack holds a delta"));
                };
                let data = inflate(&mut inflater, &at[header..], size)
                    .ok_or_else(|| pack::damaged(&path, "an entry does not inflate"))?;
                objects.by_id.insert(entry.id, objects.list.len());
                objects.list.push(Object {
                    id: entry.id,
                    kind,
                    data,
                });
            }
        }
        Ok(objects)
    }

    fn get(&self, id: &Oid, kind: ObjectType) -> Option<&[u8]> {
        let object = &self.list[*self.by_id.get(id)?];
        (object.kind == kind).then_some(&object.data[..])
    }

    /// For each object that replaced another one here at the same path, in a commit whose
    /// parent is here too, the one it replaced.
    fn previous_versions(&self) -> HashMap<Oid, Oid> {
        let mut previous = HashMap::new();
        for commit in self.list.iter().filter(|o| o.kind == ObjectType::Commit) {
            let parent_tree = recorded_id(&commit.data, "parent")
                .and_then(|parent| self.get(&parent, ObjectType::Commit))
                .and_then(|parent| recorded_id(parent, "tree"));
            if let (Some(tree), Some(parent_tree)) =
                (recorded_id(&commit.data, "tree"), parent_tree)
            {
                self.pair_trees(tree, parent_tree, &mut previous);
            }
        }
        previous
    }

    /// Records `old` as the previous version of the tree `new`, and so on down the entries
    /// they name alike with different ids (only where both versions are here).
    fn pair_trees(&self, new: Oid, old: Oid, previous: &mut HashMap<Oid, Oid>) {
        if new == old || previous.contains_key(&new) {
            return;
        }
        let (Some(new_bytes), Some(old_bytes)) = (
            self.get(&new, ObjectType::Tree),
            self.get(&old, ObjectType::Tree),
        ) else {
            return;
        };
        previous.insert(new, old);
        let (Ok(new_entries), Ok(old_entries)) = (parse_tree(new_bytes), parse_tree(old_bytes))
        else {
            return;
        };
        let old_entries: HashMap<&[u8], _> = old_entries
            .iter()
            .map(|entry| (&entry.name[..], entry))
            .collect();
        for entry in &new_entries {
            let Some(before) = old_entries.get(&entry.name[..]) else {
                continue;
            };
            if entry.is_tree() && before.is_tree() {
                self.pair_trees(entry.id, before.id, previous);
            } else if entry.is_blob()
                && before.is_blob()
                && entry.id != before.id
                && self.get(&entry.id, ObjectType::Blob).is_some()
                && self.get(&before.id, ObjectType::Blob).is_some()
            {
                previous.entry(entry.id).or_insert(before.id);
            }
        }
    }
}

/// The zlib stream at the start of `input`, inflated to its expected `size`.
fn inflate(inflater: &mut Decompress, input: &[u8], size: usize) -> Option<Vec<u8>> {
    inflater.reset(true);
    let mut out = Vec::with_capacity(size);
    let status = inflater
        .decompress_vec(input, &mut out, FlushDecompress::Finish)
        .ok()?;
    (status == Status::StreamEnd && out.len() == size).then_some(out)
}

/// Below this many bytes an entry is stored uncompressed: compression saves a few bytes at
/// most, and resetting the compressor (clearing its tables) cost more than the rest of
/// packing. Most deltas are this small.
const COMPRESS_FROM: usize = 128;

/// Appends `data` to `out` as one zlib stream, compressed unless it is small.
fn deflate(compressor: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> Result<(), StoreError> {
    if data.len() < COMPRESS_FROM {
        pack::stored_zlib(out, data);
        return Ok(());
    }
    compressor.reset();
    // zlib's bound for a stream of this size, so one call usually suffices.
    out.reserve(data.len() + (data.len() >> 12) + (data.len() >> 14) + 32);
    loop {
        let consumed = compressor.total_in() as usize;
        let status = compressor
            .compress_vec(&data[consumed..], out, FlushCompress::Finish)
            .map_err(|error| pack::io_error("compressing a pack", std::io::Error::other(error)))?;
        if status == Status::StreamEnd {
            return Ok(());
        }
        out.reserve(out.capacity().max(64));
    }
}

/// How far back an offset delta's base starts, as git encodes it: seven bits per byte,
/// most significant first, each byte but the last adding one to what it continues.
fn base_distance(bytes: &mut Vec<u8>, mut distance: u64) {
    let mut encoded = vec![(distance & 0x7f) as u8];
    distance >>= 7;
    while distance > 0 {
        distance -= 1;
        encoded.push(0x80 | (distance & 0x7f) as u8);
        distance >>= 7;
    }
    bytes.extend(encoded.iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::pack::{PackObject, assert_indexed_alike, index_pack, write_objects};
    use git2::Repository;
    use std::collections::HashSet;

    /// A post of `lines` lines with line `edited` changed to say `n`.
    fn post(lines: usize, edited: usize, n: usize) -> String {
        (0..lines)
            .map(|line| match line == edited {
                true => format!("line {line}, edit {n}\n"),
                false => format!("line {line} of the post, as it was\n"),
            })
            .collect()
    }

    /// A history of `commits` commits in a repository of its own, each editing `a.md`
    /// (and every third `b.md`; the tenth adds `c.md`; twenty posts stay as they are), and a target repository where each
    /// commit's new objects are a group pack of whole objects, as the writer writes them.
    /// Returns the source, the commits, the target and its group packs (oldest first).
    fn grouped_history(
        dir: &Path,
        commits: usize,
    ) -> (Repository, Vec<Oid>, Repository, Vec<PathBuf>) {
        let source = Repository::init_bare(dir.join("source.git")).unwrap();
        let target = Repository::init_bare(dir.join("target.git")).unwrap();
        let who = git2::Signature::now("A", "a@example.org").unwrap();
        let (mut ids, mut groups, mut seen) = (Vec::new(), Vec::new(), HashSet::new());
        for n in 0..commits {
            let mut posts = source.treebuilder(None).unwrap();
            posts
                .insert(
                    "a.md",
                    source.blob(post(120, n % 120, n).as_bytes()).unwrap(),
                    0o100644,
                )
                .unwrap();
            posts
                .insert(
                    "b.md",
                    source.blob(post(80, 7, n / 3).as_bytes()).unwrap(),
                    0o100644,
                )
                .unwrap();
            for other in 0..20 {
                let text = format!("post {other}, never edited\n");
                let blob = source.blob(text.as_bytes()).unwrap();
                posts
                    .insert(format!("p{other}.md"), blob, 0o100644)
                    .unwrap();
            }
            if n >= 10 {
                posts
                    .insert("c.md", source.blob(b"a new post\n").unwrap(), 0o100644)
                    .unwrap();
            }
            let posts = posts.write().unwrap();
            let mut root = source.treebuilder(None).unwrap();
            root.insert("posts", posts, 0o040000).unwrap();
            root.insert("README.md", source.blob(b"the blog\n").unwrap(), 0o100644)
                .unwrap();
            let root = source.find_tree(root.write().unwrap()).unwrap();
            let parent = ids.last().map(|id| source.find_commit(*id).unwrap());
            let id = source
                .commit(
                    None,
                    &who,
                    &who,
                    &format!("edit {n}"),
                    &root,
                    &parent.iter().collect::<Vec<_>>(),
                )
                .unwrap();
            ids.push(id);
            // The commit's objects that no earlier group holds, written as its group pack.
            let mut new = vec![id, root.id(), posts];
            new.extend(
                source
                    .find_tree(posts)
                    .unwrap()
                    .iter()
                    .map(|entry| entry.id()),
            );
            new.extend(root.iter().map(|entry| entry.id()));
            new.retain(|object| seen.insert(*object));
            let odb = source.odb().unwrap();
            let read: Vec<_> = new
                .iter()
                .map(|object| odb.read(*object).unwrap())
                .collect();
            let objects: Vec<PackObject<'_>> = read
                .iter()
                .zip(&new)
                .map(|(object, id)| PackObject {
                    id: *id,
                    kind: object.kind(),
                    data: object.data(),
                })
                .collect();
            groups.push(write_objects(&target.path().join("objects/pack"), &objects).unwrap());
        }
        (source, ids, target, groups)
    }

    /// How many deltas reading each entry of a pack goes through, in pack order.
    fn depths(index: &Path) -> Vec<u32> {
        let source = Source::read(index).unwrap();
        let mut offsets: Vec<u64> = source.entries.iter().map(|entry| entry.offset).collect();
        offsets.sort_unstable();
        let mut depth_at = HashMap::new();
        for offset in offsets {
            let bytes = &source.pack[offset as usize..];
            let (kind, _, header) = pack::read_entry_header(bytes).unwrap();
            let depth = if kind == pack::OFFSET_DELTA {
                let (mut distance, mut at) = (u64::from(bytes[header] & 0x7f), header);
                while bytes[at] & 0x80 != 0 {
                    at += 1;
                    distance = ((distance + 1) << 7) | u64::from(bytes[at] & 0x7f);
                }
                depth_at[&(offset - distance)] + 1
            } else {
                0
            };
            depth_at.insert(offset, depth);
        }
        depth_at.into_values().collect()
    }

    #[test]
    fn objects_are_deltas_against_their_previous_versions_and_index_as_git_would() {
        let dir = tempfile::tempdir().unwrap();
        let (source, commits, target, groups) = grouped_history(dir.path(), 70);
        let pack_dir = target.path().join("objects/pack");
        let group_bytes: u64 = groups
            .iter()
            .map(|index| {
                std::fs::metadata(index.with_extension("pack"))
                    .unwrap()
                    .len()
            })
            .sum();

        let (index, ids) = write(&pack_dir, &groups, |_| false).unwrap();
        let mut listed = pack::object_ids(&index).unwrap();
        listed.sort_unstable();
        assert_eq!(ids, listed, "the ids it lists, sorted");

        // Every revision of a.md, b.md and the posts folder after the first is a delta
        // (70 + 23 + 69), the longest chain is git's limit, and the pack is far smaller.
        let depths = depths(&index);
        let deltas = depths.iter().filter(|depth| **depth > 0).count();
        assert!(deltas >= 69 + 23 + 69 - 2, "{deltas} deltas");
        assert_eq!(depths.iter().max(), Some(&MAX_DEPTH));
        let packed = std::fs::metadata(index.with_extension("pack"))
            .unwrap()
            .len();
        assert!(
            packed * 5 < group_bytes,
            "{packed} bytes against {group_bytes}"
        );
        // libgit2's indexer, given the pack, resolves every delta, hashes every object and
        // writes the same index byte for byte.
        assert_indexed_alike(dir.path(), &index);

        // With the group packs gone, every object reads back from the new pack alone.
        for group in &groups {
            std::fs::remove_file(group.with_extension("pack")).unwrap();
            std::fs::remove_file(group).unwrap();
        }
        let fresh = Repository::open_bare(target.path()).unwrap();
        let (odb, fresh) = (source.odb().unwrap(), fresh.odb().unwrap());
        let mut count = 0;
        odb.foreach(|id| {
            assert_eq!(
                fresh.read(*id).unwrap().data(),
                odb.read(*id).unwrap().data()
            );
            count += 1;
            true
        })
        .unwrap();
        assert_eq!(count, Source::read(&index).unwrap().entries.len());
        assert_eq!(commits.len(), 70);
    }

    #[test]
    fn skipped_objects_are_left_out_and_what_builds_on_them_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (source, commits, target, groups) = grouped_history(dir.path(), 4);
        let first = source.find_commit(commits[0]).unwrap();
        let mut skip: HashSet<Oid> = HashSet::from([first.id(), first.tree_id()]);
        first
            .tree()
            .unwrap()
            .walk(git2::TreeWalkMode::PreOrder, |_, entry| {
                skip.insert(entry.id());
                git2::TreeWalkResult::Ok
            })
            .unwrap();
        let (index, ids) = write(&target.path().join("objects/pack"), &groups, |id| {
            skip.contains(id)
        })
        .unwrap();
        assert!(ids.iter().all(|id| !skip.contains(id)));
        let indexed = assert_indexed_alike(dir.path(), &index);
        assert_eq!(ids.len(), Source::read(&indexed).unwrap().entries.len());
    }

    #[test]
    fn a_pack_of_deltas_or_a_damaged_group_pack_is_refused_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let (source, commits, target, groups) = grouped_history(dir.path(), 6);
        let pack_dir = target.path().join("objects/pack");
        // A pack from libgit2's pack builder holds deltas: not a group pack of the writer's.
        let mut walk = source.revwalk().unwrap();
        walk.push(commits[5]).unwrap();
        let mut builder = source.packbuilder().unwrap();
        builder.insert_walk(&mut walk).unwrap();
        let mut built = git2::Buf::new();
        builder.write_buf(&mut built).unwrap();
        let other = dir.path().join("other.git");
        let built_index = index_pack(&Repository::init_bare(&other).unwrap(), &built).unwrap();
        let before = std::fs::read_dir(&pack_dir).unwrap().count();
        let refused = write(&pack_dir, &[built_index], |_| false).unwrap_err();
        assert!(refused.to_string().contains("holds a delta"), "{refused}");
        assert_eq!(std::fs::read_dir(&pack_dir).unwrap().count(), before);

        let damaged = groups[2].with_extension("pack");
        let mut bytes = std::fs::read(&damaged).unwrap();
        bytes[30] ^= 1;
        std::fs::remove_file(&damaged).unwrap();
        std::fs::write(&damaged, bytes).unwrap();
        assert!(write(&pack_dir, &groups, |_| false).is_err());
        assert_eq!(
            std::fs::read_dir(&pack_dir).unwrap().count(),
            before,
            "nothing written"
        );
    }
}
