//! A [`Sample`]: what one process looked like at one moment, small enough to
//! take every few seconds and to store.
//!
//! A sample holds the process identity (pid, name and start time, so that a
//! restarted process is told apart), the time, whole-process totals, one row
//! per category and per object, and, for a full sample, one row per region
//! with its stable identity (start, inode, path, offset). It also records what
//! taking it cost. Samples are made by one collector ([`crate::source::collect`])
//! and read by `watch`, recordings, `diff` and `leaks`; this module does no
//! I/O and holds no rendering types.
//!
//! ```
//! use maplens_core::model::{Sample, Snapshot};
//! use maplens_core::parse::Mode;
//! let text = b"00400000-00402000 r-xp 00000000 08:01 7 /bin/x\n";
//! let snap = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
//! let s = Sample::from_snapshot(&snap, 1_000, true);
//! assert_eq!(s.totals.size, 0x2000);
//! assert_eq!(s.regions.len(), 1);
//! ```

use crate::analysis::{Classified, Report, Usage, classify, report};
use crate::model::Snapshot;
use crate::parse::Field;

/// Sizes of a set of regions in a sample, in bytes. `None`: unknown.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SampleUsage {
    /// Number of regions (0 when only the rollup was read).
    pub regions: u64,
    /// Virtual size.
    pub size: u64,
    /// Resident.
    #[cfg_attr(feature = "serde", serde(default))]
    pub rss: Option<u64>,
    /// Proportional.
    #[cfg_attr(feature = "serde", serde(default))]
    pub pss: Option<u64>,
    /// Unique (private clean + dirty).
    #[cfg_attr(feature = "serde", serde(default))]
    pub uss: Option<u64>,
    /// Swapped out.
    #[cfg_attr(feature = "serde", serde(default))]
    pub swap: Option<u64>,
}

impl SampleUsage {
    fn of(u: &Usage) -> SampleUsage {
        SampleUsage {
            regions: u.regions as u64,
            size: u.size,
            rss: u.rss,
            pss: u.pss,
            uss: u.uss,
            swap: u.swap,
        }
    }

    /// The figure that best says "memory used": Rss, else the virtual size.
    pub fn weight(&self) -> u64 {
        self.rss.unwrap_or(self.size)
    }
}

/// One named row (a category or an object) of a sample.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SampleRow {
    /// Category id (`heap`, `anon-mmap`, …) or object path.
    pub name: String,
    /// Its sizes.
    pub usage: SampleUsage,
}

/// One region of a full sample, with the identity that follows it across
/// samples: (start, inode, path, offset).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SampleRegion {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// `rwxp` permissions as printed.
    pub perms: String,
    /// File offset.
    pub offset: u64,
    /// Inode (0 for anonymous memory).
    pub inode: u64,
    /// Pathname, lossy UTF-8 (escape before printing).
    pub path: String,
    /// Category id.
    pub category: String,
    /// Resident bytes, when smaps was read.
    #[cfg_attr(feature = "serde", serde(default))]
    pub rss: Option<u64>,
}

impl SampleRegion {
    /// The identity that matches this region across samples.
    pub fn key(&self) -> (u64, u64, &str, u64) {
        (self.start, self.inode, self.path.as_str(), self.offset)
    }

    /// Virtual size.
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// What taking a sample cost the watcher.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SampleCost {
    /// Wall-clock time, microseconds.
    pub wall_us: u64,
    /// The watcher's CPU time (user + system), microseconds.
    pub cpu_us: u64,
    /// Bytes of kernel text read.
    pub bytes_read: u64,
}

/// Limits the process could hit, when known, in bytes (or regions).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SampleLimits {
    /// The cgroup's `memory.max`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub cgroup_max: Option<u64>,
    /// The cgroup's `memory.current`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub cgroup_current: Option<u64>,
    /// `RLIMIT_AS` soft limit.
    #[cfg_attr(feature = "serde", serde(default))]
    pub rlimit_as: Option<u64>,
    /// `MemAvailable` of `/proc/meminfo`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub mem_available: Option<u64>,
    /// `vm.max_map_count`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub max_map_count: Option<u64>,
}

/// One process at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Sample {
    /// Process id.
    #[cfg_attr(feature = "serde", serde(default))]
    pub pid: Option<u32>,
    /// Process name (`comm`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub comm: Option<String>,
    /// Start time in clock ticks after boot (`stat` field 22): a new value
    /// for the same pid or name is a restarted process, a new series.
    #[cfg_attr(feature = "serde", serde(default))]
    pub start_time: Option<u64>,
    /// When it was taken, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// True when smaps was read (regions present); false for a rollup-only
    /// sample.
    pub full: bool,
    /// Whole-process figures.
    pub totals: SampleUsage,
    /// Per category (full samples).
    #[cfg_attr(feature = "serde", serde(default))]
    pub categories: Vec<SampleRow>,
    /// Per object (full samples).
    #[cfg_attr(feature = "serde", serde(default))]
    pub objects: Vec<SampleRow>,
    /// Per region (full samples), by address.
    #[cfg_attr(feature = "serde", serde(default))]
    pub regions: Vec<SampleRegion>,
    /// What it cost.
    #[cfg_attr(feature = "serde", serde(default))]
    pub cost: SampleCost,
    /// Known limits.
    #[cfg_attr(feature = "serde", serde(default))]
    pub limits: SampleLimits,
}

impl Sample {
    /// Builds a sample from a snapshot. With `full`, the categories, objects
    /// and regions are filled from the classification; without it only the
    /// totals (from the rollup when there is one).
    pub fn from_snapshot(snap: &Snapshot, time_ms: u64, full: bool) -> Sample {
        let full = full && !snap.regions.is_empty();
        let mut s = Sample {
            pid: snap.process.pid,
            comm: snap.process.comm.clone(),
            time_ms,
            full,
            ..Sample::default()
        };
        if !full {
            if let Some(r) = &snap.rollup {
                let kb = |f| r.known.get(f).map(|v| v * 1024);
                s.totals = SampleUsage {
                    regions: 0,
                    size: 0,
                    rss: kb(Field::Rss),
                    pss: kb(Field::Pss),
                    uss: match (kb(Field::PrivateClean), kb(Field::PrivateDirty)) {
                        (Some(a), Some(b)) => Some(a + b),
                        _ => None,
                    },
                    swap: kb(Field::Swap),
                };
            } else {
                s.totals = SampleUsage::of(&Usage::of(&snap.regions));
            }
            return s;
        }
        let cl = classify(snap);
        let rep = report(snap, &cl);
        Sample::from_report(snap, &cl, &rep, time_ms)
    }

    /// The full sample of a snapshot already classified and reported on
    /// (`cl` and `rep` of `snap`): what [`Sample::from_snapshot`] gives
    /// with `full`, without classifying again.
    pub fn from_report(snap: &Snapshot, cl: &Classified, rep: &Report, time_ms: u64) -> Sample {
        let mut s = Sample {
            pid: snap.process.pid,
            comm: snap.process.comm.clone(),
            time_ms,
            full: !snap.regions.is_empty(),
            ..Sample::default()
        };
        s.totals = SampleUsage::of(&rep.totals.usage);
        s.categories = rep
            .categories
            .iter()
            .map(|c| SampleRow {
                name: c.category.id().to_owned(),
                usage: SampleUsage::of(&c.usage),
            })
            .collect();
        s.objects = rep
            .objects
            .iter()
            .map(|o| SampleRow {
                name: crate::text::lossy(&o.path).into_owned(),
                usage: SampleUsage::of(&o.usage),
            })
            .collect();
        s.regions = snap
            .regions
            .iter()
            .zip(&cl.classes)
            .map(|(r, c)| SampleRegion {
                start: r.start,
                end: r.end,
                perms: r.perms.to_string(),
                offset: r.offset,
                inode: r.inode,
                path: r.path.raw_lossy(),
                category: c.category.id().to_owned(),
                rss: r.kb(Field::Rss).map(|v| v * 1024),
            })
            .collect();
        s
    }

    /// The series this sample belongs to: pid (or name) and start time.
    pub fn series_key(&self) -> (Option<u32>, Option<&str>, Option<u64>) {
        (self.pid, self.comm.as_deref(), self.start_time)
    }
}

/// The samples of one process run, in time order: same pid, name and start
/// time. A process that restarts (a new start time under the same name or
/// pid) begins a new series.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Series {
    /// Process id.
    pub pid: Option<u32>,
    /// Process name.
    pub comm: Option<String>,
    /// Start time, clock ticks after boot.
    pub start_time: Option<u64>,
    /// The samples, oldest first.
    pub samples: Vec<Sample>,
}

impl Series {
    /// Splits samples (in any order) into series, each in time order; the
    /// series are ordered by their first sample.
    ///
    /// ```
    /// use maplens_core::model::{Sample, Series};
    /// let s = |pid, start, t| Sample { pid: Some(pid), start_time: Some(start), time_ms: t, ..Sample::default() };
    /// let all = vec![s(7, 100, 2), s(7, 100, 1), s(7, 900, 3)]; // restarted as the same pid
    /// let series = Series::split(all);
    /// assert_eq!(series.len(), 2);
    /// assert_eq!(series[0].samples.iter().map(|x| x.time_ms).collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn split(mut samples: Vec<Sample>) -> Vec<Series> {
        samples.sort_by_key(|s| s.time_ms);
        let mut out: Vec<Series> = Vec::new();
        for s in samples {
            let key = (s.pid, s.comm.clone(), s.start_time);
            match out
                .iter_mut()
                .find(|x| (x.pid, x.comm.clone(), x.start_time) == key)
            {
                Some(x) => x.samples.push(s),
                None => out.push(Series {
                    pid: s.pid,
                    comm: s.comm.clone(),
                    start_time: s.start_time,
                    samples: vec![s],
                }),
            }
        }
        out
    }

    /// A label for messages: `name (pid N)`.
    pub fn label(&self) -> String {
        match (&self.comm, self.pid) {
            (Some(c), Some(p)) => format!("{c} (pid {p})"),
            (Some(c), None) => c.clone(),
            (None, Some(p)) => format!("pid {p}"),
            (None, None) => "process".to_owned(),
        }
    }
}
