//! # maplens-record
//!
//! Recordings of [`Sample`]s: what `maplens watch --record` writes and what
//! `diff`, `leaks` and `plot` read.
//!
//! Two formats, one API:
//!
//! * **SQLite** ([`sqlite`], with the `sqlite` feature): one file holds the
//!   samples of any number of processes, each sample written in one
//!   transaction in WAL mode, so a `kill -9` or a power loss loses at most
//!   the sample being written. The schema is in `docs/recordings.md`.
//! * **JSON Lines** ([`jsonl`], always): one sample a line, what the lite
//!   device build records; every build reads it.
//!
//! [`Format::of_path`] picks the format (an existing file by its first
//! bytes, a new one by its extension: `.db`, `.sqlite`, `.sqlite3` are
//! SQLite), [`open_writer`] appends to a recording and [`read`] reads every
//! sample back. [`Pick`] names one sample of a recording (`@first`, `@-1`,
//! `@3`, `@2026-12-01T03:00`). The crate does no analysis.
//!
//! ```
//! use maplens_core::model::Sample;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("rec.jsonl");
//! let mut w = maplens_record::open_writer(&path).unwrap();
//! w.write(&Sample { time_ms: 1000, ..Sample::default() }).unwrap();
//! w.write(&Sample { time_ms: 2000, ..Sample::default() }).unwrap();
//! let back = maplens_record::read(&path).unwrap();
//! assert_eq!(back.len(), 2);
//! assert_eq!(back[1].time_ms, 2000);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io;
use std::path::{Path, PathBuf};

use maplens_core::model::Sample;

pub mod jsonl;
mod pick;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use pick::{Pick, parse_time};

/// Why a recording could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Opening, reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The recording.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A line of a JSON Lines recording is not a sample.
    #[error(
        "{path}: line {line}: not a maplens sample ({message}); expected one JSON object a line, as `maplens watch --record FILE.jsonl` writes"
    )]
    BadLine {
        /// The recording.
        path: PathBuf,
        /// Line number, from 1.
        line: usize,
        /// What the JSON decoder said.
        message: String,
    },
    /// The SQLite library refused.
    #[error("{path}: {message}")]
    Sqlite {
        /// The recording.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// A SQLite recording met by a build without SQLite.
    #[error(
        "{0}: a SQLite recording, and this maplens was built without SQLite (the lite build); \
         read it with the full build, or record JSON Lines (a .jsonl file)"
    )]
    NoSqlite(PathBuf),
    /// The file is neither kind of recording.
    #[error("{0}: not a maplens recording (neither SQLite nor JSON Lines of samples)")]
    NotRecording(PathBuf),
    /// A pick (`@…`) named no sample.
    #[error("{path}: {message}")]
    Pick {
        /// The recording.
        path: PathBuf,
        /// What is wrong, and what the recording holds.
        message: String,
    },
}

/// The two kinds of recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// SQLite, schema in `docs/recordings.md`.
    Sqlite,
    /// One JSON sample a line.
    JsonLines,
}

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

impl Format {
    /// The format of a recording: an existing, non-empty file by its first
    /// bytes, a new one by its extension (`.db`, `.sqlite`, `.sqlite3`:
    /// SQLite; anything else: JSON Lines).
    pub fn of_path(path: &Path) -> Format {
        if let Some(head) = head(path)
            && !head.is_empty()
        {
            return if head.starts_with(SQLITE_MAGIC) {
                Format::Sqlite
            } else {
                Format::JsonLines
            };
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("db" | "sqlite" | "sqlite3") => Format::Sqlite,
            _ => Format::JsonLines,
        }
    }
}

fn head(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 64];
    let n = f.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// True when `path` is an existing file that looks like a recording: a
/// SQLite database, or text whose first line is a JSON object with a
/// `time_ms` key. (A capture bundle or a maps file is not.)
pub fn is_recording(path: &Path) -> bool {
    let Some(head) = head(path) else {
        return false;
    };
    if head.starts_with(SQLITE_MAGIC) {
        return true;
    }
    if !head.starts_with(b"{") {
        return false;
    }
    use std::io::{BufRead, Read};
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut line = String::new();
    let _ = io::BufReader::new(f).take(1 << 24).read_line(&mut line);
    serde_json::from_str::<serde_json::Value>(&line)
        .is_ok_and(|v| v.get("time_ms").is_some_and(|t| t.is_u64()))
}

/// Where samples go.
pub trait Writer {
    /// Appends one sample; when this returns, the sample is in the file
    /// (for SQLite: committed).
    fn write(&mut self, sample: &Sample) -> Result<(), RecordError>;
}

/// Opens a recording for appending (creating it), in the format of
/// [`Format::of_path`].
pub fn open_writer(path: &Path) -> Result<Box<dyn Writer>, RecordError> {
    match Format::of_path(path) {
        Format::JsonLines => Ok(Box::new(jsonl::JsonlWriter::open(path)?)),
        #[cfg(feature = "sqlite")]
        Format::Sqlite => Ok(Box::new(sqlite::SqliteWriter::open(path)?)),
        #[cfg(not(feature = "sqlite"))]
        Format::Sqlite => Err(RecordError::NoSqlite(path.to_owned())),
    }
}

/// Reads every sample of a recording, in the order written.
pub fn read(path: &Path) -> Result<Vec<Sample>, RecordError> {
    if !path.is_file() {
        return Err(RecordError::Io {
            path: path.to_owned(),
            source: io::Error::new(io::ErrorKind::NotFound, "no such recording"),
        });
    }
    match Format::of_path(path) {
        Format::JsonLines => jsonl::read(path),
        #[cfg(feature = "sqlite")]
        Format::Sqlite => sqlite::read(path),
        #[cfg(not(feature = "sqlite"))]
        Format::Sqlite => Err(RecordError::NoSqlite(path.to_owned())),
    }
}
