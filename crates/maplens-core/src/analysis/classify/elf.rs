//! ELF objects and their segments: code, read-only data, RELRO, data, bss
//! and the gaps the linker leaves between them.
//!
//! A file with an executable mapping is an ELF object (program or
//! library); its other mappings are its segments, told apart by their
//! permissions and by the file offsets of their neighbours.

use std::collections::HashMap;

use super::{Category, Class, Object, class};
use crate::model::Region;
use crate::parse::PathKind;

/// File identity used to group segments: device, inode and name.
pub(super) type FileKey<'a> = (u32, u32, u64, &'a [u8]);

/// Each ELF object's file, to its index in [`super::Classified::objects`].
pub(super) type ObjectIndex<'a> = HashMap<FileKey<'a>, usize>;

/// File identity used to group segments.
pub(super) fn file_key(r: &Region) -> Option<FileKey<'_>> {
    matches!(r.kind(), PathKind::File)
        .then(|| (r.dev.major, r.dev.minor, r.inode, r.path.view().name_raw()))
}

/// The region is a segment of one of the objects.
pub(super) fn is_object(r: &Region, exec_files: &ObjectIndex<'_>) -> bool {
    file_key(r).is_some_and(|k| exec_files.contains_key(&k))
}

/// Files with an executable segment are ELF objects: one [`Object`] per
/// file, in the order of their first executable mapping.
pub(super) fn find_objects(regions: &[Region]) -> (ObjectIndex<'_>, Vec<Object>) {
    let mut exec_files: ObjectIndex<'_> = HashMap::new();
    let mut objects: Vec<Object> = Vec::new();
    for r in regions {
        if r.perms.exec()
            && let Some(k) = file_key(r)
            && !exec_files.contains_key(&k)
        {
            exec_files.insert(k, objects.len());
            objects.push(Object {
                path: r.path.view().decoded().into_owned(),
                regions: Vec::new(),
            });
        }
    }
    (exec_files, objects)
}

/// The object a file region is a segment of.
pub(super) fn object_of(r: &Region, exec_files: &ObjectIndex<'_>) -> Option<usize> {
    file_key(r).and_then(|k| exec_files.get(&k).copied())
}

/// A mapping of an ELF object's file: which segment it is.
pub(super) fn segment_class(r: &Region, next: Option<&Region>) -> Class {
    let same = |o: &Region| file_key(o) == file_key(r);
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
    // Read-only: RELRO when it runs straight into the data segment of the
    // same file, the file offsets continuing.
    if let Some(n) = next
        && same(n)
        && n.perms.write()
        && n.offset == r.offset + r.size()
    {
        return class(
            Category::Relro,
            "relocated data made read-only after start-up (RELRO: GOT, vtables)",
            "elf-relro",
            "read-only segment directly before the writable segment, contiguous in the file".into(),
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

/// bss: anonymous rw right after an ELF object's data segment.
pub(super) fn bss(
    r: &Region,
    prev: Option<&Region>,
    exec_files: &ObjectIndex<'_>,
) -> Option<Class> {
    let pr = prev?;
    (r.perms.write() && pr.perms.write() && is_object(pr, exec_files)).then(|| {
        class(
            Category::Bss,
            "zero-initialised data (.bss) of the object before it",
            "elf-bss",
            "anonymous rw right after a writable ELF segment".into(),
            true,
        )
    })
}

/// An anonymous `---p` between two segments of objects.
pub(super) fn anon_gap(
    prev: Option<&Region>,
    next: Option<&Region>,
    exec_files: &ObjectIndex<'_>,
) -> Option<Class> {
    (prev.is_some_and(|pr| is_object(pr, exec_files))
        && next.is_some_and(|n| is_object(n, exec_files)))
    .then(|| {
        class(
            Category::LinkerGap,
            "gap between segments of a library (costs no memory)",
            "elf-gap-anon",
            "---p between two ELF segments".into(),
            true,
        )
    })
}

/// bss and an anonymous linker gap belong to the object before them; then
/// every object learns its regions.
pub(super) fn attach(regions: &[Region], classes: &mut [Class], objects: &mut [Object]) {
    for i in 1..classes.len() {
        if matches!(classes[i].category, Category::Bss | Category::LinkerGap)
            && classes[i].object.is_none()
            && regions[i - 1].end == regions[i].start
        {
            classes[i].object = classes[i - 1].object;
        }
    }
    for (i, c) in classes.iter().enumerate() {
        if let Some(o) = c.object {
            objects[o].regions.push(i);
        }
    }
}
