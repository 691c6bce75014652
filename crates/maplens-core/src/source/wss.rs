//! The writes and reads behind `maplens wss`: which access-tracking
//! mechanism this machine has, `clear_refs`, and the idle page bitmap.
//!
//! - **Idle page tracking** (`/sys/kernel/mm/page_idle/bitmap`, root):
//!   mark the target's frames idle, wait, count those no longer idle. It
//!   changes no state of the target's page tables.
//! - **`clear_refs`** (writing `1` to `/proc/PID/clear_refs`): clears the
//!   accessed bits of every page of the target; after a wait, smaps'
//!   `Referenced:` is what was touched. It changes what the kernel's
//!   reclaim sees (recently used pages look cold), so callers must ask.
//! - **DAMON** with virtual-address monitoring (`CONFIG_DAMON_VADDR`,
//!   sysfs under `/sys/kernel/mm/damon/admin`): usable only when the
//!   kernel offers `vaddr` and no kdamond exists (changing `nr_kdamonds`
//!   would tear down kdamonds that maplens did not start, which it never
//!   does). [`damon_vaddr`] decides from the sysfs text;
//!   [`crate::source::damon`] drives a kdamond of maplens' own.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::parse::kpageflags::idle_words;

use super::{SourceError, io_error};

/// Writes `1` to `/proc/PID/clear_refs` under `proc_root`.
pub fn clear_refs(proc_root: &Path, pid: u32) -> Result<(), SourceError> {
    let path = proc_root.join(pid.to_string()).join("clear_refs");
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(b"1"))
        .map_err(|e| io_error(&path, e, true))
}

/// True when idle page tracking exists under `sys_root` and can be opened
/// for reading and writing (root).
pub fn page_idle_usable(sys_root: &Path) -> bool {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(sys_root.join("kernel/mm/page_idle/bitmap"))
        .is_ok()
}

/// Whether DAMON can monitor a process's virtual addresses for maplens,
/// from the text of `kdamonds/nr_kdamonds` and of one context's
/// `avail_operations` (absent: `None`); `Err` says why not.
///
/// ```
/// use maplens_core::source::wss::damon_vaddr;
/// // This machine's kernel (6.18, CONFIG_DAMON_VADDR unset, one kdamond running):
/// assert!(damon_vaddr(Some("1\n"), Some("paddr\n")).unwrap_err().contains("vaddr"));
/// assert!(damon_vaddr(Some("1\n"), Some("vaddr fvaddr paddr\n")).unwrap_err().contains("kdamond"));
/// assert!(damon_vaddr(Some("0\n"), Some("vaddr fvaddr paddr\n")).is_ok());
/// assert!(damon_vaddr(None, None).is_err());
/// ```
pub fn damon_vaddr(
    nr_kdamonds: Option<&str>,
    avail_operations: Option<&str>,
) -> Result<(), String> {
    let Some(nr) = nr_kdamonds else {
        return Err("no DAMON sysfs interface (/sys/kernel/mm/damon/admin)".into());
    };
    if let Some(ops) = avail_operations
        && !ops.split_whitespace().any(|o| o == "vaddr")
    {
        return Err(format!(
            "DAMON offers no vaddr operations (CONFIG_DAMON_VADDR unset; offers: {})",
            ops.trim()
        ));
    }
    match nr.trim().parse::<u32>() {
        Ok(0) => Ok(()),
        Ok(n) => Err(format!(
            "{}: maplens never reconfigures a kdamond it did not start",
            crate::text::plural(
                n as usize,
                "kdamond already exists",
                "kdamonds already exist"
            )
        )),
        Err(_) => Err(format!("nr_kdamonds reads {:?}", nr.trim())),
    }
}

/// [`damon_vaddr`] on the live sysfs under `sys_root`.
pub fn damon_vaddr_live(sys_root: &Path) -> Result<(), String> {
    let admin = sys_root.join("kernel/mm/damon/admin/kdamonds");
    let nr = fs::read_to_string(admin.join("nr_kdamonds")).ok();
    let ops = fs::read_to_string(admin.join("0/contexts/0/avail_operations")).ok();
    damon_vaddr(nr.as_deref(), ops.as_deref())
}

/// The idle page bitmap, open for reading and writing (root).
pub struct IdleBitmap {
    path: PathBuf,
    file: File,
}

impl IdleBitmap {
    /// Opens `kernel/mm/page_idle/bitmap` under `sys_root`.
    pub fn open(sys_root: &Path) -> Result<IdleBitmap, SourceError> {
        let path = sys_root.join("kernel/mm/page_idle/bitmap");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(&path, e, false))?;
        Ok(IdleBitmap { path, file })
    }

    /// Marks the frames `pfns` idle.
    pub fn mark(&self, pfns: &[u64]) -> Result<(), SourceError> {
        for (off, mask) in idle_words(pfns) {
            self.file
                .write_all_at(&mask.to_ne_bytes(), off)
                .map_err(|e| io_error(&self.path, e, false))?;
        }
        Ok(())
    }

    /// How many of `pfns` were accessed (are no longer idle) since
    /// [`IdleBitmap::mark`].
    pub fn accessed(&self, pfns: &[u64]) -> Result<u64, SourceError> {
        let mut n = 0;
        let mut b = [0u8; 8];
        for (off, mask) in idle_words(pfns) {
            self.file
                .read_exact_at(&mut b, off)
                .map_err(|e: io::Error| io_error(&self.path, e, false))?;
            n += u64::from((mask & !u64::from_ne_bytes(b)).count_ones());
        }
        Ok(n)
    }
}
