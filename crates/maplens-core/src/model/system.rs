//! System facts a report and its findings use: `/proc/meminfo`,
//! `vm.max_map_count`, the transparent huge page mode. A live target reads
//! them from the running system, a capture bundle from what it recorded
//! ([`SystemInfo::FILES`] names both); a saved maps or smaps file has none.
//!
//! Only plain data and parsing here: the files are opened by
//! [`crate::source`].
//!
//! ```
//! use maplens_core::model::SystemInfo;
//! let s = SystemInfo::from_files(|name| match name {
//!     "meminfo" => Some(b"HugePages_Total:  4\n".to_vec()),
//!     "sys/vm/max_map_count" => Some(b"65530\n".to_vec()),
//!     _ => None,
//! });
//! assert_eq!(s.meminfo("HugePages_Total"), Some(4));
//! assert_eq!(s.max_map_count, Some(65530));
//! assert_eq!(s.thp_enabled, None);
//! ```

use std::path::{Path, PathBuf};

/// What is known about the system the process runs on.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SystemInfo {
    /// `/proc/meminfo` as `(key, value)`; values in kB except the
    /// `HugePages_*` counts.
    pub meminfo: Vec<(String, u64)>,
    /// `/proc/sys/vm/max_map_count`.
    pub max_map_count: Option<u64>,
    /// The selected mode of `/sys/kernel/mm/transparent_hugepage/enabled`
    /// (`always`, `madvise`, `never`).
    pub thp_enabled: Option<String>,
}

/// Bundle name of `/proc/meminfo`.
pub const MEMINFO: &str = "meminfo";
/// Bundle name of `/proc/sys/vm/max_map_count`.
pub const MAX_MAP_COUNT: &str = "sys/vm/max_map_count";
/// Bundle name of `/sys/kernel/mm/transparent_hugepage/enabled` (`sysfs/`
/// stands for `/sys`, so that it is not taken for `/proc/sys`).
pub const THP_ENABLED: &str = "sysfs/kernel/mm/transparent_hugepage/enabled";

impl SystemInfo {
    /// Every file the facts come from, by bundle name: what `maplens
    /// capture` records and [`SystemInfo::from_files`] asks for.
    pub const FILES: [&'static str; 3] = [MEMINFO, MAX_MAP_COUNT, THP_ENABLED];

    /// Where a file of [`SystemInfo::FILES`] is on a running system: under
    /// the proc root, or under the sys root for `sysfs/…`.
    pub fn live_path(proc_root: &Path, sys_root: &Path, name: &str) -> PathBuf {
        match name.strip_prefix("sysfs/") {
            Some(rest) => sys_root.join(rest),
            None => proc_root.join(name),
        }
    }

    /// Builds the facts from the files `get` returns by bundle name
    /// ([`SystemInfo::FILES`]); a missing file leaves its field empty.
    pub fn from_files(mut get: impl FnMut(&str) -> Option<Vec<u8>>) -> SystemInfo {
        let meminfo = get(MEMINFO).map(|b| meminfo_figures(&b));
        let mut text = |name: &str| get(name).map(|b| String::from_utf8_lossy(&b).into_owned());
        SystemInfo {
            meminfo: meminfo.unwrap_or_default(),
            max_map_count: text(MAX_MAP_COUNT).and_then(|t| t.trim().parse().ok()),
            thp_enabled: text(THP_ENABLED).and_then(|t| selected_mode(&t)),
        }
    }

    /// Reads what it can under a proc root (`/proc` or a copy) and a sys
    /// root (`/sys`); missing files leave their fields empty.
    pub fn read(proc_root: &Path, sys_root: &Path) -> SystemInfo {
        SystemInfo::from_files(|name| {
            std::fs::read(SystemInfo::live_path(proc_root, sys_root, name)).ok()
        })
    }

    /// A `/proc/meminfo` value by key, as printed (kB, or a count).
    pub fn meminfo(&self, key: &str) -> Option<u64> {
        self.meminfo.iter().find(|(k, _)| k == key).map(|&(_, v)| v)
    }

    /// A `/proc/meminfo` size by key, in bytes (`None` also when the kB
    /// figure, set by hand, is too large for 64 bits of bytes).
    pub fn meminfo_bytes(&self, key: &str) -> Option<u64> {
        self.meminfo(key)?.checked_mul(1024)
    }
}

/// The good lines of `/proc/meminfo` text as `(key, figure as printed)`
/// (kB, or a count), by the one meminfo parser
/// ([`crate::parse::meminfo_lines`]); a malformed line, or a kB figure too
/// large for 64 bits of bytes, is left out.
fn meminfo_figures(text: &[u8]) -> Vec<(String, u64)> {
    crate::parse::meminfo_lines(text)
        .filter_map(Result::ok)
        .map(|l| {
            let key = String::from_utf8_lossy(l.key).into_owned();
            (key, l.value.as_printed())
        })
        .collect()
}

/// The bracketed word of a sysfs choice line: `always [madvise] never`.
fn selected_mode(text: &str) -> Option<String> {
    let a = text.find('[')?;
    let b = text[a..].find(']')? + a;
    Some(text[a + 1..b].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thp_mode() {
        assert_eq!(
            selected_mode("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(selected_mode("garbage"), None);
    }

    #[test]
    fn meminfo_from_the_one_parser() {
        let big = format!("Bogus:  {} kB\n", (u64::MAX >> 10) + 1);
        let text = format!(
            "MemTotal:       24683584 kB\nno colon here\n{big}HugePages_Total:      16\n\
             Hugepagesize:       2048 kB\n"
        );
        let s = SystemInfo::from_files(|n| (n == MEMINFO).then(|| text.clone().into_bytes()));
        assert_eq!(s.meminfo("MemTotal"), Some(24683584));
        assert_eq!(s.meminfo("HugePages_Total"), Some(16));
        assert_eq!(s.meminfo_bytes("Hugepagesize"), Some(2 << 20));
        assert_eq!(s.meminfo("Bogus"), None);
        assert_eq!(s.meminfo.len(), 3);
        let by_hand = SystemInfo {
            meminfo: vec![("Hugepagesize".into(), u64::MAX)],
            ..SystemInfo::default()
        };
        assert_eq!(by_hand.meminfo_bytes("Hugepagesize"), None);
    }

    #[test]
    fn live_paths() {
        let (p, s) = (Path::new("/proc"), Path::new("/sys"));
        assert_eq!(
            SystemInfo::live_path(p, s, THP_ENABLED),
            Path::new("/sys/kernel/mm/transparent_hugepage/enabled")
        );
        assert_eq!(
            SystemInfo::live_path(p, s, MAX_MAP_COUNT),
            Path::new("/proc/sys/vm/max_map_count")
        );
    }
}
