//! Invariants of ELF program-header parsing ([`ElfHeaders`]), whatever the
//! bytes. Shared by the `cargo fuzz` target `elf`
//! (`fuzz/fuzz_targets/elf.rs`, which includes this file by path) and the
//! bounded stable run in `tests/fuzz_regress.rs`.
//!
//! The program headers are decoded a second time here, by hand from the
//! ELF specification (no `object`), and every segment the parser reports
//! must be one of them: from a table that lies inside the bytes given.

use maplens_core::parse::elf::{ElfError, ElfHeaders, Load, MAX_HEADER_BYTES, Span};

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PT_TLS: u32 = 7;
const PT_GNU_RELRO: u32 = 0x6474_e552;
/// `e_phnum` saying "the count is in section header 0" (not decoded here).
const PN_XNUM: u16 = 0xffff;

/// One program header as the reference decoder reads it.
struct Phdr {
    p_type: u32,
    load: Load,
}

/// The reference decoding of `data`'s program-header table: `None` when
/// the ELF header is not there or names its count indirectly (`PN_XNUM`),
/// else the table (empty when `e_phoff` is 0) or `Err` when it does not
/// fit in `data` or has an entry size other than the class's.
#[allow(clippy::type_complexity)]
fn reference(data: &[u8]) -> Option<Result<(u64, u64, Vec<Phdr>), ()>> {
    let class64 = match data.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big = *data.get(5)? == 2;
    let ehsize = if class64 { 64 } else { 52 };
    if data.len() < ehsize {
        return None;
    }
    let rd = |off: usize, n: usize| -> u64 {
        let b = &data[off..off + n];
        let mut v = 0u64;
        for i in 0..n {
            let byte = if big { b[i] } else { b[n - 1 - i] };
            v = v << 8 | u64::from(byte);
        }
        v
    };
    let (phoff, phentsize, phnum) = if class64 {
        (rd(32, 8), rd(54, 2) as u16, rd(56, 2) as u16)
    } else {
        (rd(28, 4), rd(42, 2) as u16, rd(44, 2) as u16)
    };
    if phnum == PN_XNUM {
        return None;
    }
    if phoff == 0 || phnum == 0 {
        return Some(Ok((phoff, 0, Vec::new())));
    }
    let size = if class64 { 56 } else { 32 };
    if usize::from(phentsize) != size {
        return Some(Err(()));
    }
    let end = phoff.checked_add(u64::from(phnum) * size as u64);
    let Some(end) = end.filter(|&e| e <= data.len() as u64) else {
        return Some(Err(()));
    };
    let mut out = Vec::new();
    for k in 0..usize::from(phnum) {
        let o = phoff as usize + k * size;
        let ph = if class64 {
            Phdr {
                p_type: rd(o, 4) as u32,
                load: Load {
                    flags: rd(o + 4, 4) as u32,
                    offset: rd(o + 8, 8),
                    vaddr: rd(o + 16, 8),
                    filesz: rd(o + 32, 8),
                    memsz: rd(o + 40, 8),
                    align: rd(o + 48, 8),
                },
            }
        } else {
            Phdr {
                p_type: rd(o, 4) as u32,
                load: Load {
                    offset: rd(o + 4, 4),
                    vaddr: rd(o + 8, 4),
                    filesz: rd(o + 16, 4),
                    memsz: rd(o + 20, 4),
                    flags: rd(o + 24, 4) as u32,
                    align: rd(o + 28, 4),
                },
            }
        };
        out.push(ph);
    }
    Some(Ok((phoff, end, out)))
}

/// Panics (with a message) when an invariant does not hold: no panic; the
/// same answer every time; every segment reported is a program header of
/// the table inside `data` (the `PT_LOAD`s in table order, the last
/// `PT_GNU_RELRO` and `PT_TLS`); a build id is hex of bytes of `data`;
/// [`ElfHeaders::bytes_needed`] stays within [`MAX_HEADER_BYTES`], is a
/// fixed point, and parsing that many bytes gives what parsing all gives.
pub fn check(data: &[u8]) {
    let parsed = ElfHeaders::parse(data);
    assert_eq!(parsed, ElfHeaders::parse(data), "not deterministic");
    let needed = ElfHeaders::bytes_needed(data);
    assert_eq!(needed, ElfHeaders::bytes_needed(data), "not deterministic");
    if let Err(e) = &parsed {
        let m = e.to_string();
        assert!(!m.is_empty() && !m.contains('\n'), "{m:?}");
    }
    let magic = data.len() >= 16
        && data.starts_with(b"\x7fELF")
        && matches!(data[4], 1 | 2)
        && matches!(data[5], 1 | 2)
        && data[6] == 1;
    if !magic {
        assert_eq!(parsed, Err(ElfError::NotElf));
        assert_eq!(needed, Err(ElfError::NotElf));
        return;
    }
    match &needed {
        Ok(n) => {
            let ehsize = if data[4] == 2 { 64 } else { 52 };
            assert!(*n >= ehsize && *n <= MAX_HEADER_BYTES, "bytes_needed {n}");
            if *n <= data.len() as u64 {
                let head = &data[..*n as usize];
                assert_eq!(ElfHeaders::bytes_needed(head), Ok(*n), "not a fixed point");
                if data.len() as u64 <= MAX_HEADER_BYTES && reference(data).is_some() {
                    assert_eq!(ElfHeaders::parse(head), parsed, "cut to bytes_needed");
                }
            }
        }
        Err(e) => assert_eq!(*e, ElfError::NotElf),
    }
    let Some(reference) = reference(data) else {
        // PN_XNUM: the count is in section header 0; only the bounds.
        if let Ok(h) = &parsed {
            assert!(h.loads.len() * 32 <= data.len(), "{} loads", h.loads.len());
        }
        return;
    };
    let h = match (&parsed, reference) {
        (Ok(h), Ok((phoff, end, table))) => {
            assert!(end <= data.len() as u64);
            let loads: Vec<Load> = table
                .iter()
                .filter(|p| p.p_type == PT_LOAD)
                .map(|p| p.load)
                .collect();
            assert_eq!(h.loads, loads, "PT_LOADs at {phoff:#x}");
            let last = |t: u32| table.iter().rev().find(|p| p.p_type == t).map(|p| p.load);
            assert_eq!(h.tls, last(PT_TLS), "PT_TLS");
            let relro = last(PT_GNU_RELRO).map(|l| Span {
                vaddr: l.vaddr,
                memsz: l.memsz,
            });
            assert_eq!(h.relro, relro, "PT_GNU_RELRO");
            if h.build_id.is_some() {
                assert!(
                    table.iter().any(|p| p.p_type == PT_NOTE),
                    "id without PT_NOTE"
                );
            }
            h
        }
        (Err(ElfError::ProgramHeaders(_)), Err(())) => return,
        (Err(ElfError::NotElf), _) if data.len() < if data[4] == 2 { 64 } else { 52 } => return,
        (p, r) => panic!(
            "parser {p:?}, reference {}",
            if r.is_ok() { "a table" } else { "no table" }
        ),
    };
    assert_eq!(h.class64, data[4] == 2);
    assert_eq!(h.big_endian, data[5] == 2);
    for l in h.loads.iter().chain(&h.tls) {
        assert!(l.mem_end() >= l.vaddr && l.file_end() >= l.vaddr);
    }
    if let Some(r) = &h.relro {
        assert!(r.end() >= r.vaddr);
    }
    if let Some(id) = &h.build_id {
        assert!(id.len() % 2 == 0, "odd build id {id}");
        assert!(
            id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
            "build id {id}"
        );
        let bytes: Vec<u8> = (0..id.len() / 2)
            .map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        if !bytes.is_empty() && bytes.len() <= 64 {
            assert!(
                data.windows(bytes.len()).any(|w| w == bytes),
                "build id not in the bytes"
            );
        }
    }
}
