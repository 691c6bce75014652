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
//!     and never longer than the object's own file mappings (1 MiB at
//!     least): the kernel merges a bss with an anonymous mapping that
//!     happens to follow it, and the whole region is not the object's.

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
pub const MAX_RISE: u64 = 4 << 20;

/// The smallest bss bound of the layout rule: a bss region is never
/// longer than the object's file mappings or this.
pub const BSS_MIN_BOUND: u64 = 1 << 20;

/// Every region that is part of an ELF object, with its object and
/// class, by the region's start address.
pub(super) struct ObjectIndex<'a> {
    members: HashMap<u64, (usize, Class)>,
    _regions: std::marker::PhantomData<&'a [Region]>,
}

/// File identity used to group segments.
pub(super) fn file_key(r: &Region) -> Option<FileKey<'_>> {
    matches!(r.kind(), PathKind::File)
        .then(|| (r.dev.major, r.dev.minor, r.inode, r.path.view().name_raw()))
}

/// The region is a segment of one of the objects.
pub(super) fn is_object(r: &Region, index: &ObjectIndex<'_>) -> bool {
    index.members.contains_key(&r.start)
}

/// The object a region is part of.
pub(super) fn object_of(r: &Region, index: &ObjectIndex<'_>) -> Option<usize> {
    index.members.get(&r.start).map(|m| m.0)
}

/// What a region of an object is: its segment, bss, gap, or remapped
/// text. Call it where [`is_object`] holds.
pub(super) fn member_class(r: &Region, index: &ObjectIndex<'_>) -> Class {
    match index.members.get(&r.start) {
        Some((o, c)) => {
            let mut c = c.clone();
            c.object = Some(*o);
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
    let mut members = HashMap::new();
    let mut objects = Vec::with_capacity(found.len());
    for (o, f) in found.into_iter().enumerate() {
        for (j, c) in f.members {
            members.insert(regions[j].start, (o, c));
        }
        objects.push(f.object);
    }
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
    let relro = h
        .relro
        .map(|r| (bias + down(r.vaddr, page), bias + up(r.end(), page)));
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
        let va = r.start - bias;
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
                "between two PT_LOAD segments (program headers)".into(),
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
                let file_end = bias + up(l.file_end(), page);
                if own {
                    let want = e.offset + down(l.offset, page) + (va - down(l.vaddr, page));
                    if r.offset != want {
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
                } else if !own && r.end > bias + up(l.mem_end(), page) {
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
struct Run<'a> {
    key: FileKey<'a>,
    /// File regions and the fillers kept between them.
    members: Vec<usize>,
    last_file: usize,
    seen_write: bool,
}

/// A region that may sit between two segments of one object.
fn filler(r: &Region) -> bool {
    is_anon(r) || is_page_compat(r)
}

/// The objects of the regions not `taken`, found by their layout.
fn by_layout(regions: &[Region], taken: &[bool]) -> Vec<Found> {
    let mut out = Vec::new();
    let mut cur: Option<Run<'_>> = None;
    let mut pending: Vec<usize> = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        if taken[i] {
            out.extend(
                cur.take()
                    .and_then(|run| layout_object(regions, run, &pending)),
            );
            pending.clear();
            continue;
        }
        if let Some(k) = object_key(r) {
            let go_on = cur.as_ref().is_some_and(|run| {
                let p = &regions[run.last_file];
                // `p_vaddr - p_offset` never falls along one object, and
                // rises by less than the largest max-page-size in use.
                run.key == k
                    && r.offset >= p.offset
                    && (r.start - p.start)
                        .checked_sub(r.offset - p.offset)
                        .is_some_and(|rise| rise <= MAX_RISE)
                    && (!run.seen_write || r.perms.write())
            });
            if go_on {
                let run = cur.as_mut().expect("run");
                run.members.extend(pending.drain(..).filter(|&j| {
                    let f = &regions[j];
                    f.perms.none() || f.perms.exec()
                }));
                run.members.push(i);
                // A `---p` gap keeps the offsets of the segment it was cut
                // from: they run past the next segment's.
                if !r.perms.none() {
                    run.last_file = i;
                }
                run.seen_write |= r.perms.write();
                continue;
            }
            out.extend(
                cur.take()
                    .and_then(|run| layout_object(regions, run, &pending)),
            );
            let mut members = Vec::new();
            // Text remapped onto huge pages may have replaced the start of
            // a binary's first mapped segment.
            if let Some(&j) = pending.last()
                && regions[j].end == r.start
                && regions[j].perms.exec()
                && is_anon(&regions[j])
                && r.offset >= regions[j].size()
            {
                members.push(j);
            }
            pending.clear();
            members.push(i);
            cur = Some(Run {
                key: k,
                members,
                last_file: i,
                seen_write: r.perms.write(),
            });
        } else if filler(r) && cur.is_some() && pending.len() < 4 {
            pending.push(i);
        } else {
            out.extend(
                cur.take()
                    .and_then(|run| layout_object(regions, run, &pending)),
            );
            pending.clear();
            if filler(r) {
                pending.push(i);
            }
        }
    }
    out.extend(
        cur.take()
            .and_then(|run| layout_object(regions, run, &pending)),
    );
    out
}

/// Classifies a finished run when it is an object (it has code): its
/// segments by layout, and the bss in `after` (the fillers that followed).
fn layout_object(regions: &[Region], run: Run<'_>, after: &[usize]) -> Option<Found> {
    if !run.members.iter().any(|&j| regions[j].perms.exec()) {
        return None;
    }
    let mut members: Vec<(usize, Class)> = Vec::new();
    let files: Vec<usize> = run
        .members
        .iter()
        .copied()
        .filter(|&j| file_key(&regions[j]).is_some())
        .collect();
    let first_exec = run.members.iter().position(|&j| regions[j].perms.exec())?;
    let file_bytes: u64 = files.iter().map(|&j| regions[j].size()).sum();
    let mut ro_after_code = 0;
    for (n, &j) in run.members.iter().enumerate() {
        let r = &regions[j];
        let c = if file_key(r).is_none() {
            if is_page_compat(r) {
                page_compat_class()
            } else if r.perms.exec() {
                class(
                    Category::Code,
                    "code of the object, remapped onto anonymous memory (huge pages)",
                    "elf-text-anon",
                    "anonymous r-x between (or right below) the segments of one ELF file".into(),
                    true,
                )
            } else {
                class(
                    Category::LinkerGap,
                    "gap between segments of a library (costs no memory)",
                    "elf-gap-anon",
                    "---p between two ELF segments".into(),
                    true,
                )
            }
        } else {
            let next_file = files
                .iter()
                .copied()
                .find(|&f| f > j && !regions[f].perms.none());
            let c = segment_class(regions, j, n > first_exec, ro_after_code, next_file);
            if n > first_exec && c.category == Category::ReadOnlyData {
                ro_after_code += 1;
            }
            c
        };
        members.push((j, c));
    }
    // Android's padding right after the last segment is the object's too.
    let mut end = regions[*run.members.last()?].end;
    let mut after = after;
    while let Some((&j, rest)) = after.split_first()
        && is_page_compat(&regions[j])
        && regions[j].start == end
    {
        members.push((j, page_compat_class()));
        end = regions[j].end;
        after = rest;
    }
    // bss: anonymous rw right after the last data segment, bounded.
    let last = *files.last()?;
    if regions[last].perms.write()
        && let Some(&j) = after.first()
        && regions[j].start == regions[last].end
        && matches!(
            regions[j].kind(),
            PathKind::Anonymous | PathKind::AnonNamed(b".bss")
        )
        && regions[j].perms.read()
        && regions[j].perms.write()
        && !regions[j].perms.shared()
    {
        let bound = file_bytes.max(BSS_MIN_BOUND);
        if regions[j].size() <= bound {
            members.push((
                j,
                class(
                    Category::Bss,
                    "zero-initialised data (.bss) of the object before it",
                    "elf-bss",
                    "anonymous rw right after the last writable segment of an ELF file".into(),
                    true,
                ),
            ));
        }
    }
    let r0 = &regions[files[0]];
    Some(Found {
        first: run.members[0],
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
        "named [page size compat], among the segments of one file".into(),
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
            "---p segment of an ELF file".into(),
            false,
        );
    }
    if p.exec() {
        return class(
            Category::Code,
            "code of the program or a shared library",
            "elf-text",
            "executable segment of a file".into(),
            false,
        );
    }
    if p.write() {
        return class(
            Category::WritableData,
            "initialised data (.data) of the program or a library; written pages become private",
            "elf-data",
            "writable segment of an ELF file".into(),
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
            "second read-only segment after the code, last of the object".into(),
            true,
        );
    }
    class(
        Category::ReadOnlyData,
        "read-only data of the program or a library (ELF headers, .rodata)",
        "elf-rodata",
        "read-only segment of an ELF file".into(),
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
