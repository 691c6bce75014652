//! Pages the kernel maps into every process: `[vdso]`, `[vvar]`,
//! `[vsyscall]`, ARM's `[vectors]` and `[sigpage]`, `[uprobes]`.

use super::{Category, Class, class};
use crate::model::Region;
use crate::parse::PathKind;

/// A kernel-provided region, by its name.
pub(super) fn kernel_provided(r: &Region, k: PathKind<'_>) -> Class {
    class(
        Category::KernelProvided,
        kernel_note(k),
        "path-kernel",
        format!("named {}", r.path.raw_lossy()),
        false,
    )
}

fn kernel_note(k: PathKind<'_>) -> &'static str {
    match k {
        PathKind::Vdso => {
            "vDSO: kernel code in every process for fast system calls (clock_gettime, …)"
        }
        PathKind::Vvar => "vvar: kernel data the vDSO reads (clocks)",
        PathKind::VvarVclock => "vvar_vclock: clock pages the vDSO reads",
        PathKind::Vsyscall => "vsyscall: the legacy fixed-address system call page (x86_64)",
        PathKind::Vectors => "exception vectors page (32-bit ARM)",
        PathKind::Sigpage => "signal return trampoline page (32-bit ARM)",
        PathKind::Uprobes => "uprobes: out-of-line instruction slots for user probes",
        _ => "provided by the kernel",
    }
}
