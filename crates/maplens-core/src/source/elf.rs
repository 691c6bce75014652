//! The program headers of the ELF objects a live process has mapped
//! ([`read_live`]), and their record in a capture bundle
//! (`PID/maplens-elf.json`: [`capture_record`], [`apply_record`]).
//!
//! Each object is read where it is mapped: `/proc/PID/map_files/START-END`
//! (the mapped file itself; opening it needs `CAP_SYS_ADMIN` or
//! `CAP_CHECKPOINT_RESTORE`), else the path under `/proc/PID/root` when its
//! inode is the mapped one. Only the first bytes are read: the ELF header,
//! the program headers and the notes (for the build id), a page or two.
//!
//! An object starts at the lowest mapping of a run of one file's
//! contiguous mappings (the file's segments, with bss, gaps or
//! `[page size compat]` padding between them); a file with several runs, an APK holding two libraries,
//! has one object per run whose bytes start with an ELF header. Only files
//! with an executable mapping, or beside an anonymous executable one (text
//! remapped onto huge pages), are read.

use std::collections::HashSet;

use crate::model::Region;
use crate::parse::PathKind;

#[cfg(feature = "elf")]
pub use live::{read_headers, read_live};

/// Name of the per-process record in a bundle: `PID/maplens-elf.json`.
pub const RECORD: &str = "maplens-elf.json";

/// The most objects read for one process.
pub const MAX_OBJECTS: usize = 4096;

type Key<'a> = (u32, u32, u64, &'a [u8]);

fn key(r: &Region) -> Option<Key<'_>> {
    matches!(r.kind(), PathKind::File).then(|| (r.dev.major, r.dev.minor, r.inode, r.path.raw()))
}

/// A region that may sit between two segments of one object: anonymous
/// (bss, an anonymous gap, remapped text) or Android's padding.
fn filler(r: &Region) -> bool {
    matches!(r.kind(), PathKind::Anonymous | PathKind::AnonNamed(_))
        || r.path.raw() == b"[page size compat]"
}

/// Indices of the regions where an ELF header may be mapped: the first
/// region of each run of a file that has an executable mapping (or an
/// anonymous executable neighbour).
pub fn candidates(regions: &[Region]) -> Vec<usize> {
    let mut objecty: HashSet<Key<'_>> = HashSet::new();
    for (i, r) in regions.iter().enumerate() {
        let Some(k) = key(r) else { continue };
        let anon_exec = |j: Option<usize>| {
            j.and_then(|j| regions.get(j)).is_some_and(|o| {
                o.perms.exec()
                    && matches!(o.kind(), PathKind::Anonymous | PathKind::AnonNamed(_))
                    && (o.end == r.start || o.start == r.end)
            })
        };
        if r.perms.exec() || anon_exec(i.checked_sub(1)) || anon_exec(Some(i + 1)) {
            objecty.insert(k);
        }
    }
    let mut out = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        let Some(k) = key(r) else { continue };
        if !r.perms.read() || !objecty.contains(&k) {
            continue;
        }
        // Not a start when an earlier region of the same file, at a lower
        // offset, is reached over fillers and the file's own regions.
        let mut starts = true;
        let mut j = i;
        let mut end = r.start;
        while j > 0 && i - j < 16 {
            j -= 1;
            let p = &regions[j];
            // Only over contiguous regions: a hole may part two objects
            // of one archive (a gap after a binary's text costs one read).
            if p.end != end {
                break;
            }
            if key(p) == Some(k) {
                if p.offset <= r.offset {
                    starts = false;
                }
                break;
            }
            if !filler(p) {
                break;
            }
            end = p.start;
        }
        if starts {
            out.push(i);
        }
    }
    out
}

/// Reading the headers from the files of a live process.
#[cfg(feature = "elf")]
mod live {
    use std::collections::HashMap;
    use std::ffi::OsStr;
    use std::fs::File;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{FileExt, MetadataExt};
    use std::path::Path;

    use super::{Key, MAX_OBJECTS, candidates, key};
    use crate::model::{ElfObject, Region};
    use crate::parse::decode_escapes;
    use crate::parse::elf::{ElfHeaders, MAX_HEADER_BYTES};

    /// Opens the file a region maps: its `map_files` entry, else its path
    /// under `root` when the inode is the mapped one.
    fn open_mapped(dir: &Path, r: &Region) -> Option<File> {
        if let Ok(f) = File::open(dir.join(format!("map_files/{:x}-{:x}", r.start, r.end))) {
            return Some(f);
        }
        if r.path.deleted() {
            return None;
        }
        let name = decode_escapes(r.path.view().name_raw());
        let rel = name.strip_prefix(b"/").unwrap_or(&name);
        let f = File::open(dir.join("root").join(OsStr::from_bytes(rel))).ok()?;
        let m = f.metadata().ok()?;
        (m.is_file() && m.ino() == r.inode).then_some(f)
    }

    /// The headers of the ELF file whose bytes start at `offset` of `f`.
    pub fn read_headers(f: &File, offset: u64) -> Option<ElfHeaders> {
        let mut buf = vec![0u8; 4096];
        let mut len = read_at(f, &mut buf, offset)?;
        for _ in 0..3 {
            let need = ElfHeaders::bytes_needed(&buf[..len]).ok()?;
            if need <= len as u64 || need > MAX_HEADER_BYTES {
                break;
            }
            buf.resize(need as usize, 0);
            len = read_at(f, &mut buf, offset)?;
        }
        ElfHeaders::parse(&buf[..len]).ok()
    }

    fn read_at(f: &File, buf: &mut [u8], offset: u64) -> Option<usize> {
        let mut got = 0;
        while got < buf.len() {
            match f.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        Some(got)
    }

    /// Reads the headers of every ELF object mapped by the live process at
    /// `dir` (`/proc/PID`), sorted by address. Files that cannot be opened or
    /// are not ELF are left out: their segments are told apart by layout.
    pub fn read_live(dir: &Path, regions: &[Region]) -> Vec<ElfObject> {
        let mut files: HashMap<Key<'_>, Option<File>> = HashMap::new();
        let mut out = Vec::new();
        for i in candidates(regions).into_iter().take(MAX_OBJECTS) {
            let r = &regions[i];
            let Some(k) = key(r) else { continue };
            let f = files.entry(k).or_insert_with(|| open_mapped(dir, r));
            let Some(f) = f else { continue };
            if let Some(headers) = read_headers(f, r.offset) {
                out.push(ElfObject {
                    start: r.start,
                    inode: r.inode,
                    offset: r.offset,
                    headers,
                });
            }
        }
        out
    }
}

/// The record of a bundle: `{"objects": [...]}`, one entry per object.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    objects: Vec<crate::model::ElfObject>,
}

/// The record for the live process at `dir`, as `capture` stores it:
/// `None` when it maps no ELF object that could be read.
#[cfg(all(feature = "serde", feature = "elf"))]
pub fn capture_record(dir: &std::path::Path) -> std::io::Result<Option<Vec<u8>>> {
    let maps = super::read_file(&dir.join("maps"))?;
    let Ok(snap) = crate::model::Snapshot::from_text("maps", &maps, crate::parse::Mode::Lenient)
    else {
        return Ok(None);
    };
    let objects = read_live(dir, &snap.regions);
    Ok((!objects.is_empty()).then(|| record(&objects)))
}

/// The record of some objects (JSON).
#[cfg(feature = "serde")]
pub fn record(objects: &[crate::model::ElfObject]) -> Vec<u8> {
    let rec = Record {
        objects: objects.to_vec(),
    };
    serde_json::to_vec(&rec).unwrap_or_default()
}

/// The objects of a record, sorted by address; an error says what is
/// wrong with it.
#[cfg(feature = "serde")]
pub fn parse_record(text: &[u8]) -> Result<Vec<crate::model::ElfObject>, String> {
    let mut rec: Record = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    rec.objects.sort_by_key(|o| o.start);
    Ok(rec.objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Snapshot;
    use crate::parse::Mode;

    #[test]
    fn runs_and_candidates() {
        let text = b"\
1000-2000 r--p 00000000 08:01 5 /lib/a.so
2000-3000 r-xp 00001000 08:01 5 /lib/a.so
3000-4000 r--p 00002000 08:01 5 /lib/a.so
4000-5000 rw-p 00000000 00:00 0
5000-6000 r--p 00000000 08:01 6 /data/x.ttf
10000-11000 r--p 00010000 08:01 7 /app/base.apk
11000-12000 r-xp 00011000 08:01 7 /app/base.apk
12000-13000 ---p 00000000 00:00 0 [page size compat]
13000-14000 rw-p 00013000 08:01 7 /app/base.apk
20000-21000 r--p 00040000 08:01 7 /app/base.apk
21000-22000 r-xp 00041000 08:01 7 /app/base.apk
30000-31000 r--p 00000000 08:01 8 /usr/bin/big
31000-32000 r-xp 00000000 00:00 0
32000-33000 r--p 00002000 08:01 8 /usr/bin/big
";
        let s = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
        assert_eq!(candidates(&s.regions), [0, 5, 9, 11]);
    }

    /// Without `map_files` (no CAP_SYS_ADMIN), the path under `root` is
    /// read, and only when its inode is the mapped one.
    #[cfg(feature = "elf")]
    #[test]
    fn falls_back_to_the_path_under_root() {
        let dir = std::env::temp_dir().join(format!("maplens-elf-root-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink("/", dir.join("root")).unwrap();
        let maps = std::fs::read("/proc/self/maps").unwrap();
        let mut s = Snapshot::from_text("maps", &maps, Mode::Lenient).unwrap();
        let direct = read_live(std::path::Path::new("/proc/self"), &s.regions);
        let via_root = read_live(&dir, &s.regions);
        assert!(!direct.is_empty());
        assert_eq!(via_root, direct);
        // Another inode under that name: not the mapped file, not read.
        let first = direct[0].start;
        let path = s
            .regions
            .iter()
            .find(|r| r.start == first)
            .unwrap()
            .path
            .raw()
            .to_vec();
        for r in s.regions.iter_mut().filter(|r| r.path.raw() == path) {
            r.inode ^= 1;
        }
        let changed = read_live(&dir, &s.regions);
        assert!(changed.iter().all(|o| o.start != first), "{changed:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(feature = "elf")]
    #[test]
    fn reads_this_process() {
        use std::os::unix::ffi::OsStrExt;
        let dir = std::path::Path::new("/proc/self");
        let maps = std::fs::read(dir.join("maps")).unwrap();
        let s = Snapshot::from_text("maps", &maps, Mode::Lenient).unwrap();
        let objs = read_live(dir, &s.regions);
        // This test binary itself: a PIE with its text executable.
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let me = s
            .regions
            .iter()
            .find(|r| r.path.raw() == exe.as_os_str().as_bytes())
            .unwrap();
        let o = objs.iter().find(|o| o.is_at(me)).expect("own headers");
        assert!(o.headers.loads.iter().any(|l| l.exec()));
        let back = parse_record(&record(&objs)).unwrap();
        assert_eq!(back, objs);
    }
}
