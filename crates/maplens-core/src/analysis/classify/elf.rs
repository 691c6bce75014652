//! ELF objects and their segments: code, read-only data, RELRO, data, bss
//! and the gaps the linker leaves between them.
//!
//! Two ways, the exact one first:
//!
//! * **From the program headers** ([`Snapshot::elf`], read from the file of
//!   a live process or from a bundle's record): each `PT_LOAD` is mapped by
//!   the loader at `bias + p_vaddr`, its file part page-rounded, the rest of
//!   `p_memsz` anonymous (bss); the part of a writable segment made
//!   read-only is RELRO (`PT_GNU_RELRO`); what lies between two `PT_LOAD`s
//!   is a gap. Every region in the object's span is placed by address, so
//!   an anonymous `r-xp` inside an executable segment (text remapped onto
//!   huge pages) is that object's code. Not a guess.
//! * **From the layout**, for saved text: a *run* is a sequence of one
//!   file's mappings with rising offsets, each no further in the file than
//!   in memory (`p_vaddr − p_offset` never falls along an object), only
//!   anonymous memory, holes or Android's `[page size compat]` padding
//!   between them, and nothing read-only after a writable segment (the
//!   data segments come last). A run with an executable mapping (or an
//!   anonymous `r-xp` inside it) is an object: so an APK holding two
//!   libraries gives two objects, and the archive's other mappings stay
//!   data files. Its regions are told apart by permissions and the file
//!   offsets of their neighbours:
//!   - lld: `R`, `RX`, `RW` (RELRO, made `r--`), `RW`; GNU ld with
//!     `-z separate-code`: `R`, `RX`, `R`, `RW` (whose head is RELRO); GNU
//!     ld without it and old objects: `RX`, `RW`.
//!   - RELRO is the last read-only mapping after the code when the data
//!     segment follows it in the file: contiguously (GNU ld), or sharing
//!     its last page (lld, where RELRO's padding is not in the file), with
//!     or without a hole between them in memory; or the second of two
//!     read-only mappings after the code when no data follows (all data
//!     was RELRO).
//!   - bss is anonymous `rw` right after the object's last data segment,
//!     and never longer than the object's own file mappings (64 KiB at
//!     least): the kernel merges a bss with an anonymous mapping that
//!     happens to follow it, and the whole region is not the object's.
//!     Android's linker names it `[anon:.bss]`: that is bss wherever it
//!     lies among or after the segments.
//!   - Runs of different files may interleave: ART maps an oat file's
//!     `.vdex` among the oat file's segments.

use std::collections::HashMap;

use super::{Category, Class, Object, class};
use crate::model::{ElfObject, Region, Snapshot};
use crate::parse::PathKind;
use crate::parse::elf::Load;

/// File identity used to group segments: device, inode and name.
pub(super) type FileKey<'a> = (u32, u32, u64, &'a [u8]);

/// The most `p_vaddr - p_offset` rises from one segment to the next of
/// one object, by layout: the largest `max-page-size` linkers use (2 MiB,
/// x86_64 binutils before 2.31 and others) twice over. A greater rise is
/// another object of the same file (two libraries inside one APK).
pub(super) const MAX_RISE: u64 = 4 << 20;

/// The smallest bss bound of the layout rule: a bss region is never
/// longer than the object's file mappings or this.
pub(super) const BSS_MIN_BOUND: u64 = 64 << 10;

/// Every region that is part of an ELF object, with its object and
/// class, by the region's start address.
pub(super) struct ObjectIndex<'a> {
    /// `(start, object, class)`, sorted by start, one per start: looked
    /// up twice for every region, where a binary search over the few
    /// hundred members is cheaper than hashing.
    members: Vec<(u64, usize, Class)>,
    _regions: std::marker::PhantomData<&'a [Region]>,
}

/// File identity used to group segments.
pub(super) fn file_key(r: &Region) -> Option<FileKey<'_>> {
    matches!(r.kind(), PathKind::File)
        .then(|| (r.dev.major, r.dev.minor, r.inode, r.path.view().name_raw()))
}

/// The region is a segment of one of the objects.
pub(super) fn is_object(r: &Region, index: &ObjectIndex<'_>) -> bool {
    index.member(r).is_some()
}

/// The object a region is part of.
pub(super) fn object_of(r: &Region, index: &ObjectIndex<'_>) -> Option<usize> {
    index.member(r).map(|m| m.0)
}

impl ObjectIndex<'_> {
    /// The object and class of the member that starts where `r` does.
    fn member(&self, r: &Region) -> Option<(usize, &Class)> {
        let i = self.members.binary_search_by_key(&r.start, |m| m.0).ok()?;
        let m = &self.members[i];
        Some((m.1, &m.2))
    }
}

/// What a region of an object is: its segment, bss, gap, or remapped
/// text. Call it where [`is_object`] holds.
pub(super) fn member_class(r: &Region, index: &ObjectIndex<'_>) -> Class {
    match index.member(r) {
        Some((o, c)) => {
            let mut c = c.clone();
            c.object = Some(o);
            c
        }
        None => class(
            Category::AnonMmap,
            "unrecognised",
            "fallback",
            String::new(),
            true,
        ),
    }
}

/// [`file_key`] of a file that may be an ELF object: devices and
/// `/dev/shm` files mapped executable are not.
fn object_key(r: &Region) -> Option<FileKey<'_>> {
    file_key(r).filter(|k| !k.3.starts_with(b"/dev/"))
}

fn is_anon(r: &Region) -> bool {
    matches!(r.kind(), PathKind::Anonymous | PathKind::AnonNamed(_))
}

/// Android's padding of a 4 KiB-aligned library's segments on 16 KiB
/// pages: the kernel shows it as a `---p` named `[page size compat]`.
fn is_page_compat(r: &Region) -> bool {
    r.path.raw() == b"[page size compat]"
}

const fn down(x: u64, page: u64) -> u64 {
    x / page * page
}

const fn up(x: u64, page: u64) -> u64 {
    x.div_ceil(page).saturating_mul(page)
}

/// An object found, before indices are handed out.
struct Found {
    first: usize,
    object: Object,
    members: Vec<(usize, Class)>,
}

/// Finds the ELF objects of a snapshot: from program headers where known,
/// from the layout elsewhere; objects in address order.
pub(super) fn find_objects(s: &Snapshot, page: u64) -> (ObjectIndex<'_>, Vec<Object>) {
    let regions = &s.regions;
    let mut taken = vec![false; regions.len()];
    let mut found: Vec<Found> = Vec::new();
    for e in &s.elf {
        let Ok(i) = regions.binary_search_by_key(&e.start, |r| r.start) else {
            continue;
        };
        if taken[i] || !e.is_at(&regions[i]) {
            continue;
        }
        if let Some(f) = exact(regions, i, e, page, &taken) {
            for &(j, _) in &f.members {
                taken[j] = true;
            }
            found.push(f);
        }
    }
    found.extend(by_layout(regions, &taken));
    found.sort_by_key(|f| f.first);
    let mut members = Vec::new();
    let mut objects = Vec::with_capacity(found.len());
    for (o, f) in found.into_iter().enumerate() {
        for (j, c) in f.members {
            members.push((regions[j].start, o, c));
        }
        objects.push(f.object);
    }
    // One member a start, the last one given (as a map's `insert` keeps
    // it): reversed, a stable sort puts it first among its equals.
    members.reverse();
    members.sort_by_key(|m| m.0);
    members.dedup_by_key(|m| m.0);
    (
        ObjectIndex {
            members,
            _regions: std::marker::PhantomData,
        },
        objects,
    )
}

fn flags(l: &Load) -> String {
    format!(
        "{}{}{}",
        if l.flags & crate::parse::elf::PF_R != 0 {
            'R'
        } else {
            ' '
        },
        if l.write() { 'W' } else { ' ' },
        if l.exec() { 'E' } else { ' ' }
    )
    .trim_end()
    .to_owned()
}

/// The object whose headers were read at region `i`: every region in its
/// span placed by the `PT_LOAD` it falls in. `None` when the mappings do
/// not fit the headers (the file on disk is not the one mapped).
fn exact(regions: &[Region], i: usize, e: &ElfObject, page: u64, taken: &[bool]) -> Option<Found> {
    let h = &e.headers;
    let r0 = &regions[i];
    let key = object_key(r0)?;
    // The header region maps the load that holds file offset 0.
    let l0 = h.loads.iter().find(|l| down(l.offset, page) == 0)?;
    let bias = r0.start.checked_sub(down(l0.vaddr, page))?;
    let span_end = h
        .loads
        .iter()
        .map(|l| bias.saturating_add(up(l.mem_end(), page)))
        .max()?;
    let relro = h.relro.map(|r| {
        (
            bias.saturating_add(down(r.vaddr, page)),
            bias.saturating_add(up(r.end(), page)),
        )
    });
    let mut members = Vec::new();
    let mut files = 0;
    for (j, r) in regions.iter().enumerate().skip(i) {
        if r.start >= span_end {
            break;
        }
        if taken[j] {
            continue;
        }
        let own = file_key(r) == Some(key);
        let pad = is_page_compat(r);
        if !own && !pad && !is_anon(r) {
            // Another file in a hole of the span (the kernel's loader
            // leaves holes unmapped).
            continue;
        }
        let va = r.start.saturating_sub(bias);
        // Later segments win where two share a page.
        let hit = h
            .loads
            .iter()
            .enumerate()
            .rev()
            .find(|(_, l)| down(l.vaddr, page) <= va && va < up(l.mem_end(), page));
        let c = match hit {
            None if r.perms.none() || pad => class(
                Category::LinkerGap,
                "gap between segments of a library, no access (costs no memory)",
                "elf-headers-gap",
                "between two PT_LOAD segments (program headers)",
                false,
            ),
            None => continue,
            Some((k, l)) => {
                let ev = |what: &str| {
                    format!(
                        "{what} of PT_LOAD #{k} [{}] p_vaddr 0x{:x} p_filesz 0x{:x} p_memsz 0x{:x} \
                         (program headers)",
                        flags(l),
                        l.vaddr,
                        l.filesz,
                        l.memsz
                    )
                };
                let file_end = bias.saturating_add(up(l.file_end(), page));
                if own {
                    let want = e
                        .offset
                        .checked_add(down(l.offset, page))
                        .and_then(|o| o.checked_add(va - down(l.vaddr, page)));
                    if want != Some(r.offset) {
                        return None;
                    }
                    files += 1;
                }
                if pad || r.perms.none() {
                    class(
                        Category::LinkerGap,
                        if pad {
                            "padding of a 4 KiB-aligned library on 16 KiB pages ([page size compat]; costs no memory)"
                        } else {
                            "part of a segment with no access (costs no memory)"
                        },
                        "elf-headers-gap",
                        ev("inside"),
                        false,
                    )
                } else if !own && r.end > bias.saturating_add(up(l.mem_end(), page)) {
                    // Anonymous memory merged with what follows: the
                    // region is not all the object's.
                    continue;
                } else if l.exec() {
                    if own {
                        class(
                            Category::Code,
                            "code of the program or a shared library",
                            "elf-headers-text",
                            ev("file part"),
                            false,
                        )
                    } else {
                        class(
                            Category::Code,
                            "code of the object, remapped onto anonymous memory (huge pages)",
                            "elf-headers-text-anon",
                            ev("anonymous, inside the executable segment"),
                            false,
                        )
                    }
                } else if !own && r.start >= file_end && r.perms.write() {
                    class(
                        Category::Bss,
                        "zero-initialised data (.bss)",
                        "elf-headers-bss",
                        ev("anonymous, p_filesz to p_memsz"),
                        false,
                    )
                } else if l.write()
                    && !r.perms.write()
                    && relro.is_some_and(|(a, b)| r.start >= a && r.end <= b)
                {
                    class(
                        Category::Relro,
                        "relocated data made read-only after start-up (RELRO: GOT, vtables)",
                        "elf-headers-relro",
                        ev("PT_GNU_RELRO part"),
                        false,
                    )
                } else if l.write() && r.perms.write() {
                    class(
                        Category::WritableData,
                        "initialised data (.data) of the program or a library; written pages become private",
                        "elf-headers-data",
                        ev("file part"),
                        false,
                    )
                } else {
                    class(
                        Category::ReadOnlyData,
                        "read-only data of the program or a library (ELF headers, .rodata)",
                        "elf-headers-rodata",
                        ev("file part"),
                        false,
                    )
                }
            }
        };
        members.push((j, c));
    }
    (files > 0).then(|| Found {
        first: i,
        object: Object {
            path: r0.path.view().decoded().into_owned(),
            regions: Vec::new(),
            offset: e.offset,
            exact: true,
            build_id: h.build_id.clone(),
        },
        members,
    })
}

/// A run of one file's mappings being built.
struct Run {
    /// The file regions, ascending.
    files: Vec<usize>,
    /// The last file region that is not `---p` (a gap keeps the offsets of
    /// the segment it was cut from: they run past the next segment's).
    last: usize,
    seen_write: bool,
}

impl Run {
    /// Region `r` continues the run: `p_vaddr - p_offset` never falls
    /// along one object and rises by at most [`MAX_RISE`]; nothing
    /// read-only comes after a writable segment.
    fn goes_on(&self, regions: &[Region], r: &Region) -> bool {
        let p = &regions[self.last];
        r.offset >= p.offset
            && (r.start - p.start)
                .checked_sub(r.offset - p.offset)
                .is_some_and(|rise| rise <= MAX_RISE)
            && (!self.seen_write || r.perms.write())
    }
}

/// The objects of the regions not `taken`, found by their layout. Runs of
/// different files may interleave (ART maps an oat file's `.vdex` among
/// its segments).
fn by_layout(regions: &[Region], taken: &[bool]) -> Vec<Found> {
    let mut open: HashMap<FileKey<'_>, Run> = HashMap::new();
    let mut runs: Vec<Run> = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        if taken[i] {
            continue;
        }
        let Some(k) = object_key(r) else { continue };
        match open.get_mut(&k) {
            Some(run) if run.goes_on(regions, r) => {
                run.files.push(i);
                if !r.perms.none() {
                    run.last = i;
                }
                run.seen_write |= r.perms.write();
            }
            _ => {
                let run = Run {
                    files: vec![i],
                    last: i,
                    seen_write: r.perms.write(),
                };
                runs.extend(open.insert(k, run));
            }
        }
    }
    runs.extend(open.into_values());
    runs.sort_by_key(|r| r.files[0]);
    let mut claimed = taken.to_vec();
    let mut out = Vec::new();
    // Anonymous r-x regions before each index: a run with no executable
    // mapping of its own and none of these in its span is no object, and
    // its span is never walked.
    let mut anon_exec = Vec::with_capacity(regions.len() + 1);
    anon_exec.push(0usize);
    for r in regions {
        let n = usize::from(is_anon(r) && r.perms.exec());
        anon_exec.push(anon_exec.last().copied().unwrap_or(0) + n);
    }
    for run in runs {
        let (first, last) = (run.files[0], *run.files.last().expect("a run has a region"));
        let own_exec = run.files.iter().any(|&j| regions[j].perms.exec());
        if !own_exec && anon_exec[last + 1] == anon_exec[first.saturating_sub(1)] {
            continue;
        }
        if let Some(f) = layout_object(regions, &run, &claimed) {
            for &(j, _) in &f.members {
                claimed[j] = true;
            }
            out.push(f);
        }
    }
    out
}

/// The anonymous regions that belong to a run: between its mappings,
/// text remapped onto anonymous memory, `---p` gaps, `[page size
/// compat]` padding and Android's `[anon:.bss]`; right below its first
/// mapping, remapped text that replaced the start of the file's first
/// segment; right after its last, padding and the bss (bounded).
fn fillers(regions: &[Region], run: &Run, claimed: &[bool]) -> Vec<(usize, Class)> {
    let (first, last) = (run.files[0], *run.files.last().expect("a run has a region"));
    let mut out = Vec::new();
    for j in first + 1..last {
        let f = &regions[j];
        if claimed[j] || object_key(f).is_some() {
            continue;
        }
        if is_page_compat(f) {
            out.push((j, page_compat_class()));
        } else if is_anon(f) && f.perms.exec() && !f.perms.write() {
            out.push((
                j,
                remapped_text_class("anonymous r-x between the segments of one ELF file"),
            ));
        } else if is_anon(f) && f.perms.none() {
            out.push((
                j,
                class(
                    Category::LinkerGap,
                    "gap between segments of a library (costs no memory)",
                    "elf-gap-anon",
                    "---p between two ELF segments",
                    true,
                ),
            ));
        } else if matches!(f.kind(), PathKind::AnonNamed(b".bss")) && f.perms.write() {
            out.push((j, named_bss_class()));
        }
    }
    if let Some(j) = first.checked_sub(1)
        && !claimed[j]
        && is_anon(&regions[j])
        && regions[j].perms.exec()
        && !regions[j].perms.write()
        && regions[j].end == regions[first].start
        && regions[first].offset >= regions[j].size()
    {
        out.push((
            j,
            remapped_text_class(
                "anonymous r-x right below an ELF file's first mapping, in place of its start",
            ),
        ));
    }
    // After the last mapping: padding, then the bss of the last data
    // segment, then padding.
    let file_bytes: u64 = run.files.iter().map(|&f| regions[f].size()).sum();
    let mut end = regions[last].end;
    let mut bss_ok = regions[last].perms.write();
    for (j, f) in regions.iter().enumerate().skip(last + 1) {
        if claimed[j] || f.start != end {
            break;
        }
        if is_page_compat(f) {
            out.push((j, page_compat_class()));
        } else if matches!(f.kind(), PathKind::AnonNamed(b".bss")) {
            // Named by the loader, whatever its permissions now (bionic
            // makes a page of it read-only).
            bss_ok = false;
            out.push((j, named_bss_class()));
        } else if bss_ok
            && matches!(f.kind(), PathKind::Anonymous)
            && f.perms.read()
            && f.perms.write()
            && !f.perms.exec()
            && !f.perms.shared()
        {
            bss_ok = false;
            if f.size() <= file_bytes.max(BSS_MIN_BOUND) {
                out.push((
                    j,
                    class(
                        Category::Bss,
                        "zero-initialised data (.bss) of the object before it",
                        "elf-bss",
                        "anonymous rw right after the last writable segment of an ELF file, no \
                         longer than the object's file mappings",
                        true,
                    ),
                ));
            } else {
                break;
            }
        } else {
            break;
        }
        end = f.end;
    }
    out
}

fn remapped_text_class(evidence: &str) -> Class {
    let evidence = evidence.to_owned();
    class(
        Category::Code,
        "code of the object, remapped onto anonymous memory (huge pages)",
        "elf-text-anon",
        evidence,
        true,
    )
}

fn named_bss_class() -> Class {
    class(
        Category::Bss,
        "zero-initialised data (.bss) of the object (named by Android's linker)",
        "elf-bss-named",
        "[anon:.bss] among or after the segments of an ELF file",
        false,
    )
}

/// Classifies a finished run when it is an object (it has code): its
/// segments by layout, with the anonymous regions that belong to it.
fn layout_object(regions: &[Region], run: &Run, claimed: &[bool]) -> Option<Found> {
    let extra = fillers(regions, run, claimed);
    let exec = run.files.iter().any(|&j| regions[j].perms.exec())
        || extra.iter().any(|(_, c)| c.category == Category::Code);
    if !exec {
        return None;
    }
    let mut order: Vec<usize> = run
        .files
        .iter()
        .copied()
        .chain(extra.iter().map(|&(j, _)| j))
        .collect();
    order.sort_unstable();
    let first_exec = order.iter().position(|&j| regions[j].perms.exec())?;
    let mut members: Vec<(usize, Class)> = Vec::new();
    let mut ro_after_code = 0;
    for (n, &j) in order.iter().enumerate() {
        if let Some((_, c)) = extra.iter().find(|(x, _)| *x == j) {
            members.push((j, c.clone()));
            continue;
        }
        let next_file = run
            .files
            .iter()
            .copied()
            .find(|&f| f > j && !regions[f].perms.none());
        let c = segment_class(regions, j, n > first_exec, ro_after_code, next_file);
        if n > first_exec && c.category == Category::ReadOnlyData {
            ro_after_code += 1;
        }
        members.push((j, c));
    }
    let r0 = &regions[run.files[0]];
    Some(Found {
        first: order[0],
        object: Object {
            path: r0.path.view().decoded().into_owned(),
            regions: Vec::new(),
            offset: r0.offset,
            exact: false,
            build_id: None,
        },
        members,
    })
}

fn page_compat_class() -> Class {
    class(
        Category::LinkerGap,
        "padding of a 4 KiB-aligned library on 16 KiB pages ([page size compat]; costs no memory)",
        "android-page-size-compat",
        "named [page size compat], among the segments of one file",
        false,
    )
}

/// A file mapping of an ELF object: which segment it is, by layout.
/// `after_code`: an executable mapping precedes it in the run, and
/// `ro_after_code` read-only data mappings lie between.
fn segment_class(
    regions: &[Region],
    j: usize,
    after_code: bool,
    ro_after_code: usize,
    next_file: Option<usize>,
) -> Class {
    let r = &regions[j];
    let p = r.perms;
    if p.none() {
        return class(
            Category::LinkerGap,
            "gap the linker leaves between a library's code and data so they never share a page (costs no memory)",
            "elf-gap",
            "---p segment of an ELF file",
            false,
        );
    }
    if p.exec() {
        return class(
            Category::Code,
            "code of the program or a shared library",
            "elf-text",
            "executable segment of a file",
            false,
        );
    }
    if p.write() {
        return class(
            Category::WritableData,
            "initialised data (.data) of the program or a library; written pages become private",
            "elf-data",
            "writable segment of an ELF file",
            false,
        );
    }
    let n = next_file.map(|k| &regions[k]);
    // RELRO runs into the data segment in the file: contiguously, or
    // sharing its last page; in memory adjacent or past a hole.
    if after_code
        && let Some(n) = n
        && n.perms.write()
        && n.offset >= r.offset
        && n.offset <= r.offset + r.size()
    {
        let how = if n.offset == r.offset + r.size() {
            "contiguous in the file"
        } else {
            "sharing a page of the file"
        };
        let mem = if n.start == r.end {
            ""
        } else {
            ", past a hole in memory"
        };
        return class(
            Category::Relro,
            "relocated data made read-only after start-up (RELRO: GOT, vtables)",
            "elf-relro",
            format!("read-only segment after the code, before the writable segment, {how}{mem}"),
            true,
        );
    }
    // All the data was RELRO: the second read-only mapping after the code,
    // and no data segment after it.
    if after_code && n.is_none() && ro_after_code >= 1 {
        return class(
            Category::Relro,
            "relocated data made read-only after start-up (RELRO: GOT, vtables)",
            "elf-relro",
            "second read-only segment after the code, last of the object",
            true,
        );
    }
    class(
        Category::ReadOnlyData,
        "read-only data of the program or a library (ELF headers, .rodata)",
        "elf-rodata",
        "read-only segment of an ELF file",
        false,
    )
}

/// Every object learns its regions.
pub(super) fn attach(classes: &[Class], objects: &mut [Object]) {
    for (i, c) in classes.iter().enumerate() {
        if let Some(o) = c.object {
            objects[o].regions.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::classify;
    use super::*;
    use crate::parse::Mode;
    use crate::parse::elf::{ElfHeaders, PF_R, PF_W, PF_X, Span};

    fn load(offset: u64, vaddr: u64, filesz: u64, memsz: u64, flags: u32) -> Load {
        Load {
            offset,
            vaddr,
            filesz,
            memsz,
            flags,
            align: 0x1000,
        }
    }

    /// GNU ld `-z separate-code` headers of a small library: R, RX, R, RW
    /// with RELRO at the head of RW and 0x3000 of bss past the file.
    fn headers() -> ElfHeaders {
        ElfHeaders {
            class64: true,
            e_type: 3,
            loads: vec![
                load(0, 0, 0x800, 0x800, PF_R),
                load(0x1000, 0x1000, 0x2000, 0x2000, PF_R | PF_X),
                load(0x3000, 0x3000, 0x500, 0x500, PF_R),
                load(0x3d00, 0x4d00, 0x1200, 0x4200, PF_R | PF_W),
            ],
            relro: Some(Span {
                vaddr: 0x4d00,
                memsz: 0x300,
            }),
            build_id: Some("ab".into()),
            ..ElfHeaders::default()
        }
    }

    fn snap(text: &[u8], elf: bool) -> Snapshot {
        let mut s = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
        if elf {
            s.elf = vec![ElfObject {
                start: s.regions[0].start,
                inode: 9,
                offset: 0,
                headers: headers(),
            }];
        }
        s
    }

    /// The mappings glibc makes of [`headers`] at 0x7f0000000000; the
    /// text half remapped onto anonymous memory, the bss merged with an
    /// anonymous mapping after it or not, as `tail` says.
    fn text(tail: &str) -> Vec<u8> {
        format!(
            "\
7f0000000000-7f0000001000 r--p 00000000 08:01 9 /lib/libx.so
7f0000001000-7f0000002000 r-xp 00000000 00:00 0
7f0000002000-7f0000003000 r-xp 00002000 08:01 9 /lib/libx.so
7f0000003000-7f0000004000 r--p 00003000 08:01 9 /lib/libx.so
7f0000004000-7f0000005000 r--p 00003000 08:01 9 /lib/libx.so
7f0000005000-7f0000006000 rw-p 00004000 08:01 9 /lib/libx.so
{tail}"
        )
        .into_bytes()
    }

    fn cats(c: &super::super::Classified) -> Vec<Category> {
        c.classes.iter().map(|c| c.category).collect()
    }

    #[test]
    fn headers_place_every_region() {
        let t = text("7f0000006000-7f0000009000 rw-p 00000000 00:00 0\n");
        let c = classify(&snap(&t, true));
        assert_eq!(
            cats(&c),
            [
                Category::ReadOnlyData,
                Category::Code,
                Category::Code,
                Category::ReadOnlyData,
                Category::Relro,
                Category::WritableData,
                Category::Bss
            ]
        );
        assert!(c.classes.iter().all(|c| !c.heuristic), "{:?}", c.classes);
        assert_eq!(c.classes[1].rule, "elf-headers-text-anon");
        assert_eq!(c.objects.len(), 1);
        assert!(c.objects[0].exact);
        assert_eq!(c.objects[0].build_id.as_deref(), Some("ab"));
        assert_eq!(c.objects[0].regions, (0..7).collect::<Vec<_>>());
        // Without the headers the same text is a guess, and the layout
        // rules reach the same answer.
        let c = classify(&snap(&t, false));
        assert_eq!(cats(&c)[4], Category::Relro);
        assert!(c.classes[4].heuristic && !c.objects[0].exact);
    }

    #[test]
    fn bss_merged_past_the_span_is_not_the_objects() {
        // The bss (3 pages) merged with 1 MiB of anonymous memory after it.
        let t = text("7f0000006000-7f0000109000 rw-p 00000000 00:00 0\n");
        let c = classify(&snap(&t, true));
        assert_eq!(c.classes[6].category, Category::AnonMmap);
        assert_eq!(c.classes[6].object, None);
    }

    #[test]
    fn headers_that_do_not_fit_fall_back_to_the_layout() {
        // The file on disk was replaced: its data segment's offset differs.
        let t = b"\
7f0000000000-7f0000001000 r--p 00000000 08:01 9 /lib/libx.so
7f0000001000-7f0000003000 r-xp 00001000 08:01 9 /lib/libx.so
7f0000003000-7f0000004000 rw-p 00002000 08:01 9 /lib/libx.so
";
        let c = classify(&snap(t, true));
        assert!(!c.objects[0].exact);
        assert_eq!(
            cats(&c),
            [
                Category::ReadOnlyData,
                Category::Code,
                Category::WritableData
            ]
        );
    }
}
