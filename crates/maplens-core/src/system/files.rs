//! Where a scan reads its files: a live or copied `/proc` tree
//! ([`ProcDir`]) or a capture bundle ([`BundleFiles`]), behind one small
//! trait, [`ProcFiles`].
//!
//! [`super::scan_files`] is generic over it, so the live path costs what it
//! did before the trait: one reused path buffer, and the caller's reused
//! read buffer.

use std::ffi::OsStr;
use std::io::{self, Read, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::info::{MemInfo, Users, hidepid};
use crate::parse::DeletedSuffix;
use crate::source::{Bundle, deleted};

/// The owner of a process, as far as the source knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    /// User id (the owner of `/proc/PID`: the effective uid, or root for a
    /// process that is not dumpable).
    pub uid: Option<u32>,
    /// User name, when the source recorded one (a bundle's tar header);
    /// otherwise the scan looks the uid up in [`ProcFiles::users`].
    pub user: Option<String>,
}

/// The files a scan reads. Errors are `io::Error`s whose kind says what
/// happened: `NotFound` (the process is gone, or the bundle does not hold
/// the file), `PermissionDenied`, or anything else.
pub trait ProcFiles {
    /// What is read, for messages: `/proc`, a directory, a bundle file.
    fn describe(&self) -> String;
    /// True for a running system, where a missing file means the process
    /// exited; false for a bundle, where it means the file was not captured.
    fn live(&self) -> bool;
    /// Every PID, ascending.
    fn pids(&mut self) -> io::Result<Vec<u32>>;
    /// The owner of a process; `NotFound` when there is no such process.
    fn owner(&mut self, pid: u32) -> io::Result<Owner>;
    /// Reads a per-process file (`cmdline`, `comm`, `stat`, `smaps`,
    /// `smaps_rollup`) whole into `buf`, which is cleared first.
    fn read(&mut self, pid: u32, name: &str, buf: &mut Vec<u8>) -> io::Result<()>;
    /// Whether a per-process file is there.
    fn exists(&mut self, pid: u32, name: &str) -> bool;
    /// `meminfo`, when there.
    fn meminfo(&mut self) -> Option<MemInfo>;
    /// User names by uid.
    fn users(&mut self) -> Users;
    /// The `hidepid=` option of the proc mount, when it hides anything.
    fn hidepid(&mut self) -> Option<String> {
        None
    }
    /// Whether `smaps_rollup` can be read (kernel 4.14+, or captured).
    fn rollup_available(&mut self, pids: &[u32]) -> bool;
    /// Another handle on the same files for a thread of its own, when the
    /// source can be read from several threads at once (a `/proc` tree
    /// can; a bundle, read through one handle, cannot: `None`).
    fn reader(&self) -> Option<Box<dyn ProcFiles + Send>> {
        None
    }
    /// What the ` (deleted)` suffix of a region of `pid` means (`start`-`end`,
    /// mapping file `inode` under the name `raw`, as printed): a file of
    /// that name, or the kernel's mark (see [`crate::source::deleted`]).
    /// Asked only for names [`deleted::checkable_header`] accepts; by
    /// default, and where nobody can say, [`DeletedSuffix::Unchecked`].
    fn deleted_suffix(
        &mut self,
        _pid: u32,
        _start: u64,
        _end: u64,
        _inode: u64,
        _raw: &[u8],
    ) -> DeletedSuffix {
        DeletedSuffix::Unchecked
    }
}

/// A `/proc` tree: the live one or a copy (`--proc-root`).
#[derive(Debug)]
pub struct ProcDir {
    root: PathBuf,
    path: Vec<u8>,
}

impl ProcDir {
    /// Reads under `root` (`/proc`, or a copied tree).
    pub fn new(root: &Path) -> ProcDir {
        ProcDir {
            root: root.to_owned(),
            path: Vec::with_capacity(64),
        }
    }

    /// `ROOT/PID/NAME` (`ROOT/PID` for an empty name) in the reused buffer.
    fn path(&mut self, pid: u32, name: &str) -> &Path {
        self.path.clear();
        self.path
            .extend_from_slice(self.root.as_os_str().as_bytes());
        // Writing to a Vec cannot fail.
        let _ = write!(self.path, "/{pid}");
        if !name.is_empty() {
            self.path.push(b'/');
            self.path.extend_from_slice(name.as_bytes());
        }
        Path::new(OsStr::from_bytes(&self.path))
    }
}

/// Reads a whole file into `buf` (cleared first).
fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let mut f = std::fs::File::open(path)?;
    f.read_to_end(buf)?;
    Ok(())
}

impl ProcFiles for ProcDir {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn live(&self) -> bool {
        true
    }

    fn pids(&mut self) -> io::Result<Vec<u32>> {
        crate::source::list_pids(&self.root)
    }

    fn reader(&self) -> Option<Box<dyn ProcFiles + Send>> {
        Some(Box::new(ProcDir::new(&self.root)))
    }

    fn owner(&mut self, pid: u32) -> io::Result<Owner> {
        let m = std::fs::metadata(self.path(pid, ""))?;
        Ok(Owner {
            uid: Some(std::os::unix::fs::MetadataExt::uid(&m)),
            user: None,
        })
    }

    fn read(&mut self, pid: u32, name: &str, buf: &mut Vec<u8>) -> io::Result<()> {
        read_into(self.path(pid, name), buf)
    }

    fn exists(&mut self, pid: u32, name: &str) -> bool {
        self.path(pid, name).exists()
    }

    fn meminfo(&mut self) -> Option<MemInfo> {
        MemInfo::read(&self.root)
    }

    fn users(&mut self) -> Users {
        Users::load(&self.root)
    }

    fn hidepid(&mut self) -> Option<String> {
        hidepid(&self.root)
    }

    fn rollup_available(&mut self, pids: &[u32]) -> bool {
        self.root.join("self/smaps_rollup").exists()
            || pids
                .first()
                .is_some_and(|&p| self.path(p, "smaps_rollup").exists())
    }

    /// By the file system, as `maplens maps` decides: the name under
    /// `ROOT/PID/root` against the mapped file.
    fn deleted_suffix(
        &mut self,
        pid: u32,
        start: u64,
        end: u64,
        inode: u64,
        raw: &[u8],
    ) -> DeletedSuffix {
        let dir = self.path(pid, "").to_owned();
        deleted::check_mapping(&dir, raw, start, end, inode)
    }
}

/// A capture bundle (`maplens capture`, or smem's `smemcap`).
///
/// Owners come from the `PID/` directory entries (uid, and the user name
/// when the tar recorded one), else from the effective uid in `PID/status`.
/// Names of uids without one come from the bundle's `etc/passwd` when it
/// holds one, else from this machine's `/etc/passwd`, as `smem -S` does.
#[derive(Debug)]
pub struct BundleFiles<'a> {
    bundle: &'a Bundle,
    /// The last process's record of checked ` (deleted)` suffixes
    /// ([`deleted::RECORD`]), read when first asked.
    record: Option<(u32, Vec<deleted::Checked>)>,
}

impl<'a> BundleFiles<'a> {
    /// Reads from an opened bundle.
    pub fn new(bundle: &'a Bundle) -> BundleFiles<'a> {
        BundleFiles {
            bundle,
            record: None,
        }
    }

    fn get(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        self.bundle
            .system_file(name)
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

fn not_captured(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{name}: not in the bundle"),
    )
}

impl ProcFiles for BundleFiles<'_> {
    fn describe(&self) -> String {
        self.bundle.path().display().to_string()
    }

    fn live(&self) -> bool {
        false
    }

    fn pids(&mut self) -> io::Result<Vec<u32>> {
        Ok(self.bundle.pids().to_vec())
    }

    fn owner(&mut self, pid: u32) -> io::Result<Owner> {
        if let Some(o) = self.bundle.owner(pid) {
            return Ok(Owner {
                uid: u32::try_from(o.uid).ok(),
                user: o.user.clone(),
            });
        }
        if self.bundle.pids().binary_search(&pid).is_err() {
            return Err(not_captured(&pid.to_string()));
        }
        // No directory entry (a tar of files only): the effective uid.
        let status = self.get(&format!("{pid}/status"))?;
        let uid = status.and_then(|s| {
            let line = s
                .split(|&b| b == b'\n')
                .find_map(|l| l.strip_prefix(b"Uid:"))?;
            let mut ids = std::str::from_utf8(line).ok()?.split_whitespace();
            ids.nth(1)?.parse().ok()
        });
        Ok(Owner { uid, user: None })
    }

    fn read(&mut self, pid: u32, name: &str, buf: &mut Vec<u8>) -> io::Result<()> {
        let full = format!("{pid}/{name}");
        match self.get(&full)? {
            Some(v) => {
                *buf = v;
                Ok(())
            }
            None => {
                buf.clear();
                Err(not_captured(&full))
            }
        }
    }

    fn exists(&mut self, pid: u32, name: &str) -> bool {
        let full = format!("{pid}/{name}");
        self.bundle.names().any(|n| n == full)
    }

    fn meminfo(&mut self) -> Option<MemInfo> {
        let t = self.get("meminfo").ok()??;
        Some(MemInfo::parse(&t))
    }

    fn users(&mut self) -> Users {
        let text = self
            .get("etc/passwd")
            .ok()
            .flatten()
            .or_else(|| std::fs::read("/etc/passwd").ok())
            .unwrap_or_default();
        Users::parse(&text)
    }

    fn rollup_available(&mut self, _pids: &[u32]) -> bool {
        self.bundle.names().any(|n| n.ends_with("/smaps_rollup"))
    }

    /// From what `maplens capture` checked live ([`deleted::RECORD`]);
    /// unchecked when the bundle has no record of that region.
    fn deleted_suffix(
        &mut self,
        pid: u32,
        start: u64,
        end: u64,
        _inode: u64,
        _raw: &[u8],
    ) -> DeletedSuffix {
        if self.record.as_ref().is_none_or(|(p, _)| *p != pid) {
            let text = self.get(&format!("{pid}/{}", deleted::RECORD));
            let lines = text
                .ok()
                .flatten()
                .map(|t| deleted::parse_record(&t))
                .unwrap_or_default();
            self.record = Some((pid, lines));
        }
        let lines = self
            .record
            .as_ref()
            .map(|(_, l)| &l[..])
            .unwrap_or_default();
        match lines.binary_search_by_key(&start, |&(s, _, _)| s) {
            Ok(i) if lines[i].1 == end => lines[i].2,
            _ => DeletedSuffix::Unchecked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::{Detail, NoHooks, Reason, ScanOptions, scan_files};

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            if name.ends_with('/') {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_uid(0);
                h.set_mode(0o755);
            } else {
                h.set_mode(0o644);
            }
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, *data).expect("append");
        }
        b.into_inner().expect("finish")
    }

    const SMAPS: &[u8] = b"00400000-00402000 r-xp 00000000 08:01 7 /bin/x
Size:                  8 kB
Rss:                   8 kB
Pss:                   6 kB
Private_Clean:         4 kB
Private_Dirty:         0 kB
Shared_Clean:          4 kB
Shared_Dirty:          0 kB
Swap:                  2 kB
7f0000000000-7f0000001000 rw-p 00000000 00:00 0
Size:                  4 kB
Rss:                   4 kB
Pss:                   4 kB
Private_Clean:         0 kB
Private_Dirty:         4 kB
Shared_Clean:          0 kB
Shared_Dirty:          0 kB
Swap:                  0 kB
";

    #[test]
    fn smemcap_bundle_scan() {
        let t = tar_of(&[
            ("2/", b""),
            ("2/smaps", b""),
            ("2/cmdline", b""),
            ("2/stat", b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0\n"),
            ("42/", b""),
            ("42/smaps", SMAPS),
            ("42/cmdline", b"/bin/x\0-v\0"),
            ("42/stat", b"42 (x) S 1 42 42 0 -1 4194304 0\n"),
            ("meminfo", b"MemTotal: 1000 kB\n"),
            ("version", b"Linux version 6.1\n"),
        ]);
        let b = Bundle::from_bytes("cap.tar", t).expect("bundle");
        let mut f = BundleFiles::new(&b);
        let r = scan_files(&mut f, &ScanOptions::default(), &mut NoHooks).expect("scan");
        assert!(!r.rollup_available);
        assert_eq!(r.meminfo.map(|m| m.mem_total), Some(1000));
        assert_eq!(r.rows.len(), 1, "{:?}", r.unreadable);
        let row = &r.rows[0];
        assert_eq!((row.meta.pid, row.meta.uid), (42, Some(0)));
        assert_eq!(row.meta.command, "/bin/x -v");
        assert_eq!(row.source, "smaps");
        assert_eq!(
            (row.mem.uss, row.mem.pss, row.mem.rss, row.mem.swap),
            (8, 10, 12, 2)
        );
        assert_eq!(r.unreadable.len(), 1);
        assert_eq!(r.unreadable[0].pid, 2);
        assert_eq!(r.unreadable[0].reason, Reason::KernelThread);
        assert_eq!(r.unreadable[0].comm.as_deref(), None);

        let opts = ScanOptions {
            pids: vec![42, 9],
            detail: Detail::Categories,
            ..ScanOptions::default()
        };
        let r = scan_files(&mut f, &opts, &mut NoHooks).expect("scan");
        assert_eq!(r.rows.len(), 1);
        assert!(!r.rows[0].categories.is_empty());
        assert_eq!(r.unreadable[0].pid, 9);
        assert_eq!(
            r.unreadable[0].reason,
            Reason::Other("not in cap.tar".into())
        );
    }

    #[test]
    fn light_bundle_has_no_smaps() {
        let rollup = b"00400000-7fff00000000 ---p 00000000 00:00 0 [rollup]
Rss:                  12 kB
Pss:                  10 kB
Private_Clean:         4 kB
Private_Dirty:         4 kB
Swap:                  2 kB
";
        let t = tar_of(&[
            ("42/smaps_rollup", rollup),
            ("42/cmdline", b"/bin/x\0"),
            ("42/status", b"Name:\tx\nUid:\t1000\t1001\t1001\t1001\n"),
        ]);
        let b = Bundle::from_bytes("light.tar", t).expect("bundle");
        let mut f = BundleFiles::new(&b);
        let r = scan_files(&mut f, &ScanOptions::default(), &mut NoHooks).expect("scan");
        assert!(r.rollup_available);
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].source, "smaps_rollup");
        assert_eq!(r.rows[0].meta.uid, Some(1001));
        assert_eq!((r.rows[0].mem.pss, r.rows[0].mem.uss), (10, 8));
        let opts = ScanOptions {
            detail: Detail::Smaps,
            ..ScanOptions::default()
        };
        let r = scan_files(&mut f, &opts, &mut NoHooks).expect("scan");
        assert!(r.rows.is_empty());
        let Reason::Other(m) = &r.unreadable[0].reason else {
            panic!("{:?}", r.unreadable);
        };
        assert!(m.contains("--light"), "{m}");
    }

    /// Delegates to a [`ProcFiles`], counting `deleted_suffix` calls.
    struct Counting<F>(F, usize);

    impl<F: ProcFiles> ProcFiles for Counting<F> {
        fn describe(&self) -> String {
            self.0.describe()
        }
        fn live(&self) -> bool {
            self.0.live()
        }
        fn pids(&mut self) -> io::Result<Vec<u32>> {
            self.0.pids()
        }
        fn owner(&mut self, pid: u32) -> io::Result<Owner> {
            self.0.owner(pid)
        }
        fn read(&mut self, pid: u32, name: &str, buf: &mut Vec<u8>) -> io::Result<()> {
            self.0.read(pid, name, buf)
        }
        fn exists(&mut self, pid: u32, name: &str) -> bool {
            self.0.exists(pid, name)
        }
        fn meminfo(&mut self) -> Option<MemInfo> {
            self.0.meminfo()
        }
        fn users(&mut self) -> Users {
            self.0.users()
        }
        fn rollup_available(&mut self, pids: &[u32]) -> bool {
            self.0.rollup_available(pids)
        }
        fn deleted_suffix(&mut self, p: u32, s: u64, e: u64, i: u64, r: &[u8]) -> DeletedSuffix {
            self.1 += 1;
            self.0.deleted_suffix(p, s, e, i, r)
        }
    }

    /// The regions a scan hands its hooks: `(name as printed, deleted)`.
    #[derive(Default)]
    struct Names(Vec<(Vec<u8>, bool)>);

    impl crate::system::ScanHooks for Names {
        fn region(
            &mut self,
            _m: &crate::system::ProcessMeta,
            e: &crate::parse::Entry<'_>,
            _c: Option<crate::analysis::Category>,
        ) {
            self.0
                .push((e.header.path.raw().to_vec(), e.header.path.deleted()));
        }
    }

    #[test]
    fn deleted_suffixes_come_from_the_capture_record() {
        let smaps = b"00400000-00402000 r--s 00000000 08:01 7 /tmp/x (deleted)
Rss:                   8 kB
00500000-00502000 r--s 00000000 08:01 8 /tmp/y (deleted)
Rss:                   8 kB
00600000-00602000 r--s 00000000 08:01 9 /tmp/z (deleted)
Rss:                   8 kB
00700000-00701000 rw-s 00000000 00:01 10 /memfd:m (deleted)
Rss:                   4 kB
";
        let t = tar_of(&[
            ("42/smaps", smaps),
            ("42/cmdline", b"/bin/x\0"),
            (
                "42/maplens-deleted.txt",
                b"400000-402000 name\n500000-502000 kernel\n",
            ),
            ("43/smaps", SMAPS),
            ("43/cmdline", b"/bin/x\0"),
        ]);
        let b = Bundle::from_bytes("cap.tar", t).expect("bundle");
        let want: Vec<(Vec<u8>, bool)> = vec![
            (b"/tmp/x (deleted)".to_vec(), false),
            (b"/tmp/y (deleted)".to_vec(), true),
            // Not in the record: unchecked, taken as the kernel's mark.
            (b"/tmp/z (deleted)".to_vec(), true),
            (b"/memfd:m (deleted)".to_vec(), true),
        ];
        for detail in [Detail::Smaps, Detail::Categories] {
            let mut f = Counting(BundleFiles::new(&b), 0);
            let mut names = Names::default();
            let opts = ScanOptions {
                pids: vec![42],
                detail,
                ..ScanOptions::default()
            };
            let r = scan_files(&mut f, &opts, &mut names).expect("scan");
            assert_eq!(r.rows.len(), 1, "{:?}", r.unreadable);
            assert_eq!(names.0, want, "{detail:?}");
            // Asked for the three files only (a memfd's mark is the kernel's).
            assert_eq!(f.1, 3, "{detail:?}");

            // A process without such a name: nothing is asked, nothing read.
            let mut f = Counting(BundleFiles::new(&b), 0);
            let opts = ScanOptions {
                pids: vec![43],
                detail,
                ..ScanOptions::default()
            };
            let r = scan_files(&mut f, &opts, &mut NoHooks).expect("scan");
            assert_eq!((r.rows.len(), f.1), (1, 0), "{detail:?}");
        }
    }

    #[test]
    fn proc_dir_paths() {
        let mut d = ProcDir::new(Path::new("/x/proc"));
        assert_eq!(d.path(42, "smaps"), Path::new("/x/proc/42/smaps"));
        assert_eq!(d.path(7, ""), Path::new("/x/proc/7"));
    }
}
