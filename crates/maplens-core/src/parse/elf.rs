//! ELF program headers from the first bytes of a file: the `PT_LOAD`
//! entries, `PT_GNU_RELRO`, `PT_TLS` and the GNU build id, which are all
//! maplens needs to tell a mapped object's text, read-only data, RELRO,
//! data and bss apart exactly. Headers only: sections, symbols and the
//! rest of the file are never looked at, so reading the first page or two
//! of a file is enough ([`ElfHeaders::bytes_needed`] says how many).
//!
//! The parsing is the `object` crate's (its lightweight `read::elf` API,
//! with the `elf` feature); this module turns it into plain values that a
//! bundle can store. Without the feature only the values are here.
//!
//! ```
//! use maplens_core::parse::elf::{ElfHeaders, PF_R, PF_X};
//! // A 64-bit little-endian ELF header with one PT_LOAD program header.
//! let mut b = vec![0u8; 64 + 56];
//! b[..4].copy_from_slice(b"\x7fELF");
//! b[4] = 2; b[5] = 1; b[6] = 1; // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
//! b[16] = 3; // ET_DYN
//! b[32] = 64; // e_phoff
//! b[54] = 56; b[56] = 1; // e_phentsize, e_phnum
//! b[64] = 1; // PT_LOAD
//! b[68] = (PF_R | PF_X) as u8;
//! b[64 + 32] = 0x10; b[64 + 33] = 0x02; // p_filesz 0x210
//! b[64 + 40] = 0x10; b[64 + 41] = 0x02; // p_memsz 0x210
//! let h = ElfHeaders::parse(&b).unwrap();
//! assert!(h.class64 && !h.big_endian);
//! assert_eq!(h.loads.len(), 1);
//! assert!(h.loads[0].exec());
//! assert_eq!(h.loads[0].memsz, 0x210);
//! assert_eq!(ElfHeaders::bytes_needed(&b).unwrap(), 64 + 56);
//! ```

#[cfg(feature = "elf")]
use object::elf;
#[cfg(feature = "elf")]
use object::read::elf::{FileHeader, ProgramHeader};

/// `p_flags` bit: executable.
pub const PF_X: u32 = 1;
/// `p_flags` bit: writable.
pub const PF_W: u32 = 2;
/// `p_flags` bit: readable.
pub const PF_R: u32 = 4;

/// The most bytes [`ElfHeaders::bytes_needed`] will ask for: program
/// headers and notes past this are not read.
pub const MAX_HEADER_BYTES: u64 = 256 * 1024;

/// One program header (`PT_LOAD`, or the `PT_TLS` template), its fields as
/// `readelf -lW` prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Load {
    /// `p_offset`: where the segment starts in the file.
    pub offset: u64,
    /// `p_vaddr`: where it starts in memory, before the load bias.
    pub vaddr: u64,
    /// `p_filesz`: bytes from the file.
    pub filesz: u64,
    /// `p_memsz`: bytes in memory (the rest past `filesz` is zeroed: bss).
    pub memsz: u64,
    /// `p_flags`: [`PF_R`], [`PF_W`], [`PF_X`].
    pub flags: u32,
    /// `p_align`.
    pub align: u64,
}

impl Load {
    /// `PF_X` is set.
    pub const fn exec(&self) -> bool {
        self.flags & PF_X != 0
    }

    /// `PF_W` is set.
    pub const fn write(&self) -> bool {
        self.flags & PF_W != 0
    }

    /// One past the last byte in memory, before the load bias.
    pub const fn mem_end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }

    /// One past the last byte from the file, before the load bias.
    pub const fn file_end(&self) -> u64 {
        self.vaddr.saturating_add(self.filesz)
    }
}

/// A range of memory a program header names (`PT_GNU_RELRO`), before the
/// load bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Span {
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_memsz`.
    pub memsz: u64,
}

impl Span {
    /// One past the last byte.
    pub const fn end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }
}

/// What the headers of one ELF file say about its loading.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ElfHeaders {
    /// ELFCLASS64 (else 32-bit).
    pub class64: bool,
    /// ELFDATA2MSB (else little-endian).
    pub big_endian: bool,
    /// `e_type`: 2 for a fixed-address executable, 3 for a shared object
    /// or position-independent executable.
    pub e_type: u16,
    /// The `PT_LOAD` entries, in file order (ascending `p_vaddr`).
    pub loads: Vec<Load>,
    /// `PT_GNU_RELRO`: what the loader makes read-only after relocating.
    pub relro: Option<Span>,
    /// `PT_TLS`: the thread-local storage template.
    pub tls: Option<Load>,
    /// The GNU build id (`NT_GNU_BUILD_ID`), lowercase hex, when its note
    /// lies within the bytes read.
    pub build_id: Option<String>,
}

/// Why bytes are not the headers of an ELF file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    /// The bytes do not start with `\x7fELF` and a known class, data
    /// encoding and version.
    #[error("not an ELF file (expected \\x7fELF, class 1 or 2, data 1 or 2, version 1)")]
    NotElf,
    /// The program headers lie past the bytes given, or are malformed.
    #[error("bad ELF program headers: {0}")]
    ProgramHeaders(String),
}

#[cfg(feature = "elf")]
impl ElfHeaders {
    /// How many bytes from the start of the file [`ElfHeaders::parse`]
    /// needs for the program headers and the notes (for the build id),
    /// at most [`MAX_HEADER_BYTES`]. Call it on what was read so far (at
    /// least the 64-byte ELF header); when it answers more than that, read
    /// that many and call it again (the notes are found only once the
    /// program headers are in).
    pub fn bytes_needed(data: &[u8]) -> Result<u64, ElfError> {
        match class_of(data)? {
            (true, _) => needed::<elf::FileHeader64<object::Endianness>>(data),
            (false, _) => needed::<elf::FileHeader32<object::Endianness>>(data),
        }
    }

    /// Parses the program headers in `data`, the first bytes of an ELF
    /// file. A build id whose note lies past `data` is left `None`.
    pub fn parse(data: &[u8]) -> Result<ElfHeaders, ElfError> {
        match class_of(data)? {
            (true, big) => parse_as::<elf::FileHeader64<object::Endianness>>(data, true, big),
            (false, big) => parse_as::<elf::FileHeader32<object::Endianness>>(data, false, big),
        }
    }
}

/// (is 64-bit, is big-endian) from `e_ident`.
#[cfg(feature = "elf")]
fn class_of(data: &[u8]) -> Result<(bool, bool), ElfError> {
    if data.len() < 16 || &data[..4] != b"\x7fELF" || data[6] != 1 {
        return Err(ElfError::NotElf);
    }
    let class64 = match data[4] {
        1 => false,
        2 => true,
        _ => return Err(ElfError::NotElf),
    };
    let big = match data[5] {
        1 => false,
        2 => true,
        _ => return Err(ElfError::NotElf),
    };
    Ok((class64, big))
}

#[cfg(feature = "elf")]
fn needed<H: FileHeader>(data: &[u8]) -> Result<u64, ElfError> {
    let h = H::parse(data).map_err(|_| ElfError::NotElf)?;
    let e = h.endian().map_err(|_| ElfError::NotElf)?;
    let ehsize = std::mem::size_of::<H>() as u64;
    let phoff: u64 = h.e_phoff(e).into();
    let phend =
        phoff.saturating_add(u64::from(h.e_phnum(e)).saturating_mul(u64::from(h.e_phentsize(e))));
    let mut need = ehsize.max(phend).min(MAX_HEADER_BYTES);
    if (data.len() as u64) < need {
        return Ok(need);
    }
    if let Ok(phs) = h.program_headers(e, data) {
        for ph in phs {
            if ph.p_type(e) == elf::PT_NOTE {
                let (off, size) = ph.file_range(e);
                let end = off.saturating_add(size);
                if end <= MAX_HEADER_BYTES {
                    need = need.max(end);
                }
            }
        }
    }
    Ok(need)
}

#[cfg(feature = "elf")]
fn parse_as<H: FileHeader>(data: &[u8], class64: bool, big: bool) -> Result<ElfHeaders, ElfError> {
    let h = H::parse(data).map_err(|_| ElfError::NotElf)?;
    let e = h.endian().map_err(|_| ElfError::NotElf)?;
    let phs = h
        .program_headers(e, data)
        .map_err(|x| ElfError::ProgramHeaders(x.to_string()))?;
    let mut out = ElfHeaders {
        class64,
        big_endian: big,
        e_type: h.e_type(e).0,
        ..ElfHeaders::default()
    };
    let load = |ph: &H::ProgramHeader| Load {
        offset: ph.p_offset(e).into(),
        vaddr: ph.p_vaddr(e).into(),
        filesz: ph.p_filesz(e).into(),
        memsz: ph.p_memsz(e).into(),
        flags: ph.p_flags(e).0,
        align: ph.p_align(e).into(),
    };
    for ph in phs {
        let t = ph.p_type(e);
        if t == elf::PT_LOAD {
            out.loads.push(load(ph));
        } else if t == elf::PT_GNU_RELRO {
            out.relro = Some(Span {
                vaddr: ph.p_vaddr(e).into(),
                memsz: ph.p_memsz(e).into(),
            });
        } else if t == elf::PT_TLS {
            out.tls = Some(load(ph));
        } else if t == elf::PT_NOTE && out.build_id.is_none() {
            // A note past the bytes read is no error: the id stays unknown.
            if let Ok(Some(mut notes)) = ph.notes(e, data) {
                while let Ok(Some(n)) = notes.next() {
                    if n.name() == elf::ELF_NOTE_GNU && n.n_type(e) == elf::NT_GNU_BUILD_ID {
                        out.build_id = Some(hex(n.desc()));
                        break;
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(feature = "elf")]
fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

#[cfg(all(test, feature = "elf"))]
mod tests {
    use super::*;

    /// The first 64 KiB of a real library on this machine.
    fn real(path: &str) -> Option<Vec<u8>> {
        let b = std::fs::read(path).ok()?;
        Some(b[..b.len().min(64 << 10)].to_vec())
    }

    #[test]
    fn libc_of_this_machine() {
        let Some(b) = [
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/x86_64-linux-gnu/libc.so.6",
        ]
        .into_iter()
        .find_map(real) else {
            return;
        };
        let need = ElfHeaders::bytes_needed(&b[..64]).unwrap();
        assert!(need > 64 && need < 4096, "{need}");
        let need = ElfHeaders::bytes_needed(&b[..need as usize]).unwrap();
        let h = ElfHeaders::parse(&b[..need as usize]).unwrap();
        assert!(h.class64);
        assert_eq!(h.e_type, 3);
        assert!(h.loads.iter().any(Load::exec));
        assert!(h.relro.is_some());
        assert_eq!(h.build_id.as_ref().map(String::len), Some(40));
    }

    #[test]
    fn not_elf_and_truncated() {
        assert_eq!(ElfHeaders::parse(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        assert_eq!(ElfHeaders::parse(b""), Err(ElfError::NotElf));
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[32] = 64;
        b[54] = 56;
        b[56] = 3;
        assert_eq!(ElfHeaders::bytes_needed(&b).unwrap(), 64 + 3 * 56);
        assert!(matches!(
            ElfHeaders::parse(&b),
            Err(ElfError::ProgramHeaders(_))
        ));
    }
}
