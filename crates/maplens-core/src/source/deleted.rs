//! What a name ending in ` (deleted)` means: the kernel's mark on an
//! unlinked file, or part of the file's own name (`x (deleted)` is a legal
//! file name). The text cannot tell; the file system can. For a live
//! process [`check_live`] looks the whole name up under `/proc/PID/root`
//! and compares the inode with the region's: a file of that name with that
//! inode is not deleted. `maplens capture` records the answers
//! ([`record`], in `PID/maplens-deleted.txt`) so that a bundle gives the
//! live answer ([`apply_record`]); any other saved text stays
//! [`DeletedSuffix::Unchecked`].
//!
//! Only regions whose name is a file path ([`PathKind::File`]) are checked:
//! memfd, SysV shm, `/dev/zero` and `/anon_hugepage` names are the
//! kernel's own.
//!
//! ```
//! use maplens_core::model::Snapshot;
//! use maplens_core::parse::{DeletedSuffix, Mode};
//! use maplens_core::source::deleted::{apply_record, record};
//! let text = b"7f0000000000-7f0000001000 r--s 00000000 08:01 42 /tmp/x (deleted)\n";
//! let mut s = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
//! assert!(s.regions[0].path.view().deleted_unchecked());
//! apply_record(b"7f0000000000-7f0000001000 name\n", &mut s.regions);
//! assert_eq!(s.regions[0].path.view().suffix(), DeletedSuffix::Name);
//! assert!(!s.regions[0].path.deleted());
//! assert_eq!(s.regions[0].path.display(), "/tmp/x (deleted)");
//! assert_eq!(record(&s.regions), b"7f0000000000-7f0000001000 name\n");
//! ```

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::model::{Region, Snapshot};
use crate::parse::{DeletedSuffix, Header, Mode, PathKind, decode_escapes};

/// Name of the per-process record in a bundle: `PID/maplens-deleted.txt`.
pub const RECORD: &str = "maplens-deleted.txt";

/// Whether a region's suffix is one the file system decides: a file path
/// ending in ` (deleted)`.
pub fn checkable(r: &Region) -> bool {
    let v = r.path.view();
    v.has_deleted_suffix() && v.kind() == PathKind::File
}

/// [`checkable`] for a parsed region.
pub fn checkable_header(h: &Header<'_>) -> bool {
    h.path.has_deleted_suffix() && h.path.kind() == PathKind::File
}

/// What the suffix of one region of the live process at `dir` (`/proc/PID`)
/// means; `Unchecked` when the file system would not say (another user's
/// mount namespace, …).
fn check_one(dir: &Path, r: &Region) -> DeletedSuffix {
    check_mapping(dir, r.path.raw(), r.start, r.end, r.inode)
}

/// The one check, of [`check_live`] and of the scans of `maplens top` and
/// `libs` (which have parsed headers, not [`Region`]s): what the suffix of
/// the region `start`-`end` of the live process at `dir` (`/proc/PID`),
/// mapping file `inode` under the name `raw` (as printed), means. It looks
/// the whole name up under `dir/root` and compares it with the mapped
/// file. Call it only where [`checkable`] (or [`checkable_header`]) is
/// true: it reads the file system.
pub fn check_mapping(dir: &Path, raw: &[u8], start: u64, end: u64, inode: u64) -> DeletedSuffix {
    let name = decode_escapes(raw);
    let rel = name.strip_prefix(b"/").unwrap_or(&name);
    let file = dir.join("root").join(OsStr::from_bytes(rel));
    match std::fs::metadata(&file) {
        Ok(m) => {
            // map_files/START-END is the mapped file itself (readable with
            // CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE): compare device too.
            let mapped = dir.join(format!("map_files/{start:x}-{end:x}"));
            let same = match std::fs::metadata(mapped) {
                Ok(f) => (f.dev(), f.ino()) == (m.dev(), m.ino()),
                Err(_) => m.ino() == inode,
            };
            if same {
                DeletedSuffix::Name
            } else {
                DeletedSuffix::Kernel
            }
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            DeletedSuffix::Kernel
        }
        Err(_) => DeletedSuffix::Unchecked,
    }
}

/// Checks every region of a live process (`dir` is `/proc/PID`) whose file
/// name ends in ` (deleted)`.
pub fn check_live(dir: &Path, regions: &mut [Region]) {
    for r in regions.iter_mut().filter(|r| checkable(r)) {
        let s = check_one(dir, r);
        r.path.set_suffix(s);
    }
}

/// The record of checked suffixes: a `START-END kernel` or `START-END name`
/// line (hex addresses, as in maps) per checked region.
pub fn record(regions: &[Region]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in regions.iter().filter(|r| checkable(r)) {
        let word = match r.path.view().suffix() {
            DeletedSuffix::Unchecked => continue,
            DeletedSuffix::Kernel => "kernel",
            DeletedSuffix::Name => "name",
        };
        out.extend_from_slice(format!("{:x}-{:x} {word}\n", r.start, r.end).as_bytes());
    }
    out
}

/// One line of a [`record`]: the region `start`-`end` and its suffix.
pub type Checked = (u64, u64, DeletedSuffix);

/// The lines of a [`record`], in its order (the kernel's: ascending
/// start); lines it cannot read are left out.
pub fn parse_record(text: &[u8]) -> Vec<Checked> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let Some((range, word)) = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.split_once(' '))
        else {
            continue;
        };
        let suffix = match word.trim() {
            "kernel" => DeletedSuffix::Kernel,
            "name" => DeletedSuffix::Name,
            _ => continue,
        };
        let Some((Ok(start), Ok(end))) = range
            .split_once('-')
            .map(|(a, b)| (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)))
        else {
            continue;
        };
        out.push((start, end, suffix));
    }
    out
}

/// Applies a [`record`] to regions read from the same capture; regions it
/// does not name stay unchecked, and lines it cannot read are ignored.
pub fn apply_record(text: &[u8], regions: &mut [Region]) {
    for (start, end, suffix) in parse_record(text) {
        if let Ok(i) = regions.binary_search_by_key(&start, |r| r.start)
            && regions[i].end == end
            && checkable(&regions[i])
        {
            regions[i].path.set_suffix(suffix);
        }
    }
}

/// The record for the live process at `dir`, from its `maps`: `None` when
/// no file name ends in ` (deleted)` (the common case costs one read and
/// one search).
pub fn capture_record(dir: &Path) -> io::Result<Option<Vec<u8>>> {
    let maps = super::read_file(&dir.join("maps"))?;
    if memchr::memmem::find(&maps, b" (deleted)\n").is_none() {
        return Ok(None);
    }
    let Ok(mut snap) = Snapshot::from_text("maps", &maps, Mode::Lenient) else {
        return Ok(None);
    };
    check_live(dir, &mut snap.regions);
    let rec = record(&snap.regions);
    Ok((!rec.is_empty()).then_some(rec))
}
