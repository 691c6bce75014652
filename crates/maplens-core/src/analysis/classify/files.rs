//! Files, devices and shared memory: data files, device and GPU mappings,
//! memfd, System V and POSIX shared memory, hugetlbfs, anon-inode objects.

use super::{Category, Class, class};
use crate::model::Region;
use crate::parse::{Field, PathKind};

/// The named kinds of in-memory files and kernel objects.
pub(super) fn special(r: &Region, kind: PathKind<'_>, hugetlb: bool, page: u64) -> Option<Class> {
    Some(match kind {
        PathKind::AnonShmemNamed(name) => class(
            Category::SharedMemory,
            format!(
                "shared anonymous memory named \"{}\"",
                String::from_utf8_lossy(name)
            ),
            "path-anon-shmem",
            format!("named {}", r.path.raw_lossy()),
            false,
        ),
        PathKind::Memfd(name)
            if hugetlb
                || r.kb(Field::KernelPageSize)
                    .is_some_and(|k| k > 4 && k > page / 1024) =>
        {
            class(
                Category::Hugetlb,
                format!(
                    "memfd \"{}\" on huge pages (hugetlbfs)",
                    String::from_utf8_lossy(name)
                ),
                "memfd-hugetlb",
                "memfd with VmFlags ht or a huge KernelPageSize".into(),
                false,
            )
        }
        PathKind::Memfd(name) => class(
            Category::SharedMemory,
            format!(
                "memfd \"{}\": an in-memory file (memfd_create)",
                String::from_utf8_lossy(name)
            ),
            "path-memfd",
            "named /memfd:… (deleted)".into(),
            false,
        ),
        PathKind::SysV(key) => class(
            Category::SharedMemory,
            format!("System V shared memory, key 0x{key:08x} (see ipcs -m)"),
            "path-sysv",
            "named /SYSV… (deleted)".into(),
            false,
        ),
        PathKind::DevZero => class(
            Category::SharedMemory,
            "shared anonymous memory (mmap MAP_SHARED|MAP_ANONYMOUS)",
            "path-dev-zero-deleted",
            "named /dev/zero (deleted)".into(),
            false,
        ),
        PathKind::AnonHugepage => class(
            Category::Hugetlb,
            "anonymous memory on huge pages (MAP_HUGETLB)",
            "path-anon-hugepage",
            "named /anon_hugepage (deleted)".into(),
            false,
        ),
        PathKind::AnonInode(name) => class(
            Category::Device,
            format!(
                "a kernel object mapped into memory (anon_inode:{})",
                String::from_utf8_lossy(name)
            ),
            "path-anon-inode",
            "named anon_inode:…".into(),
            false,
        ),
        PathKind::OtherSpecial(_) | PathKind::Other => class(
            Category::NamedAnon,
            "a region with a special name",
            "path-other",
            format!("named {}", r.path.raw_lossy()),
            false,
        ),
        _ => return None,
    })
}

/// A file on hugetlbfs, or anonymous huge pages (`VmFlags: ht`).
pub(super) fn hugetlb(file: bool) -> Class {
    class(
        Category::Hugetlb,
        if file {
            "a hugetlbfs file"
        } else {
            "anonymous huge pages"
        },
        "vmflags-ht",
        "VmFlags has ht".into(),
        false,
    )
}

/// Unnamed and shared.
pub(super) fn shared_anon(r: &Region) -> Option<Class> {
    r.perms.shared().then(|| {
        class(
            Category::SharedMemory,
            "shared anonymous memory",
            "anon-shared",
            "unnamed and shared".into(),
            false,
        )
    })
}

fn is_device_path(p: &[u8]) -> bool {
    p.starts_with(b"/dev/")
        && !p.starts_with(b"/dev/shm/")
        && !p.starts_with(b"/dev/ashmem")
        && !p.starts_with(b"/dev/zero")
        || p.starts_with(b"/i915")
        || p.starts_with(b"/drm mm object")
        || p.starts_with(b"/kgsl")
}

fn is_shm_path(p: &[u8]) -> bool {
    p.starts_with(b"/dev/shm/") || p.starts_with(b"/dev/ashmem") || p.starts_with(b"/run/shm/")
}

/// A mapping of a file that is no part of an ELF object ([`super::elf`]
/// has those): a device, shared memory, or a data file.
pub(super) fn file_class(r: &Region) -> Class {
    let name = r.path.view().name_raw();
    if is_device_path(name) {
        let gpu = [
            &b"/dev/nvidia"[..],
            b"/dev/dri/",
            b"/dev/kgsl",
            b"/dev/mali",
            b"/i915",
            b"/drm",
            b"/kgsl",
        ]
        .iter()
        .any(|p| name.starts_with(p));
        let note = if name == b"/dev/mem" || name == b"/dev/kmem" {
            "physical memory mapped through /dev/mem"
        } else if gpu {
            "GPU memory or registers mapped from the driver"
        } else {
            "a device mapped into memory"
        };
        return class(
            Category::Device,
            note,
            "path-dev",
            format!("path {}", r.path.display()),
            false,
        );
    }
    if is_shm_path(name) {
        return class(
            Category::SharedMemory,
            "a shared-memory file (/dev/shm, ashmem)",
            "path-shm",
            format!("path {}", r.path.display()),
            false,
        );
    }
    if r.perms.shared() {
        class(
            Category::MappedFile,
            if r.perms.write() {
                "a data file mapped shared and writable: writes go to the file"
            } else {
                "a data file mapped shared (read-only)"
            },
            "file-data",
            "file with no executable segment".into(),
            false,
        )
    } else {
        class(
            Category::MappedFile,
            if r.perms.write() {
                "a data file mapped private: written pages become private copies"
            } else {
                "a data file mapped read-only"
            },
            "file-data",
            "file with no executable segment".into(),
            false,
        )
    }
}
