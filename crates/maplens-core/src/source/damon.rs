//! A DAMON kdamond of maplens' own, monitoring one process's virtual
//! addresses (`CONFIG_DAMON_VADDR`), through the sysfs interface of
//! Documentation/admin-guide/mm/damon/usage.rst under
//! `SYS/kernel/mm/damon/admin/kdamonds` (`SYS` is injectable, like the
//! proc root, so the whole path runs against a fake tree in tests).
//!
//! What is written, in order, and nothing else:
//!
//! 1. `kdamonds/nr_kdamonds` = 1, only when it reads 0. Writing it with
//!    kdamonds present is refused by the kernel while one runs (EBUSY) and
//!    otherwise deletes every kdamond directory with its configuration
//!    (mm/damon/sysfs.c removes all dirs, then makes N new ones): a
//!    kdamond maplens did not start is never touched, so [`Kdamond::start`]
//!    refuses when `nr_kdamonds` is not 0.
//! 2. In the new `kdamonds/0` only: `contexts/nr_contexts` = 1; then
//!    `contexts/0/avail_operations` is read (no `vaddr`: clean up, refuse);
//!    `operations` = `vaddr`; `monitoring_attrs/intervals/sample_us`,
//!    `aggr_us`; `monitoring_attrs/nr_regions/min`, `max`;
//!    `targets/nr_targets` = 1, `targets/0/pid_target` = PID;
//!    `schemes/nr_schemes` = 1, `schemes/0/action` = `stat` (counts, acts
//!    on nothing), its `access_pattern/{sz,nr_accesses,age}/{min,max}` the
//!    whole range (every region qualifies); `state` = `on`.
//! 3. Each sample: `state` = `update_schemes_tried_regions`, then
//!    `schemes/0/tried_regions/N/{start,end,nr_accesses,age}` are read.
//! 4. On [`Kdamond::stop`] (or drop): `state` = `off` if the directory is
//!    still ours (its `pid_target` reads our PID), then `nr_kdamonds` = 0
//!    only if it still reads 1 (no one changed it meanwhile).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How the kdamond samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DamonAttrs {
    /// The process to monitor.
    pub pid: u32,
    /// Sampling interval (µs).
    pub sample_us: u64,
    /// Aggregation interval (µs): `nr_accesses` counts samples per
    /// aggregation.
    pub aggr_us: u64,
    /// Fewest monitoring regions.
    pub min_nr_regions: u64,
    /// Most monitoring regions.
    pub max_nr_regions: u64,
}

/// One DAMON region as `tried_regions` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DamonRegion {
    /// First address.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// Samples in the last aggregation interval that saw an access.
    pub nr_accesses: u64,
    /// Aggregation intervals the access pattern has stayed the same.
    pub age: u64,
}

/// The kdamonds directory under a sysfs root.
pub fn kdamonds_dir(sys_root: &Path) -> PathBuf {
    sys_root.join("kernel/mm/damon/admin/kdamonds")
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|e| format!("{}: writing {value:?}: {e}", path.display()))
}

/// Sysfs makes a directory's files with the write that asks for it; a
/// fake tree's "kernel" may take a moment. Waits up to 2 s.
fn appear(path: &Path) -> Result<(), String> {
    let t0 = Instant::now();
    while !path.exists() {
        if t0.elapsed() > Duration::from_secs(2) {
            return Err(format!("{}: did not appear", path.display()));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Why no kdamond of maplens' own can be added, from what sysfs reads
/// before anything is written (`Ok` when `nr_kdamonds` reads 0 and the
/// caller may write). `is_root`: writing DAMON's sysfs needs root.
pub fn refusal(sys_root: &Path, is_root: bool) -> Result<(), String> {
    let dir = kdamonds_dir(sys_root);
    let nr = fs::read_to_string(dir.join("nr_kdamonds"))
        .map_err(|_| format!("no DAMON sysfs interface ({})", dir.display()))?;
    let n: u32 = nr
        .trim()
        .parse()
        .map_err(|_| format!("{}/nr_kdamonds reads {:?}", dir.display(), nr.trim()))?;
    if n > 0 {
        let ops = fs::read_to_string(dir.join("0/contexts/0/avail_operations")).ok();
        if let Some(ops) = ops.as_deref()
            && !ops.split_whitespace().any(|o| o == "vaddr")
        {
            return Err(format!(
                "DAMON offers no vaddr operations (CONFIG_DAMON_VADDR unset; offers: {})",
                ops.trim()
            ));
        }
        let running: Vec<String> = (0..n)
            .filter(|i| {
                fs::read_to_string(dir.join(format!("{i}/state"))).is_ok_and(|s| s.trim() == "on")
            })
            .map(|i| i.to_string())
            .collect();
        return Err(if running.is_empty() {
            format!(
                "{}, not maplens': writing nr_kdamonds would delete their \
                 configuration, and maplens never touches a kdamond it did not start",
                crate::text::plural(n as usize, "kdamond exists", "kdamonds exist")
            )
        } else {
            format!(
                "kdamond {} is running, not maplens': the kernel refuses nr_kdamonds changes \
                 while one runs, and maplens never touches a kdamond it did not start",
                running.join(", ")
            )
        });
    }
    if !is_root {
        return Err("writing DAMON's sysfs needs root".into());
    }
    Ok(())
}

/// A running kdamond that maplens added; stopped and removed on
/// [`Kdamond::stop`] or drop.
#[derive(Debug)]
pub struct Kdamond {
    kdamonds: PathBuf,
    dir: PathBuf,
    pid: u32,
    stopped: bool,
}

impl Kdamond {
    /// Adds and starts a kdamond monitoring `attrs.pid` (see the module
    /// documentation for every file written). Refuses (see [`refusal`])
    /// before writing anything; on a later error, undoes what it did.
    pub fn start(sys_root: &Path, attrs: &DamonAttrs, is_root: bool) -> Result<Kdamond, String> {
        refusal(sys_root, is_root)?;
        let kdamonds = kdamonds_dir(sys_root);
        write(&kdamonds.join("nr_kdamonds"), "1")?;
        let mut k = Kdamond {
            dir: kdamonds.join("0"),
            kdamonds,
            pid: attrs.pid,
            stopped: false,
        };
        if let Err(e) = k.configure(attrs) {
            let notes = k.stop();
            return Err(if notes.is_empty() {
                e
            } else {
                format!("{e} ({})", notes.join("; "))
            });
        }
        Ok(k)
    }

    fn configure(&self, a: &DamonAttrs) -> Result<(), String> {
        let d = &self.dir;
        appear(&d.join("contexts/nr_contexts"))?;
        write(&d.join("contexts/nr_contexts"), "1")?;
        let ctx = d.join("contexts/0");
        appear(&ctx.join("avail_operations"))?;
        let ops = read(&ctx.join("avail_operations"))?;
        if !ops.split_whitespace().any(|o| o == "vaddr") {
            return Err(format!(
                "DAMON offers no vaddr operations (CONFIG_DAMON_VADDR unset; offers: {})",
                ops.trim()
            ));
        }
        write(&ctx.join("operations"), "vaddr")?;
        let attrs = ctx.join("monitoring_attrs");
        write(&attrs.join("intervals/sample_us"), &a.sample_us.to_string())?;
        write(&attrs.join("intervals/aggr_us"), &a.aggr_us.to_string())?;
        write(&attrs.join("nr_regions/min"), &a.min_nr_regions.to_string())?;
        write(&attrs.join("nr_regions/max"), &a.max_nr_regions.to_string())?;
        write(&ctx.join("targets/nr_targets"), "1")?;
        appear(&ctx.join("targets/0/pid_target"))?;
        write(&ctx.join("targets/0/pid_target"), &a.pid.to_string())?;
        write(&ctx.join("schemes/nr_schemes"), "1")?;
        let scheme = ctx.join("schemes/0");
        appear(&scheme.join("action"))?;
        write(&scheme.join("action"), "stat")?;
        let pattern = scheme.join("access_pattern");
        for (what, max) in [
            ("sz", u64::MAX),
            ("nr_accesses", u64::from(u32::MAX)),
            ("age", u64::from(u32::MAX)),
        ] {
            write(&pattern.join(what).join("min"), "0")?;
            write(&pattern.join(what).join("max"), &max.to_string())?;
        }
        write(&d.join("state"), "on")
    }

    /// The kdamond's directory (`kdamonds/0`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// DAMON's current regions of the target: asks the kdamond to update
    /// `tried_regions`, then reads them, in address order.
    pub fn regions(&self) -> Result<Vec<DamonRegion>, String> {
        write(&self.dir.join("state"), "update_schemes_tried_regions")?;
        let tried = self.dir.join("contexts/0/schemes/0/tried_regions");
        let mut out = Vec::new();
        let entries = fs::read_dir(&tried).map_err(|e| format!("{}: {e}", tried.display()))?;
        for e in entries.flatten() {
            let name = e.file_name();
            if name.to_str().is_none_or(|n| n.parse::<u64>().is_err()) {
                continue;
            }
            let num = |f: &str| -> Result<u64, String> {
                let p = e.path().join(f);
                let t = read(&p)?;
                t.trim()
                    .parse()
                    .map_err(|_| format!("{}: not a number: {:?}", p.display(), t.trim()))
            };
            out.push(DamonRegion {
                start: num("start")?,
                end: num("end")?,
                nr_accesses: num("nr_accesses")?,
                age: num("age")?,
            });
        }
        out.sort_by_key(|r| r.start);
        Ok(out)
    }

    /// Turns the kdamond off and removes it. Returns notes on what was
    /// left alone because someone else changed it meanwhile.
    pub fn stop(&mut self) -> Vec<String> {
        if self.stopped {
            return Vec::new();
        }
        self.stopped = true;
        let mut notes = Vec::new();
        let target = self.dir.join("contexts/0/targets/0/pid_target");
        let ours = fs::read_to_string(&target).is_ok_and(|t| t.trim() == self.pid.to_string());
        let configured = target.exists();
        if ours {
            if let Err(e) = write(&self.dir.join("state"), "off") {
                notes.push(e);
            }
        } else if configured {
            notes.push(format!(
                "{}: no longer monitors {}; left alone",
                self.dir.display(),
                self.pid
            ));
            return notes;
        }
        let nr = self.kdamonds.join("nr_kdamonds");
        match fs::read_to_string(&nr) {
            Ok(t) if t.trim() == "1" => {
                if let Err(e) = write(&nr, "0") {
                    notes.push(e);
                }
            }
            Ok(t) => notes.push(format!(
                "{}: reads {:?}, not 1: changed by someone else, left alone",
                nr.display(),
                t.trim()
            )),
            Err(e) => notes.push(format!("{}: {e}", nr.display())),
        }
        notes
    }
}

impl Drop for Kdamond {
    fn drop(&mut self) {
        for n in self.stop() {
            eprintln!("maplens: {n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile_lite::Dir {
        let d = tempfile_lite::Dir::new();
        for (p, v) in files {
            let path = d.0.join("kernel/mm/damon/admin/kdamonds").join(p);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, v).unwrap();
        }
        d
    }

    /// A temporary directory without a dev-dependency.
    mod tempfile_lite {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "maplens-damon-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn snapshot(root: &Path) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push((e.path(), fs::read_to_string(e.path()).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    const ATTRS: DamonAttrs = DamonAttrs {
        pid: 4242,
        sample_us: 5000,
        aggr_us: 100_000,
        min_nr_regions: 10,
        max_nr_regions: 1000,
    };

    #[test]
    fn refuses_with_someone_elses_kdamond_running_and_writes_nothing() {
        let t = tree(&[
            ("nr_kdamonds", "1\n"),
            ("0/state", "on\n"),
            ("0/contexts/0/avail_operations", "vaddr fvaddr paddr\n"),
        ]);
        let before = snapshot(&t.0);
        let e = Kdamond::start(&t.0, &ATTRS, true).unwrap_err();
        assert!(e.contains("kdamond 0 is running"), "{e}");
        assert_eq!(snapshot(&t.0), before);
    }

    #[test]
    fn refuses_with_someone_elses_idle_kdamond_and_writes_nothing() {
        let t = tree(&[
            ("nr_kdamonds", "2\n"),
            ("0/state", "off\n"),
            ("1/state", "off\n"),
        ]);
        let before = snapshot(&t.0);
        let e = Kdamond::start(&t.0, &ATTRS, true).unwrap_err();
        assert!(e.contains("delete their configuration"), "{e}");
        assert_eq!(snapshot(&t.0), before);
    }

    #[test]
    fn refuses_paddr_only_and_without_root_and_without_damon() {
        let t = tree(&[
            ("nr_kdamonds", "1\n"),
            ("0/state", "on\n"),
            ("0/contexts/0/avail_operations", "paddr\n"),
        ]);
        assert!(refusal(&t.0, true).unwrap_err().contains("no vaddr"));
        let t = tree(&[("nr_kdamonds", "0\n")]);
        let before = snapshot(&t.0);
        let e = Kdamond::start(&t.0, &ATTRS, false).unwrap_err();
        assert!(e.contains("needs root"), "{e}");
        assert_eq!(snapshot(&t.0), before);
        assert!(refusal(&t.0, true).is_ok());
        let empty = tempfile_lite::Dir::new();
        assert!(refusal(&empty.0, true).unwrap_err().contains("no DAMON"));
    }

    #[test]
    fn stop_leaves_nr_kdamonds_alone_when_someone_changed_it() {
        let t = tree(&[
            ("nr_kdamonds", "2\n"),
            ("0/state", "on\n"),
            ("0/contexts/0/targets/0/pid_target", "4242\n"),
        ]);
        let mut k = Kdamond {
            kdamonds: kdamonds_dir(&t.0),
            dir: kdamonds_dir(&t.0).join("0"),
            pid: 4242,
            stopped: false,
        };
        let notes = k.stop();
        let d = kdamonds_dir(&t.0);
        assert_eq!(fs::read_to_string(d.join("0/state")).unwrap(), "off");
        assert_eq!(fs::read_to_string(d.join("nr_kdamonds")).unwrap(), "2\n");
        assert!(notes[0].contains("not 1"), "{notes:?}");
        assert!(k.stop().is_empty());
    }

    #[test]
    fn stop_leaves_a_kdamond_that_is_no_longer_ours_alone() {
        let t = tree(&[
            ("nr_kdamonds", "1\n"),
            ("0/state", "on\n"),
            ("0/contexts/0/targets/0/pid_target", "777\n"),
        ]);
        let before = snapshot(&t.0);
        let mut k = Kdamond {
            kdamonds: kdamonds_dir(&t.0),
            dir: kdamonds_dir(&t.0).join("0"),
            pid: 4242,
            stopped: false,
        };
        assert!(k.stop()[0].contains("left alone"));
        assert_eq!(snapshot(&t.0), before);
    }

    #[test]
    fn regions_reads_tried_regions_in_address_order() {
        let t = tree(&[
            ("0/state", "on\n"),
            ("0/contexts/0/schemes/0/tried_regions/total_bytes", "8192\n"),
            ("0/contexts/0/schemes/0/tried_regions/1/start", "8192\n"),
            ("0/contexts/0/schemes/0/tried_regions/1/end", "12288\n"),
            ("0/contexts/0/schemes/0/tried_regions/1/nr_accesses", "0\n"),
            ("0/contexts/0/schemes/0/tried_regions/1/age", "7\n"),
            ("0/contexts/0/schemes/0/tried_regions/0/start", "4096\n"),
            ("0/contexts/0/schemes/0/tried_regions/0/end", "8192\n"),
            ("0/contexts/0/schemes/0/tried_regions/0/nr_accesses", "3\n"),
            ("0/contexts/0/schemes/0/tried_regions/0/age", "1\n"),
        ]);
        let k = Kdamond {
            kdamonds: kdamonds_dir(&t.0),
            dir: kdamonds_dir(&t.0).join("0"),
            pid: 4242,
            stopped: true,
        };
        let r = k.regions().unwrap();
        assert_eq!(
            r,
            [
                DamonRegion {
                    start: 4096,
                    end: 8192,
                    nr_accesses: 3,
                    age: 1
                },
                DamonRegion {
                    start: 8192,
                    end: 12288,
                    nr_accesses: 0,
                    age: 7
                },
            ]
        );
        assert_eq!(
            fs::read_to_string(k.dir().join("state")).unwrap(),
            "update_schemes_tried_regions"
        );
    }
}
