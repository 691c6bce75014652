//! HotSpot JVM layout (OpenJDK 17 on Linux, checked against
//! `jcmd PID VM.info`):
//! - the Java heap: with compressed oops (the default below 32 GiB of
//!   heap) HotSpot places the heap below 32 GiB, e.g. `-Xmx256m` at
//!   `0xf0000000-0x100000000`;
//! - the compressed class space: 1 GiB (`CompressedClassSpaceSize`)
//!   reserved right after the CDS archive (`classes.jsa`), and non-class
//!   metaspace in 64 MiB nodes (the first one right below the archive);
//! - the code cache: up to three `rwxp` CodeHeap segments, each followed
//!   by its `---p` reserve (`ReservedCodeCacheSize`, 240 MiB by default);
//! - Java thread stacks: 1 MiB each with the JVM's guard zones (red,
//!   yellow, reserved pages) as `---p` at their bottom.

use super::super::{Category, Class, class};
use super::open;
use crate::model::Region;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
/// Highest heap end compressed oops allow (zero-based mode).
const OOPS_LIMIT: u64 = 32 * GIB;

fn is_jsa(r: &Region) -> bool {
    r.path.view().name_raw().ends_with(b"/classes.jsa")
}

pub(super) fn apply(regions: &[Region], classes: &mut [Class], is_64bit: bool) {
    if !is_64bit {
        return;
    }
    for (i, r) in regions.iter().enumerate() {
        if r.end <= OOPS_LIMIT && open(r, &classes[i]) {
            classes[i] = class(
                Category::ManagedHeap,
                if r.perms.none() {
                    "the Java heap: reserved, not yet committed (costs no memory)"
                } else {
                    "the Java heap (objects)"
                },
                "jvm-heap",
                "anonymous memory below 32 GiB in a JVM (libjvm.so): compressed oops place the \
                 Java heap there",
                true,
            );
        }
    }
    // Class space and metaspace, around the CDS archive (above 32 GiB; the
    // archive's heap part sits inside the Java heap).
    if let Some(a) = regions
        .iter()
        .rposition(|r| is_jsa(r) && r.start >= OOPS_LIMIT)
    {
        let first = regions[..=a]
            .iter()
            .rposition(|r| !is_jsa(r))
            .map_or(0, |j| j + 1);
        let archive_start = regions[first].start;
        // The class space: from the end of the archive, 1 GiB from the next
        // 16 MiB boundary.
        let cs_start = regions[a].end.next_multiple_of(16 * MIB);
        let cs_end = cs_start + GIB;
        let mut end = regions[a].end;
        for j in a + 1..regions.len() {
            let r = &regions[j];
            if r.start != end || r.end > cs_end || !open(r, &classes[j]) {
                break;
            }
            end = r.end;
            classes[j] = class(
                Category::ManagedHeap,
                if r.perms.none() {
                    "compressed class space: reserved for class metadata (costs no memory)"
                } else {
                    "compressed class space: class metadata (Klass structures)"
                },
                "jvm-class-space",
                "anonymous memory right after the JVM's CDS archive (classes.jsa), within the 1 GiB \
                 CompressedClassSpaceSize default",
                true,
            );
        }
        // The first non-class metaspace node, right below the archive.
        let mut start = archive_start;
        for j in (0..first).rev() {
            let r = &regions[j];
            if r.end != start || r.start + 64 * MIB < archive_start || !open(r, &classes[j]) {
                break;
            }
            start = r.start;
            classes[j] = class(
                Category::ManagedHeap,
                if r.perms.none() {
                    "metaspace: reserved for class metadata (costs no memory)"
                } else {
                    "metaspace: class metadata (methods, constant pools)"
                },
                "jvm-metaspace",
                "anonymous memory within 64 MiB (a metaspace node) right below the JVM's CDS \
                 archive",
                true,
            );
        }
    }
    // The code cache: anonymous rwx segments, each with its reserve.
    let mut jit = false;
    for (i, r) in regions.iter().enumerate() {
        let adjacent = i > 0 && regions[i - 1].end == r.start;
        if r.perms.exec() && r.perms.write() && open(r, &classes[i]) {
            classes[i] = class(
                Category::JitCode,
                "JVM code cache: JIT-compiled Java methods (a CodeHeap segment)",
                "jvm-code-cache",
                "anonymous rwx in a JVM (libjvm.so): HotSpot's code cache is mapped rwx",
                true,
            );
            jit = true;
        } else if jit && adjacent && r.perms.none() && open(r, &classes[i]) {
            classes[i] = class(
                Category::JitCode,
                "JVM code cache: reserved, not yet committed (costs no memory)",
                "jvm-code-cache",
                "---p right after a code cache segment",
                true,
            );
            jit = false;
        } else {
            jit = false;
        }
    }
}
