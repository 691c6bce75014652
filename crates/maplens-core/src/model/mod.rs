//! Owned, comparable, storable records: [`Region`] and [`Snapshot`].
//!
//! A snapshot is what maplens knows about one process at one moment: its
//! regions, the optional `smaps_rollup` totals and process details, plus the
//! notes on anything odd met while reading (skipped lines, overlapping
//! regions from a process that changed while it was read). Every figure
//! keeps the line of kernel text it came from ([`Region::line`]).

pub mod elf;
mod history;
mod region;
mod sample;
mod sink;
pub mod system;

pub use elf::ElfObject;
pub use history::History;
pub use region::{ExtraValue, Region, RegionPath, Smaps, SparseValues};
pub use sample::{Sample, SampleCost, SampleLimits, SampleRegion, SampleRow, SampleUsage, Series};
pub use sink::TextSink;
pub use system::SystemInfo;

use crate::parse::{Format, Mode, ParseError};

/// Something worth telling the user about how the snapshot was read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "kebab-case"))]
pub enum Notice {
    /// Malformed lines were skipped (lenient mode).
    SkippedLines {
        /// Which file.
        file: String,
        /// How many.
        count: usize,
        /// The first one, as a message.
        first: String,
    },
    /// A region overlapped or repeated an earlier one: the process changed
    /// its mappings while the kernel printed them. The later one was kept.
    Overlap {
        /// Which file.
        file: String,
        /// Line of the later (kept) region.
        line: usize,
        /// How many earlier regions it replaced.
        replaced: usize,
    },
    /// Lines added by another tool (e.g. HotSpot's hs_err trailer) skipped.
    ForeignLines {
        /// Which file.
        file: String,
        /// How many.
        count: usize,
    },
    /// Anything else, in words.
    Other {
        /// What happened.
        message: String,
    },
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::SkippedLines { file, count, first } => {
                write!(
                    f,
                    "{file}: skipped {}; first: {first}",
                    crate::text::plural(*count, "malformed line", "malformed lines")
                )
            }
            Notice::Overlap {
                file,
                line,
                replaced,
            } => write!(
                f,
                "{file}: line {line}: region overlaps {}; the process changed \
                 while it was read, kept the later one",
                crate::text::plural(*replaced, "earlier one", "earlier ones")
            ),
            Notice::ForeignLines { file, count } => {
                write!(
                    f,
                    "{file}: ignored {} added by another tool",
                    crate::text::plural(*count, "line", "lines")
                )
            }
            Notice::Other { message } => f.write_str(message),
        }
    }
}

/// One thread of a live (or captured) process.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ThreadInfo {
    /// Thread id.
    pub tid: u32,
    /// `/proc/PID/task/TID/comm`, without the newline.
    pub comm: Option<String>,
    /// Stack pointer from `/proc/PID/task/TID/syscall`, when readable and the
    /// thread was blocked in a system call.
    pub sp: Option<u64>,
    /// Raw text of `syscall` (`running`, `-1 …`, or the numbers).
    pub syscall: Option<String>,
}

/// What is known of the process the snapshot is of.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProcessInfo {
    /// Process id, when known.
    pub pid: Option<u32>,
    /// `comm` (the kernel's 15-byte name).
    pub comm: Option<String>,
    /// `cmdline`, split at NULs; arguments may hold any bytes (lossy here).
    pub cmdline: Vec<String>,
    /// `status` lines as `(key, value)`, in order.
    pub status: Vec<(String, String)>,
    /// Threads, when read.
    pub threads: Vec<ThreadInfo>,
    /// Resource limits (`/proc/PID/limits`), when read.
    pub limits: Vec<Limit>,
}

/// One line of `/proc/PID/limits`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Limit {
    /// The limit's name as printed (`Max stack size`).
    pub name: String,
    /// Soft limit; `None`: unlimited.
    pub soft: Option<u64>,
    /// Hard limit; `None`: unlimited.
    pub hard: Option<u64>,
    /// Units (`bytes`, `processes`, …), when printed.
    pub units: Option<String>,
}

impl Limit {
    /// Parses `/proc/PID/limits` text (a header line, then a 25-column name
    /// and the soft, hard and units columns); lines that do not fit are
    /// skipped.
    ///
    /// ```
    /// use maplens_core::model::Limit;
    /// let t = b"Limit                     Soft Limit           Hard Limit           Units     \n\
    ///           Max stack size            8388608              unlimited            bytes     \n\
    ///           Max nice priority         0                    0                    \n";
    /// let l = Limit::parse(t);
    /// assert_eq!(l.len(), 2);
    /// assert_eq!((l[0].name.as_str(), l[0].soft, l[0].hard), ("Max stack size", Some(8388608), None));
    /// assert_eq!(l[0].units.as_deref(), Some("bytes"));
    /// assert_eq!(l[1].units, None);
    /// ```
    pub fn parse(text: &[u8]) -> Vec<Limit> {
        const NAME: usize = 25;
        let value = |w: &str| w.parse().ok();
        text.split(|&b| b == b'\n')
            .skip(1)
            .filter_map(|l| {
                let l = std::str::from_utf8(l).ok()?;
                let name = l.get(..NAME)?.trim();
                let mut w = l.get(NAME..)?.split_whitespace();
                let (soft, hard) = (w.next()?, w.next()?);
                let ok = |v: &str| v == "unlimited" || v.bytes().all(|b| b.is_ascii_digit());
                (!name.is_empty() && ok(soft) && ok(hard)).then(|| Limit {
                    name: name.to_owned(),
                    soft: value(soft),
                    hard: value(hard),
                    units: w.next().map(str::to_owned),
                })
            })
            .collect()
    }
}

impl ProcessInfo {
    /// A resource limit by name (`Max stack size`, `Max address space`).
    pub fn limit(&self, name: &str) -> Option<&Limit> {
        self.limits.iter().find(|l| l.name == name)
    }

    /// A `status` value by key (`VmRSS`, `Uid`, …).
    pub fn status(&self, key: &str) -> Option<&str> {
        self.status
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Parses `status` text.
    pub fn parse_status(text: &[u8]) -> Vec<(String, String)> {
        text.split(|&b| b == b'\n')
            .filter_map(|l| {
                let c = memchr::memchr(b':', l)?;
                let k = String::from_utf8_lossy(&l[..c]).into_owned();
                let v = String::from_utf8_lossy(&l[c + 1..]).trim().to_owned();
                Some((k, v))
            })
            .collect()
    }
}

/// Everything known about one process at one moment.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Snapshot {
    /// Where the data came from, in words (`/proc/1234`, a file path, …).
    pub origin: String,
    /// The format of the region text: smaps gives residency, maps does not.
    pub format: Option<Format>,
    /// The regions, sorted by address, without overlaps.
    pub regions: Vec<Region>,
    /// `smaps_rollup` totals, when read.
    pub rollup: Option<Smaps>,
    /// The process, when known.
    pub process: ProcessInfo,
    /// Odd things met while reading.
    pub notices: Vec<Notice>,
    /// The smaps keys of the first region, in the order the kernel printed
    /// them (known and unknown; `VmFlags` included). Kernels differ in order
    /// and set, and renderers that mimic other tools need it.
    pub smaps_keys: Vec<String>,
    /// The facts of the system the process ran on, read with it: from the
    /// running system for a live target, from the bundle for a captured one;
    /// `None` for a saved maps or smaps file (or a copied `/proc/PID`).
    pub system: Option<SystemInfo>,
    /// The program headers of mapped ELF objects, sorted by address: read
    /// from the files for a live process, from the record of a bundle;
    /// empty when unknown (saved maps text), and then segments are told
    /// apart by their layout alone.
    pub elf: Vec<ElfObject>,
}

/// Why a snapshot could not be built from text.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {error}")]
pub struct TextError {
    /// Name of the file (for the message).
    pub file: String,
    /// The first malformed line.
    pub error: ParseError,
}

impl Snapshot {
    /// True when the regions carry smaps residency figures.
    pub fn has_residency(&self) -> bool {
        self.format == Some(Format::Smaps)
    }

    /// Parses maps, smaps or smaps_rollup text into a snapshot.
    ///
    /// `file` names the text in messages. Overlapping or repeated regions
    /// (a process that changed while read) keep the later one and add a
    /// [`Notice::Overlap`].
    ///
    /// ```
    /// use maplens_core::model::Snapshot;
    /// use maplens_core::parse::Mode;
    /// let text = b"00400000-00402000 r-xp 00000000 08:01 7 /bin/x\n\
    ///              00400000-00403000 r-xp 00000000 08:01 7 /bin/x\n";
    /// let s = Snapshot::from_text("maps", text, Mode::Lenient).unwrap();
    /// assert_eq!(s.regions.len(), 1);
    /// assert_eq!(s.regions[0].end, 0x403000);
    /// assert_eq!(s.notices.len(), 1);
    /// ```
    pub fn from_text(file: &str, text: &[u8], mode: Mode) -> Result<Snapshot, TextError> {
        let mut snap = Snapshot {
            origin: file.to_owned(),
            ..Snapshot::default()
        };
        snap.add_text(file, text, mode)?;
        Ok(snap)
    }

    /// Adds the regions (or the rollup) of a text to this snapshot.
    ///
    /// Each parsed entry becomes a [`Region`] as soon as it is read and is
    /// then dropped: the parser's records of a whole smaps text (a boxed
    /// block per region) are never all held at once.
    pub fn add_text(&mut self, file: &str, text: &[u8], mode: Mode) -> Result<(), TextError> {
        let mut sink = TextSink::new(file, mode).with_size_hint(text.len());
        sink.parse(text)?;
        sink.finish(self)
    }

    /// Total virtual size in bytes (Σ end − start).
    pub fn vsz(&self) -> u64 {
        self.regions.iter().map(Region::size).sum()
    }

    /// Index of the region containing `addr`.
    pub fn find(&self, addr: u64) -> Option<usize> {
        let i = self.regions.partition_point(|r| r.end <= addr);
        (i < self.regions.len() && self.regions[i].start <= addr).then_some(i)
    }
}

/// Default mode for parsing: lenient.
pub const DEFAULT_MODE: Mode = Mode::Lenient;
