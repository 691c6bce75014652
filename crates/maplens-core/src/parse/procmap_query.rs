//! `PROCMAP_QUERY` (6.11+): the argument of the ioctl on `/proc/PID/maps`
//! that answers "which mapping holds (or follows) this address" without
//! text. Layout from the kernel's include/uapi/linux/fs.h
//! (`struct procmap_query`, 104 bytes); no I/O here: the call itself is in
//! `crate::source::ioctl`.
//!
//! ```
//! use maplens_core::parse::procmap_query::{ProcmapQuery, flags};
//! let q = ProcmapQuery::covering_or_next(0x1000);
//! assert_eq!(q.size, 104);
//! assert_eq!(q.query_flags, flags::COVERING_OR_NEXT_VMA);
//! assert_eq!(ProcmapQuery::from_bytes(&q.to_bytes()), Some(q));
//! ```

use super::{Dev, Perms};

/// `struct procmap_query`, field for field.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcmapQuery {
    /// Size of this struct (104), for extension.
    pub size: u64,
    /// In: `PROCMAP_QUERY_*` ([`flags`]).
    pub query_flags: u64,
    /// In: the address asked about.
    pub query_addr: u64,
    /// Out: first address of the mapping.
    pub vma_start: u64,
    /// Out: one past its last address.
    pub vma_end: u64,
    /// Out: `PROCMAP_QUERY_VMA_*` permission bits ([`flags`]).
    pub vma_flags: u64,
    /// Out: its page size.
    pub vma_page_size: u64,
    /// Out: file offset (0 for anonymous memory).
    pub vma_offset: u64,
    /// Out: inode (0: none).
    pub inode: u64,
    /// Out: device major number.
    pub dev_major: u32,
    /// Out: device minor number.
    pub dev_minor: u32,
    /// In: room for the name; out: its length with the NUL (0: no name).
    pub vma_name_size: u32,
    /// In: room for the build ID; out: its length.
    pub build_id_size: u32,
    /// In: address of the name buffer.
    pub vma_name_addr: u64,
    /// In: address of the build-ID buffer.
    pub build_id_addr: u64,
}

/// Size of `struct procmap_query`.
pub const SIZE: usize = 104;

/// `PROCMAP_QUERY_*` flags.
pub mod flags {
    /// The mapping is readable (out), or must be (in).
    pub const VMA_READABLE: u64 = 0x01;
    /// Writable.
    pub const VMA_WRITABLE: u64 = 0x02;
    /// Executable.
    pub const VMA_EXECUTABLE: u64 = 0x04;
    /// Shared (`VM_MAYSHARE`).
    pub const VMA_SHARED: u64 = 0x08;
    /// In: the mapping holding the address, else the next one above it.
    pub const COVERING_OR_NEXT_VMA: u64 = 0x10;
    /// In: only file-backed mappings.
    pub const FILE_BACKED_VMA: u64 = 0x20;
}

impl ProcmapQuery {
    /// A query for the mapping holding `addr` or the next one above it;
    /// no name asked for (see [`ProcmapQuery::with_name_buffer`]).
    pub const fn covering_or_next(addr: u64) -> ProcmapQuery {
        ProcmapQuery {
            size: SIZE as u64,
            query_flags: flags::COVERING_OR_NEXT_VMA,
            query_addr: addr,
            vma_start: 0,
            vma_end: 0,
            vma_flags: 0,
            vma_page_size: 0,
            vma_offset: 0,
            inode: 0,
            dev_major: 0,
            dev_minor: 0,
            vma_name_size: 0,
            build_id_size: 0,
            vma_name_addr: 0,
            build_id_addr: 0,
        }
    }

    /// The same query asking for the name into a buffer at `addr` of
    /// `len` bytes.
    pub const fn with_name_buffer(mut self, addr: u64, len: u32) -> ProcmapQuery {
        self.vma_name_addr = addr;
        self.vma_name_size = len;
        self
    }

    /// The permissions of the answer, as maps prints them.
    pub const fn perms(&self) -> Perms {
        let f = self.vma_flags;
        Perms::new(
            f & flags::VMA_READABLE != 0,
            f & flags::VMA_WRITABLE != 0,
            f & flags::VMA_EXECUTABLE != 0,
            f & flags::VMA_SHARED != 0,
        )
    }

    /// The device of the answer.
    pub const fn dev(&self) -> Dev {
        Dev {
            major: self.dev_major,
            minor: self.dev_minor,
        }
    }

    /// The name's length without its NUL, from the answer's
    /// `vma_name_size` (0 when the mapping has no name).
    pub const fn name_len(&self) -> usize {
        self.vma_name_size.saturating_sub(1) as usize
    }

    /// The struct as the kernel reads it (native byte order).
    pub fn to_bytes(&self) -> [u8; SIZE] {
        let mut b = [0u8; SIZE];
        let mut at = 0;
        let mut put = |v: &[u8]| {
            b[at..at + v.len()].copy_from_slice(v);
            at += v.len();
        };
        for v in [
            self.size,
            self.query_flags,
            self.query_addr,
            self.vma_start,
            self.vma_end,
            self.vma_flags,
            self.vma_page_size,
            self.vma_offset,
            self.inode,
        ] {
            put(&v.to_ne_bytes());
        }
        for v in [
            self.dev_major,
            self.dev_minor,
            self.vma_name_size,
            self.build_id_size,
        ] {
            put(&v.to_ne_bytes());
        }
        put(&self.vma_name_addr.to_ne_bytes());
        put(&self.build_id_addr.to_ne_bytes());
        b
    }

    /// The struct from the bytes the kernel wrote; `None` when shorter
    /// than [`SIZE`].
    pub fn from_bytes(b: &[u8]) -> Option<ProcmapQuery> {
        let b = b.get(..SIZE)?;
        let q = |i: usize| u64::from_ne_bytes(b[i..i + 8].try_into().expect("8"));
        let d = |i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().expect("4"));
        Some(ProcmapQuery {
            size: q(0),
            query_flags: q(8),
            query_addr: q(16),
            vma_start: q(24),
            vma_end: q(32),
            vma_flags: q(40),
            vma_page_size: q(48),
            vma_offset: q(56),
            inode: q(64),
            dev_major: d(72),
            dev_minor: d(76),
            vma_name_size: d(80),
            build_id_size: d(84),
            vma_name_addr: q(88),
            build_id_addr: q(96),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_the_kernels() {
        assert_eq!(std::mem::size_of::<ProcmapQuery>(), SIZE);
        // Offsets of include/uapi/linux/fs.h: nine u64, four u32, two u64.
        let mut q = ProcmapQuery::covering_or_next(0xdead_b000);
        q.dev_major = 0x0103;
        q.dev_minor = 0x0207;
        q.vma_name_size = 0x40;
        q.build_id_addr = 0x1122_3344_5566_7788;
        let b = q.to_bytes();
        assert_eq!(&b[0..8], &104u64.to_ne_bytes());
        assert_eq!(&b[8..16], &0x10u64.to_ne_bytes());
        assert_eq!(&b[16..24], &0xdead_b000u64.to_ne_bytes());
        assert_eq!(&b[72..76], &0x0103u32.to_ne_bytes());
        assert_eq!(&b[76..80], &0x0207u32.to_ne_bytes());
        assert_eq!(&b[80..84], &0x40u32.to_ne_bytes());
        assert_eq!(&b[96..104], &0x1122_3344_5566_7788u64.to_ne_bytes());
        assert_eq!(ProcmapQuery::from_bytes(&b), Some(q));
        assert_eq!(ProcmapQuery::from_bytes(&b[..103]), None);
    }

    #[test]
    fn answer_fields() {
        let q = ProcmapQuery {
            vma_flags: flags::VMA_READABLE | flags::VMA_SHARED,
            vma_name_size: 6,
            dev_major: 8,
            dev_minor: 1,
            ..ProcmapQuery::default()
        };
        assert_eq!(q.perms(), Perms::parse(b"r--s").unwrap());
        assert_eq!(q.name_len(), 5);
        assert_eq!(q.dev(), Dev { major: 8, minor: 1 });
        assert_eq!(ProcmapQuery::default().name_len(), 0);
    }
}
