//! Pack files: the writer's own, for a group's new objects, the packs they are merged
//! into, and libgit2's indexer for packs made by its pack builder.
//!
//! A group's objects (a blob, a few trees and a commit per edit) are small and new, so a
//! delta search finds nothing worth having and an indexer would only parse back what was
//! just written. The writer stores them whole, uncompressed, in one pack and writes its
//! version-2 index itself: two new files per group whatever its size, where loose objects
//! cost a file (and a temporary file, a link and an unlink) per object. File creations and
//! deletions are what a small commit costs on a filesystem: ext4 without a journal scans
//! past every inode freed in the last seconds to allocate a new one. The periodic packs
//! (see `session` and `periodic`) store objects as deltas once; merging them later copies
//! their entries (see [`merge`]), deltas and all, without computing them again.
//!
//! Formats: `Documentation/gitformat-pack.txt` in git.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository};
use sha1::{Digest, Sha1};

use super::StoreError;

/// One object for a pack: its id, its kind and its content (without git's header).
pub(crate) struct PackObject<'a> {
    pub id: Oid,
    pub kind: ObjectType,
    pub data: &'a [u8],
}

/// Where one object starts in the pack, and the CRC-32 of its packed bytes.
#[derive(Clone, Copy)]
pub(super) struct Entry {
    pub id: Oid,
    pub offset: u64,
    pub crc: u32,
}

/// Writes `objects` as one pack with its index into `pack_dir` (`objects/pack`), each
/// through a temporary file renamed into place, the index last since its presence is what
/// makes a pack visible. Nothing is flushed: the caller's flush covers both files. Returns
/// the index's path.
///
/// # Errors
/// I/O errors, or an object kind a pack cannot hold whole (only commits, trees, blobs and
/// tags can).
pub(crate) fn write_objects(
    pack_dir: &Path,
    objects: &[PackObject<'_>],
) -> Result<PathBuf, StoreError> {
    // git creates it with the repository, but nothing else needs it until the first pack.
    std::fs::create_dir_all(pack_dir)
        .map_err(|source| io_error(&format!("creating {}", pack_dir.display()), source))?;
    let (pack, mut entries) = pack_bytes(objects)?;
    let checksum = &pack[pack.len() - 20..];
    let index = index_bytes(&mut entries, checksum);
    let name = format!("pack-{}", hex::encode(checksum));
    let index_path = pack_dir.join(format!("{name}.idx"));
    install(pack_dir, &pack_dir.join(format!("{name}.pack")), &pack)?;
    install(pack_dir, &index_path, &index)?;
    Ok(index_path)
}

/// The pack file's bytes (header, objects, SHA-1 trailer) and where each object went.
fn pack_bytes(objects: &[PackObject<'_>]) -> Result<(Vec<u8>, Vec<Entry>), StoreError> {
    let count = u32::try_from(objects.len()).map_err(|_| invalid("too many objects"))?;
    // Stored whole: each object's bytes, its header and about 11 bytes of zlib framing.
    let size: usize = objects.iter().map(|o| o.data.len() + 24).sum();
    let mut pack = Vec::with_capacity(32 + size);
    pack.extend_from_slice(&pack_header(count));
    let mut entries = Vec::with_capacity(objects.len());
    for object in objects {
        let start = pack.len();
        entry_header(&mut pack, object.kind, object.data.len())?;
        stored_zlib(&mut pack, object.data);
        entries.push(Entry {
            id: object.id,
            offset: start as u64,
            crc: crc32fast::hash(&pack[start..]),
        });
    }
    let trailer = Sha1::digest(&pack);
    pack.extend_from_slice(&trailer);
    Ok((pack, entries))
}

/// `data` as a zlib stream of stored (uncompressed) deflate blocks. A group pack lives
/// only until the periodic pack compresses its objects properly, and setting up a zlib
/// compressor (its window and hash tables, allocated and cleared) cost more than the rest
/// of writing the pack.
pub(super) fn stored_zlib(out: &mut Vec<u8>, data: &[u8]) {
    // Deflate with a 32 KiB window, no preset dictionary, "fastest" level: 0x7801 is a
    // multiple of 31, as the header's check bits require.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(usize::from(u16::MAX)).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = u8::from(blocks.peek().is_none());
        let len = block.len() as u16;
        out.push(last);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let mut checksum = adler2::Adler32::new();
    checksum.write_slice(data);
    out.extend_from_slice(&checksum.checksum().to_be_bytes());
}

/// A version-2 pack's header: its signature, version and object count.
pub(super) fn pack_header(count: u32) -> [u8; PACK_HEADER as usize] {
    let mut header = [0; PACK_HEADER as usize];
    header[..8].copy_from_slice(b"PACK\0\0\0\x02");
    header[8..].copy_from_slice(&count.to_be_bytes());
    header
}

/// The kind of a pack entry holding an object whole, as the entry's header numbers it.
pub(super) fn entry_kind(kind: ObjectType) -> Result<u8, StoreError> {
    match kind {
        ObjectType::Commit => Ok(1),
        ObjectType::Tree => Ok(2),
        ObjectType::Blob => Ok(3),
        ObjectType::Tag => Ok(4),
        other => Err(invalid(&format!("a pack cannot hold a {other} whole"))),
    }
}

/// The kind of object an entry whose header numbers it `kind` holds whole; `None` for a
/// delta (or a number git does not use).
pub(super) fn whole_kind(kind: u8) -> Option<ObjectType> {
    match kind {
        1 => Some(ObjectType::Commit),
        2 => Some(ObjectType::Tree),
        3 => Some(ObjectType::Blob),
        4 => Some(ObjectType::Tag),
        _ => None,
    }
}

/// An entry holding a delta against an earlier entry of the same pack (`OFS_DELTA`).
pub(super) const OFFSET_DELTA: u8 = 6;

/// An object's header in a pack: its kind and size (see [`entry_header_of_kind`]).
fn entry_header(pack: &mut Vec<u8>, kind: ObjectType, size: usize) -> Result<(), StoreError> {
    entry_header_of_kind(pack, entry_kind(kind)?, size);
    Ok(())
}

/// An entry's header: its kind number and size, seven bits per byte after the first
/// four, least significant first, the high bit saying more follow.
pub(super) fn entry_header_of_kind(pack: &mut Vec<u8>, kind: u8, size: usize) {
    let mut size = size as u64;
    let mut byte = (kind << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size > 0 {
        pack.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    pack.push(byte);
}

/// Reads the header of the entry starting `bytes`: its kind number, its size, and how
/// long the header is; `None` when it is cut short or its size does not fit.
pub(super) fn read_entry_header(bytes: &[u8]) -> Option<(u8, usize, usize)> {
    let first = *bytes.first()?;
    let kind = (first >> 4) & 7;
    let mut size = u64::from(first & 0x0f);
    let (mut byte, mut at, mut shift) = (first, 1, 4);
    while byte & 0x80 != 0 {
        byte = *bytes.get(at)?;
        size |= u64::from(byte & 0x7f)
            .checked_shl(shift)
            .filter(|_| shift < 57)?;
        at += 1;
        shift += 7;
    }
    Some((kind, usize::try_from(size).ok()?, at))
}

/// A version-2 pack index: header, fan-out table, sorted ids, CRC-32s, offsets (those
/// past 2 GiB in a table of their own), the pack's checksum and the index's.
pub(super) fn index_bytes(entries: &mut [Entry], pack_checksum: &[u8]) -> Vec<u8> {
    entries.sort_by_key(|entry| entry.id);
    let mut index = Vec::with_capacity(8 + 1024 + entries.len() * 28 + 40);
    index.extend_from_slice(b"\xfftOc");
    index.extend_from_slice(&2u32.to_be_bytes());
    let mut fanout = [0u32; 256];
    for entry in entries.iter() {
        fanout[usize::from(entry.id.as_bytes()[0])] += 1;
    }
    let mut total = 0;
    for count in fanout {
        total += count;
        index.extend_from_slice(&total.to_be_bytes());
    }
    for entry in entries.iter() {
        index.extend_from_slice(entry.id.as_bytes());
    }
    for entry in entries.iter() {
        index.extend_from_slice(&entry.crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for entry in entries.iter() {
        let offset = match u32::try_from(entry.offset) {
            Ok(small) if small < 0x8000_0000 => small,
            _ => {
                large.push(entry.offset);
                0x8000_0000 | (large.len() as u32 - 1)
            }
        };
        index.extend_from_slice(&offset.to_be_bytes());
    }
    for offset in large {
        index.extend_from_slice(&offset.to_be_bytes());
    }
    index.extend_from_slice(pack_checksum);
    let checksum = Sha1::digest(&index);
    index.extend_from_slice(&checksum);
    index
}

/// Writes `bytes` to `path` through a new temporary file in `dir` (see [`install_with`]).
pub(super) fn install(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    install_with(dir, path, |file| file.write_all(bytes))
}

/// Writes `path` through a new temporary file in `dir`, read-only as git's packs are,
/// renamed into place once `write` succeeds; a crash leaves at most a `tmp_pack_*` file,
/// which `git gc` removes.
pub(super) fn install_with(
    dir: &Path,
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
) -> Result<(), StoreError> {
    let context = || format!("writing {}", path.display());
    let temporary = dir.join(format!("tmp_pack_{:016x}", rand::random::<u64>()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(&temporary)
        .map_err(|source| io_error(&context(), source))?;
    let written = write(&mut file).and_then(|()| std::fs::rename(&temporary, path));
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(io_error(&context(), source));
    }
    Ok(())
}

/// Merges the packs of `indexes` (in `pack_dir`) into one by copying their entries, and
/// returns the new index's path; nothing is flushed. No object is decompressed, compared
/// or compressed again, and the deltas stay valid: an offset delta points back into its
/// own pack, which is copied whole and in order, and a reference delta names an object of
/// its own pack. Each source is checked against its index and trailing checksum first,
/// in memory: the writer's packs hold one server's writes, megabytes rather than gigabytes.
///
/// `None` when an object is in more than one source: an index lists every object once,
/// and git wants a pack to hold exactly the objects its index lists.
///
/// # Errors
/// I/O errors, or a source whose pack and index do not match.
pub(crate) fn merge(pack_dir: &Path, indexes: &[PathBuf]) -> Result<Option<PathBuf>, StoreError> {
    let sources = indexes
        .iter()
        .map(|index| Source::read(index))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = std::collections::HashSet::new();
    if !sources
        .iter()
        .flat_map(|source| &source.entries)
        .all(|entry| seen.insert(entry.id))
    {
        return Ok(None);
    }
    let count = u32::try_from(seen.len()).map_err(|_| invalid("too many objects"))?;
    let header = pack_header(count);
    let mut trailer = Sha1::new();
    trailer.update(header);
    let mut entries = Vec::with_capacity(seen.len());
    let mut start = header.len() as u64;
    for source in &sources {
        let body = source.body();
        trailer.update(body);
        // Every entry moves by the same amount: where its pack's body now starts.
        entries.extend(source.entries.iter().map(|entry| Entry {
            offset: entry.offset - PACK_HEADER + start,
            ..*entry
        }));
        start += body.len() as u64;
    }
    let checksum = trailer.finalize();
    let name = format!("pack-{}", hex::encode(checksum));
    install_with(pack_dir, &pack_dir.join(format!("{name}.pack")), |file| {
        let mut out = io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(&header)?;
        for source in &sources {
            out.write_all(source.body())?;
        }
        out.write_all(&checksum)?;
        out.flush()
    })?;
    let index = index_bytes(&mut entries, &checksum);
    let index_path = pack_dir.join(format!("{name}.idx"));
    install(pack_dir, &index_path, &index)?;
    Ok(Some(index_path))
}

/// The bytes of a pack before its first entry.
pub(super) const PACK_HEADER: u64 = 12;

/// A version-2 pack index, read and checked against its own checksum.
struct PackIndex {
    entries: Vec<Entry>,
    pack_checksum: Vec<u8>,
}

impl PackIndex {
    fn read(path: &Path) -> Result<PackIndex, StoreError> {
        let index = std::fs::read(path)
            .map_err(|source| io_error(&format!("reading {}", path.display()), source))?;
        let broken = |why: &str| damaged(path, why);
        let word = |at: usize| -> Option<u32> {
            Some(u32::from_be_bytes(index.get(at..at + 4)?.try_into().ok()?))
        };
        if !index.starts_with(b"\xfftOc") || word(4) != Some(2) || index.len() < 8 + 1024 + 40 {
            return Err(broken("not a version-2 pack index"));
        }
        let count = word(8 + 255 * 4).ok_or_else(|| broken("no fan-out table"))? as usize;
        let (ids, crcs, offsets) = (8 + 1024, 8 + 1024 + count * 20, 8 + 1024 + count * 24);
        let large = offsets + count * 4;
        let (body, stored) = index.split_at(index.len() - 20);
        if large > body.len() - 20 || Sha1::digest(body)[..] != *stored {
            return Err(broken("the index is damaged"));
        }
        let mut entries = Vec::with_capacity(count);
        for n in 0..count {
            let small = word(offsets + n * 4).ok_or_else(|| broken("an offset is missing"))?;
            let offset = if small & 0x8000_0000 == 0 {
                u64::from(small)
            } else {
                let at = large + (small & 0x7fff_ffff) as usize * 8;
                let bytes = body.get(at..at + 8).filter(|_| at + 8 <= body.len() - 20);
                u64::from_be_bytes(
                    bytes
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| broken("a large offset is missing"))?,
                )
            };
            entries.push(Entry {
                id: Oid::from_bytes(&index[ids + n * 20..ids + n * 20 + 20])?,
                offset,
                crc: word(crcs + n * 4).ok_or_else(|| broken("a checksum is missing"))?,
            });
        }
        Ok(PackIndex {
            entries,
            pack_checksum: body[body.len() - 20..].to_vec(),
        })
    }
}

/// The ids of the objects in the pack whose index is at `index`.
///
/// # Errors
/// I/O errors, or an index that is not a valid version-2 pack index.
pub(crate) fn object_ids(index: &Path) -> Result<Vec<Oid>, StoreError> {
    Ok(PackIndex::read(index)?
        .entries
        .iter()
        .map(|entry| entry.id)
        .collect())
}

/// A pack to merge, checked against its index.
pub(super) struct Source {
    pub pack: Vec<u8>,
    pub entries: Vec<Entry>,
}

impl Source {
    /// Reads the pack of `index` and checks that it is the pack the index describes:
    /// both checksums, the object count, and every offset inside the pack.
    pub(super) fn read(index: &Path) -> Result<Source, StoreError> {
        let PackIndex {
            entries,
            pack_checksum,
        } = PackIndex::read(index)?;
        let path = index.with_extension("pack");
        let pack = std::fs::read(&path)
            .map_err(|source| io_error(&format!("reading {}", path.display()), source))?;
        let len = pack.len() as u64;
        if len < PACK_HEADER + 20
            || pack[..PACK_HEADER as usize] != pack_header(entries.len() as u32)
            || pack[pack.len() - 20..] != *pack_checksum
            || Sha1::digest(&pack[..pack.len() - 20])[..] != *pack_checksum
        {
            return Err(damaged(&path, "the pack does not match its index"));
        }
        if entries
            .iter()
            .any(|entry| entry.offset < PACK_HEADER || entry.offset >= len - 20)
        {
            return Err(damaged(&path, "an offset points outside the pack"));
        }
        Ok(Source { pack, entries })
    }

    /// The pack's entries, without its header and trailing checksum.
    fn body(&self) -> &[u8] {
        &self.pack[PACK_HEADER as usize..self.pack.len() - 20]
    }
}

pub(super) fn damaged(path: &Path, why: &str) -> StoreError {
    io_error(
        &format!("reading {}", path.display()),
        io::Error::new(io::ErrorKind::InvalidData, why.to_string()),
    )
}

/// Writes a pack made by libgit2's pack builder through its indexer, without flushing
/// them (the caller flushes); returns the path of the pack's index.
///
/// # Errors
/// Git or I/O errors indexing the pack.
pub(crate) fn index_pack(repo: &Repository, pack: &[u8]) -> Result<PathBuf, StoreError> {
    let odb = repo.odb()?;
    let mut writer = odb.packwriter()?;
    writer
        .write_all(pack)
        .map_err(|source| io_error("writing a pack of new commits", source))?;
    writer.commit()?;
    // The indexer names a pack after its trailing checksum, the pack's last 20 bytes.
    let checksum = pack
        .get(pack.len().saturating_sub(20)..)
        .unwrap_or_default();
    Ok(repo
        .commondir()
        .join("objects/pack")
        .join(format!("pack-{}.idx", hex::encode(checksum))))
}

/// Checks that libgit2's indexer, given the pack of `index`, resolves every delta, hashes
/// every object and writes the same index byte for byte (in a repository made under
/// `dir`); returns the index it wrote.
#[cfg(test)]
pub(super) fn assert_indexed_alike(dir: &Path, index: &Path) -> PathBuf {
    let pack = std::fs::read(index.with_extension("pack")).unwrap();
    let check =
        Repository::init_bare(dir.join(format!("check-{}.git", rand::random::<u32>()))).unwrap();
    let indexed = index_pack(&check, &pack).unwrap();
    assert_eq!(
        std::fs::read(&indexed).unwrap(),
        std::fs::read(index).unwrap()
    );
    assert_eq!(indexed.file_name(), index.file_name());
    indexed
}

pub(super) fn io_error(context: &str, source: io::Error) -> StoreError {
    StoreError::Io {
        context: context.to_string(),
        source,
    }
}

fn invalid(why: &str) -> StoreError {
    io_error(
        "writing a pack",
        io::Error::new(io::ErrorKind::InvalidInput, why.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Objects of every kind a commit needs, some large enough for multi-byte sizes.
    fn sample_objects(repo: &Repository) -> Vec<Oid> {
        let small = repo.blob(b"---\ntitle: T\n---\n").unwrap();
        let large = repo.blob("x".repeat(70_000).as_bytes()).unwrap();
        let mut posts = repo.treebuilder(None).unwrap();
        posts.insert("a.md", small, 0o100644).unwrap();
        posts.insert("b.md", large, 0o100644).unwrap();
        let posts = posts.write().unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        root.insert("posts", posts, 0o040000).unwrap();
        let root = repo.find_tree(root.write().unwrap()).unwrap();
        let who = git2::Signature::now("A", "a@example.org").unwrap();
        let commit = repo.commit(None, &who, &who, "m", &root, &[]).unwrap();
        vec![commit, root.id(), posts, small, large]
    }

    #[test]
    fn a_written_pack_is_what_git_would_index_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let source = Repository::init_bare(dir.path().join("source.git")).unwrap();
        let ids = sample_objects(&source);
        let odb = source.odb().unwrap();
        let read: Vec<_> = ids.iter().map(|id| odb.read(*id).unwrap()).collect();
        let objects: Vec<PackObject<'_>> = read
            .iter()
            .zip(&ids)
            .map(|(object, id)| PackObject {
                id: *id,
                kind: object.kind(),
                data: object.data(),
            })
            .collect();

        let target = Repository::init_bare(dir.path().join("target.git")).unwrap();
        let pack_dir = target.path().join("objects/pack");
        // A repository may lack the folder (made by hand, or emptied): it is created.
        std::fs::remove_dir(&pack_dir).unwrap();
        let index = write_objects(&pack_dir, &objects).unwrap();

        // libgit2's indexer, given the same pack, writes the same index byte for byte.
        assert_indexed_alike(dir.path(), &index);

        let fresh = Repository::open_bare(target.path()).unwrap();
        let fresh = fresh.odb().unwrap();
        for (id, original) in ids.iter().zip(&read) {
            let object = fresh.read(*id).unwrap();
            assert_eq!(object.data(), original.data());
            assert_eq!(object.kind(), original.kind());
        }
        let leftovers = std::fs::read_dir(&pack_dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("tmp_")
            })
            .count();
        assert_eq!(leftovers, 0, "no temporary file is left behind");
    }

    /// Six commits of one post edited a little each time (so that packing them finds
    /// deltas), in a repository of their own; returns it, the commits (oldest first) and
    /// an empty repository to pack them into.
    fn edited_history(dir: &Path) -> (Repository, Vec<Oid>, Repository) {
        let repo = Repository::init_bare(dir.join("history.git")).unwrap();
        let who = git2::Signature::now("A", "a@example.org").unwrap();
        let mut commits: Vec<Oid> = Vec::new();
        let mut text: String = (0..400)
            .map(|n| format!("line {n} of the post\n"))
            .collect();
        for n in 0..6 {
            text.push_str(&format!("edit {n}\n"));
            let blob = repo.blob(text.as_bytes()).unwrap();
            let mut root = repo.treebuilder(None).unwrap();
            root.insert("post.md", blob, 0o100644).unwrap();
            let tree = repo.find_tree(root.write().unwrap()).unwrap();
            let parents: Vec<git2::Commit<'_>> = commits
                .last()
                .map(|c| repo.find_commit(*c).unwrap())
                .into_iter()
                .collect();
            let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
            commits.push(
                repo.commit(None, &who, &who, &format!("edit {n}"), &tree, &parents)
                    .unwrap(),
            );
        }
        let target = Repository::init_bare(dir.join("target.git")).unwrap();
        (repo, commits, target)
    }

    /// Packs the commits after `since` up to `tip` with libgit2's pack builder (deltas
    /// searched) into `target`, returning the index's path.
    fn pack_range(
        source: &Repository,
        target: &Repository,
        since: Option<Oid>,
        tip: Oid,
    ) -> PathBuf {
        let mut walk = source.revwalk().unwrap();
        walk.push(tip).unwrap();
        if let Some(since) = since {
            walk.hide(since).unwrap();
        }
        let mut builder = source.packbuilder().unwrap();
        builder.insert_walk(&mut walk).unwrap();
        let mut pack = git2::Buf::new();
        builder.write_buf(&mut pack).unwrap();
        index_pack(target, &pack).unwrap()
    }

    /// The kinds of a pack's entries as its index lists them (6 and 7 are deltas).
    fn entry_kinds(index: &Path) -> Vec<u8> {
        let source = Source::read(index).unwrap();
        source
            .entries
            .iter()
            .map(|entry| (source.pack[entry.offset as usize] >> 4) & 7)
            .collect()
    }

    #[test]
    fn merged_packs_keep_their_deltas_and_index_as_git_would() {
        let dir = tempfile::tempdir().unwrap();
        let (source, commits, target) = edited_history(dir.path());
        let pack_dir = target.path().join("objects/pack");
        let first = pack_range(&source, &target, None, commits[2]);
        let second = pack_range(&source, &target, Some(commits[2]), commits[5]);
        // A group pack too: objects stored whole.
        let odb = source.odb().unwrap();
        let extra = source.blob(b"a figure\n").unwrap();
        let read = odb.read(extra).unwrap();
        let group = write_objects(
            &pack_dir,
            &[PackObject {
                id: extra,
                kind: read.kind(),
                data: read.data(),
            }],
        )
        .unwrap();
        let sources = [first, second, group];
        let deltas = |index: &Path| entry_kinds(index).iter().filter(|k| **k >= 6).count();
        assert!(
            deltas(&sources[0]) > 0 && deltas(&sources[1]) > 0,
            "the sources hold deltas"
        );

        let merged = merge(&pack_dir, &sources)
            .unwrap()
            .expect("no object is shared");
        assert_eq!(deltas(&merged), deltas(&sources[0]) + deltas(&sources[1]));
        // libgit2's indexer, given the merged pack, resolves every delta and writes the same
        // index byte for byte (ids, CRC-32s, offsets).
        assert_indexed_alike(dir.path(), &merged);

        // With the sources gone, every object reads back from the merged pack alone.
        for index in &sources {
            std::fs::remove_file(index.with_extension("pack")).unwrap();
            std::fs::remove_file(index).unwrap();
        }
        let fresh = Repository::open_bare(target.path()).unwrap();
        let mut walk = source.revwalk().unwrap();
        walk.push(commits[5]).unwrap();
        for commit in walk {
            let commit = source.find_commit(commit.unwrap()).unwrap();
            let blob = commit.tree().unwrap().get_name("post.md").unwrap().id();
            for id in [commit.id(), commit.tree_id(), blob] {
                assert_eq!(
                    fresh.odb().unwrap().read(id).unwrap().data(),
                    odb.read(id).unwrap().data()
                );
            }
        }
        assert_eq!(fresh.find_blob(extra).unwrap().content(), b"a figure\n");
    }

    #[test]
    fn packs_sharing_an_object_are_not_merged_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (source, commits, target) = edited_history(dir.path());
        let pack_dir = target.path().join("objects/pack");
        let first = pack_range(&source, &target, None, commits[2]);
        let overlapping = pack_range(&source, &target, Some(commits[1]), commits[3]);
        let files = |dir: &Path| std::fs::read_dir(dir).unwrap().count();
        let before = files(&pack_dir);
        assert_eq!(
            merge(&pack_dir, &[first.clone(), overlapping.clone()]).unwrap(),
            None
        );
        assert_eq!(files(&pack_dir), before, "nothing written");

        let pack = overlapping.with_extension("pack");
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes[40] ^= 1;
        std::fs::remove_file(&pack).unwrap();
        std::fs::write(&pack, bytes).unwrap();
        assert!(merge(&pack_dir, &[first, overlapping]).is_err());
    }

    #[test]
    fn stored_blocks_inflate_to_the_data_whatever_its_size() {
        for size in [0, 1, 65_535, 65_536, 200_000] {
            let data: Vec<u8> = (0..size).map(|n| (n % 251) as u8).collect();
            let mut stream = Vec::new();
            stored_zlib(&mut stream, &data);
            let mut inflated = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::ZlibDecoder::new(&stream[..]),
                &mut inflated,
            )
            .unwrap();
            assert_eq!(inflated, data, "{size} bytes");
        }
    }

    #[test]
    fn sizes_are_encoded_seven_bits_at_a_time() {
        let mut header = Vec::new();
        entry_header(&mut header, ObjectType::Blob, 15).unwrap();
        assert_eq!(header, [0x3f]);
        header.clear();
        entry_header(&mut header, ObjectType::Commit, 16).unwrap();
        assert_eq!(header, [0x90, 0x01]);
        header.clear();
        entry_header(&mut header, ObjectType::Tree, 70_000).unwrap();
        // 70,000 = 0b1_0001_0001_0111_0000: 0000 first, then 0010111, then 0100010.
        assert_eq!(header, [0xa0, 0x97, 0x22]);
        assert!(entry_header(&mut header, ObjectType::Any, 1).is_err());
        // And read back: kind, size and the header's length.
        for (kind, size) in [(ObjectType::Blob, 15), (ObjectType::Tree, 70_000)] {
            let mut header = Vec::new();
            entry_header(&mut header, kind, size).unwrap();
            let read = read_entry_header(&header).unwrap();
            assert_eq!(read, (entry_kind(kind).unwrap(), size, header.len()));
            assert_eq!(whole_kind(read.0), Some(kind));
            assert_eq!(read_entry_header(&header[..header.len() - 1]), None);
        }
        assert_eq!(whole_kind(OFFSET_DELTA), None);
    }

    #[test]
    fn offsets_past_two_gibibytes_go_to_the_large_offset_table() {
        let id = |n: u8| Oid::from_bytes(&[n; 20]).unwrap();
        let mut entries = vec![
            Entry {
                id: id(2),
                offset: 5 << 30,
                crc: 7,
            },
            Entry {
                id: id(1),
                offset: 12,
                crc: 9,
            },
        ];
        let index = index_bytes(&mut entries, &[0; 20]);
        let offsets = 8 + 1024 + 2 * 20 + 2 * 4;
        assert_eq!(index[offsets..offsets + 4], 12u32.to_be_bytes());
        assert_eq!(
            index[offsets + 4..offsets + 8],
            0x8000_0000u32.to_be_bytes()
        );
        assert_eq!(index[offsets + 8..offsets + 16], (5u64 << 30).to_be_bytes());
        assert_eq!(index.len(), offsets + 16 + 40);
    }
}
