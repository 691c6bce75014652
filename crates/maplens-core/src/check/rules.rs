//! The rules. Each takes the snapshot, its classification and the system
//! facts, and returns its findings, or the reason it cannot run.

use crate::text::plural;
use std::collections::BTreeMap;

use super::{Area, Finding, RegionRef, Rule, Saving, SavingKind, Severity, SystemInfo};
use crate::analysis::{Category, Classified};
use crate::model::{Region, Snapshot};
use crate::parse::{Field, PathKind};

const KIB: u64 = 1024;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The kernel's default `vm.max_map_count` (`DEFAULT_MAX_MAP_COUNT`).
pub(super) const DEFAULT_MAX_MAP_COUNT: u64 = 65530;

/// Approximate kernel memory per VMA on 64-bit (`struct vm_area_struct`
/// and its maple tree slot), used for the fragmentation estimate.
const VMA_BYTES: u64 = 200;

/// The `needs` of rules that look at the system, not at the regions.
pub(super) const SYSTEM_ONLY: &str =
    "/proc/meminfo (a live target, a copied /proc or a capture bundle)";

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "wx-memory",
        area: Area::Security,
        max_severity: Severity::High,
        title: "writable and executable memory",
        help: "Memory that is writable and executable at once lets an attacker who can write to \
               it run code there: it defeats W^X (DEP/NX). JIT compilers that map their code \
               cache rwx, programs with text relocations, and programs built without a \
               PT_GNU_STACK note (old toolchains: the kernel then makes every readable mapping \
               executable, READ_IMPLIES_EXEC) do this. Use the JIT's W^X mode (dual mapping or \
               mprotect flips), rebuild with -fPIC and without text relocations, and link with \
               -z noexecstack.",
        needs: "maps",
    },
    Rule {
        id: "exec-stack",
        area: Area::Security,
        max_severity: Severity::High,
        title: "executable stack",
        help: "A stack that is executable lets a stack buffer overflow run injected code \
               directly. The dynamic loader makes stacks executable when the program or any \
               library it loads has no PT_GNU_STACK note or asks for an executable stack \
               (`execstack -q FILE` shows which; GCC nested functions cause it). Rebuild the \
               object with -z noexecstack (or `execstack -c FILE` as a stopgap) and restart.",
        needs: "maps",
    },
    Rule {
        id: "exec-anon",
        area: Area::Security,
        max_severity: Severity::Medium,
        title: "executable anonymous memory",
        help: "Executable memory that is not backed by a file on disk holds code nobody can \
               inspect or verify: JIT-compiled code (expected in a JVM, a JavaScript engine, \
               ART), code unpacked at run time, or code injected into the process (memfd_create \
               and anonymous r-x mappings are how fileless malware runs). If the process has no \
               JIT, find out what mapped it.",
        needs: "maps",
    },
    Rule {
        id: "deleted-file",
        area: Area::Security,
        max_severity: Severity::Medium,
        title: "file mapped after it was deleted or replaced",
        help: "The process maps a file that is no longer on disk under that name: most often a \
               program or library replaced by a package upgrade while the process kept running \
               the old code (and its old security bugs), as needrestart and checkrestart report. \
               Restart the process (or the service) to load the new file. A data file unlinked \
               on purpose while mapped (a private scratch file) is harmless.",
        needs: "maps",
    },
    Rule {
        id: "shared-writable-file",
        area: Area::Security,
        max_severity: Severity::Low,
        title: "file mapped shared and writable",
        help: "Writes to a MAP_SHARED writable file mapping go straight to the file and are seen \
               by every process mapping it; anyone who can write the file can change this \
               process's memory under it. Databases (SQLite's -shm, LMDB) do this on purpose. \
               Check the file's owner and mode, and map it private or read-only when the \
               process does not need to write it.",
        needs: "maps",
    },
    Rule {
        id: "dev-mem",
        area: Area::Security,
        max_severity: Severity::High,
        title: "physical memory mapped through /dev/mem or /dev/kmem",
        help: "/dev/mem and /dev/kmem give the process the machine's physical or kernel memory: \
               a bug in it can corrupt the kernel or any other process, and reading it leaks \
               everything. Embedded programs use it to poke device registers. Use the device's \
               kernel driver (or UIO/VFIO) instead, and build kernels with \
               CONFIG_STRICT_DEVMEM / CONFIG_IO_STRICT_DEVMEM.",
        needs: "maps",
    },
    Rule {
        id: "map-count",
        area: Area::Memory,
        max_severity: Severity::High,
        title: "many regions: close to vm.max_map_count",
        help: "A process can have at most vm.max_map_count regions (65530 by default); past it, \
               mmap, mprotect and even malloc fail with ENOMEM. Find what creates so many \
               regions (often an allocator or a JVM with many small mappings) or raise \
               vm.max_map_count.",
        needs: "maps (and vm.max_map_count, else the kernel default)",
    },
    Rule {
        id: "anon-fragmentation",
        area: Area::Memory,
        max_severity: Severity::Low,
        title: "adjacent anonymous regions that could be one mapping",
        help: "Runs of adjacent anonymous regions with identical permissions (and VmFlags) that \
               the kernel kept apart, because each was created and touched on its own. Each \
               region costs a VMA in the kernel and counts against vm.max_map_count. Allocate \
               such blocks together in one mmap and carve them up in the program, or use an \
               allocator that does.",
        needs: "maps (smaps to compare VmFlags)",
    },
    Rule {
        id: "stack-reserve",
        area: Area::Memory,
        max_severity: Severity::Low,
        title: "thread stacks reserved far beyond what they use",
        help: "Thread stacks are reserved at their full size (8 MiB by default: glibc takes \
               ulimit -s) but use only what the deepest call chain touched. The rest is address \
               space and commit charge: it does not use RAM, but it counts in Committed_AS \
               (which fails allocations under vm.overcommit_memory=2) and fills a 32-bit \
               address space. Set a smaller stack: pthread_attr_setstacksize, \
               std::thread::Builder::stack_size, java -Xss, or ulimit -s / systemd LimitSTACK= \
               for the whole process (which also lowers the main stack's limit).",
        needs: "smaps",
    },
    Rule {
        id: "malloc-arenas",
        area: Area::Memory,
        max_severity: Severity::Low,
        title: "many glibc malloc arenas",
        help: "glibc gives threads their own malloc arenas (up to 8 per CPU on 64-bit), each a \
               64 MiB reservation (1 MiB on 32-bit). Free memory in one arena cannot serve \
               another, so memory use grows with the number of arenas. Setting \
               MALLOC_ARENA_MAX=2 (or 4) in the environment caps them, trading some lock \
               contention in very allocation-heavy threads for less memory.",
        needs: "maps (smaps for the resident figure)",
    },
    Rule {
        id: "lib-not-resident",
        area: Area::Memory,
        max_severity: Severity::Info,
        title: "libraries mapped but almost not resident",
        help: "Libraries whose code is almost not resident in this process are loaded but \
               (so far) barely used here. Each still costs its private pages (relocated data, \
               .bss), kernel VMAs and start-up time. If a library is not needed, do not link it \
               (link with -Wl,--as-needed) or dlopen it when it is.",
        needs: "smaps",
    },
    Rule {
        id: "anon-untouched",
        area: Area::Memory,
        max_severity: Severity::Low,
        title: "large anonymous regions never touched",
        help: "Large writable anonymous regions of which almost nothing is resident or swapped: \
               memory reserved (mmap, a big malloc, a JVM heap committed with -Xms) and never \
               written. It costs no RAM, but when the kernel accounts it (VmFlags `ac`) it \
               counts in Committed_AS. Reserve with PROT_NONE or MAP_NORESERVE and commit as \
               needed, or lower the size asked for.",
        needs: "smaps",
    },
    Rule {
        id: "swap",
        area: Area::Memory,
        max_severity: Severity::Info,
        title: "swap use by region",
        help: "Pages of these regions are in swap: touching them again waits for the disk. \
               That is fine for memory the process rarely uses; for memory on a latency-critical \
               path, lock it (mlock) or give the process (or its cgroup) more memory.",
        needs: "smaps with Swap",
    },
    Rule {
        id: "thp-unused",
        area: Area::Memory,
        max_severity: Severity::Info,
        title: "THP-eligible regions not on huge pages",
        help: "The kernel may back these anonymous regions with transparent huge pages, but none \
               of their resident memory is. Huge pages cut TLB misses and page-table memory. \
               Check /sys/kernel/mm/transparent_hugepage/defrag and khugepaged, or fault the \
               memory in after madvise(MADV_HUGEPAGE). It is a speed finding more than a \
               memory one.",
        needs: "smaps with THPeligible",
    },
    Rule {
        id: "hugetlb-pool-unused",
        area: Area::Memory,
        max_severity: Severity::Low,
        title: "hugetlb pool pages nobody uses",
        help: "Pages set aside for hugetlbfs (vm.nr_hugepages) are taken from RAM when the pool \
               is created and are usable only as huge pages. Free pages that no mapping has \
               reserved are RAM nobody can use. Lower vm.nr_hugepages to what is mapped, or \
               start the program that should use them.",
        needs: SYSTEM_ONLY,
    },
];

/// What every rule reads.
pub(super) struct Cx<'a> {
    pub snap: &'a Snapshot,
    pub cl: &'a Classified,
    pub sys: Option<&'a SystemInfo>,
}

impl<'a> Cx<'a> {
    pub fn new(snap: &'a Snapshot, cl: &'a Classified, sys: Option<&'a SystemInfo>) -> Self {
        Cx { snap, cl, sys }
    }

    fn regions(&self) -> impl Iterator<Item = (usize, &'a Region, Category)> + 'a {
        let cl = self.cl;
        self.snap
            .regions
            .iter()
            .enumerate()
            .map(move |(i, r)| (i, r, cl.classes[i].category))
    }

    fn need_smaps(&self) -> Result<(), String> {
        if self.snap.has_residency() && self.snap.regions.iter().any(|r| r.smaps.is_some()) {
            Ok(())
        } else {
            Err("needs smaps residency; the target has maps text only".into())
        }
    }

    fn need_field(&self, f: Field) -> Result<(), String> {
        self.need_smaps()?;
        if self.snap.regions.iter().any(|r| r.kb(f).is_some()) {
            Ok(())
        } else {
            Err(format!(
                "needs the smaps field {} (this kernel does not print it)",
                f.key()
            ))
        }
    }
}

/// Runs one rule.
pub(super) fn eval(id: &str, cx: &Cx<'_>) -> Result<Vec<Finding>, String> {
    match id {
        "wx-memory" => Ok(wx_memory(cx)),
        "exec-stack" => Ok(exec_stack(cx)),
        "exec-anon" => Ok(exec_anon(cx)),
        "deleted-file" => Ok(deleted_file(cx)),
        "shared-writable-file" => Ok(shared_writable_file(cx)),
        "dev-mem" => Ok(dev_mem(cx)),
        "map-count" => Ok(map_count(cx)),
        "anon-fragmentation" => Ok(anon_fragmentation(cx)),
        "stack-reserve" => stack_reserve(cx),
        "malloc-arenas" => Ok(malloc_arenas(cx)),
        "lib-not-resident" => lib_not_resident(cx),
        "anon-untouched" => anon_untouched(cx),
        "swap" => swap(cx),
        "thp-unused" => thp_unused(cx),
        "hugetlb-pool-unused" => hugetlb_pool_unused(cx),
        _ => Err(format!("unknown rule {id}")),
    }
}

fn rule_of(id: &'static str) -> &'static Rule {
    // Every id passed here is a literal from RULES.
    RULES.iter().find(|r| r.id == id).unwrap_or(&RULES[0])
}

/// Human size for messages: exact KiB/MiB/GiB with one decimal when needed.
pub(super) fn size(b: u64) -> String {
    let (v, u) = if b >= GIB {
        (b as f64 / GIB as f64, "GiB")
    } else if b >= MIB {
        (b as f64 / MIB as f64, "MiB")
    } else if b >= KIB {
        (b as f64 / KIB as f64, "KiB")
    } else {
        return format!("{b} B");
    };
    if v.fract() == 0.0 {
        format!("{v:.0} {u}")
    } else {
        format!("{v:.1} {u}")
    }
}

fn describe(i: usize, r: &Region, cx: &Cx<'_>) -> String {
    let c = &cx.cl.classes[i];
    let name = if r.path.is_empty() {
        "[anonymous]".to_owned()
    } else {
        r.path.raw_lossy()
    };
    format!(
        "{:x}-{:x} {} {} ({}, {}): {}",
        r.start,
        r.end,
        r.perms,
        name,
        size(r.size()),
        c.category.id(),
        c.note
    )
}

struct Builder {
    f: Finding,
}

impl Builder {
    fn new(id: &'static str, severity: Severity, summary: String) -> Builder {
        let rule = rule_of(id);
        Builder {
            f: Finding {
                id,
                area: rule.area,
                severity,
                summary,
                subject: String::new(),
                regions: Vec::new(),
                evidence: Vec::new(),
                numbers: BTreeMap::new(),
                saving: None,
                explanation: rule.help.to_owned(),
            },
        }
    }
    fn subject(mut self, s: String) -> Self {
        self.f.subject = s;
        self
    }
    fn regions(mut self, cx: &Cx<'_>, idx: &[usize]) -> Self {
        self.f.regions = idx
            .iter()
            .map(|&i| RegionRef::new(i, &cx.snap.regions[i]))
            .collect();
        self
    }
    fn evidence(mut self, e: impl Into<String>) -> Self {
        self.f.evidence.push(e.into());
        self
    }
    fn num(mut self, k: &'static str, v: u64) -> Self {
        self.f.numbers.insert(k, v);
        self
    }
    fn saving(mut self, bytes: u64, kind: SavingKind, basis: String) -> Self {
        self.f.saving = Some(Saving { bytes, kind, basis });
        self
    }
    fn explain(mut self, extra: &str) -> Self {
        if !extra.is_empty() {
            self.f.explanation = format!("{} {}", extra, self.f.explanation);
        }
        self
    }
    fn done(self) -> Finding {
        self.f
    }
}

/// Lists up to `max` regions as evidence lines, and how many more.
fn list_regions(mut b: Builder, cx: &Cx<'_>, idx: &[usize], max: usize) -> Builder {
    for &i in idx.iter().take(max) {
        b = b.evidence(describe(i, &cx.snap.regions[i], cx));
    }
    if idx.len() > max {
        b = b.evidence(format!("… and {} more regions", idx.len() - max));
    }
    b
}

fn is_stack(c: Category) -> bool {
    matches!(c, Category::MainStack | Category::ThreadStack)
}

fn is_anon_like(r: &Region) -> bool {
    matches!(
        r.kind(),
        PathKind::Anonymous
            | PathKind::AnonNamed(_)
            | PathKind::AnonShmemNamed(_)
            | PathKind::Memfd(_)
            | PathKind::DevZero
    )
}

fn wx_memory(cx: &Cx<'_>) -> Vec<Finding> {
    let idx: Vec<usize> = cx
        .regions()
        .filter(|(_, r, c)| r.perms.write() && r.perms.exec() && !is_stack(*c))
        .map(|(i, _, _)| i)
        .collect();
    if idx.is_empty() {
        return Vec::new();
    }
    let bytes: u64 = idx.iter().map(|&i| cx.snap.regions[i].size()).sum();
    let files = idx
        .iter()
        .filter(|&&i| matches!(cx.snap.regions[i].kind(), PathKind::File))
        .count();
    let heap = idx
        .iter()
        .any(|&i| cx.cl.classes[i].category == Category::Heap);
    // Graded by evidence: a known JIT's code cache is rwx by design (Low);
    // rwx nothing explains is High.
    let jit = idx
        .iter()
        .all(|&i| cx.cl.classes[i].category == Category::JitCode);
    let why = if jit {
        "Every region is a JIT runtime's code cache (found by the runtime's layout): the runtime \
         maps it writable and executable by design. It is still W+X memory: if the runtime has a \
         W^X mode, use it."
    } else if heap {
        "The heap itself is executable: the program was most likely built without a \
         PT_GNU_STACK note, so the kernel runs it with READ_IMPLIES_EXEC."
    } else if files > 0 {
        "File-backed writable code: text relocations, or a JIT that maps its code cache from a file."
    } else {
        "Anonymous writable code: typically a JIT code cache."
    };
    let b = Builder::new(
        "wx-memory",
        if jit { Severity::Low } else { Severity::High },
        if jit {
            format!(
                "{} JIT code cache writable and executable ({})",
                plural(idx.len(), "region of a", "regions of a"),
                size(bytes)
            )
        } else {
            format!(
                "{} writable and executable ({})",
                plural(idx.len(), "region is", "regions are"),
                size(bytes)
            )
        },
    )
    .regions(cx, &idx)
    .num("regions", idx.len() as u64)
    .num("bytes", bytes)
    .num("file_backed_regions", files as u64)
    .explain(why);
    vec![list_regions(b, cx, &idx, 10).done()]
}

fn exec_stack(cx: &Cx<'_>) -> Vec<Finding> {
    let idx: Vec<usize> = cx
        .regions()
        .filter(|(_, r, c)| is_stack(*c) && r.perms.exec())
        .map(|(i, _, _)| i)
        .collect();
    if idx.is_empty() {
        return Vec::new();
    }
    let main = idx
        .iter()
        .any(|&i| cx.cl.classes[i].category == Category::MainStack);
    let threads = idx.len() - usize::from(main);
    let what = match (main, threads) {
        (true, 0) => "the main thread's stack is executable".to_owned(),
        (true, n) => format!(
            "the main stack and {} are executable",
            plural(n, "thread stack", "thread stacks")
        ),
        (false, n) => format!(
            "{} executable",
            plural(n, "thread stack is", "thread stacks are")
        ),
    };
    let b = Builder::new("exec-stack", Severity::High, what)
        .regions(cx, &idx)
        .num("regions", idx.len() as u64)
        .num("thread_stacks", threads as u64)
        .num("main_stack", u64::from(main));
    vec![list_regions(b, cx, &idx, 10).done()]
}

fn exec_anon(cx: &Cx<'_>) -> Vec<Finding> {
    let idx: Vec<usize> = cx
        .regions()
        // An object's text remapped onto anonymous memory (huge pages) is
        // that object's code, not a finding.
        .filter(|&(i, r, c)| {
            r.perms.exec()
                && !r.perms.write()
                && !is_stack(c)
                && is_anon_like(r)
                && !(c == Category::Code && cx.cl.classes[i].object.is_some())
        })
        .map(|(i, _, _)| i)
        .collect();
    if idx.is_empty() {
        return Vec::new();
    }
    let bytes: u64 = idx.iter().map(|&i| cx.snap.regions[i].size()).sum();
    // Graded by evidence: code a JIT runtime's layout or name explains is
    // Low; unexplained executable anonymous memory is Medium.
    let jit = idx.iter().all(|&i| {
        let p = cx.snap.regions[i].path.raw_lossy().to_ascii_lowercase();
        cx.cl.classes[i].category == Category::JitCode
            || p.contains("jit")
            || p.contains("code-cache")
            || p.contains("code cache")
    });
    // r-x in a process that runs a JIT runtime is most likely its code.
    let runtime = cx
        .cl
        .runtime
        .filter(|rt| !jit && *rt != crate::analysis::Runtime::Go);
    let mut b = Builder::new(
        "exec-anon",
        if jit || runtime.is_some() {
            Severity::Low
        } else {
            Severity::Medium
        },
        format!(
            "{} of executable memory not backed by a file ({})",
            size(bytes),
            plural(idx.len(), "region", "regions")
        ),
    )
    .regions(cx, &idx)
    .num("regions", idx.len() as u64)
    .num("bytes", bytes);
    if jit {
        b = b.evidence(
            "every region is a JIT code cache, named so by the program or found in a JIT \
             runtime's layout",
        );
    }
    if let Some(rt) = runtime {
        b = b.evidence(format!(
            "the process runs a JIT runtime ({}): its compiled code is anonymous r-x memory",
            rt.id()
        ));
    }
    vec![list_regions(b, cx, &idx, 10).done()]
}

/// Regions of one file, by first appearance: (decoded path, indices).
fn group_by_file(
    cx: &Cx<'_>,
    keep: impl Fn(usize, &Region, Category) -> bool,
) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r, c) in cx.regions() {
        if !keep(i, r, c) {
            continue;
        }
        let key = r.path.display();
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => out.push((key, vec![i])),
        }
    }
    out
}

/// Names the kernel gives objects that are not files on a disk: DMA-BUF
/// buffers and GPU objects print as paths but cannot be deleted or replaced.
fn kernel_object(r: &Region) -> bool {
    let n = r.path.view().name_raw();
    [
        &b"/dmabuf"[..],
        b"/i915",
        b"/drm mm object",
        b"/kgsl",
        b"/dev/",
    ]
    .iter()
    .any(|p| n.starts_with(p))
}

fn deleted_file(cx: &Cx<'_>) -> Vec<Finding> {
    let groups = group_by_file(cx, |_, r, c| {
        matches!(r.kind(), PathKind::File)
            && !kernel_object(r)
            && r.path.deleted()
            && !matches!(
                c,
                Category::Device | Category::SharedMemory | Category::Hugetlb
            )
    });
    groups
        .into_iter()
        .map(|(path, idx)| {
            let object = idx.iter().any(|&i| cx.cl.classes[i].object.is_some());
            let exec = idx.iter().any(|&i| cx.snap.regions[i].perms.exec());
            let (sev, what) = if object || exec {
                (
                    Severity::Medium,
                    "program or library deleted or replaced on disk: the process runs old code; restart it",
                )
            } else {
                (
                    Severity::Low,
                    "data file deleted or replaced on disk while mapped",
                )
            };
            let bytes: u64 = idx.iter().map(|&i| cx.snap.regions[i].size()).sum();
            let b = Builder::new("deleted-file", sev, format!("{path}: {what}"))
                .subject(path.clone())
                .regions(cx, &idx)
                .num("regions", idx.len() as u64)
                .num("bytes", bytes)
                .num("executable", u64::from(object || exec))
                .evidence(if cx.snap.regions[idx[0]].path.view().deleted_unchecked() {
                    format!(
                        "the text reads \"{path} (deleted)\": marked deleted by the kernel, or a \
                         file whose name ends in ' (deleted)'; a saved text cannot tell (a live \
                         process or its capture bundle can)"
                    )
                } else {
                    format!(
                        "the kernel prints \"{} (deleted)\": the name no longer leads to this inode ({})",
                        path, cx.snap.regions[idx[0]].inode
                    )
                });
            list_regions(b, cx, &idx, 6).done()
        })
        .collect()
}

fn shared_writable_file(cx: &Cx<'_>) -> Vec<Finding> {
    let groups = group_by_file(cx, |_, r, c| {
        matches!(r.kind(), PathKind::File)
            && !kernel_object(r)
            && r.perms.shared()
            && r.perms.write()
            && matches!(c, Category::MappedFile)
    });
    groups
        .into_iter()
        .map(|(path, idx)| {
            let bytes: u64 = idx.iter().map(|&i| cx.snap.regions[i].size()).sum();
            let b = Builder::new(
                "shared-writable-file",
                Severity::Low,
                format!("{path}: mapped shared and writable ({})", size(bytes)),
            )
            .subject(path)
            .regions(cx, &idx)
            .num("regions", idx.len() as u64)
            .num("bytes", bytes);
            list_regions(b, cx, &idx, 6).done()
        })
        .collect()
}

fn dev_mem(cx: &Cx<'_>) -> Vec<Finding> {
    let groups = group_by_file(cx, |_, r, _| {
        let n = r.path.view().name_raw();
        n == b"/dev/mem" || n == b"/dev/kmem"
    });
    groups
        .into_iter()
        .map(|(path, idx)| {
            let bytes: u64 = idx.iter().map(|&i| cx.snap.regions[i].size()).sum();
            let writable = idx.iter().any(|&i| cx.snap.regions[i].perms.write());
            let mut b = Builder::new(
                "dev-mem",
                Severity::High,
                format!(
                    "{path} mapped {} ({} at physical offset{} {})",
                    if writable { "writable" } else { "read-only" },
                    size(bytes),
                    if idx.len() == 1 { "" } else { "s" },
                    idx.iter()
                        .map(|&i| format!("0x{:x}", cx.snap.regions[i].offset))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .subject(path)
            .regions(cx, &idx)
            .num("regions", idx.len() as u64)
            .num("bytes", bytes)
            .num("writable", u64::from(writable));
            b = list_regions(b, cx, &idx, 6);
            b.done()
        })
        .collect()
}

fn map_count(cx: &Cx<'_>) -> Vec<Finding> {
    let n = cx.snap.regions.len() as u64;
    let (limit, known) = match cx.sys.and_then(|s| s.max_map_count) {
        Some(l) => (l, true),
        None => (DEFAULT_MAX_MAP_COUNT, false),
    };
    if limit == 0 || n * 2 < limit {
        return Vec::new();
    }
    let sev = if n * 10 >= limit * 9 {
        Severity::High
    } else {
        Severity::Medium
    };
    vec![
        Builder::new(
            "map-count",
            sev,
            format!(
                "{n} regions: {}% of vm.max_map_count ({limit})",
                n * 100 / limit
            ),
        )
        .num("regions", n)
        .num("max_map_count", limit)
        .evidence(if known {
            format!("vm.max_map_count is {limit}")
        } else {
            format!("vm.max_map_count unknown for this target: assumed the kernel default {limit}")
        })
        .done(),
    ]
}

fn anon_fragmentation(cx: &Cx<'_>) -> Vec<Finding> {
    let regs = &cx.snap.regions;
    let eligible = |i: usize| {
        let r = &regs[i];
        matches!(r.kind(), PathKind::Anonymous)
            && !r.perms.shared()
            && cx.cl.classes[i].category == Category::AnonMmap
    };
    fn flags(r: &Region) -> Option<&str> {
        r.smaps.as_ref().and_then(|s| s.vmflags())
    }
    // Runs: [first, last] with each region adjacent to and like the one before.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < regs.len() {
        if !eligible(i) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < regs.len()
            && eligible(j + 1)
            && regs[j + 1].start == regs[j].end
            && regs[j + 1].perms == regs[j].perms
            && flags(&regs[j + 1]) == flags(&regs[j])
        {
            j += 1;
        }
        if j > i {
            runs.push((i, j));
        }
        i = j + 1;
    }
    let extra: usize = runs.iter().map(|(a, b)| b - a).sum();
    if extra < 16 {
        return Vec::new();
    }
    let in_runs: usize = runs.iter().map(|(a, b)| b - a + 1).sum();
    runs.sort_by_key(|(a, b)| std::cmp::Reverse(b - a));
    let limit = cx
        .sys
        .and_then(|s| s.max_map_count)
        .unwrap_or(DEFAULT_MAX_MAP_COUNT);
    let sev = if extra >= 256 {
        Severity::Low
    } else {
        Severity::Info
    };
    let mut idx: Vec<usize> = runs.iter().flat_map(|&(a, b)| a..=b).collect();
    idx.sort_unstable();
    let mut b = Builder::new(
        "anon-fragmentation",
        sev,
        format!(
            "{in_runs} adjacent anonymous regions in {} could be {} mappings ({} fewer)",
            plural(runs.len(), "run", "runs"),
            runs.len(),
            extra
        ),
    )
    .regions(cx, &idx)
    .num("runs", runs.len() as u64)
    .num("regions_in_runs", in_runs as u64)
    .num("removable_regions", extra as u64)
    .num("total_regions", regs.len() as u64)
    .num("max_map_count", limit)
    .saving(
        extra as u64 * VMA_BYTES,
        SavingKind::Kernel,
        format!("{extra} fewer VMAs × about {VMA_BYTES} bytes of kernel memory each"),
    )
    .evidence(format!(
        "{} regions in all, {}% of vm.max_map_count ({limit}{})",
        regs.len(),
        regs.len() as u64 * 100 / limit.max(1),
        if cx.sys.and_then(|s| s.max_map_count).is_some() {
            ""
        } else {
            ", the kernel default"
        }
    ));
    if !cx.snap.has_residency() {
        b = b.evidence(
            "maps text only: VmFlags unknown, so some regions may differ in flags (madvise) \
             and be apart for that reason",
        );
    }
    for &(a, z) in runs.iter().take(5) {
        let r0 = &regs[a];
        let bytes = regs[z].end - r0.start;
        b = b.evidence(format!(
            "{:x}-{:x} {}: {} regions, {} in all",
            r0.start,
            regs[z].end,
            r0.perms,
            z - a + 1,
            size(bytes)
        ));
    }
    if runs.len() > 5 {
        b = b.evidence(format!("… and {} more runs", runs.len() - 5));
    }
    vec![b.done()]
}

fn resident(r: &Region) -> u64 {
    (r.kb(Field::Rss).unwrap_or(0))
        .saturating_add(r.kb(Field::Swap).unwrap_or(0))
        .saturating_mul(KIB)
}

fn stack_reserve(cx: &Cx<'_>) -> Result<Vec<Finding>, String> {
    cx.need_smaps()?;
    let idx: Vec<usize> = cx.cl.thread_stacks().collect();
    if idx.len() < 2 {
        return Ok(Vec::new());
    }
    let regs = &cx.snap.regions;
    let reserved: u64 = idx.iter().map(|&i| regs[i].size()).sum();
    let used: u64 = idx.iter().map(|&i| resident(&regs[i])).sum();
    let deepest = idx.iter().map(|&i| resident(&regs[i])).max().unwrap_or(0);
    // Rss of a stack is its high-water mark (touched stack pages stay
    // resident). Twice the deepest, at least 128 KiB, rounded up to a power
    // of two.
    let suggested = (deepest * 2).max(128 * KIB).next_power_of_two();
    let saving: u64 = idx
        .iter()
        .map(|&i| regs[i].size().saturating_sub(suggested))
        .sum();
    let threshold = if cx.cl.is_64bit { 64 * MIB } else { 8 * MIB };
    if saving < threshold {
        return Ok(Vec::new());
    }
    let sev = if saving >= 256 * MIB || (!cx.cl.is_64bit && saving >= 64 * MIB) {
        Severity::Low
    } else {
        Severity::Info
    };
    let accounted = idx.iter().all(|&i| {
        regs[i]
            .smaps
            .as_ref()
            .and_then(|s| s.flags())
            .is_some_and(|f| f.has("ac"))
    });
    let typical = {
        let mut sizes: Vec<u64> = idx.iter().map(|&i| regs[i].size()).collect();
        sizes.sort_unstable();
        sizes[sizes.len() / 2]
    };
    let mut b = Builder::new(
        "stack-reserve",
        sev,
        format!(
            "{} thread stacks reserve {} but use {}; {} stacks would save {} of address space",
            idx.len(),
            size(reserved),
            size(used),
            size(suggested),
            size(saving)
        ),
    )
    .regions(cx, &idx)
    .num("stacks", idx.len() as u64)
    .num("reserved", reserved)
    .num("resident", used)
    .num("deepest", deepest)
    .num("typical_size", typical)
    .num("suggested_size", suggested)
    .saving(
        saving,
        SavingKind::Virtual,
        format!(
            "Σ (stack size − {}) over the stacks larger than that; {} = twice the deepest \
             resident stack ({}), at least 128 KiB, rounded up to a power of two. Address \
             space, not RAM: the resident {} stays",
            size(suggested),
            size(suggested),
            size(deepest),
            size(used)
        ),
    )
    .evidence(format!(
        "typical stack size {}; deepest stack has {} resident or swapped",
        size(typical),
        size(deepest)
    ))
    .evidence(format!(
        "suggested: pthread_attr_setstacksize({}) or ulimit -s {}",
        suggested,
        suggested / KIB
    ))
    .evidence(
        "a stack's resident size is the deepest it has been so far: a rarely taken deep call \
         path may not have run yet, so test with the smaller size",
    );
    if accounted {
        b = b.evidence("VmFlags `ac`: the stacks count in the commit charge (Committed_AS)");
    }
    Ok(vec![b.done()])
}

fn malloc_arenas(cx: &Cx<'_>) -> Vec<Finding> {
    // The arenas the classification counted, the same for every command.
    let arenas = &cx.cl.arenas;
    let n = arenas.len();
    if n < 4 {
        return Vec::new();
    }
    let idx: Vec<usize> = arenas
        .iter()
        .flat_map(|a| a.regions.iter().copied())
        .collect();
    let arena = if cx.cl.is_64bit {
        crate::analysis::ARENA_SIZE_64
    } else {
        crate::analysis::ARENA_SIZE_32
    };
    let rss: u64 = idx
        .iter()
        .map(|&i| cx.snap.regions[i].kb(Field::Rss).unwrap_or(0) * KIB)
        .sum();
    let reserved: u64 = arenas.iter().map(|a| a.end - a.start).sum();
    let largest: u64 = arenas.iter().map(|a| a.end - a.start).max().unwrap_or(0);
    // MALLOC_ARENA_MAX=2: the main arena (brk heap) and one mmap'd arena.
    let keep = 1;
    // The address space of the arenas that would go: all but the largest,
    // never more than the arenas hold.
    let saving = reserved - largest;
    let sev = if n >= 8 {
        Severity::Low
    } else {
        Severity::Info
    };
    let mut b = Builder::new(
        "malloc-arenas",
        sev,
        format!(
            "{n} glibc malloc arenas besides the main heap ({} reserved); MALLOC_ARENA_MAX=2 \
             would keep one",
            size(reserved)
        ),
    )
    .regions(cx, &idx)
    .num("arenas", n as u64)
    .num("arena_size", arena)
    .num("reserved", reserved)
    .saving(
        saving,
        SavingKind::Virtual,
        format!(
            "the address space of {} of the {n} arenas (all but the largest; at most {} each) \
             with MALLOC_ARENA_MAX=2; the RAM saved is the free space inside the arenas that are \
             merged, which the map cannot show (malloc_info(3) can)",
            n - keep,
            size(arena)
        ),
    )
    .evidence(format!(
        "{n} arena heaps ({} regions) at {}-aligned addresses, as glibc's new_heap() maps them",
        idx.len(),
        size(arena)
    ));
    if cx.snap.has_residency() {
        b = b
            .num("resident", rss)
            .evidence(format!("resident in these arenas: {}", size(rss)));
    }
    vec![b.done()]
}

fn lib_not_resident(cx: &Cx<'_>) -> Result<Vec<Finding>, String> {
    cx.need_smaps()?;
    let regs = &cx.snap.regions;
    let mut libs: Vec<(String, Vec<usize>, u64, u64, u64)> = Vec::new();
    for o in &cx.cl.objects {
        let path = crate::text::lossy(&o.path);
        let base = path.rsplit('/').next().unwrap_or(&path);
        if !base.contains(".so") {
            continue;
        }
        let code: Vec<usize> = o
            .regions
            .iter()
            .copied()
            .filter(|&i| cx.cl.classes[i].category == Category::Code)
            .collect();
        let code_size: u64 = code.iter().map(|&i| regs[i].size()).sum();
        let code_rss: u64 = code
            .iter()
            .map(|&i| regs[i].kb(Field::Rss).unwrap_or(0) * KIB)
            .sum();
        if code_size < 128 * KIB || code_rss * 20 > code_size {
            continue;
        }
        let private: u64 = o
            .regions
            .iter()
            .map(|&i| regs[i].smaps.as_ref().map_or(0, |s| s.uss()) * KIB)
            .sum();
        if private == 0 {
            // Nothing this process alone pays for: shared with its parent
            // (a zygote) or another process.
            continue;
        }
        libs.push((
            path.clone().into_owned(),
            o.regions.clone(),
            code_size,
            code_rss,
            private,
        ));
    }
    if libs.is_empty() {
        return Ok(Vec::new());
    }
    libs.sort_by_key(|l| std::cmp::Reverse(l.2));
    let private: u64 = libs.iter().map(|l| l.4).sum();
    let mapped: u64 = libs
        .iter()
        .flat_map(|l| l.1.iter())
        .map(|&i| regs[i].size())
        .sum();
    let mut idx: Vec<usize> = libs.iter().flat_map(|l| l.1.iter().copied()).collect();
    idx.sort_unstable();
    let mut b = Builder::new(
        "lib-not-resident",
        Severity::Info,
        format!(
            "{} mapped with less than 5% of the code resident, costing {} of private memory here",
            plural(libs.len(), "library is", "libraries are"),
            size(private)
        ),
    )
    .regions(cx, &idx)
    .num("libraries", libs.len() as u64)
    .num("mapped", mapped)
    .num("private", private)
    .saving(
        private,
        SavingKind::Resident,
        "Private_Clean + Private_Dirty of all their segments (relocated data, .bss): what this \
         process alone pays for them; their mapped size is address space only"
            .into(),
    );
    for l in libs.iter().take(10) {
        b = b.evidence(format!(
            "{}: code {} mapped, {} resident; private {}",
            l.0,
            size(l.2),
            size(l.3),
            size(l.4)
        ));
    }
    if libs.len() > 10 {
        b = b.evidence(format!("… and {} more libraries", libs.len() - 10));
    }
    Ok(vec![b.done()])
}

fn anon_untouched(cx: &Cx<'_>) -> Result<Vec<Finding>, String> {
    cx.need_smaps()?;
    let regs = &cx.snap.regions;
    let idx: Vec<usize> = cx
        .regions()
        .filter(|(_, r, c)| {
            matches!(r.kind(), PathKind::Anonymous | PathKind::AnonNamed(_))
                && !r.perms.shared()
                && r.perms.write()
                && matches!(
                    c,
                    Category::AnonMmap | Category::NamedAnon | Category::ManagedHeap
                )
                && r.size() >= 64 * MIB
                && resident(r) * 100 <= r.size()
        })
        .map(|(i, _, _)| i)
        .collect();
    if idx.is_empty() {
        return Ok(Vec::new());
    }
    let size_all: u64 = idx.iter().map(|&i| regs[i].size()).sum();
    let used: u64 = idx.iter().map(|&i| resident(&regs[i])).sum();
    let accounted: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| {
            regs[i]
                .smaps
                .as_ref()
                .and_then(|s| s.flags())
                .is_some_and(|f| f.has("ac"))
        })
        .collect();
    let acc_bytes: u64 = accounted.iter().map(|&i| regs[i].size()).sum();
    let sev = if acc_bytes >= GIB {
        Severity::Low
    } else {
        Severity::Info
    };
    let mut b = Builder::new(
        "anon-untouched",
        sev,
        format!(
            "{} of writable anonymous memory ({}) is reserved but almost never touched: {} resident or swapped",
            size(size_all),
            plural(idx.len(), "region", "regions"),
            size(used)
        ),
    )
    .regions(cx, &idx)
    .num("regions", idx.len() as u64)
    .num("bytes", size_all)
    .num("resident", used)
    .num("accounted", acc_bytes)
    .saving(
        size_all - used,
        SavingKind::Virtual,
        format!(
            "size − (resident + swapped) of each region; address space, and commit charge for \
             the {} accounted (VmFlags ac)",
            size(acc_bytes)
        ),
    );
    b = list_regions(b, cx, &idx, 10);
    Ok(vec![b.done()])
}

fn swap(cx: &Cx<'_>) -> Result<Vec<Finding>, String> {
    cx.need_field(Field::Swap)?;
    let regs = &cx.snap.regions;
    let mut idx: Vec<usize> = (0..regs.len())
        .filter(|&i| regs[i].kb(Field::Swap).unwrap_or(0) > 0)
        .collect();
    if idx.is_empty() {
        return Ok(Vec::new());
    }
    let sw = |i: usize| regs[i].kb(Field::Swap).unwrap_or(0) * KIB;
    let total: u64 = idx.iter().map(|&i| sw(i)).sum();
    let rss: u64 = regs
        .iter()
        .map(|r| r.kb(Field::Rss).unwrap_or(0) * KIB)
        .sum();
    idx.sort_by_key(|&i| std::cmp::Reverse(sw(i)));
    let mut b = Builder::new(
        "swap",
        Severity::Info,
        format!(
            "{} of this process is in swap, in {} ({}% of resident + swapped)",
            size(total),
            plural(idx.len(), "region", "regions"),
            total * 100 / (total + rss).max(1)
        ),
    )
    .num("swap", total)
    .num("resident", rss)
    .num("regions", idx.len() as u64);
    for &i in idx.iter().take(10) {
        b = b.evidence(format!(
            "{} swapped: {}",
            size(sw(i)),
            describe(i, &regs[i], cx)
        ));
    }
    if idx.len() > 10 {
        b = b.evidence(format!("… and {} more regions", idx.len() - 10));
    }
    idx.sort_unstable();
    Ok(vec![b.regions(cx, &idx).done()])
}

fn thp_unused(cx: &Cx<'_>) -> Result<Vec<Finding>, String> {
    cx.need_field(Field::ThpEligible)?;
    let huge = match cx.cl.page_size {
        4096 => 2 * MIB,
        16384 => 32 * MIB,
        65536 => 512 * MIB,
        _ => return Err("unknown huge page size for this page size".into()),
    };
    let regs = &cx.snap.regions;
    let idx: Vec<usize> = (0..regs.len())
        .filter(|&i| {
            let r = &regs[i];
            let first = r.start.div_ceil(huge) * huge;
            !r.perms.shared()
                && matches!(
                    r.kind(),
                    PathKind::Anonymous | PathKind::AnonNamed(_) | PathKind::Heap
                )
                && r.kb(Field::ThpEligible) == Some(1)
                && r.kb(Field::AnonHugePages) == Some(0)
                && r.kb(Field::Rss).unwrap_or(0) * KIB >= huge
                && first + huge <= r.end
        })
        .collect();
    if idx.is_empty() {
        return Ok(Vec::new());
    }
    let rss: u64 = idx
        .iter()
        .map(|&i| regs[i].kb(Field::Rss).unwrap_or(0) * KIB)
        .sum();
    let tables = rss / huge * cx.cl.page_size;
    let mut b = Builder::new(
        "thp-unused",
        Severity::Info,
        format!(
            "{} resident in {} eligible for transparent huge pages, none of it on huge pages",
            size(rss),
            plural(idx.len(), "region", "regions")
        ),
    )
    .regions(cx, &idx)
    .num("regions", idx.len() as u64)
    .num("resident", rss)
    .num("huge_page_size", huge)
    .saving(
        tables,
        SavingKind::Kernel,
        format!(
            "one page-table page ({}) per {} huge page that would replace small pages; the \
             gain is mostly fewer TLB misses, not memory",
            size(cx.cl.page_size),
            size(huge)
        ),
    );
    if let Some(mode) = cx.sys.and_then(|s| s.thp_enabled.as_deref()) {
        b = b.evidence(format!("transparent_hugepage/enabled is [{mode}]"));
    }
    b = list_regions(b, cx, &idx, 10);
    Ok(vec![b.done()])
}

fn hugetlb_pool_unused(cx: &Cx<'_>) -> Result<Vec<Finding>, String> {
    let sys = cx.sys.filter(|s| !s.meminfo.is_empty()).ok_or_else(|| {
        "needs /proc/meminfo: a live target, a copied /proc or a capture bundle has it; \
         a saved maps/smaps file does not"
            .to_owned()
    })?;
    let total = sys.meminfo("HugePages_Total").unwrap_or(0);
    let free = sys.meminfo("HugePages_Free").unwrap_or(0);
    let rsvd = sys.meminfo("HugePages_Rsvd").unwrap_or(0);
    let page = sys.meminfo_bytes("Hugepagesize").unwrap_or(0);
    let unused = free.saturating_sub(rsvd);
    let unused_bytes = unused.saturating_mul(page);
    if total == 0 || unused == 0 || page == 0 {
        return Ok(Vec::new());
    }
    let idx: Vec<usize> = cx
        .regions()
        .filter(|(_, _, c)| *c == Category::Hugetlb)
        .map(|(i, _, _)| i)
        .collect();
    let b = Builder::new(
        "hugetlb-pool-unused",
        Severity::Low,
        format!(
            "{unused} of {total} hugetlb pool pages ({}) are free and unreserved: RAM set aside that nothing uses",
            size(unused_bytes)
        ),
    )
    .regions(cx, &idx)
    .num("pool_pages", total)
    .num("free_pages", free)
    .num("reserved_pages", rsvd)
    .num("unused_pages", unused)
    .num("huge_page_size", page)
    .saving(
        unused_bytes,
        SavingKind::Resident,
        format!(
            "(HugePages_Free {free} − HugePages_Rsvd {rsvd}) × Hugepagesize {}: system-wide, \
             freed by lowering vm.nr_hugepages",
            size(page)
        ),
    )
    .evidence(format!(
        "/proc/meminfo: HugePages_Total {total}, HugePages_Free {free}, HugePages_Rsvd {rsvd}, Hugepagesize {} kB",
        page / KIB
    ))
    .evidence(format!(
        "this process maps {} of hugetlb memory",
        plural(idx.len(), "region", "regions")
    ));
    Ok(vec![b.done()])
}
