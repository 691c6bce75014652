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
                "memfd with VmFlags ht or a huge KernelPageSize",
                false,
            )
        }
        PathKind::Memfd(name) => memfd(r, name),
        PathKind::SysV(key) => class(
            Category::SharedMemory,
            format!("System V shared memory, key 0x{key:08x} (see ipcs -m)"),
            "path-sysv",
            "named /SYSV… (deleted)",
            false,
        ),
        PathKind::DevZero => class(
            Category::SharedMemory,
            "shared anonymous memory (mmap MAP_SHARED|MAP_ANONYMOUS)",
            "path-dev-zero-deleted",
            "named /dev/zero (deleted)",
            false,
        ),
        PathKind::AnonHugepage => class(
            Category::Hugetlb,
            "anonymous memory on huge pages (MAP_HUGETLB)",
            "path-anon-hugepage",
            "named /anon_hugepage (deleted)",
            false,
        ),
        PathKind::AnonInode(name) => class(
            Category::Device,
            format!(
                "a kernel object mapped into memory (anon_inode:{})",
                String::from_utf8_lossy(name)
            ),
            "path-anon-inode",
            "named anon_inode:…",
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

/// A memfd: shared memory only when mapped shared (the `s` bit); a
/// private mapping is the process's own memory (a JIT heap, a copy).
fn memfd(r: &Region, name: &[u8]) -> Class {
    let name = String::from_utf8_lossy(name);
    if r.perms.shared() {
        class(
            Category::SharedMemory,
            format!("memfd \"{name}\": an in-memory file (memfd_create)"),
            "path-memfd",
            "named /memfd:…, mapped shared (s)",
            false,
        )
    } else {
        class(
            Category::MappedFile,
            format!(
                "memfd \"{name}\" mapped private: an in-memory file whose written pages are \
                 this process's own"
            ),
            "path-memfd-private",
            "named /memfd:…, mapped private (p): not shared",
            false,
        )
    }
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
        "VmFlags has ht",
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
            "unnamed and shared",
            false,
        )
    })
}

/// Device nodes that drivers let processes map (char devices). A name
/// under `/dev` that is none of these is taken for a regular file there
/// (devtmpfs/tmpfs: Android's `/dev/__properties__`, files in `/dev/shm`).
const DEVICE_NODES: &[&str] = &[
    "/dev/nvidia",
    "/dev/dri/",
    "/dev/kgsl",
    "/dev/mali",
    "/dev/mem",
    "/dev/kmem",
    "/dev/fb",
    "/dev/ion",
    "/dev/binder",
    "/dev/hwbinder",
    "/dev/vndbinder",
    "/dev/binderfs/",
    "/dev/video",
    "/dev/snd/",
    "/dev/uio",
    "/dev/dma_heap/",
    "/dev/vfio/",
    "/dev/kvm",
    "/dev/accel/",
    "/dev/infiniband/",
    "/dev/xdma",
    "/dev/hugepages/",
    "/dev/graphics/",
    "/dev/pvr",
    "/dev/galcore",
    "/dev/dsp",
    "/dev/sg",
    "/dev/hidraw",
    "/dev/udmabuf",
];

/// Names drivers give the objects they map (GEM, KGSL, DMA-BUF); they
/// print as paths, often with ` (deleted)`, but are no files on a disk.
const DRIVER_OBJECTS: &[&str] = &[
    "/i915",
    "/drm mm object",
    "/kgsl",
    "/dmabuf",
    "/mali",
    "/nvidia",
];

fn vm_flag(r: &Region, flag: &str) -> bool {
    r.smaps
        .as_ref()
        .and_then(|m| m.flags())
        .is_some_and(|f| f.has(flag))
}

fn starts_with_any(p: &[u8], list: &[&str]) -> bool {
    list.iter().any(|d| p.starts_with(d.as_bytes()))
}

fn is_shm_path(p: &[u8]) -> bool {
    p.starts_with(b"/dev/shm/") || p.starts_with(b"/dev/ashmem") || p.starts_with(b"/run/shm/")
}

/// A mapping of a file that is no part of an ELF object ([`super::elf`]
/// has those): a device, shared memory, or a data file.
pub(super) fn file_class(r: &Region) -> Class {
    let name = r.path.view().name_raw();
    let pfn = vm_flag(r, "io") || vm_flag(r, "pf");
    let gpu = [
        &b"/dev/nvidia"[..],
        b"/dev/dri/",
        b"/dev/kgsl",
        b"/dev/mali",
        b"/i915",
        b"/drm",
        b"/kgsl",
        b"/mali",
        b"/nvidia",
    ]
    .iter()
    .any(|p| name.starts_with(p));
    if !is_shm_path(name) && starts_with_any(name, DEVICE_NODES) || pfn {
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
            if pfn {
                format!(
                    "path {}; VmFlags io/pf: device memory (VM_IO/VM_PFNMAP)",
                    r.path.display()
                )
            } else {
                format!("path {}: a device node drivers map", r.path.display())
            },
            false,
        );
    }
    if starts_with_any(name, DRIVER_OBJECTS) {
        return class(
            Category::Device,
            if gpu {
                "GPU buffer mapped by the driver (its name is the driver's, not a file's)"
            } else {
                "a buffer mapped by a driver (DMA-BUF or GPU object)"
            },
            "driver-object",
            format!(
                "name {} is a driver object's{}",
                r.path.display(),
                if r.path.deleted() {
                    "; the ' (deleted)' is how drivers name them, no file was deleted"
                } else {
                    ""
                }
            ),
            false,
        );
    }
    if let Some(m) = name.strip_prefix(b"/memfd:") {
        // A kernel before 3.? printed no ' (deleted)' after a memfd.
        return memfd(r, m);
    }
    if let Some(c) = super::runtime::art_file(r) {
        return c;
    }
    if is_shm_path(name) && r.perms.shared() {
        return class(
            Category::SharedMemory,
            "a shared-memory file (/dev/shm, ashmem)",
            "path-shm",
            format!("path {}", r.path.display()),
            false,
        );
    }
    if name.starts_with(b"/dev/") {
        return class(
            Category::MappedFile,
            if is_shm_path(name) {
                "a shared-memory file mapped private (p): this process's own copy, not shared"
            } else if r.perms.shared() {
                "a file under /dev (a regular file on devtmpfs/tmpfs, e.g. Android's property areas), mapped shared"
            } else {
                "a file under /dev (a regular file on devtmpfs/tmpfs, e.g. Android's property areas): private memory"
            },
            "file-dev-tmpfs",
            format!(
                "path {}: not a known device node, and no VmFlags io/pf",
                r.path.display()
            ),
            true,
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
            "file with no executable segment",
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
            "file with no executable segment",
            false,
        )
    }
}
