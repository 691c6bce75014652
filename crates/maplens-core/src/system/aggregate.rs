//! Sums across processes: by user and category (from rows), by mapped
//! object, by library or mapped file, and shared-memory objects counted
//! once (from regions, fed by [`super::ScanHooks::region`]).

use std::collections::HashMap;

use super::{Mem, ProcessMeta, ProcessRow, ShmKind};
use crate::parse::{Dev, Entry, PathKind};

/// A group of processes (a user, a category) and their summed memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Group {
    /// The user name or category id.
    pub key: String,
    /// How many processes contribute.
    pub processes: usize,
    /// Summed figures (kB).
    pub mem: Mem,
}

fn sorted(m: HashMap<String, Group>) -> Vec<Group> {
    let mut v: Vec<Group> = m.into_values().collect();
    v.sort_by(|a, b| b.mem.pss.cmp(&a.mem.pss).then_with(|| a.key.cmp(&b.key)));
    v
}

/// Sums rows per user, largest PSS first (like `smem -u`).
pub fn by_user(rows: &[ProcessRow]) -> Vec<Group> {
    let mut m: HashMap<String, Group> = HashMap::new();
    for r in rows {
        let g = m.entry(r.meta.user.clone()).or_insert_with(|| Group {
            key: r.meta.user.clone(),
            ..Group::default()
        });
        g.processes += 1;
        g.mem.add(&r.mem);
    }
    sorted(m)
}

/// Sums the per-process categories across processes, largest PSS first.
/// Rows without categories (scanned from smaps_rollup) count under their
/// anon / file / shmem kind.
pub fn by_category(rows: &[ProcessRow]) -> Vec<Group> {
    let mut m: HashMap<String, Group> = HashMap::new();
    let mut add = |k: &str, mem: &Mem| {
        let g = m.entry(k.to_owned()).or_insert_with(|| Group {
            key: k.to_owned(),
            ..Group::default()
        });
        g.processes += 1;
        g.mem.add(mem);
    };
    for r in rows {
        if r.categories.is_empty() {
            for (k, pss) in [
                ("anon", r.mem.pss_anon),
                ("file", r.mem.pss_file),
                ("shmem", r.mem.pss_shmem),
            ] {
                if pss > 0 {
                    add(
                        k,
                        &Mem {
                            pss,
                            ..Mem::default()
                        },
                    );
                }
            }
        }
        for (c, mem) in &r.categories {
            add(c.id(), mem);
        }
    }
    sorted(m)
}

/// The name a region is grouped under by object: the decoded path without
/// ` (deleted)`, the special name (`[heap]`), or `<anonymous>` (as smem).
pub fn object_name(e: &Entry<'_>) -> Vec<u8> {
    if e.header.path.is_empty() {
        b"<anonymous>".to_vec()
    } else {
        e.header.path.decoded().into_owned()
    }
}

/// One object (mapping name) across processes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ObjectRow {
    /// The name (see [`object_name`]): bytes, so that two names that differ
    /// only in bytes that are not UTF-8 stay two objects.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::text::ser_lossy"))]
    pub name: Vec<u8>,
    /// Number of regions.
    pub regions: usize,
    /// Processes mapping it, ascending.
    pub pids: Vec<u32>,
    /// Summed figures (kB).
    pub mem: Mem,
}

/// Sums regions by mapping name across processes (like `smem -m`).
#[derive(Debug, Default)]
pub struct ObjectTotals {
    map: HashMap<Vec<u8>, ObjectRow>,
}

impl ObjectTotals {
    /// Adds one region of a process. Processes must come one after the
    /// other (as [`super::scan`] calls its hooks).
    pub fn add(&mut self, meta: &ProcessMeta, e: &Entry<'_>) {
        let name = object_name(e);
        let o = self.map.entry(name).or_insert_with_key(|k| ObjectRow {
            name: k.clone(),
            ..ObjectRow::default()
        });
        o.regions += 1;
        if o.pids.last() != Some(&meta.pid) {
            o.pids.push(meta.pid);
        }
        o.mem.add(&Mem::from_entry(e));
    }

    /// The objects, largest PSS first.
    pub fn into_rows(self) -> Vec<ObjectRow> {
        let mut v: Vec<ObjectRow> = self.map.into_values().collect();
        for o in &mut v {
            o.pids.sort_unstable();
            o.pids.dedup();
        }
        v.sort_by(|a, b| b.mem.pss.cmp(&a.mem.pss).then_with(|| a.name.cmp(&b.name)));
        v
    }
}

/// One process's share of a library or shared-memory object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Mapper {
    /// Process id.
    pub pid: u32,
    /// Its command line (or `[comm]`).
    pub command: String,
    /// Its figures for this object (kB).
    pub mem: Mem,
}

/// One library or mapped file across processes (librank).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LibRow {
    /// Decoded path, as bytes.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::text::ser_lossy"))]
    pub path: Vec<u8>,
    /// The file was unlinked (or replaced by an upgrade) while mapped. A
    /// name ending in ` (deleted)` is decided by the file in a live scan,
    /// by the capture's record in a bundle (see [`super::scan_files`]); a
    /// copied tree without `PID/root` takes the kernel's word.
    pub deleted: bool,
    /// Device.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser_dev"))]
    pub dev: Dev,
    /// Inode.
    pub inode: u64,
    /// Summed figures (kB).
    pub mem: Mem,
    /// Per process, largest PSS first.
    pub mappers: Vec<Mapper>,
}

#[cfg(feature = "serde")]
fn ser_dev<S: serde::Serializer>(d: &Dev, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

/// Sums file-backed regions per file (dev, inode, path) across processes.
#[derive(Debug, Default)]
pub struct LibTotals {
    map: HashMap<(Dev, u64, Vec<u8>), LibRow>,
}

impl LibTotals {
    /// Adds a region when it maps a file (not shared memory, not
    /// anonymous). Returns whether it was counted.
    pub fn add(&mut self, meta: &ProcessMeta, e: &Entry<'_>) -> bool {
        let h = &e.header;
        if !matches!(h.path.kind(), PathKind::File) || h.inode == 0 {
            return false;
        }
        let key = (h.dev, h.inode, h.path.name_raw().to_vec());
        let l = self.map.entry(key).or_insert_with(|| LibRow {
            path: h.path.decoded().into_owned(),
            deleted: h.path.deleted(),
            dev: h.dev,
            inode: h.inode,
            ..LibRow::default()
        });
        let m = Mem::from_entry(e);
        l.mem.add(&m);
        match l.mappers.last_mut() {
            Some(p) if p.pid == meta.pid => p.mem.add(&m),
            _ => l.mappers.push(Mapper {
                pid: meta.pid,
                command: meta.display_command(),
                mem: m,
            }),
        }
        true
    }

    /// The files, largest PSS first; each one's processes too.
    pub fn into_rows(self) -> Vec<LibRow> {
        let mut v: Vec<LibRow> = self.map.into_values().collect();
        for l in &mut v {
            l.mappers
                .sort_by(|a, b| b.mem.pss.cmp(&a.mem.pss).then(a.pid.cmp(&b.pid)));
        }
        v.sort_by(|a, b| b.mem.pss.cmp(&a.mem.pss).then_with(|| a.path.cmp(&b.path)));
        v
    }
}

/// Identity of a shared-memory object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum ShmKey {
    /// A SysV segment: its shmid (the inode the kernel prints in maps).
    SysV {
        /// shmid.
        shmid: u64,
    },
    /// Any other: the shmem inode.
    Inode {
        /// Device, as printed.
        dev: String,
        /// Inode.
        inode: u64,
    },
}

/// One shared-memory object, counted once, with who maps it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ShmRow {
    /// What it is.
    pub kind: ShmKind,
    /// Identity.
    pub key: ShmKey,
    /// The name (`/SYSV0000abcd`, `/memfd:NAME`, a `/dev/shm` path, …).
    pub name: String,
    /// SysV key, for SysV segments.
    pub sysv_key: Option<u32>,
    /// The object's size as far as anyone maps it (kB): its highest mapped
    /// byte, `offset + length` over every mapping of every process, so an
    /// object mapped in pieces counts whole. (A file or segment can be
    /// larger where nobody maps it; maps does not say.)
    pub size: u64,
    /// Σ PSS over the mappers: the object's resident memory, counted once
    /// (when every mapper was read).
    pub pss: u64,
    /// Largest RSS of one mapper: a lower bound of the resident pages.
    pub rss_max: u64,
    /// Σ SwapPss over the mappers: its swapped-out pages, counted once.
    pub swap_pss: u64,
    /// Processes mapping it, with their share.
    pub mappers: Vec<Mapper>,
}

/// Collects shared-memory objects across processes, each counted once.
#[derive(Debug, Default)]
pub struct ShmTotals {
    tmpfs: Vec<Dev>,
    map: HashMap<ShmKey, ShmRow>,
}

impl ShmTotals {
    /// A collector that treats files on these devices as shared memory
    /// (see [`super::tmpfs_devices`]).
    pub fn new(tmpfs: Vec<Dev>) -> ShmTotals {
        ShmTotals {
            tmpfs,
            map: HashMap::new(),
        }
    }

    /// Adds a region when it is shared memory; returns whether it was.
    pub fn add(&mut self, meta: &ProcessMeta, e: &Entry<'_>) -> bool {
        let h = &e.header;
        let Some(kind) = ShmKind::of_header(h, Some(&self.tmpfs)) else {
            return false;
        };
        let sysv_key = match h.path.kind() {
            PathKind::SysV(k) => Some(k),
            _ => None,
        };
        let key = match kind {
            ShmKind::SysV => ShmKey::SysV { shmid: h.inode },
            _ => ShmKey::Inode {
                dev: h.dev.to_string(),
                inode: h.inode,
            },
        };
        let m = Mem::from_entry(e);
        let s = self.map.entry(key.clone()).or_insert_with(|| ShmRow {
            kind,
            key,
            name: if h.path.is_empty() {
                "<anonymous>".into()
            } else {
                String::from_utf8_lossy(&h.path.decoded()).into_owned()
            },
            sysv_key,
            size: 0,
            pss: 0,
            rss_max: 0,
            swap_pss: 0,
            mappers: Vec::new(),
        });
        s.size = s.size.max(h.offset.saturating_add(h.size()) / 1024);
        s.pss += m.pss;
        s.swap_pss += m.swap_pss;
        match s.mappers.last_mut() {
            Some(p) if p.pid == meta.pid => p.mem.add(&m),
            _ => s.mappers.push(Mapper {
                pid: meta.pid,
                command: meta.display_command(),
                mem: m,
            }),
        }
        s.rss_max = s.mappers.iter().map(|p| p.mem.rss).max().unwrap_or(0);
        true
    }

    /// The objects, largest PSS first.
    pub fn into_rows(self) -> Vec<ShmRow> {
        let mut v: Vec<ShmRow> = self.map.into_values().collect();
        v.sort_by(|a, b| b.pss.cmp(&a.pss).then_with(|| a.key.cmp(&b.key)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Parser;

    const TEXT: &[u8] = b"\
7f0000000000-7f0000004000 rw-s 00000000 00:01 98317 /SYSV0000abcd (deleted)
Size:                 16 kB
Rss:                   8 kB
Pss:                   4 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Swap:                  0 kB
SwapPss:               0 kB
7f0000004000-7f0000008000 r-xp 00000000 08:01 42 /usr/lib/libc.so.6
Size:                 16 kB
Rss:                  16 kB
Pss:                   8 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Swap:                  0 kB
SwapPss:               0 kB
7f0000008000-7f000000a000 rw-p 00000000 00:00 0
Size:                  8 kB
Rss:                   8 kB
Pss:                   8 kB
Private_Clean:         0 kB
Private_Dirty:         8 kB
Swap:                  0 kB
SwapPss:               0 kB
";

    fn meta(pid: u32) -> ProcessMeta {
        ProcessMeta {
            pid,
            command: format!("p{pid}"),
            ..ProcessMeta::default()
        }
    }

    /// A memfd of 12 pages that one process maps in two pieces (pages 0-3
    /// and 8-11) and another maps pages 0-1: its size is the whole 48 kB,
    /// not the largest mapping's 16 kB.
    #[test]
    fn shm_size_is_the_whole_object_not_its_largest_mapping() {
        let a = "7f0000000000-7f0000004000 rw-s 00000000 00:01 77 /memfd:pool (deleted)
7f0000010000-7f0000014000 rw-s 00008000 00:01 77 /memfd:pool (deleted)
";
        let b = "7f0000000000-7f0000002000 rw-s 00000000 00:01 77 /memfd:pool (deleted)
";
        let mut shm = ShmTotals::new(Vec::new());
        for (pid, text) in [(10, a), (11, b)] {
            for e in Parser::new(text.as_bytes()).filter_map(Result::ok) {
                assert!(shm.add(&meta(pid), &e));
            }
        }
        let rows = shm.into_rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].size, 48);
        assert_eq!(rows[0].mappers.len(), 2);
    }

    #[test]
    fn shm_counted_once_libs_per_file() {
        let mut shm = ShmTotals::new(Vec::new());
        let mut libs = LibTotals::default();
        let mut objs = ObjectTotals::default();
        for pid in [10, 11] {
            for e in Parser::new(TEXT).filter_map(Result::ok) {
                shm.add(&meta(pid), &e);
                libs.add(&meta(pid), &e);
                objs.add(&meta(pid), &e);
            }
        }
        let shm = shm.into_rows();
        assert_eq!(shm.len(), 1);
        assert_eq!(shm[0].key, ShmKey::SysV { shmid: 98317 });
        assert_eq!(shm[0].sysv_key, Some(0xabcd));
        assert_eq!((shm[0].pss, shm[0].rss_max, shm[0].size), (8, 8, 16));
        assert_eq!(shm[0].mappers.len(), 2);
        let libs = libs.into_rows();
        assert_eq!(libs.len(), 1);
        assert_eq!(libs[0].path, b"/usr/lib/libc.so.6");
        assert_eq!(libs[0].mem.pss, 16);
        let objs = objs.into_rows();
        assert_eq!(objs.len(), 3);
        let anon = objs.iter().find(|o| o.name == b"<anonymous>").unwrap();
        assert_eq!((anon.mem.uss, anon.pids.len(), anon.regions), (16, 2, 2));
        let sysv = objs.iter().find(|o| o.name == b"/SYSV0000abcd").unwrap();
        assert_eq!(sysv.mem.pss_shmem, 8);
    }
}
