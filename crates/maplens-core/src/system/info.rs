//! System facts a scan reports with: `/proc/meminfo`, user names, the
//! `hidepid` mount option and which devices are tmpfs.

use std::collections::HashMap;
use std::path::Path;

use crate::parse::Dev;

/// The lines of `/proc/meminfo` a system view needs (kB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MemInfo {
    /// `MemTotal`.
    pub mem_total: u64,
    /// `MemFree`.
    pub mem_free: u64,
    /// `MemAvailable` (3.14+; 0 when absent).
    pub mem_available: u64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapFree`.
    pub swap_free: u64,
    /// `Shmem`: all shared memory (tmpfs, SysV, memfd, shared anonymous).
    pub shmem: u64,
}

impl MemInfo {
    /// Takes the figures from meminfo text, by
    /// [`crate::parse::meminfo_lines`].
    ///
    /// ```
    /// use maplens_core::system::MemInfo;
    /// let m = MemInfo::parse(b"MemTotal:       2048 kB\nMemFree: 1024 kB\nShmem: 8 kB\n");
    /// assert_eq!((m.mem_total, m.mem_free, m.shmem), (2048, 1024, 8));
    /// ```
    pub fn parse(text: &[u8]) -> MemInfo {
        let mut m = MemInfo::default();
        // The one meminfo parser; a malformed line, or a kB figure too
        // large for 64 bits of bytes, leaves its field 0.
        for l in crate::parse::meminfo_lines(text).filter_map(Result::ok) {
            let v = l.value.as_printed();
            match l.key {
                b"MemTotal" => m.mem_total = v,
                b"MemFree" => m.mem_free = v,
                b"MemAvailable" => m.mem_available = v,
                b"SwapTotal" => m.swap_total = v,
                b"SwapFree" => m.swap_free = v,
                b"Shmem" => m.shmem = v,
                _ => {}
            }
        }
        m
    }

    /// Reads `meminfo` under a proc root.
    pub fn read(proc_root: &Path) -> Option<MemInfo> {
        let t = std::fs::read(proc_root.join("meminfo")).ok()?;
        Some(MemInfo::parse(&t))
    }
}

/// User names by uid, from `/etc/passwd` (no NSS: LDAP users show as
/// numbers).
#[derive(Clone, Debug, Default)]
pub struct Users(HashMap<u32, String>);

impl Users {
    /// Parses passwd text.
    ///
    /// ```
    /// use maplens_core::system::Users;
    /// let u = Users::parse(b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n");
    /// assert_eq!(u.name(65534), "nobody");
    /// assert_eq!(u.name(42), "42");
    /// ```
    pub fn parse(text: &[u8]) -> Users {
        let mut m = HashMap::new();
        for line in text.split(|&b| b == b'\n') {
            let mut f = line.split(|&b| b == b':');
            let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if let Some(uid) = std::str::from_utf8(uid).ok().and_then(|s| s.parse().ok()) {
                m.entry(uid)
                    .or_insert_with(|| String::from_utf8_lossy(name).into_owned());
            }
        }
        Users(m)
    }

    /// `/etc/passwd` of this system; a copied tree `DIR/proc` may have
    /// `DIR/etc/passwd` beside it, which wins.
    pub fn load(proc_root: &Path) -> Users {
        let beside = proc_root.parent().map(|p| p.join("etc/passwd"));
        let text = beside
            .filter(|_| proc_root != Path::new("/proc"))
            .and_then(|p| std::fs::read(p).ok())
            .or_else(|| std::fs::read("/etc/passwd").ok())
            .unwrap_or_default();
        Users::parse(&text)
    }

    /// The name of a uid, or the number.
    pub fn name(&self, uid: u32) -> String {
        self.0.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
    }
}

/// The `hidepid=` option of the proc mount at `proc_root` (`/proc` only),
/// when it hides anything.
pub fn hidepid(proc_root: &Path) -> Option<String> {
    if proc_root != Path::new("/proc") {
        return None;
    }
    let mounts = std::fs::read("/proc/self/mounts").ok()?;
    for line in mounts.split(|&b| b == b'\n') {
        let f: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if f.len() >= 4 && f[1] == b"/proc" && f[2] == b"proc" {
            for o in f[3].split(|&b| b == b',') {
                if let Some(v) = o.strip_prefix(b"hidepid=") {
                    let v = String::from_utf8_lossy(v).into_owned();
                    if v != "0" && v != "off" {
                        return Some(v);
                    }
                }
            }
        }
    }
    None
}

/// Devices of tmpfs mounts (their files are shared memory), from
/// `/proc/self/mountinfo`.
pub fn tmpfs_devices() -> Vec<Dev> {
    let Ok(text) = std::fs::read("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let f: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let Some(sep) = f.iter().position(|w| *w == b"-") else {
            continue;
        };
        if f.get(sep + 1) != Some(&&b"tmpfs"[..]) || f.len() < 3 {
            continue;
        }
        let Some((ma, mi)) = std::str::from_utf8(f[2])
            .ok()
            .and_then(|s| s.split_once(':'))
        else {
            continue;
        };
        if let (Ok(major), Ok(minor)) = (ma.parse(), mi.parse()) {
            let d = Dev { major, minor };
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_skips_bad_and_too_large_lines() {
        let big = (u64::MAX >> 10) + 1;
        let text = format!(
            "MemTotal:       24683584 kB\nMemFree:        19473720 kB\nMemAvailable: x kB\n\
             SwapTotal: {big} kB\nSwapFree\nShmem:              9356 kB\n"
        );
        let m = MemInfo::parse(text.as_bytes());
        assert_eq!(
            m,
            MemInfo {
                mem_total: 24683584,
                mem_free: 19473720,
                mem_available: 0,
                swap_total: 0,
                swap_free: 0,
                shmem: 9356,
            }
        );
    }
}
