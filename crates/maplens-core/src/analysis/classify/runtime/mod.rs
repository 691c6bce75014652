//! Managed runtimes: which one the process runs, and the rules that know
//! its layout (JVM, Android ART, Go, V8).
//!
//! These rules run after the per-region rules and only re-read regions
//! that layout alone left as anonymous memory, reservations or guesses.

mod art;
mod go;
mod jvm;
mod v8;

use super::{Category, Class, Object};
use crate::model::Region;
use crate::parse::PathKind;

pub(super) use art::art_file;

/// A managed runtime found in the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Runtime {
    /// HotSpot JVM (`libjvm.so` mapped).
    Jvm,
    /// Android ART (`libart.so` or `[anon:dalvik-…]` regions).
    Art,
    /// Go (a region at the heap hint `0xc000000000`, or `Go: …` names).
    Go,
    /// V8 (Node.js, Chromium).
    V8,
}

impl Runtime {
    /// Stable identifier, as in JSON.
    pub const fn id(self) -> &'static str {
        match self {
            Runtime::Jvm => "jvm",
            Runtime::Art => "art",
            Runtime::Go => "go",
            Runtime::V8 => "v8",
        }
    }
}

fn object_named(objects: &[Object], tail: &[u8]) -> bool {
    objects.iter().any(|o| {
        o.path
            .rsplit(|b| *b == b'/')
            .next()
            .is_some_and(|n| n == tail || n.starts_with(tail))
    })
}

/// The runtime, from the objects and names in the map.
pub(super) fn detect(regions: &[Region], objects: &[Object]) -> Option<Runtime> {
    if object_named(objects, b"libjvm.so") {
        return Some(Runtime::Jvm);
    }
    let named = |p: &[u8]| {
        regions.iter().any(|r| match r.kind() {
            PathKind::AnonNamed(n) => n.trim_ascii_start().starts_with(p),
            _ => false,
        })
    };
    if object_named(objects, b"libart.so") || named(b"dalvik-") {
        return Some(Runtime::Art);
    }
    if named(b"Go: ") || go::has_heap_hint(regions) {
        return Some(Runtime::Go);
    }
    if object_named(objects, b"node")
        || object_named(objects, b"libnode.so")
        || object_named(objects, b"libv8")
    {
        return Some(Runtime::V8);
    }
    None
}

/// A class the runtime rules may replace: layout left it as plain
/// anonymous memory, a reservation, or a layout guess.
fn open(r: &Region, c: &Class) -> bool {
    matches!(r.kind(), PathKind::Anonymous)
        && c.thread.is_none()
        && match c.category {
            Category::AnonMmap | Category::Reservation | Category::WritableExec => true,
            Category::MallocArena | Category::GuardPage | Category::ThreadStack => c.heuristic,
            _ => false,
        }
}

/// Applies the runtime's layout rules.
pub(super) fn apply(
    rt: Option<Runtime>,
    regions: &[Region],
    classes: &mut [Class],
    is_64bit: bool,
) {
    match rt {
        Some(Runtime::Jvm) => jvm::apply(regions, classes, is_64bit),
        Some(Runtime::Go) => go::apply(regions, classes, is_64bit),
        Some(Runtime::V8) => v8::apply(regions, classes, is_64bit),
        Some(Runtime::Art) | None => {}
    }
}
