//! The process report: where every kilobyte goes.
//!
//! [`report`] adds the classified regions up: totals, one row per
//! [`Category`], one per ELF object with its segments, one per thread stack
//! and one per allocator. Every region is counted in exactly one category,
//! so the category rows add up to the totals (Σ size = VSZ, Σ Rss = Rss).
//!
//! Sizes are bytes. Residency figures (`rss`, `pss`, …) are `None` when the
//! snapshot came from `maps` (no residency) or when the kernel did not print
//! that field (old kernels have no `Pss`, `Swap`, …): unknown, never zero.

use std::collections::BTreeMap;

use super::classify::{Category, Classified};
use crate::model::{Region, Smaps, Snapshot};
use crate::parse::{Field, PathKind};

/// Sizes and residency of a set of regions, in bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Usage {
    /// Number of regions.
    pub regions: usize,
    /// Virtual size (Σ end − start).
    pub size: u64,
    /// Resident set size.
    pub rss: Option<u64>,
    /// Proportional set size.
    pub pss: Option<u64>,
    /// Unique set size: `Private_Clean + Private_Dirty`.
    pub uss: Option<u64>,
    /// Swapped out.
    pub swap: Option<u64>,
    /// Proportional share of swap.
    pub swap_pss: Option<u64>,
    /// Dirty: `Shared_Dirty + Private_Dirty`.
    pub dirty: Option<u64>,
    /// Locked in memory (`mlock`).
    pub locked: Option<u64>,
    /// hugetlbfs pages: `Shared_Hugetlb + Private_Hugetlb` (not in Rss).
    pub hugetlb: Option<u64>,
    /// Transparent huge pages of anonymous memory (`AnonHugePages`).
    pub thp: Option<u64>,
}

fn add_opt(to: &mut Option<u64>, v: Option<u64>) {
    if let Some(v) = v {
        // Saturating: only text no kernel wrote (kB figures near 2^54 each)
        // could reach 2^64 bytes, and a wrapped sum would look plausible.
        *to = Some(to.unwrap_or(0).saturating_add(v));
    }
}

fn sum_kb(m: &Smaps, fs: &[Field]) -> Option<u64> {
    let mut any = false;
    let mut t = 0;
    for &f in fs {
        if let Some(v) = m.known.get(f) {
            any = true;
            t = v.saturating_mul(1024).saturating_add(t);
        }
    }
    any.then_some(t)
}

impl Usage {
    /// Adds the figures of one smaps block (a region's, or the rollup's).
    fn add_smaps(&mut self, m: &Smaps) {
        add_opt(&mut self.rss, sum_kb(m, &[Field::Rss]));
        add_opt(&mut self.pss, sum_kb(m, &[Field::Pss]));
        add_opt(
            &mut self.uss,
            sum_kb(m, &[Field::PrivateClean, Field::PrivateDirty]),
        );
        add_opt(&mut self.swap, sum_kb(m, &[Field::Swap]));
        add_opt(&mut self.swap_pss, sum_kb(m, &[Field::SwapPss]));
        add_opt(
            &mut self.dirty,
            sum_kb(m, &[Field::SharedDirty, Field::PrivateDirty]),
        );
        add_opt(&mut self.locked, sum_kb(m, &[Field::Locked]));
        add_opt(
            &mut self.hugetlb,
            sum_kb(m, &[Field::SharedHugetlb, Field::PrivateHugetlb]),
        );
        add_opt(&mut self.thp, sum_kb(m, &[Field::AnonHugePages]));
    }

    /// Adds one region.
    pub fn add(&mut self, r: &Region) {
        self.regions += 1;
        self.size += r.size();
        if let Some(m) = &r.smaps {
            self.add_smaps(m);
        }
    }

    /// Adds another usage.
    pub fn merge(&mut self, o: &Usage) {
        self.regions += o.regions;
        self.size += o.size;
        add_opt(&mut self.rss, o.rss);
        add_opt(&mut self.pss, o.pss);
        add_opt(&mut self.uss, o.uss);
        add_opt(&mut self.swap, o.swap);
        add_opt(&mut self.swap_pss, o.swap_pss);
        add_opt(&mut self.dirty, o.dirty);
        add_opt(&mut self.locked, o.locked);
        add_opt(&mut self.hugetlb, o.hugetlb);
        add_opt(&mut self.thp, o.thp);
    }

    /// The usage of a list of regions.
    pub fn of<'a>(regions: impl IntoIterator<Item = &'a Region>) -> Usage {
        let mut u = Usage::default();
        for r in regions {
            u.add(r);
        }
        u
    }

    /// The key a table is sorted by: PSS when known, else RSS, else size.
    pub fn weight(&self) -> u64 {
        self.pss.or(self.rss).unwrap_or(self.size)
    }
}

/// A stretch of unmapped address space.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Gap {
    /// First free address.
    pub start: u64,
    /// One past the last free address.
    pub end: u64,
    /// `end − start`.
    pub size: u64,
}

/// Whole-process figures.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Totals {
    /// Σ over every region (VSZ is `usage.size`).
    pub usage: Usage,
    /// The kernel's `smaps_rollup`, for an input that has it and no regions
    /// (then `usage` is the same figures). Beside regions it is left out:
    /// the sum over the regions already says it, and a live report reads
    /// each file once, so live and saved inputs give the same report.
    pub rollup: Option<Usage>,
    /// `vm.max_map_count`, the most regions a process may have, from the
    /// snapshot's system facts (a live target or a bundle).
    pub max_map_count: Option<u64>,
    /// The largest unmapped stretch between two regions (the kernel's fixed
    /// high pages, vsyscall and ARM vectors, left out).
    pub largest_gap: Option<Gap>,
}

/// One row of the category table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CategoryRow {
    /// The category.
    pub category: Category,
    /// Its title for people.
    pub title: &'static str,
    /// Sizes and residency.
    pub usage: Usage,
    /// How many of the regions were put here by a layout heuristic.
    pub heuristic_regions: usize,
}

/// One segment of an ELF object (or its bss, or the linker's gap).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Segment {
    /// What it is: `code`, `read-only-data`, `relro`, `writable-data`,
    /// `bss`, `linker-gap` (a [`Category`] id).
    pub kind: Category,
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Permissions as printed.
    pub perms: String,
    /// File offset (0 for anonymous bss and gaps).
    pub offset: u64,
    /// Sizes and residency.
    pub usage: Usage,
    /// True when its kind was inferred from the layout; false when the
    /// object's program headers placed it (or the kind is plain from the
    /// permissions).
    pub heuristic: bool,
}

/// A binary or library with its segments.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ObjectRow {
    /// Decoded path, as bytes.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::text::ser_lossy"))]
    pub path: Vec<u8>,
    /// Sizes and residency of all its segments.
    pub usage: Usage,
    /// Its segments were placed by its program headers (exact), not by
    /// the layout.
    pub exact: bool,
    /// File offset of its first mapping: 0, or where a library stored
    /// inside an APK or zip begins.
    pub offset: u64,
    /// The GNU build id, when its headers were read.
    pub build_id: Option<String>,
    /// Its segments in address order.
    pub segments: Vec<Segment>,
}

impl ObjectRow {
    /// Σ size of the segments of one kind.
    pub fn size_of(&self, kind: Category) -> u64 {
        self.segments
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.usage.size)
            .sum()
    }
}

/// One thread stack.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StackRow {
    /// Thread id, when known.
    pub tid: Option<u32>,
    /// Thread name (`task/TID/comm`), when known.
    pub name: Option<String>,
    /// Main thread (`[stack]`) or another thread.
    pub main: bool,
    /// First address of the stack region.
    pub start: u64,
    /// One past its last address.
    pub end: u64,
    /// Sizes and residency of the stack region (guard not included).
    pub usage: Usage,
    /// Bytes of guard pages directly below it.
    pub guard: u64,
    /// The rule that found it.
    pub rule: &'static str,
    /// True when found by the layout only.
    pub heuristic: bool,
}

/// Thread stacks and how they were attributed.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Threads {
    /// Threads the process has, when read (live, or a copied `task/`).
    pub count: Option<usize>,
    /// How stacks were tied to threads: `stack-pointer` (from
    /// `task/TID/syscall`), `names` (`[stack:TID]`, `[anon:stack_and_tls:TID]`),
    /// `layout` (guard + rw heuristics only), or `none`.
    pub attribution: String,
    /// Why attribution is partial, in words, when it is.
    pub note: Option<String>,
    /// Every stack, main thread first, then by address.
    pub stacks: Vec<StackRow>,
    /// Threads whose stack was not found (tid, name).
    pub unmatched: Vec<(u32, Option<String>)>,
    /// Σ of the non-main stacks.
    pub thread_stacks: Usage,
    /// Σ of their guard pages.
    pub guard: u64,
    /// Signal stacks (`[anon:thread signal stack]`, Android).
    pub signal_stacks: Usage,
}

/// One allocator region group: a glibc arena, the brk heap, a named
/// allocator mapping, …
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AllocRow {
    /// `brk-heap`, `glibc-arena`, `glibc-mmap`, or the allocator's own name
    /// for named ones (`scudo:primary`, `libc_malloc`, …).
    pub kind: String,
    /// First address (of the first region for groups of several).
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Bytes usable now (readable and writable).
    pub used: u64,
    /// Bytes reserved in all (used + `---p` tail).
    pub reserved: u64,
    /// Sizes and residency.
    pub usage: Usage,
    /// True when found by the layout only.
    pub heuristic: bool,
}

/// Allocators found.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Allocators {
    /// The C library, from the objects mapped: `glibc`, `musl`, `uclibc`,
    /// `bionic`, when recognised.
    pub libc: Option<&'static str>,
    /// The rows (named ones grouped by name).
    pub rows: Vec<AllocRow>,
    /// Σ of glibc arenas.
    pub glibc_arenas: Usage,
    /// How many glibc arenas (heaps) were found.
    pub glibc_arena_count: usize,
}

/// Anonymous memory a program named, grouped by name.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NamedRow {
    /// The name, with digits runs kept (as printed inside `[anon:…]`).
    pub name: String,
    /// Sizes and residency.
    pub usage: Usage,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Report {
    /// Where the data came from.
    pub source: String,
    /// `maps`, `smaps` or `smaps_rollup`.
    pub format: Option<&'static str>,
    /// Process id, when known.
    pub pid: Option<u32>,
    /// Process name, when known.
    pub comm: Option<String>,
    /// Page size assumed.
    pub page_size: u64,
    /// 64-bit address space.
    pub is_64bit: bool,
    /// The regions carry residency (smaps); without it every residency
    /// figure is `None`.
    pub has_residency: bool,
    /// Whole-process figures.
    pub totals: Totals,
    /// One row per category present, heaviest first.
    pub categories: Vec<CategoryRow>,
    /// Binaries and libraries, heaviest first.
    pub objects: Vec<ObjectRow>,
    /// Thread stacks.
    pub threads: Threads,
    /// Allocators.
    pub allocators: Allocators,
    /// Named anonymous memory by name, heaviest first.
    pub named: Vec<NamedRow>,
    /// Things to know when reading the figures.
    pub notes: Vec<String>,
}

fn weight_desc<T>(v: &mut [T], w: impl Fn(&T) -> u64) {
    v.sort_by_key(|x| std::cmp::Reverse(w(x)));
}

fn largest_gap(s: &Snapshot) -> Option<Gap> {
    let user: Vec<&Region> = s
        .regions
        .iter()
        .filter(|r| !matches!(r.kind(), PathKind::Vsyscall | PathKind::Vectors))
        .collect();
    user.windows(2)
        .filter(|w| w[1].start > w[0].end)
        .map(|w| Gap {
            start: w[0].end,
            end: w[1].start,
            size: w[1].start - w[0].end,
        })
        .max_by_key(|g| g.size)
}

fn libc_of(cl: &Classified) -> Option<&'static str> {
    let mut found = None;
    for o in &cl.objects {
        let path = crate::text::lossy(&o.path);
        let base = path.rsplit('/').next().unwrap_or(&path);
        let k = if base.starts_with("ld-musl") || base.starts_with("libc.musl") {
            "musl"
        } else if base.starts_with("libuClibc") || base.starts_with("ld-uClibc") {
            "uclibc"
        } else if base == "libc.so.6" || (base.starts_with("libc-2.") && base.ends_with(".so")) {
            "glibc"
        } else if base == "libc.so" && (path.starts_with("/system/") || path.starts_with("/apex/"))
        {
            "bionic"
        } else {
            continue;
        };
        found = Some(k);
        break;
    }
    found
}

/// Builds the report of a snapshot from its classification.
///
/// `cl` must come from [`super::classify`] of the same snapshot.
///
/// ```
/// use maplens_core::{analysis::{classify, report, Category}, model::Snapshot, parse::Mode};
/// let text = b"\
/// 55d0c0000000-55d0c0001000 r-xp 00000000 08:01 7 /bin/x
/// 55d0c0200000-55d0c0201000 rw-p 00000000 08:01 7 /bin/x
/// 7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
/// ";
/// let s = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
/// let r = report(&s, &classify(&s));
/// assert_eq!(r.totals.usage.size, 0x23000);
/// assert_eq!(r.totals.usage.rss, None); // maps: residency unknown
/// assert_eq!(r.categories.iter().map(|c| c.usage.size).sum::<u64>(), 0x23000);
/// assert_eq!(r.objects[0].segments.len(), 2);
/// ```
pub fn report(s: &Snapshot, cl: &Classified) -> Report {
    let regions = &s.regions;
    let mut notes = Vec::new();

    // Every region is in one category: the totals are the categories'
    // sum (each region's smaps is read once).
    // (A list by the category's place in the enum, not a map: one add a
    // region, 60,000 times for a big process.)
    let mut slots: Vec<Option<(Category, Usage, usize)>> = vec![None; Category::ALL.len()];
    for (r, c) in regions.iter().zip(&cl.classes) {
        let e = slots[c.category as usize].get_or_insert_with(|| (c.category, Usage::default(), 0));
        e.1.add(r);
        e.2 += usize::from(c.heuristic);
    }
    // In the categories' declared order (their `Ord`), as a map by
    // category had them: the slots are in that order already.
    let by_cat: Vec<(Category, (Usage, usize))> = slots
        .into_iter()
        .flatten()
        .map(|(c, u, h)| (c, (u, h)))
        .collect();

    // Totals.
    let mut usage = Usage::default();
    for (_, (u, _)) in &by_cat {
        usage.merge(u);
    }
    // The rollup only stands in for missing regions (see `Totals::rollup`).
    let rollup = s.rollup.as_ref().filter(|_| regions.is_empty()).map(|m| {
        let mut u = Usage::default();
        u.add_smaps(m);
        u
    });
    let totals_usage = if let Some(r) = &rollup {
        notes.push(
            "smaps_rollup only: whole-process totals without regions; read smaps for the \
             breakdown"
                .to_owned(),
        );
        r.clone()
    } else {
        usage
    };
    if !s.has_residency() && !regions.is_empty() {
        notes.push(
            "maps only: sizes are address space; residency (RSS, PSS, …) is unknown".to_owned(),
        );
    }

    // Categories.
    let mut categories: Vec<CategoryRow> = by_cat
        .into_iter()
        .map(|(category, (usage, h))| CategoryRow {
            category,
            title: category.title(),
            usage,
            heuristic_regions: h,
        })
        .collect();
    // Ties (equal weight) keep the report order of Category::ALL.
    categories.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.usage.weight()),
            std::cmp::Reverse(c.usage.size),
            Category::ALL.iter().position(|&x| x == c.category),
        )
    });

    // Objects.
    let mut objects: Vec<ObjectRow> = cl
        .objects
        .iter()
        .map(|o| {
            let segments: Vec<Segment> = o
                .regions
                .iter()
                .map(|&i| {
                    let r = &regions[i];
                    Segment {
                        kind: cl.classes[i].category,
                        start: r.start,
                        end: r.end,
                        perms: r.perms.to_string(),
                        offset: if matches!(r.kind(), PathKind::File) {
                            r.offset
                        } else {
                            0
                        },
                        usage: Usage::of([r]),
                        heuristic: cl.classes[i].heuristic,
                    }
                })
                .collect();
            let mut usage = Usage::default();
            for sg in &segments {
                usage.merge(&sg.usage);
            }
            ObjectRow {
                path: o.path.clone(),
                usage,
                exact: o.exact,
                offset: o.offset,
                build_id: o.build_id.clone(),
                segments,
            }
        })
        .collect();
    weight_desc(&mut objects, |o| o.usage.weight());

    let threads = threads(s, cl, &mut notes);
    let allocators = allocators(s, cl);

    // Named anonymous memory by name.
    let mut named: BTreeMap<String, Usage> = BTreeMap::new();
    for (r, c) in regions.iter().zip(&cl.classes) {
        // Runtimes' named heaps and JIT caches keep their names here too.
        let named_runtime = matches!(c.category, Category::ManagedHeap | Category::JitCode)
            && matches!(r.kind(), PathKind::AnonNamed(_));
        if c.category != Category::NamedAnon && !named_runtime {
            continue;
        }
        let name = match r.kind() {
            PathKind::AnonNamed(n) | PathKind::OtherSpecial(n) => {
                String::from_utf8_lossy(n).into_owned()
            }
            _ => r.path.display(),
        };
        named.entry(name).or_default().add(r);
    }
    let mut named: Vec<NamedRow> = named
        .into_iter()
        .map(|(name, usage)| NamedRow { name, usage })
        .collect();
    weight_desc(&mut named, |n| n.usage.weight());

    if cl.classes.iter().any(|c| c.heuristic) {
        notes.push(
            "some regions were classified from the layout alone (heuristic); `maplens maps \
             --explain` shows the rule and evidence of each"
                .to_owned(),
        );
    }
    // Shapes that fit two rules offline: both readings, with a confidence.
    let ambiguous: Vec<(usize, &super::classify::Alternative)> = cl
        .classes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.alternative.as_deref().map(|a| (i, a)))
        .collect();
    if let Some(&(i, a)) = ambiguous.first() {
        notes.push(format!(
            "{} two readings offline, e.g. {:x}-{:x}: {} ({}), or {} ({}); the \
             first is counted. A live process's stack pointers decide; `maplens maps --explain` \
             shows both",
            if ambiguous.len() == 1 {
                "1 region fits".to_owned()
            } else {
                format!("{} regions fit", ambiguous.len())
            },
            regions[i].start,
            regions[i].end,
            cl.classes[i].category.id(),
            a.confidence.id(),
            a.category.id(),
            a.rule
        ));
    }
    for n in &s.notices {
        notes.push(n.to_string());
    }

    Report {
        source: s.origin.clone(),
        format: s.format.map(|f| f.file_name()),
        pid: s.process.pid,
        comm: s.process.comm.clone(),
        page_size: cl.page_size,
        is_64bit: cl.is_64bit,
        has_residency: s.has_residency(),
        totals: Totals {
            usage: totals_usage,
            rollup,
            max_map_count: s.system.as_ref().and_then(|x| x.max_map_count),
            largest_gap: largest_gap(s),
        },
        categories,
        objects,
        threads,
        allocators,
        named,
        notes,
    }
}

fn threads(s: &Snapshot, cl: &Classified, notes: &mut Vec<String>) -> Threads {
    let regions = &s.regions;
    let info = &s.process.threads;
    let comm_of = |tid: u32| {
        info.iter()
            .find(|t| t.tid == tid)
            .and_then(|t| t.comm.clone())
    };
    let mut stacks = Vec::new();
    let mut signal_stacks = Usage::default();
    for (i, (r, c)) in regions.iter().zip(&cl.classes).enumerate() {
        let main = match c.category {
            Category::MainStack => true,
            Category::ThreadStack => false,
            _ => continue,
        };
        if matches!(r.kind(), PathKind::AnonNamed(b"thread signal stack")) {
            signal_stacks.add(r);
            continue;
        }
        let mut guard = 0;
        let mut j = i;
        while j > 0
            && cl.classes[j - 1].category == Category::GuardPage
            && regions[j - 1].end == regions[j].start
        {
            guard += regions[j - 1].size();
            j -= 1;
            if cl.classes[j].rule == "android-stack-and-tls" {
                break;
            }
        }
        let tid = c.thread.or(if main { s.process.pid } else { None });
        stacks.push(StackRow {
            tid,
            name: tid.and_then(comm_of),
            main,
            start: r.start,
            end: r.end,
            usage: Usage::of([r]),
            guard,
            rule: c.rule,
            heuristic: c.heuristic,
        });
    }
    stacks.sort_by_key(|st| (!st.main, st.start));
    let mut thread_stacks = Usage::default();
    let mut guard = 0;
    for st in stacks.iter().filter(|st| !st.main) {
        thread_stacks.merge(&st.usage);
        guard += st.guard;
    }
    let unmatched: Vec<(u32, Option<String>)> = info
        .iter()
        .filter(|t| !stacks.iter().any(|st| st.tid == Some(t.tid)))
        .map(|t| (t.tid, t.comm.clone()))
        .collect();
    let any_sp = info.iter().any(|t| t.sp.is_some());
    let named = cl
        .classes
        .iter()
        .any(|c| matches!(c.rule, "path-stack-tid" | "android-stack-and-tls"));
    let attribution = if any_sp {
        "stack-pointer"
    } else if named {
        "names"
    } else if stacks.iter().any(|st| !st.main) {
        "layout"
    } else {
        "none"
    };
    let note = if !info.is_empty() && !any_sp {
        let unreadable = info.iter().all(|t| t.syscall.is_none());
        Some(if unreadable {
            "task/TID/syscall could not be read (it needs ptrace access: the same user with \
             kernel.yama.ptrace_scope 0, or root): thread stacks were found by their layout \
             only and are not tied to threads"
                .to_owned()
        } else {
            "no thread was blocked in a system call when read (task/TID/syscall said running): \
             stacks were found by their layout only"
                .to_owned()
        })
    } else if any_sp && !unmatched.is_empty() {
        Some(format!(
            "{} no readable stack pointer (running when read, or blocked outside a system \
             call): {}",
            crate::text::plural(unmatched.len(), "thread had", "threads had"),
            unmatched
                .iter()
                .map(|(t, _)| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else {
        None
    };
    if let Some(n) = &note {
        notes.push(n.clone());
    }
    Threads {
        count: (!info.is_empty()).then_some(info.len()),
        attribution: attribution.to_owned(),
        note,
        stacks,
        unmatched,
        thread_stacks,
        guard,
        signal_stacks,
    }
}

fn allocators(s: &Snapshot, cl: &Classified) -> Allocators {
    let regions = &s.regions;
    let mut rows: Vec<AllocRow> = Vec::new();
    let mut named: BTreeMap<String, AllocRow> = BTreeMap::new();
    let mut glibc_arenas = Usage::default();
    let mut glibc_arena_count = 0;
    let mut i = 0;
    while i < regions.len() {
        let r = &regions[i];
        let c = &cl.classes[i];
        match (c.category, c.rule) {
            (Category::Heap, _) => {
                // Consecutive [heap] regions (an old kernel splits it) are one heap.
                let mut row = AllocRow {
                    kind: "brk-heap".into(),
                    start: r.start,
                    end: r.end,
                    used: 0,
                    reserved: 0,
                    usage: Usage::default(),
                    heuristic: false,
                };
                while i < regions.len()
                    && cl.classes[i].category == Category::Heap
                    && regions[i].start <= row.end
                {
                    row.end = regions[i].end;
                    row.used += regions[i].size();
                    row.reserved += regions[i].size();
                    row.usage.add(&regions[i]);
                    i += 1;
                }
                rows.push(row);
                continue;
            }
            _ if let Some(a) = cl.arenas.iter().find(|a| a.regions[0] == i) => {
                // One arena heap: its head, committed tail and reserve.
                let mut row = AllocRow {
                    kind: "glibc-arena".into(),
                    start: a.start,
                    end: a.end,
                    used: 0,
                    reserved: 0,
                    usage: Usage::default(),
                    heuristic: a.heuristic,
                };
                for &j in &a.regions {
                    let rj = &regions[j];
                    row.used += if rj.perms.none() { 0 } else { rj.size() };
                    row.reserved += rj.size();
                    row.usage.add(rj);
                }
                glibc_arenas.merge(&row.usage);
                glibc_arena_count += 1;
                rows.push(row);
                i = a.regions.last().copied().unwrap_or(i) + 1;
                continue;
            }
            (Category::MallocArena, "glibc-arena-tail" | "glibc-arena-named-tail") => {}
            (Category::MallocArena, _) => {
                let name = match r.kind() {
                    PathKind::AnonNamed(n) => String::from_utf8_lossy(n).into_owned(),
                    _ => c.rule.to_owned(),
                };
                let e = named.entry(name.clone()).or_insert_with(|| AllocRow {
                    kind: name,
                    start: r.start,
                    end: r.end,
                    used: 0,
                    reserved: 0,
                    usage: Usage::default(),
                    heuristic: c.heuristic,
                });
                e.end = e.end.max(r.end);
                e.used += if r.perms.none() { 0 } else { r.size() };
                e.reserved += r.size();
                e.usage.add(r);
            }
            _ => {}
        }
        i += 1;
    }
    let libc = libc_of(cl);
    // glibc serves requests of at least M_MMAP_THRESHOLD (128 KiB at start)
    // with their own mmap: unnamed private rw memory, which is all that
    // remains in the anonymous-mmap category.
    if matches!(libc, Some("glibc")) {
        let mut row: Option<AllocRow> = None;
        for (r, c) in regions.iter().zip(&cl.classes) {
            if c.category == Category::AnonMmap
                && matches!(r.kind(), PathKind::Anonymous)
                && r.perms.read()
                && r.perms.write()
                && !r.perms.exec()
                && r.size() >= 128 * 1024 + cl.page_size
            {
                let e = row.get_or_insert_with(|| AllocRow {
                    kind: "glibc-mmap".into(),
                    start: r.start,
                    end: r.end,
                    used: 0,
                    reserved: 0,
                    usage: Usage::default(),
                    heuristic: true,
                });
                e.end = r.end;
                e.used += r.size();
                e.reserved += r.size();
                e.usage.add(r);
            }
        }
        rows.extend(row);
    }
    rows.extend(named.into_values());
    Allocators {
        libc,
        rows,
        glibc_arenas,
        glibc_arena_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report tallies regions in a list of `Category::ALL.len()`
    /// slots indexed by `Category as usize`: every category must have a
    /// slot of its own, and the slots' order must be the categories' `Ord`.
    #[test]
    fn every_category_has_a_slot_of_its_own() {
        let mut seen = vec![None; Category::ALL.len()];
        for &c in Category::ALL {
            let i = c as usize;
            assert!(i < seen.len(), "{c:?} beyond the slots");
            assert!(seen[i].replace(c).is_none(), "{c:?} shares a slot");
        }
        let by_slot: Vec<Category> = seen.into_iter().flatten().collect();
        assert!(by_slot.windows(2).all(|w| w[0] < w[1]));
    }
}
