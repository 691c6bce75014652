//! Names that programs and runtimes give their anonymous regions
//! (`[anon:NAME]`, Linux 5.17+ `PR_SET_VMA_ANON_NAME`, and Android).

use super::{Category, Class, class, stack};
use crate::model::Region;

fn is_alloc_name(name: &[u8]) -> bool {
    name.starts_with(b"libc_malloc")
        || name.starts_with(b"scudo:")
        || name.starts_with(b"jemalloc")
        || name.starts_with(b"je_")
        || name.starts_with(b"GWP-ASan")
        || name.starts_with(b"partition_alloc")
}

/// `[anon:NAME]`: what the name says.
pub(super) fn anon_named(r: &Region, name: &[u8]) -> Class {
    if let Some(c) = stack::android_stack_and_tls(r, name) {
        c
    } else if name.ends_with(b"guard") || name.ends_with(b"guard page") {
        class(
            Category::GuardPage,
            "a guard page named by the program",
            "anon-name-guard",
            format!("named {}", r.path.raw_lossy()),
            false,
        )
    } else if name == b"thread signal stack" {
        class(
            Category::ThreadStack,
            "a thread's signal stack (sigaltstack, bionic): used only by signal handlers",
            "anon-name-stack",
            format!("named {}", r.path.raw_lossy()),
            false,
        )
    } else if name.starts_with(b"stack") {
        class(
            Category::ThreadStack,
            "a thread's stack (named by the program)",
            "anon-name-stack",
            format!("named {}", r.path.raw_lossy()),
            false,
        )
    } else if is_alloc_name(name) {
        class(
            Category::MallocArena,
            "memory of the C allocator (named by it)",
            "anon-name-allocator",
            format!("named {}", r.path.raw_lossy()),
            false,
        )
    } else if name == b".bss" {
        class(
            Category::Bss,
            "zero-initialised data (.bss) named by the loader",
            "anon-name-bss",
            format!("named {}", r.path.raw_lossy()),
            false,
        )
    } else {
        class(
            Category::NamedAnon,
            format!(
                "anonymous memory the program named \"{}\"",
                String::from_utf8_lossy(name)
            ),
            "anon-name",
            format!("named {}", r.path.raw_lossy()),
            false,
        )
    }
}
