//! Pack files: the writer's own, for a group's new objects, and libgit2's, for the packs it
//! merges them into.
//!
//! A group's objects (a blob, a few trees and a commit per edit) are small and new, so a
//! delta search finds nothing worth having and an indexer would only parse back what was
//! just written. The writer stores them whole, zlib-compressed, in one pack and writes its
//! version-2 index itself: two new files per group whatever its size, where loose objects
//! cost a file (and a temporary file, a link and an unlink) per object. File creations and
//! deletions are what a small commit costs on a filesystem: ext4 without a journal scans
//! past every inode freed in the last seconds to allocate a new one. The periodic packs
//! (see `session`) recompute deltas.
//!
//! Formats: `Documentation/gitformat-pack.txt` in git.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::ZlibEncoder;
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
struct Entry {
    id: Oid,
    offset: u64,
    crc: u32,
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
    let mut pack = Vec::with_capacity(64 + objects.iter().map(|o| o.data.len() / 2).sum::<usize>());
    pack.extend_from_slice(b"PACK");
    pack.extend_from_slice(&2u32.to_be_bytes());
    pack.extend_from_slice(&count.to_be_bytes());
    let mut entries = Vec::with_capacity(objects.len());
    for object in objects {
        let start = pack.len();
        entry_header(&mut pack, object.kind, object.data.len())?;
        // Fast compression: these packs live only until the periodic pack recompresses them.
        let mut encoder = ZlibEncoder::new(pack, Compression::fast());
        encoder
            .write_all(object.data)
            .map_err(|source| io_error("compressing an object", source))?;
        pack = encoder
            .finish()
            .map_err(|source| io_error("compressing an object", source))?;
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

/// An object's header in a pack: its kind and size, seven bits per byte after the first
/// four, least significant first, the high bit saying more follow.
fn entry_header(pack: &mut Vec<u8>, kind: ObjectType, size: usize) -> Result<(), StoreError> {
    let kind: u8 = match kind {
        ObjectType::Commit => 1,
        ObjectType::Tree => 2,
        ObjectType::Blob => 3,
        ObjectType::Tag => 4,
        other => return Err(invalid(&format!("a pack cannot hold a {other} whole"))),
    };
    let mut size = size as u64;
    let mut byte = (kind << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size > 0 {
        pack.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    pack.push(byte);
    Ok(())
}

/// A version-2 pack index: header, fan-out table, sorted ids, CRC-32s, offsets (those
/// past 2 GiB in a table of their own), the pack's checksum and the index's.
fn index_bytes(entries: &mut [Entry], pack_checksum: &[u8]) -> Vec<u8> {
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

/// Writes `bytes` to `path` through a new temporary file in `dir`, read-only as git's packs
/// are; a crash leaves at most a `tmp_pack_*` file, which `git gc` removes.
fn install(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let context = || format!("writing {}", path.display());
    let temporary = dir.join(format!("tmp_pack_{:016x}", rand::random::<u64>()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(&temporary)
        .map_err(|source| io_error(&context(), source))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(io_error(&context(), source));
    }
    Ok(())
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

fn io_error(context: &str, source: io::Error) -> StoreError {
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
        let pack = std::fs::read(index.with_extension("pack")).unwrap();
        let check = Repository::init_bare(dir.path().join("check.git")).unwrap();
        let indexed = index_pack(&check, &pack).unwrap();
        assert_eq!(
            std::fs::read(&indexed).unwrap(),
            std::fs::read(&index).unwrap()
        );
        assert_eq!(indexed.file_name(), index.file_name());

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
