//! Stacks and their guards: `[stack]`, threads' stacks found by their
//! stack pointers or by their shape, and the no-access pages below them.

use super::{Alternative, Category, Class, Confidence, class};
use crate::model::{Region, Snapshot};
use crate::parse::PathKind;

/// Stack pointers of threads (live or captured).
///
/// Sorted by stack pointer (then by thread order), so that a region finds
/// the sps inside it by a binary search: 60,000 regions and 200 threads
/// made 12 million comparisons.
pub(super) struct StackPointers {
    sps: Vec<(u64, usize, u32)>,
    main_pid: Option<u32>,
    all_known: bool,
}

impl StackPointers {
    pub(super) fn of(s: &Snapshot) -> StackPointers {
        let mut sps: Vec<(u64, usize, u32)> = s
            .process
            .threads
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.sp.map(|sp| (sp, i, t.tid)))
            .collect();
        sps.sort_unstable();
        StackPointers {
            sps,
            main_pid: s.process.pid,
            all_known: !s.process.threads.is_empty()
                && s.process.threads.iter().all(|t| t.sp.is_some()),
        }
    }

    /// The first thread (in thread order) whose stack pointer is inside.
    fn inside(&self, r: &Region) -> Option<u32> {
        let from = self.sps.partition_point(|&(sp, _, _)| sp < r.start);
        self.sps[from..]
            .iter()
            .take_while(|&&(sp, _, _)| sp < r.end)
            .min_by_key(|&&(_, i, _)| i)
            .map(|&(_, _, tid)| tid)
    }
}

/// `[stack]`.
pub(super) fn main_stack() -> Class {
    class(
        Category::MainStack,
        "the main thread's stack",
        "path-stack",
        "named [stack]",
        false,
    )
}

/// `[stack:TID]`.
pub(super) fn named_thread_stack(tid: u32) -> Class {
    let mut c = class(
        Category::ThreadStack,
        format!("stack of thread {tid}"),
        "path-stack-tid",
        format!("named [stack:{tid}] (kernels 3.4-4.8)"),
        false,
    );
    c.thread = Some(tid);
    c
}

/// bionic's `[anon:stack_and_tls:TID]`.
pub(super) fn android_stack_and_tls(r: &Region, name: &[u8]) -> Option<Class> {
    let tid = name.strip_prefix(b"stack_and_tls:")?;
    let tid: Option<u32> = std::str::from_utf8(tid).ok().and_then(|t| t.parse().ok());
    // bionic maps a thread's guard, stack and TLS as one
    // mapping and names it all; the guard part is `---p`.
    // `stack_and_tls:main` is the main thread's TLS only.
    let mut c = if r.perms.none() {
        class(
            Category::GuardPage,
            format!(
                "guard page under the stack of thread {}",
                tid.map_or("?".into(), |t| t.to_string())
            ),
            "android-stack-and-tls",
            format!("named {}, no access", r.path.raw_lossy()),
            false,
        )
    } else if tid.is_none() && name == b"stack_and_tls:main" {
        class(
            Category::NamedAnon,
            "thread-local storage of the main thread (bionic; its stack is [stack])",
            "android-stack-and-tls",
            format!("named {}", r.path.raw_lossy()),
            false,
        )
    } else {
        class(
            Category::ThreadStack,
            format!(
                "stack and TLS of thread {}",
                tid.map_or("?".into(), |t| t.to_string())
            ),
            "android-stack-and-tls",
            format!("named {}", r.path.raw_lossy()),
            false,
        )
    };
    c.thread = tid;
    Some(c)
}

/// Thread stack: rw-p above a guard, of a typical stack size.
///
/// When the rw-p starts on an arena boundary (`HEAP_MAX_SIZE`: 1 MiB on
/// 32-bit), the same shape is a glibc arena heap that the kernel merged
/// with the mapping above it: an arena always starts there, a stack only
/// by chance. Both readings are kept; the arena is the likelier.
pub(super) fn above_guard(r: &Region, prev: Option<&Region>, arena: u64) -> Option<Class> {
    let guardish = |o: &Region| {
        o.perms.none()
            && o.size() <= 1 << 20
            && match o.kind() {
                PathKind::Anonymous => true,
                PathKind::AnonNamed(n) => n.ends_with(b"guard"),
                _ => false,
            }
    };
    if !(r.perms.write()
        && prev.is_some_and(guardish)
        && (16 * 1024..=64 << 20).contains(&r.size()))
    {
        return None;
    }
    let stack_note = "a thread's stack (guard page below it)";
    if r.start.is_multiple_of(arena) && r.perms.read() && r.size() > arena {
        let mut c = class(
            Category::MallocArena,
            "a glibc malloc arena heap merged with the mapping above it (or a thread stack)",
            "glibc-arena-merged",
            format!(
                "rw-p starting on a {} KiB arena boundary, above a ---p that ends there (the \
                 previous arena's reserve, or a stack guard)",
                arena >> 10
            ),
            true,
        );
        c.alternative = Some(Box::new(Alternative {
            category: Category::ThreadStack,
            note: stack_note.into(),
            rule: "stack-above-guard",
            confidence: Confidence::Likely,
        }));
        return Some(c);
    }
    Some(class(
        Category::ThreadStack,
        stack_note,
        "stack-above-guard",
        "anonymous rw directly above a small ---p guard",
        true,
    ))
}

/// Whether a rw-p region has the shape of a thread stack (above a small
/// anonymous `---p`, of a stack's size).
pub(super) fn stack_shaped(r: &Region, prev: Option<&Region>) -> bool {
    r.perms.write()
        && (16 * 1024..=64 << 20).contains(&r.size())
        && prev.is_some_and(|o| {
            o.perms.none() && o.size() <= 64 << 10 && matches!(o.kind(), PathKind::Anonymous)
        })
}

/// Anything holding a thread's stack pointer is that thread's stack.
pub(super) fn by_stack_pointer(c: &mut Class, r: &Region, sps: &StackPointers) {
    if !matches!(c.category, Category::ThreadStack | Category::MainStack)
        && r.perms.write()
        && let Some(tid) = sps.inside(r)
    {
        let is_main = Some(tid) == sps.main_pid;
        *c = class(
            if is_main {
                Category::MainStack
            } else {
                Category::ThreadStack
            },
            format!("stack of thread {tid}"),
            "thread-sp",
            format!("thread {tid}'s stack pointer (task/{tid}/syscall) is inside"),
            false,
        );
        c.thread = Some(tid);
    } else if c.category == Category::ThreadStack
        && c.rule != "path-stack-tid"
        && let Some(tid) = sps.inside(r)
    {
        c.thread = Some(tid);
        c.note = format!("stack of thread {tid}").into();
        if c.heuristic {
            // The layout guessed it; the stack pointer proves it.
            c.rule = "thread-sp";
            c.evidence = format!(
                "thread {tid}'s stack pointer (task/{tid}/syscall) is inside; {}",
                c.evidence
            )
            .into();
            c.heuristic = false;
        }
    }
}

/// With every thread's stack pointer known, a region that only looks like
/// a thread stack but holds none of them is not one.
pub(super) fn drop_unproven(classes: &mut [Class], sps: &StackPointers) {
    if !sps.all_known {
        return;
    }
    for c in classes.iter_mut() {
        // The stack reading of an ambiguous shape is out too.
        if c.thread.is_none()
            && c.alternative
                .as_ref()
                .is_some_and(|a| a.category == Category::ThreadStack)
        {
            c.alternative = None;
            c.evidence
                .to_mut()
                .push_str("; no thread's stack pointer (all known) is inside: not a stack");
        }
        if c.rule == "stack-above-guard" && c.thread.is_none() {
            *c = class(
                Category::AnonMmap,
                "anonymous memory: mmap, or malloc of large blocks",
                "anon",
                "rw above a ---p like a thread stack, but no thread's stack pointer (all known) \
                 is inside",
                false,
            );
        }
    }
}

/// The no-access pages right below a thread stack are its guard (glibc's
/// guard page, plus the JVM's own guard zones, which make a second `---p`
/// mapping).
pub(super) fn guards(regions: &[Region], classes: &mut [Class]) {
    for i in 0..classes.len() {
        if classes[i].category != Category::ThreadStack || regions[i].perms.none() {
            continue;
        }
        let mut j = i;
        let mut guard = 0;
        while j > 0 {
            let (below, above) = (&regions[j - 1], &regions[j]);
            let c = &classes[j - 1];
            if below.end != above.start
                || !below.perms.none()
                || !matches!(below.kind(), PathKind::Anonymous | PathKind::AnonNamed(_))
                || !matches!(c.category, Category::Reservation | Category::GuardPage)
                || guard + below.size() > 1 << 20
                || c.category == Category::Reservation && below.size() > 64 << 10
            {
                break;
            }
            if c.rule == "android-stack-and-tls" {
                // bionic's guard is the named part; what lies below is not.
                break;
            }
            guard += below.size();
            if c.category == Category::Reservation {
                classes[j - 1] = class(
                    Category::GuardPage,
                    "guard page: no access, catches a stack overflow",
                    "guard-below-stack",
                    "small ---p directly below a thread stack",
                    true,
                );
            }
            j -= 1;
        }
    }
}

/// Guards take the thread of the stack above them.
pub(super) fn guard_threads(regions: &[Region], classes: &mut [Class]) {
    for i in (0..classes.len()).rev() {
        if classes[i].category == Category::GuardPage
            && classes[i].thread.is_none()
            && let Some(n) = classes.get(i + 1)
            && matches!(n.category, Category::ThreadStack | Category::GuardPage)
            && regions[i].end == regions[i + 1].start
        {
            let tid = n.thread;
            classes[i].thread = tid;
            if let Some(t) = tid {
                classes[i].note = format!("guard page under the stack of thread {t}").into();
            }
        }
    }
}
