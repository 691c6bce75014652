//! Names that programs and runtimes give their anonymous regions
//! (`[anon:NAME]`: Linux 5.17+ `PR_SET_VMA_ANON_NAME`, and Android).
//!
//! A name is the runtime's own word for its memory, so a known name is
//! trusted over any layout guess. [`KNOWN`] is the table: add a row to
//! teach maplens a new name.

use super::{Category, Class, class, stack};
use crate::model::Region;

/// How a row matches a name (leading blanks of the name are ignored:
/// glibc writes `[anon: glibc: …]`).
#[derive(Clone, Copy, Debug)]
pub enum Pattern {
    /// The whole name.
    Exact(&'static str),
    /// The beginning of the name.
    Prefix(&'static str),
    /// The end of the name.
    Suffix(&'static str),
    /// Anywhere in the name.
    Contains(&'static str),
}

impl Pattern {
    fn matches(self, name: &[u8]) -> bool {
        match self {
            Pattern::Exact(p) => name == p.as_bytes(),
            Pattern::Prefix(p) => name.starts_with(p.as_bytes()),
            Pattern::Suffix(p) => name.ends_with(p.as_bytes()),
            Pattern::Contains(p) => name.windows(p.len()).any(|w| w == p.as_bytes()),
        }
    }
}

/// A known region name.
#[derive(Clone, Copy, Debug)]
pub struct KnownName {
    /// What the name looks like.
    pub pattern: Pattern,
    /// Who writes it.
    pub owner: &'static str,
    /// What the region is.
    pub category: Category,
    /// In plain words.
    pub note: &'static str,
    /// Where the name is documented or written.
    pub evidence: &'static str,
    /// The name says exactly what the region is (false: the category is
    /// inferred from a name family, e.g. every `Go: …`).
    pub exact: bool,
    /// The name ends in a thread id (`…: TID`).
    pub tid: bool,
}

const fn row(
    pattern: Pattern,
    owner: &'static str,
    category: Category,
    note: &'static str,
    evidence: &'static str,
    exact: bool,
) -> KnownName {
    KnownName {
        pattern,
        owner,
        category,
        note,
        evidence,
        exact,
        tid: false,
    }
}

const fn with_tid(mut k: KnownName) -> KnownName {
    k.tid = true;
    k
}

use Category as C;
use Pattern::{Contains, Exact, Prefix, Suffix};

/// Known names, first match wins (so longer names come before their
/// prefixes).
pub static KNOWN: &[KnownName] = &[
    // glibc >= 2.39 with GLIBC_TUNABLES=glibc.mem.decorate_maps=1.
    row(
        Exact("glibc: malloc arena"),
        "glibc",
        C::MallocArena,
        "a glibc malloc arena heap (named by glibc; its later-committed part and reserve stay unnamed)",
        "glibc 2.39+ decorate_maps",
        true,
    ),
    row(
        Exact("glibc: malloc"),
        "glibc",
        C::MallocArena,
        "a large malloc block glibc mapped on its own (mmap chunk)",
        "glibc 2.39+ decorate_maps",
        true,
    ),
    row(
        Exact("glibc: loader malloc"),
        "glibc",
        C::MallocArena,
        "memory of the dynamic loader's own malloc",
        "glibc 2.39+ decorate_maps",
        true,
    ),
    with_tid(row(
        Prefix("glibc: pthread stack: "),
        "glibc",
        C::ThreadStack,
        "a thread's stack (named by glibc)",
        "glibc 2.39+ decorate_maps",
        true,
    )),
    with_tid(row(
        Prefix("glibc: pthread user stack: "),
        "glibc",
        C::ThreadStack,
        "a thread's stack the program allocated itself (pthread_attr_setstack)",
        "glibc 2.39+ decorate_maps",
        true,
    )),
    row(
        Exact("glibc: unused stack"),
        "glibc",
        C::NamedAnon,
        "the cached stack of a thread that exited, kept by glibc for reuse (no thread runs on it)",
        "glibc 2.39+ decorate_maps",
        true,
    ),
    row(
        Prefix("glibc: .bss"),
        "glibc",
        C::Bss,
        "zero-initialised data (.bss) of a library, named by the loader",
        "glibc 2.42 decorate_maps",
        true,
    ),
    row(
        Prefix("glibc: getrandom"),
        "glibc",
        C::NamedAnon,
        "per-thread state of getrandom() in the vDSO",
        "glibc 2.41 decorate_maps",
        true,
    ),
    row(
        Prefix("glibc: "),
        "glibc",
        C::NamedAnon,
        "memory glibc named",
        "glibc 2.39+ decorate_maps",
        false,
    ),
    // Go >= 1.25 names its mappings "Go: …".
    row(
        Exact("Go: heap"),
        "Go",
        C::ManagedHeap,
        "the Go heap (arenas)",
        "Go 1.25+ runtime",
        true,
    ),
    row(
        Exact("Go: OS thread stack"),
        "Go",
        C::ThreadStack,
        "the stack of an OS thread the Go runtime started",
        "Go 1.25+ runtime",
        true,
    ),
    row(
        Prefix("Go: goroutine stack"),
        "Go",
        C::ManagedHeap,
        "goroutine stacks (from the Go heap)",
        "Go 1.25+ runtime",
        true,
    ),
    row(
        Prefix("Go: "),
        "Go",
        C::ManagedHeap,
        "Go runtime memory (heap metadata, scavenger, …)",
        "Go 1.25+ runtime",
        false,
    ),
    // Android bionic and its allocators.
    row(
        Prefix("libc_malloc"),
        "bionic",
        C::MallocArena,
        "memory of the C allocator (bionic jemalloc)",
        "Android bionic",
        true,
    ),
    row(
        Prefix("scudo:"),
        "scudo",
        C::MallocArena,
        "memory of the scudo allocator",
        "Android scudo / LLVM",
        true,
    ),
    row(
        Prefix("GWP-ASan"),
        "GWP-ASan",
        C::MallocArena,
        "GWP-ASan sampling allocator (guarded slots)",
        "Android / LLVM GWP-ASan",
        true,
    ),
    row(
        Prefix("jemalloc"),
        "jemalloc",
        C::MallocArena,
        "memory of the jemalloc allocator",
        "jemalloc",
        true,
    ),
    row(
        Prefix("je_"),
        "jemalloc",
        C::MallocArena,
        "memory of the jemalloc allocator",
        "jemalloc",
        true,
    ),
    row(
        Prefix("partition_alloc"),
        "PartitionAlloc",
        C::MallocArena,
        "memory of Chromium's PartitionAlloc",
        "Chromium",
        true,
    ),
    // Android ART.
    row(
        Contains("jit-code-cache"),
        "ART",
        C::JitCode,
        "ART's JIT code cache",
        "Android ART",
        true,
    ),
    row(
        Contains("data-code-cache"),
        "ART",
        C::JitCode,
        "ART's JIT data cache (profiling info, stack maps)",
        "Android ART",
        true,
    ),
    row(
        Prefix("dalvik-main space"),
        "ART",
        C::ManagedHeap,
        "the Java heap (ART main space)",
        "Android ART",
        true,
    ),
    row(
        Prefix("dalvik-large object space"),
        "ART",
        C::ManagedHeap,
        "the Java heap's large objects (ART)",
        "Android ART",
        true,
    ),
    row(
        Prefix("dalvik-non moving space"),
        "ART",
        C::ManagedHeap,
        "the Java heap's non-moving space (ART)",
        "Android ART",
        true,
    ),
    row(
        Prefix("dalvik-zygote space"),
        "ART",
        C::ManagedHeap,
        "objects shared from the zygote (ART)",
        "Android ART",
        true,
    ),
    row(
        Prefix("dalvik-region space"),
        "ART",
        C::ManagedHeap,
        "the Java heap (ART region space)",
        "Android ART",
        true,
    ),
    row(
        Prefix("dalvik-LinearAlloc"),
        "ART",
        C::ManagedHeap,
        "ART class metadata (LinearAlloc: methods, fields)",
        "Android ART",
        true,
    ),
    row(
        Prefix("dalvik-indirect ref table"),
        "ART",
        C::NamedAnon,
        "ART JNI reference table",
        "Android ART",
        true,
    ),
    row(
        Suffix(".art"),
        "ART",
        C::ManagedHeap,
        "an ART image space: preinitialised Java heap objects of the boot image",
        "Android ART",
        true,
    ),
    row(
        Prefix("dalvik-"),
        "ART",
        C::ManagedHeap,
        "ART runtime memory (GC structures, …)",
        "Android ART",
        false,
    ),
    row(
        Prefix("OCaml:"),
        "OCaml",
        C::ManagedHeap,
        "OCaml runtime memory",
        "OCaml 5 runtime",
        false,
    ),
    // Generic words programs use.
    row(
        Exact("thread signal stack"),
        "bionic",
        C::ThreadStack,
        "a thread's signal stack (sigaltstack, bionic): used only by signal handlers",
        "the name",
        true,
    ),
    row(
        Suffix("guard page"),
        "program",
        C::GuardPage,
        "a guard page named by the program",
        "the name",
        true,
    ),
    row(
        Suffix("guard"),
        "program",
        C::GuardPage,
        "a guard page named by the program",
        "the name",
        true,
    ),
    row(
        Prefix("stack"),
        "program",
        C::ThreadStack,
        "a thread's stack (named by the program)",
        "the name",
        true,
    ),
    row(
        Exact(".bss"),
        "loader",
        C::Bss,
        "zero-initialised data (.bss) named by the loader",
        "the name",
        true,
    ),
];

/// The row for a name, if known.
pub fn lookup(name: &[u8]) -> Option<&'static KnownName> {
    let name = name.trim_ascii_start();
    KNOWN.iter().find(|k| k.pattern.matches(name))
}

/// The rule of a signal stack: a [`Category::ThreadStack`] no thread runs on
/// (only its signal handlers), so never counted as a thread's stack.
pub(super) const SIGNAL_STACK_RULE: &str = "anon-name-signal-stack";

/// The rule id of a name-decided class (the JSON `rule`).
fn rule_of(k: &KnownName) -> &'static str {
    if matches!(k.pattern, Exact("thread signal stack")) {
        return SIGNAL_STACK_RULE;
    }
    match (k.owner, k.category) {
        ("glibc", C::MallocArena) if k.note.starts_with("a glibc malloc arena") => {
            "anon-name-glibc-arena"
        }
        ("glibc", _) => "anon-name-glibc",
        ("Go", _) => "anon-name-go",
        ("ART", _) => "anon-name-art",
        ("OCaml", _) => "anon-name-ocaml",
        (_, C::GuardPage) => "anon-name-guard",
        (_, C::ThreadStack) => "anon-name-stack",
        (_, C::MallocArena) => "anon-name-allocator",
        (_, C::Bss) => "anon-name-bss",
        _ => "anon-name",
    }
}

/// `[anon:NAME]`: what the name says.
pub(super) fn anon_named(r: &Region, name: &[u8]) -> Class {
    if let Some(c) = stack::android_stack_and_tls(r, name) {
        return c;
    }
    let Some(k) = lookup(name) else {
        return class(
            Category::NamedAnon,
            format!(
                "anonymous memory the program named \"{}\"",
                String::from_utf8_lossy(name)
            ),
            "anon-name",
            format!("named {}", r.path.raw_lossy()),
            false,
        );
    };
    let tid: Option<u32> = k
        .tid
        .then(|| {
            let digits = name.rsplit(|b| *b == b' ').next()?;
            std::str::from_utf8(digits).ok()?.parse().ok()
        })
        .flatten();
    let mut c = class(
        k.category,
        match tid {
            Some(t) => format!("{} (thread {t})", k.note).into(),
            None => std::borrow::Cow::Borrowed(k.note),
        },
        rule_of(k),
        if k.evidence == "the name" {
            format!("named {}", r.path.raw_lossy())
        } else {
            format!("named {} ({})", r.path.raw_lossy(), k.evidence)
        },
        !k.exact,
    );
    c.thread = tid;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_go_and_art_names_are_known() {
        let cases: &[(&str, Category, &str)] = &[
            (" glibc: malloc arena", C::MallocArena, "glibc"),
            (" glibc: malloc", C::MallocArena, "glibc"),
            (" glibc: pthread stack: 4242", C::ThreadStack, "glibc"),
            (" glibc: unused stack", C::NamedAnon, "glibc"),
            (" glibc: .bss libfoo.so", C::Bss, "glibc"),
            (" Go: heap", C::ManagedHeap, "Go"),
            (" Go: OS thread stack", C::ThreadStack, "Go"),
            ("dalvik-main space (region space)", C::ManagedHeap, "ART"),
            ("dalvik-jit-code-cache", C::JitCode, "ART"),
            ("dalvik-zygote-jit-code-cache", C::JitCode, "ART"),
            ("scudo:primary", C::MallocArena, "scudo"),
            ("OCaml: minor heap", C::ManagedHeap, "OCaml"),
        ];
        for &(name, cat, owner) in cases {
            let k = lookup(name.as_bytes()).unwrap_or_else(|| panic!("{name} unknown"));
            assert_eq!((k.category, k.owner), (cat, owner), "{name}");
        }
        assert!(lookup(b"my cache").is_none());
    }
}
