//! What each region is: a [`Category`], a note in plain words, and the rule
//! and evidence that decided it.
//!
//! Rules look at a region's name, permissions and size, and at its
//! neighbours: the segments of one ELF object sit next to each other, a
//! guard page sits right below a thread stack, a glibc arena is a 64 MiB
//! aligned `rw-p` + `---p` pair. Rules that can be wrong say so
//! ([`Class::heuristic`]).

use std::borrow::Cow;

use crate::model::{Region, Snapshot};
use crate::parse::{Field, PathKind};

mod alloc;
mod elf;
mod files;
mod kernel;
mod names;
mod stack;

/// The memory categories of the process report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Category {
    /// Executable code of the program or a library (`r-xp` of an ELF file).
    Code,
    /// Read-only data of an ELF file (headers, `.rodata`, `.eh_frame`).
    ReadOnlyData,
    /// `.data`: the writable, file-initialised segment of an ELF file.
    WritableData,
    /// `.bss`: zero-initialised data, anonymous memory right after `.data`.
    Bss,
    /// RELRO: data made read-only after the dynamic linker relocated it.
    Relro,
    /// The `brk` heap (`[heap]`).
    Heap,
    /// Allocator arenas: glibc per-thread arenas, Android scudo/jemalloc.
    MallocArena,
    /// A thread's stack.
    ThreadStack,
    /// The main thread's stack (`[stack]`).
    MainStack,
    /// A guard page below a stack: no access, catches overflows.
    GuardPage,
    /// Address space reserved with no access (`---p`), not backed.
    Reservation,
    /// The `---p` hole the linker leaves between a library's code and data.
    LinkerGap,
    /// Unnamed anonymous memory: `mmap`, or `malloc` of large blocks.
    AnonMmap,
    /// Anonymous memory the program named (`[anon:NAME]`).
    NamedAnon,
    /// Shared memory: SysV, memfd, `/dev/shm`, shared anonymous.
    SharedMemory,
    /// A data file mapped into memory.
    MappedFile,
    /// A device or GPU mapping (`/dev/…`, DMA-BUF, GEM objects).
    Device,
    /// Pages the kernel maps into every process (vdso, vvar, vsyscall, …).
    KernelProvided,
    /// hugetlbfs memory (explicit huge pages).
    Hugetlb,
    /// Writable and executable: JIT code or an old ABI (`rwx`).
    WritableExec,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: &'static [Category] = &[
        Category::Code,
        Category::ReadOnlyData,
        Category::Relro,
        Category::WritableData,
        Category::Bss,
        Category::Heap,
        Category::MallocArena,
        Category::ThreadStack,
        Category::MainStack,
        Category::GuardPage,
        Category::Reservation,
        Category::LinkerGap,
        Category::AnonMmap,
        Category::NamedAnon,
        Category::SharedMemory,
        Category::MappedFile,
        Category::Device,
        Category::KernelProvided,
        Category::Hugetlb,
        Category::WritableExec,
    ];

    /// Stable identifier (kebab case), as in JSON and `--kind`.
    pub const fn id(self) -> &'static str {
        match self {
            Category::Code => "code",
            Category::ReadOnlyData => "read-only-data",
            Category::WritableData => "writable-data",
            Category::Bss => "bss",
            Category::Relro => "relro",
            Category::Heap => "heap",
            Category::MallocArena => "malloc-arena",
            Category::ThreadStack => "thread-stack",
            Category::MainStack => "main-stack",
            Category::GuardPage => "guard-page",
            Category::Reservation => "reservation",
            Category::LinkerGap => "linker-gap",
            Category::AnonMmap => "anon-mmap",
            Category::NamedAnon => "named-anon",
            Category::SharedMemory => "shared-memory",
            Category::MappedFile => "mapped-file",
            Category::Device => "device",
            Category::KernelProvided => "kernel",
            Category::Hugetlb => "hugetlb",
            Category::WritableExec => "writable-exec",
        }
    }

    /// A short title for tables.
    pub const fn title(self) -> &'static str {
        match self {
            Category::Code => "program code",
            Category::ReadOnlyData => "read-only data",
            Category::WritableData => "writable data",
            Category::Bss => "bss",
            Category::Relro => "relro",
            Category::Heap => "heap (brk)",
            Category::MallocArena => "malloc arenas",
            Category::ThreadStack => "thread stacks",
            Category::MainStack => "main stack",
            Category::GuardPage => "guard pages",
            Category::Reservation => "PROT_NONE reservations",
            Category::LinkerGap => "linker gaps",
            Category::AnonMmap => "anonymous mmap",
            Category::NamedAnon => "named anonymous",
            Category::SharedMemory => "shared memory",
            Category::MappedFile => "mapped data files",
            Category::Device => "device and GPU",
            Category::KernelProvided => "kernel-provided",
            Category::Hugetlb => "hugetlb",
            Category::WritableExec => "writable+executable",
        }
    }

    /// Parses an id.
    pub fn from_id(s: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.id() == s)
    }
}

/// The classification of one region.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Class {
    /// The category.
    pub category: Category,
    /// What it is, in plain words.
    pub note: Cow<'static, str>,
    /// The rule that decided (stable id).
    pub rule: &'static str,
    /// What the rule saw.
    pub evidence: String,
    /// True when the rule infers from layout and can be wrong.
    pub heuristic: bool,
    /// Index into [`Classified::objects`] for ELF segments and their bss.
    pub object: Option<usize>,
    /// The thread whose stack this is (or whose stack this guards).
    pub thread: Option<u32>,
}

/// An ELF object (program or library) found in the map.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Object {
    /// Decoded path, as bytes.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::text::ser_lossy"))]
    pub path: Vec<u8>,
    /// Indices of its regions (segments, gaps, bss), ascending.
    pub regions: Vec<usize>,
    /// File offset of its first mapping: 0, or where a library stored
    /// inside an APK or zip begins.
    pub offset: u64,
    /// Its regions were placed by its program headers
    /// ([`Snapshot::elf`]), not by the layout.
    pub exact: bool,
    /// The GNU build id from its headers, when read.
    pub build_id: Option<String>,
}

/// Classification of every region of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Classified {
    /// One per region, same order as [`Snapshot::regions`].
    pub classes: Vec<Class>,
    /// ELF objects.
    pub objects: Vec<Object>,
    /// Page size assumed (bytes).
    pub page_size: u64,
    /// The address space is 64-bit.
    pub is_64bit: bool,
}

/// glibc's per-thread arena heap size (`HEAP_MAX_SIZE`): 64 MiB on 64-bit.
pub const ARENA_SIZE_64: u64 = 64 << 20;
/// glibc's arena heap size on 32-bit: 1 MiB.
pub const ARENA_SIZE_32: u64 = 1 << 20;

fn class(
    category: Category,
    note: impl Into<Cow<'static, str>>,
    rule: &'static str,
    evidence: String,
    heuristic: bool,
) -> Class {
    Class {
        category,
        note: note.into(),
        rule,
        evidence,
        heuristic,
        object: None,
        thread: None,
    }
}

fn page_size_of(s: &Snapshot) -> u64 {
    s.regions
        .iter()
        .find_map(|r| {
            r.kb(Field::MmuPageSize)
                .filter(|&k| k > 0)
                .map(|k| k * 1024)
        })
        .unwrap_or_else(|| {
            // Without smaps, the smallest region is a good lower bound; page
            // sizes are 4, 16 or 64 KiB.
            let min = s
                .regions
                .iter()
                .map(Region::size)
                .filter(|&z| z > 0)
                .min()
                .unwrap_or(4096);
            [65536, 16384, 4096]
                .into_iter()
                .find(|&p| min >= p && min % p == 0 && s.regions.iter().all(|r| r.start % p == 0))
                .unwrap_or(4096)
        })
}

/// Classifies every region of a snapshot.
///
/// ```
/// use maplens_core::{analysis::{classify, Category}, model::Snapshot, parse::Mode};
/// let text = b"\
/// 7f0000000000-7f0000028000 r--p 00000000 08:01 42 /usr/lib/libc.so.6
/// 7f0000028000-7f00001bd000 r-xp 00028000 08:01 42 /usr/lib/libc.so.6
/// 7f00001bd000-7f0000215000 r--p 001bd000 08:01 42 /usr/lib/libc.so.6
/// 7f0000215000-7f0000219000 r--p 00214000 08:01 42 /usr/lib/libc.so.6
/// 7f0000219000-7f000021b000 rw-p 00218000 08:01 42 /usr/lib/libc.so.6
/// 7f000021b000-7f0000228000 rw-p 00000000 00:00 0
/// ";
/// let s = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
/// let c = classify(&s);
/// let cats: Vec<_> = c.classes.iter().map(|c| c.category).collect();
/// assert_eq!(cats, [Category::ReadOnlyData, Category::Code, Category::ReadOnlyData,
///                   Category::Relro, Category::WritableData, Category::Bss]);
/// assert_eq!(c.objects.len(), 1);
/// ```
pub fn classify(s: &Snapshot) -> Classified {
    let regions = &s.regions;
    let page = page_size_of(s);
    let is_64bit = regions.iter().any(|r| r.end > 1 << 32);
    let arena = if is_64bit {
        ARENA_SIZE_64
    } else {
        ARENA_SIZE_32
    };
    let (exec_files, mut objects) = elf::find_objects(s, page);
    let sps = stack::StackPointers::of(s);

    let mut classes: Vec<Class> = Vec::with_capacity(regions.len());
    for (i, r) in regions.iter().enumerate() {
        let hugetlb = r
            .smaps
            .as_ref()
            .and_then(|m| m.flags())
            .is_some_and(|f| f.has("ht"));
        let kind = r.kind();
        let mut c = match kind {
            // Segments, bss, gaps and remapped text of ELF objects.
            _ if elf::is_object(r, &exec_files) => elf::member_class(r, &exec_files),
            PathKind::Heap => alloc::brk_heap(),
            PathKind::Stack => stack::main_stack(),
            PathKind::ThreadStack(tid) => stack::named_thread_stack(tid),
            k if k.is_kernel_provided() => kernel::kernel_provided(r, k),
            PathKind::Rollup => class(
                Category::AnonMmap,
                "the smaps_rollup totals pseudo-region",
                "path-rollup",
                "named [rollup]".into(),
                false,
            ),
            PathKind::AnonNamed(name) => names::anon_named(r, name),
            PathKind::File if hugetlb => files::hugetlb(true),
            PathKind::File => files::file_class(r),
            PathKind::Anonymous if hugetlb => files::hugetlb(false),
            PathKind::Anonymous => anon_class(r, i, regions, page, arena),
            k => files::special(r, k, hugetlb, page).unwrap_or_else(|| {
                class(
                    Category::AnonMmap,
                    "unrecognised",
                    "fallback",
                    String::new(),
                    true,
                )
            }),
        };
        if r.perms.write()
            && r.perms.exec()
            && !matches!(
                c.category,
                Category::Heap | Category::MainStack | Category::ThreadStack | Category::Hugetlb
            )
        {
            c = class(
                Category::WritableExec,
                "writable and executable: JIT-compiled code, or a program built for an old ABI",
                "perms-wx",
                format!("permissions {}", r.perms),
                false,
            );
        }
        stack::by_stack_pointer(&mut c, r, &sps);
        if let Some(o) = elf::object_of(r, &exec_files) {
            c.object = Some(o);
        }
        classes.push(c);
    }

    stack::drop_unproven(&mut classes, &sps);
    stack::guards(regions, &mut classes);
    stack::guard_threads(regions, &mut classes);
    elf::attach(&classes, &mut objects);
    Classified {
        classes,
        objects,
        page_size: page,
        is_64bit,
    }
}

/// Unnamed private anonymous memory, rule by rule: the first that matches
/// decides.
fn anon_class(r: &Region, i: usize, regions: &[Region], page: u64, arena: u64) -> Class {
    let prev = i
        .checked_sub(1)
        .map(|j| &regions[j])
        .filter(|p| p.end == r.start);
    let next = regions.get(i + 1).filter(|n| n.start == r.end);
    if let Some(c) = files::shared_anon(r).or_else(|| alloc::glibc_arena(r, prev, next, arena)) {
        return c;
    }
    if r.perms.none() {
        return stack::guard_below_rw(r, next, page).unwrap_or_else(|| {
            class(
                Category::Reservation,
                "reserved address space with no access (costs no memory until made accessible)",
                "prot-none",
                "unnamed ---p".into(),
                false,
            )
        });
    }
    stack::above_guard(r, prev).unwrap_or_else(|| {
        class(
            Category::AnonMmap,
            "anonymous memory: mmap, or malloc of large blocks",
            "anon",
            "unnamed, private".into(),
            false,
        )
    })
}
