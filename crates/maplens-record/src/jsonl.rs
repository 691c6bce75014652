//! JSON Lines recordings: one [`Sample`] a line, appended.
//!
//! A line is written with one `write` to a file opened for appending, so a
//! writer killed mid-sample leaves at most a truncated last line, which
//! [`read`] skips. Strings are escaped so that `cat`ing a recording to a
//! terminal cannot move the cursor: control, DEL, C1 and bidirectional
//! characters become `\uXXXX` (the decoded strings are exact).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use maplens_core::model::Sample;

use crate::{RecordError, Writer};

/// Appends samples to a JSON Lines file.
#[derive(Debug)]
pub struct JsonlWriter {
    path: PathBuf,
    file: File,
    line: Vec<u8>,
}

impl JsonlWriter {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<JsonlWriter, RecordError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| RecordError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(JsonlWriter {
            path: path.to_owned(),
            file,
            line: Vec::new(),
        })
    }
}

impl Writer for JsonlWriter {
    fn write(&mut self, sample: &Sample) -> Result<(), RecordError> {
        self.line.clear();
        to_line(&mut self.line, sample);
        self.file
            .write_all(&self.line)
            .map_err(|source| RecordError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// One sample as a terminal-safe JSON line, newline included.
///
/// ```
/// use maplens_core::model::Sample;
/// let s = Sample { comm: Some("evil\u{1b}[2J".into()), ..Sample::default() };
/// let mut line = Vec::new();
/// maplens_record::jsonl::to_line(&mut line, &s);
/// let text = String::from_utf8(line).unwrap();
/// assert!(text.contains(r"evil\u001b[2J") && text.ends_with("}\n"));
/// ```
pub fn to_line(out: &mut Vec<u8>, sample: &Sample) {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, SafeCompact);
    // Serialising plain data into a Vec cannot fail.
    let _ = serde::Serialize::serialize(sample, &mut ser);
    out.push(b'\n');
}

/// serde_json's compact layout, with hazardous characters of strings
/// written as `\uXXXX` ([`maplens_core::text::is_hazard`]).
pub struct SafeCompact;

impl serde_json::ser::Formatter for SafeCompact {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        maplens_core::text::write_json_fragment(w, fragment)
    }
}

/// Reads every sample of a JSON Lines recording. Blank lines are skipped,
/// and so is a last line without its newline that does not parse (a
/// writer killed mid-line); any other bad line is an error naming it.
pub fn read(path: &Path) -> Result<Vec<Sample>, RecordError> {
    let text = std::fs::read(path).map_err(|source| RecordError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_bytes(path, &text)
}

/// [`read`] of a recording already in memory; `path` names it in errors.
///
/// ```
/// use std::path::Path;
/// let text = b"{\"time_ms\":1,\"full\":false,\"totals\":{\"regions\":0,\"size\":0}}\n{\"tim";
/// let s = maplens_record::jsonl::read_bytes(Path::new("r.jsonl"), text).unwrap();
/// assert_eq!(s.len(), 1);
/// let e = maplens_record::jsonl::read_bytes(Path::new("r.jsonl"), b"\n[]\n").unwrap_err();
/// assert!(e.to_string().starts_with("r.jsonl: line 2: not a maplens sample"));
/// ```
pub fn read_bytes(path: &Path, text: &[u8]) -> Result<Vec<Sample>, RecordError> {
    let complete = text.ends_with(b"\n");
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Sample>(line) {
            Ok(s) => out.push(s),
            Err(_) if i == lines.len() - 1 && !complete => {}
            Err(e) => {
                return Err(RecordError::BadLine {
                    path: path.to_owned(),
                    line: i + 1,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_last_line_is_skipped_bad_middle_line_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.jsonl");
        let mut w = JsonlWriter::open(&p).unwrap();
        for t in 1..=3 {
            w.write(&Sample {
                time_ms: t,
                ..Sample::default()
            })
            .unwrap();
        }
        let mut text = std::fs::read(&p).unwrap();
        let whole = text.len();
        text.extend_from_slice(b"{\"pid\":1,\"time_");
        std::fs::write(&p, &text).unwrap();
        assert_eq!(read(&p).unwrap().len(), 3);
        text.truncate(whole);
        text.extend_from_slice(
            b"nonsense\n{\"time_ms\":9,\"full\":false,\"totals\":{\"regions\":0,\"size\":0}}\n",
        );
        std::fs::write(&p, &text).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("line 4: not a maplens sample"), "{e}");
    }
}
