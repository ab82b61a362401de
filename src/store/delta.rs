//! Git's delta format: an object written as the instructions that rebuild it from another
//! one (its base), copying ranges of the base and inserting bytes of its own.
//!
//! A post's new version differs from its previous one by a few lines, and a tree's by one
//! entry's id, so a delta against the previous version is a few dozen bytes where the
//! object is kilobytes. The encoder indexes the base in blocks of [`BLOCK`] bytes, as
//! git's `diff-delta.c` does, and extends every block found in the target as far as the
//! bytes agree, both ways. Format: "Deltified representation" in git's
//! `Documentation/gitformat-pack.txt`.

/// The length of the base's blocks, and so of the shortest copy the encoder looks for.
const BLOCK: usize = 16;

/// The longest copy one instruction makes, as git writes them (the format allows longer,
/// some readers do not).
const MAX_COPY: usize = 0x10000;

/// The most bytes one insert instruction carries.
const MAX_INSERT: usize = 0x7f;

/// A delta that rebuilds `target` from `base`, or `None` when it would be longer than
/// `limit` bytes (or the base is too big for a copy to reach, 4 GiB).
pub(crate) fn encode(base: &[u8], target: &[u8], limit: usize) -> Option<Vec<u8>> {
    u32::try_from(base.len()).ok()?;
    let mut delta = Vec::with_capacity(limit.min(target.len() + 32));
    size_header(&mut delta, base.len());
    size_header(&mut delta, target.len());
    let blocks = BaseBlocks::new(base);
    let (mut at, mut pending) = (0, 0);
    while at + BLOCK <= target.len() {
        let Some((found, back, length)) = blocks.longest_match(target, at, pending) else {
            at += 1;
            continue;
        };
        insert(&mut delta, &target[pending..at - back]);
        copy(&mut delta, found - back, length);
        at += length - back;
        pending = at;
        if delta.len() > limit {
            return None;
        }
    }
    insert(&mut delta, &target[pending..]);
    (delta.len() <= limit).then_some(delta)
}

/// Rebuilds the object `delta` describes from `base`; `None` when the delta is malformed or
/// was made from another base.
pub(crate) fn apply(base: &[u8], delta: &[u8]) -> Option<Vec<u8>> {
    let mut rest = delta;
    if read_size(&mut rest)? != base.len() {
        return None;
    }
    let size = read_size(&mut rest)?;
    let mut out = Vec::with_capacity(size);
    while let Some((&command, tail)) = rest.split_first() {
        rest = tail;
        if command & 0x80 != 0 {
            let mut field = |bits: u8, bytes: usize| -> Option<usize> {
                let mut value = 0;
                for n in 0..bytes {
                    if bits & (1 << n) != 0 {
                        let (&byte, tail) = rest.split_first()?;
                        rest = tail;
                        value |= usize::from(byte) << (8 * n);
                    }
                }
                Some(value)
            };
            let offset = field(command & 0x0f, 4)?;
            let length = match field((command >> 4) & 0x07, 3)? {
                0 => MAX_COPY,
                length => length,
            };
            out.extend_from_slice(base.get(offset..offset.checked_add(length)?)?);
        } else if command != 0 {
            let length = usize::from(command);
            out.extend_from_slice(rest.get(..length)?);
            rest = &rest[length..];
        } else {
            return None;
        }
    }
    (out.len() == size).then_some(out)
}

/// Where each [`BLOCK`]-aligned block of the base starts, by a hash of its bytes: a table
/// of slots, each the head of a list of the blocks that hash to it, earliest first.
struct BaseBlocks<'a> {
    base: &'a [u8],
    /// Block number + 1 of the first block in each slot, 0 for none.
    slots: Vec<u32>,
    /// For each block, block number + 1 of the next one in its slot, 0 for none.
    next: Vec<u32>,
    shift: u32,
}

/// The most blocks of one slot a lookup compares: repetitive text (the same words on
/// every line) puts many blocks in one slot, and the longest match is rarely far down.
const MAX_CANDIDATES: usize = 64;

impl<'a> BaseBlocks<'a> {
    fn new(base: &'a [u8]) -> BaseBlocks<'a> {
        let count = base.len() / BLOCK;
        let bits = (count * 2).max(2).next_power_of_two().trailing_zeros();
        let shift = 64 - bits;
        let mut slots = vec![0u32; 1 << bits];
        let mut next = vec![0u32; count];
        // Last block first, so that each list ends up earliest first.
        for block in (0..count).rev() {
            let start = block * BLOCK;
            let slot = &mut slots[slot_of(&base[start..start + BLOCK], shift)];
            next[block] = *slot;
            *slot = block as u32 + 1;
        }
        BaseBlocks {
            base,
            slots,
            next,
            shift,
        }
    }

    /// The longest stretch of the base that the target's block at `at` starts or lies in:
    /// where in the base it starts, how far it reaches back before `at` (not before
    /// `floor`) and its length. `None` when the base has no such block.
    fn longest_match(
        &self,
        target: &[u8],
        at: usize,
        floor: usize,
    ) -> Option<(usize, usize, usize)> {
        let block = &target[at..at + BLOCK];
        let mut best: Option<(usize, usize, usize)> = None;
        let mut candidate = self.slots[slot_of(block, self.shift)];
        for _ in 0..MAX_CANDIDATES {
            let Some(number) = (candidate as usize).checked_sub(1) else {
                break;
            };
            candidate = self.next[number];
            let start = number * BLOCK;
            if self.base[start..start + BLOCK] != *block {
                continue;
            }
            let back = target[floor..at]
                .iter()
                .rev()
                .zip(self.base[..start].iter().rev())
                .take_while(|(t, b)| t == b)
                .count();
            let forward = target[at + BLOCK..]
                .iter()
                .zip(&self.base[start + BLOCK..])
                .take_while(|(t, b)| t == b)
                .count();
            let length = back + BLOCK + forward;
            if best.is_none_or(|(_, _, longest)| length > longest) {
                best = Some((start, back, length));
            }
        }
        best
    }
}

/// A multiplicative hash of a block, reduced to `64 - shift` bits.
fn slot_of(block: &[u8], shift: u32) -> usize {
    let word = |at: usize| u64::from_le_bytes(block[at..at + 8].try_into().unwrap_or_default());
    let mixed = (word(0) ^ word(8).rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> shift) as usize
}

/// A size in the delta's header: seven bits per byte, least significant first, the high
/// bit saying more follow.
fn size_header(delta: &mut Vec<u8>, mut size: usize) {
    while size >= 0x80 {
        delta.push((size & 0x7f) as u8 | 0x80);
        size >>= 7;
    }
    delta.push(size as u8);
}

fn read_size(rest: &mut &[u8]) -> Option<usize> {
    let mut size = 0usize;
    for shift in (0..64).step_by(7) {
        let (&byte, tail) = rest.split_first()?;
        *rest = tail;
        size |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(size);
        }
    }
    None
}

/// Instructions inserting `bytes`, [`MAX_INSERT`] at a time.
fn insert(delta: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.chunks(MAX_INSERT) {
        delta.push(chunk.len() as u8);
        delta.extend_from_slice(chunk);
    }
}

/// Instructions copying `length` bytes of the base from `offset`, [`MAX_COPY`] at a time:
/// a command byte saying which offset and length bytes follow (zero bytes are left out).
fn copy(delta: &mut Vec<u8>, mut offset: usize, mut length: usize) {
    while length > 0 {
        let now = length.min(MAX_COPY);
        let at = delta.len();
        let mut command = 0x80u8;
        delta.push(0);
        for n in 0..4 {
            let byte = (offset >> (8 * n)) as u8;
            if byte != 0 {
                command |= 1 << n;
                delta.push(byte);
            }
        }
        // A length of exactly MAX_COPY is written as no length bytes at all.
        let written = if now == MAX_COPY { 0 } else { now };
        for n in 0..3 {
            let byte = (written >> (8 * n)) as u8;
            if byte != 0 {
                command |= 0x10 << n;
                delta.push(byte);
            }
        }
        delta[at] = command;
        offset += now;
        length -= now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn round_trip(base: &[u8], target: &[u8]) -> Vec<u8> {
        let delta = encode(base, target, usize::MAX).expect("no limit");
        assert_eq!(apply(base, &delta).as_deref(), Some(target));
        delta
    }

    #[test]
    fn a_small_edit_is_a_small_delta() {
        let base: String = (0..200)
            .map(|n| format!("line {n} of the post\n"))
            .collect();
        let target = base.replace("line 120 of", "line 120, edited, of");
        let delta = round_trip(base.as_bytes(), target.as_bytes());
        assert!(delta.len() < 40, "{} bytes", delta.len());
        // Limited below what it needs, there is no delta.
        assert_eq!(
            encode(base.as_bytes(), target.as_bytes(), delta.len() - 1),
            None
        );
    }

    #[test]
    fn edge_cases_rebuild_the_target() {
        let text = b"the quick brown fox jumps over the lazy dog, again and again".repeat(3);
        for (base, target) in [
            (&b""[..], &b""[..]),
            (b"", b"new"),
            (&text[..], b""),
            (&text[..], &text[..]),
            (&text[..], &text[5..]),
            (&text[..20], &text[..]),
            (b"short", b"short"),
        ] {
            round_trip(base, target);
        }
    }

    #[test]
    fn long_copies_and_inserts_are_split() {
        // 200,000 bytes copied (in four instructions) around 1,000 new bytes (in eight).
        let base: Vec<u8> = (0..200_000u32).map(|n| (n * 7 % 253) as u8).collect();
        let mut target = base[..100_000].to_vec();
        target.extend((0..1_000u32).map(|n| (n * 13 % 7) as u8 + b'a'));
        target.extend_from_slice(&base[100_000..]);
        let delta = round_trip(&base, &target);
        assert!(delta.len() < 1_100, "{} bytes", delta.len());
    }

    #[test]
    fn random_edits_rebuild_the_target() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..300 {
            let size = rng.random_range(0..3_000);
            let base: Vec<u8> = (0..size).map(|_| rng.random_range(b'a'..=b'e')).collect();
            let mut target = base.clone();
            for _ in 0..rng.random_range(0..6) {
                let at = rng.random_range(0..=target.len());
                match rng.random_range(0..3) {
                    0 => target.insert(at, rng.random()),
                    1 if at < target.len() => {
                        target.remove(at);
                    }
                    _ => {
                        let end = rng.random_range(at..=target.len());
                        let moved: Vec<u8> = target.drain(at..end).collect();
                        target.extend(moved);
                    }
                }
            }
            round_trip(&base, &target);
        }
    }

    #[test]
    fn a_delta_for_another_base_or_a_damaged_one_is_refused() {
        let base = b"0123456789abcdef0123456789abcdef and more".to_vec();
        let target = b"xx0123456789abcdef0123456789abcdef and less".to_vec();
        let delta = round_trip(&base, &target);
        assert_eq!(apply(&base[1..], &delta), None, "another base's size");
        for cut in 0..delta.len() {
            assert_ne!(apply(&base, &delta[..cut]).as_deref(), Some(&target[..]));
        }
        let mut wrong = delta.clone();
        wrong.push(0);
        assert_eq!(apply(&base, &wrong), None, "command 0 is reserved");
        // A copy reaching past the base's end.
        let mut past = Vec::new();
        size_header(&mut past, base.len());
        size_header(&mut past, 10);
        copy(&mut past, base.len() - 2, 10);
        assert_eq!(apply(&base, &past), None);
    }
}
