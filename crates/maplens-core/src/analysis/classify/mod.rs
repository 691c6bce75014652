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
mod runtime;
mod stack;

pub use names::{KNOWN as KNOWN_NAMES, KnownName, Pattern as NamePattern, lookup as known_name};
pub use runtime::Runtime;

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
    /// Heaps of a managed runtime: the Java heap and class space, ART's
    /// spaces, the Go heap.
    ManagedHeap,
    /// Code a JIT compiler wrote, and its reserve: the JVM code cache, ART's
    /// JIT cache.
    JitCode,
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
        Category::ManagedHeap,
        Category::JitCode,
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
            Category::ManagedHeap => "managed-heap",
            Category::JitCode => "jit-code",
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
            Category::ManagedHeap => "managed heaps",
            Category::JitCode => "JIT code",
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
    pub evidence: Cow<'static, str>,
    /// True when the rule infers from layout and can be wrong.
    pub heuristic: bool,
    /// Index into [`Classified::objects`] for ELF segments and their bss.
    pub object: Option<usize>,
    /// The thread whose stack this is (or whose stack this guards).
    pub thread: Option<u32>,
    /// The other reading of a shape that fits two rules offline (boxed:
    /// few regions have one, and every region's class carries the field).
    pub alternative: Option<Box<Alternative>>,
}

/// The second reading of an ambiguous shape, and how sure the first one is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Alternative {
    /// What the region would be under the other reading.
    pub category: Category,
    /// That reading in plain words.
    pub note: Cow<'static, str>,
    /// The rule behind it.
    pub rule: &'static str,
    /// How sure the chosen reading is.
    pub confidence: Confidence,
}

/// How sure a reading of an ambiguous shape is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Confidence {
    /// The chosen reading fits better (alignment or sizes favour it).
    Likely,
    /// Both readings fit equally; the chosen one is first in rule order.
    Even,
}

impl Confidence {
    /// Stable identifier, as in JSON.
    pub const fn id(self) -> &'static str {
        match self {
            Confidence::Likely => "likely",
            Confidence::Even => "even",
        }
    }
}

/// One glibc arena heap: its regions (head, committed tail, reserve).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Arena {
    /// Indices of its regions, ascending and adjacent.
    pub regions: Vec<usize>,
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Found by layout, not by name.
    pub heuristic: bool,
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
    /// glibc arena heaps, counted once here for every command.
    pub arenas: Vec<Arena>,
    /// The managed runtime found in the map, if any.
    pub runtime: Option<Runtime>,
}

impl Classified {
    /// Indices of the threads' stacks (not the main stack, not signal
    /// stacks): the one count of thread stacks every command shows.
    pub fn thread_stacks(&self) -> impl Iterator<Item = usize> + '_ {
        self.classes.iter().enumerate().filter_map(|(i, c)| {
            (c.category == Category::ThreadStack && c.rule != names::SIGNAL_STACK_RULE).then_some(i)
        })
    }
}

/// glibc's per-thread arena heap size (`HEAP_MAX_SIZE`): 64 MiB on 64-bit.
pub const ARENA_SIZE_64: u64 = 64 << 20;
/// glibc's arena heap size on 32-bit: 1 MiB.
pub const ARENA_SIZE_32: u64 = 1 << 20;

fn class(
    category: Category,
    note: impl Into<Cow<'static, str>>,
    rule: &'static str,
    evidence: impl Into<Cow<'static, str>>,
    heuristic: bool,
) -> Class {
    Class {
        category,
        note: note.into(),
        rule,
        evidence: evidence.into(),
        heuristic,
        object: None,
        thread: None,
        alternative: None,
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
    let rt = runtime::detect(regions, &objects);
    let sps = stack::StackPointers::of(s);

    let region_class =
        |(i, r): (usize, &Region)| region_class(i, r, regions, &exec_files, &sps, arena, page);
    // Collected into a list of the exact size: its pages, not the
    // instructions, are most of this loop's time.
    let mut classes: Vec<Class> = regions.iter().enumerate().map(region_class).collect();

    // Passes over the whole map, in this order: what a runtime's layout
    // explains, stacks without a stack pointer, guards below stacks, the
    // unnamed parts of named arenas, then who owns what.
    runtime::apply(rt, regions, &mut classes, is_64bit);
    stack::drop_unproven(&mut classes, &sps);
    alloc::orphan_tails(regions, &mut classes);
    stack::guards(regions, &mut classes);
    alloc::named_arena_tails(regions, &mut classes, arena);
    stack::guard_threads(regions, &mut classes);
    elf::attach(&classes, &mut objects);
    let arenas = alloc::arenas(regions, &classes);
    Classified {
        classes,
        objects,
        page_size: page,
        is_64bit,
        arenas,
        runtime: rt,
    }
}

/// The class of one region from its own shape and its neighbours, before
/// the passes over the whole map.
fn region_class(
    i: usize,
    r: &Region,
    regions: &[Region],
    exec_files: &elf::ObjectIndex<'_>,
    sps: &stack::StackPointers,
    arena: u64,
    page: u64,
) -> Class {
    let hugetlb = r
        .smaps
        .as_ref()
        .and_then(|m| m.flags())
        .is_some_and(|f| f.has("ht"));
    let kind = r.kind();
    let mut c = match kind {
        // Segments, bss, gaps and remapped text of ELF objects.
        _ if elf::is_object(r, exec_files) => elf::member_class(r, exec_files),
        PathKind::Heap => alloc::brk_heap(),
        PathKind::Stack => stack::main_stack(),
        PathKind::ThreadStack(tid) => stack::named_thread_stack(tid),
        k if k.is_kernel_provided() => kernel::kernel_provided(r, k),
        PathKind::Rollup => class(
            Category::AnonMmap,
            "the smaps_rollup totals pseudo-region",
            "path-rollup",
            "named [rollup]",
            false,
        ),
        PathKind::AnonNamed(name) => names::anon_named(r, name),
        PathKind::File if hugetlb => files::hugetlb(true),
        PathKind::File => files::file_class(r),
        PathKind::Anonymous if hugetlb => files::hugetlb(false),
        PathKind::Anonymous => anon_class(r, i, regions, arena),
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
    stack::by_stack_pointer(&mut c, r, sps);
    if let Some(o) = elf::object_of(r, exec_files) {
        c.object = Some(o);
    }
    c
}

/// Unnamed private anonymous memory, rule by rule: the first that matches
/// decides.
fn anon_class(r: &Region, i: usize, regions: &[Region], arena: u64) -> Class {
    let prev = i
        .checked_sub(1)
        .map(|j| &regions[j])
        .filter(|p| p.end == r.start);
    let next = regions.get(i + 1).filter(|n| n.start == r.end);
    if let Some(c) = files::shared_anon(r).or_else(|| alloc::glibc_arena(r, prev, next, arena)) {
        return c;
    }
    if r.perms.none() {
        // A guard only with a stack above it (the guards pass decides).
        return class(
            Category::Reservation,
            "reserved address space with no access (costs no memory until made accessible)",
            "prot-none",
            "unnamed ---p",
            false,
        );
    }
    stack::above_guard(r, prev, arena).unwrap_or_else(|| {
        class(
            Category::AnonMmap,
            "anonymous memory: mmap, or malloc of large blocks",
            "anon",
            "unnamed, private",
            false,
        )
    })
}

#[cfg(test)]
mod tests;
