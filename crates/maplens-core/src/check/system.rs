//! System facts some rules need: `/proc/meminfo`, `vm.max_map_count`, the
//! transparent huge page mode. Only a live target (or a copied `/proc`
//! tree) has them.

use std::path::Path;

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

impl SystemInfo {
    /// Reads what it can under a proc root (`/proc` or a copy) and a sys
    /// root (`/sys`); missing files leave their fields empty.
    pub fn read(proc_root: &Path, sys_root: &Path) -> SystemInfo {
        let text = |p: &Path| std::fs::read_to_string(p).ok();
        SystemInfo {
            meminfo: text(&proc_root.join("meminfo"))
                .map(|t| parse_meminfo(&t))
                .unwrap_or_default(),
            max_map_count: text(&proc_root.join("sys/vm/max_map_count"))
                .and_then(|t| t.trim().parse().ok()),
            thp_enabled: text(&sys_root.join("kernel/mm/transparent_hugepage/enabled"))
                .and_then(|t| selected_mode(&t)),
        }
    }

    /// A `/proc/meminfo` value by key.
    pub fn meminfo(&self, key: &str) -> Option<u64> {
        self.meminfo.iter().find(|(k, _)| k == key).map(|&(_, v)| v)
    }
}

/// Parses `/proc/meminfo` text: `Key:   123 kB` lines.
///
/// ```
/// use maplens_core::check::SystemInfo;
/// let m = maplens_core::check::parse_meminfo("HugePages_Total:      16\nHugepagesize:    2048 kB\n");
/// let s = SystemInfo { meminfo: m, ..SystemInfo::default() };
/// assert_eq!(s.meminfo("HugePages_Total"), Some(16));
/// assert_eq!(s.meminfo("Hugepagesize"), Some(2048));
/// ```
pub fn parse_meminfo(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let n = v.split_whitespace().next()?.parse().ok()?;
            Some((k.trim().to_owned(), n))
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
}
