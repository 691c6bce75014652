//! The two ioctls of `/proc` that have no safe wrapper anywhere, and the
//! only `unsafe` code of maplens-core:
//!
//! - `PROCMAP_QUERY` (6.11+) on an open `/proc/PID/maps`: the mapping that
//!   holds an address, or the next one above it, with its name, as a
//!   struct instead of text.
//! - `PAGEMAP_SCAN` (6.7+) on an open `/proc/PID/pagemap`: runs of pages by
//!   category (present, swapped, file, zero-PFN, huge, soft-dirty, guard)
//!   in one call, skipping unpopulated page tables.
//!
//! The structs are `repr(C)` copies of include/uapi/linux/fs.h kept in
//! [`crate::parse::procmap_query`] and [`crate::parse::pagemap`]. Each call
//! is one `rustix::ioctl::ioctl` on a small [`Ioctl`] impl here.
//!
//! Support is decided at run time: `ENOTTY` (an older kernel) and `EINVAL`
//! (a struct it does not know) answer [`Unsupported`], and callers fall
//! back to text and per-page reads. Setting `MAPLENS_NO_IOCTL` to `all`, or
//! to a list holding `procmap_query` or `pagemap_scan`, makes the call
//! answer [`Unsupported`] without trying, so tests can force the fallback.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::io;
use std::os::fd::AsFd;

use rustix::io::Errno;
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode, opcode};

use crate::parse::pagemap::{PageRegion, PmScanArg};
use crate::parse::procmap_query::ProcmapQuery;

/// `_IOWR('f', 17, struct procmap_query)`.
const PROCMAP_QUERY: Opcode = opcode::read_write::<ProcmapQuery>(b'f', 17);
/// `_IOWR('f', 16, struct pm_scan_arg)`.
const PAGEMAP_SCAN: Opcode = opcode::read_write::<PmScanArg>(b'f', 16);

/// The kernel does not have this ioctl (or it was turned off with
/// `MAPLENS_NO_IOCTL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

/// What a call gave: its answer, "unsupported", or another error.
pub type Answer<T> = Result<Result<T, Unsupported>, io::Error>;

/// Whether `MAPLENS_NO_IOCTL` turns off the ioctl named `name`.
pub fn disabled(name: &str) -> bool {
    std::env::var("MAPLENS_NO_IOCTL").is_ok_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|w| w == "all" || w == "1" || w == name)
    })
}

/// An ioctl whose argument is one struct the kernel reads and writes back,
/// and whose result is the call's return value.
struct InOut<'a, T> {
    op: Opcode,
    arg: &'a mut T,
}

// SAFETY: `as_ptr` points at a live, exclusively borrowed `T`, and the two
// opcodes used here are `_IOWR` of exactly that `T` (a `repr(C)` copy of
// the kernel's struct, checked by size in the parse tests), so the kernel
// reads and writes inside it. `output_from_ptr` only passes the return
// value through and does not read the pointer.
unsafe impl<T> Ioctl for InOut<'_, T> {
    type Output = IoctlOutput;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        self.op
    }

    fn as_ptr(&mut self) -> *mut c_void {
        std::ptr::from_mut(self.arg).cast()
    }

    unsafe fn output_from_ptr(out: IoctlOutput, _: *mut c_void) -> rustix::io::Result<IoctlOutput> {
        Ok(out)
    }
}

fn classify(e: Errno) -> Answer<IoctlOutput> {
    if e == Errno::NOTTY || e == Errno::INVAL {
        Ok(Err(Unsupported))
    } else {
        Err(io::Error::from(e))
    }
}

/// The most bytes of a name maplens asks for (`PATH_MAX`).
pub const NAME_MAX: usize = 4096;

/// The mapping of `maps` (an open `/proc/PID/maps`) that holds `addr`, or
/// the next one above it, and its name (no escapes; ` (deleted)` kept, as
/// the kernel writes it) into `name`. `Ok(Ok(None))`: no mapping at or
/// above `addr`.
pub fn procmap_query(
    maps: impl AsFd,
    addr: u64,
    name: &mut Vec<u8>,
) -> Answer<Option<ProcmapQuery>> {
    if disabled("procmap_query") {
        return Ok(Err(Unsupported));
    }
    name.clear();
    name.resize(NAME_MAX, 0);
    let mut q = ProcmapQuery::covering_or_next(addr)
        .with_name_buffer(name.as_mut_ptr() as u64, NAME_MAX as u32);
    // SAFETY: the kernel writes at most `vma_name_size` (NAME_MAX) bytes to
    // `vma_name_addr`, which points at `name`'s NAME_MAX initialised bytes,
    // borrowed mutably for the whole call; `build_id_size` is 0, so it
    // writes no build ID. `q` is the struct the opcode names.
    let r = unsafe {
        rustix::ioctl::ioctl(
            maps,
            InOut {
                op: PROCMAP_QUERY,
                arg: &mut q,
            },
        )
    };
    match r {
        Ok(_) => {
            name.truncate(q.name_len().min(NAME_MAX));
            Ok(Ok(Some(q)))
        }
        Err(Errno::NOENT) => {
            name.clear();
            Ok(Ok(None))
        }
        Err(e) => classify(e).map(|r| r.map(|_| None)),
    }
}

/// One `PAGEMAP_SCAN` of `start..end` on `pagemap` (an open
/// `/proc/PID/pagemap`): the runs of present, swapped or guard pages, into
/// `out`. Returns how many records the kernel wrote and where the walk
/// stopped: `end` when done, earlier when `out` filled up (call again from
/// there).
pub fn pagemap_scan(
    pagemap: impl AsFd,
    start: u64,
    end: u64,
    out: &mut [PageRegion],
) -> Answer<(usize, u64)> {
    if disabled("pagemap_scan") {
        return Ok(Err(Unsupported));
    }
    let mut a = PmScanArg::resident_runs(start, end, out.as_mut_ptr() as u64, out.len() as u64);
    // SAFETY: the kernel writes at most `vec_len` records of
    // `struct page_region` (three u64, the layout of `PageRegion`, for
    // which any bits are valid) to `vec`, which points at `out`'s
    // `out.len()` records, borrowed mutably for the whole call. No flag
    // asks it to write-protect anything.
    let r = unsafe {
        rustix::ioctl::ioctl(
            pagemap,
            InOut {
                op: PAGEMAP_SCAN,
                arg: &mut a,
            },
        )
    };
    match r {
        Ok(n) => Ok(Ok((
            usize::try_from(n).unwrap_or(0).min(out.len()),
            a.walk_end,
        ))),
        Err(e) => classify(e).map(|r| r.map(|_| (0, 0))),
    }
}
