//! Packs the replay index's long-lived bytes (response bodies, canonical
//! requests) side by side into shared chunks.
//!
//! Giving each of 100k bodies its own allocation, between the short-lived
//! allocations of parsing the next file, fragments glibc's heap so badly that
//! `malloc` itself became the largest cost of loading (38 % of start-up). In
//! chunks, a body costs its length and a reference count, and nothing is
//! left between them for the allocator to search.

use bytes::{Bytes, BytesMut};

/// Bytes per chunk. Pages of a chunk not yet written cost no memory.
const CHUNK: usize = 64 * 1024;

/// Anything larger gets an allocation of its own (it would waste too much of
/// a chunk's tail).
const OWN_ALLOCATION: usize = CHUNK / 4;

/// Appends byte strings to the current chunk and hands each back as a
/// [`Bytes`] sharing it.
#[derive(Debug, Default)]
pub struct Arena {
    chunk: BytesMut,
}

impl Arena {
    /// A shared copy of `bytes`.
    pub fn pack(&mut self, bytes: &[u8]) -> Bytes {
        if bytes.len() > OWN_ALLOCATION {
            return Bytes::copy_from_slice(bytes);
        }
        if self.chunk.capacity() - self.chunk.len() < bytes.len() {
            // The old chunk lives on in the `Bytes` already handed out.
            self.chunk = BytesMut::with_capacity(CHUNK);
        }
        self.chunk.extend_from_slice(bytes);
        self.chunk.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_bytes_are_exact_copies_that_share_chunks() {
        let mut arena = Arena::default();
        let small: Vec<Bytes> = (0..200u8).map(|i| arena.pack(&vec![i; 1000])).collect();
        for (i, b) in small.iter().enumerate() {
            assert_eq!(b.len(), 1000);
            assert!(b.iter().all(|&x| usize::from(x) == i), "copy {i} was overwritten");
        }
        // 65 bodies of 1000 bytes fit one 64 KiB chunk: consecutive copies are
        // adjacent in memory, and a new chunk starts when one is full.
        let adjacent = small
            .windows(2)
            .filter(|w| w[0].as_ptr().wrapping_add(1000) == w[1].as_ptr())
            .count();
        assert_eq!(adjacent, 200 - 200usize.div_ceil(CHUNK / 1000));
        let big = arena.pack(&vec![7; OWN_ALLOCATION + 1]);
        assert_eq!(big.len(), OWN_ALLOCATION + 1);
        assert_eq!(arena.pack(b""), Bytes::new());
        assert_eq!(arena.pack(b"after"), Bytes::from_static(b"after"));
    }
}
