//! Invariants of reading recordings, whatever their bytes. Shared by the
//! `cargo fuzz` targets `recording_jsonl` and `recording_sqlite`
//! (`fuzz/fuzz_targets/`, which include this file by path) and the
//! bounded stable run in `tests/fuzz_regress.rs`.

use std::path::Path;

use maplens_core::model::Sample;
use maplens_core::text::is_hazard;
use maplens_record::RecordError;
use maplens_record::jsonl::{read_bytes, to_line};

/// A one-line message, safe to print: no control, bidi or other hazardous
/// character (a recording may come from anywhere).
fn check_message(m: &str, path: &str) {
    assert!(m.starts_with(path), "error does not name the file: {m:?}");
    assert!(!m.contains('\n'), "error spans lines: {m:?}");
    assert!(!m.chars().any(is_hazard), "hazardous character in {m:?}");
}

/// Panics (with a message) when an invariant does not hold: no panic; an
/// error names the file and a line that is really not a sample; every
/// line that is a sample is read, in order; what is read, written again
/// (terminal-safe lines), reads back the same.
pub fn check_jsonl(input: &[u8]) {
    let path = Path::new("fuzz.jsonl");
    let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let blank = |l: &[u8]| l.iter().all(u8::is_ascii_whitespace);
    match read_bytes(path, input) {
        Err(e) => {
            check_message(&e.to_string(), "fuzz.jsonl");
            let RecordError::BadLine { line, .. } = e else {
                panic!("not a BadLine: {e:?}");
            };
            assert!(
                line >= 1 && line <= lines.len(),
                "line {line} of {}",
                lines.len()
            );
            assert!(e.to_string().contains(&format!(": line {line}: ")));
            let bad = lines[line - 1];
            assert!(!blank(bad), "blank line {line} named");
            assert!(
                serde_json::from_slice::<Sample>(bad).is_err(),
                "line {line} is a sample"
            );
            // Every line before it is blank or a sample.
            for l in &lines[..line - 1] {
                assert!(blank(l) || serde_json::from_slice::<Sample>(l).is_ok());
            }
        }
        Ok(samples) => {
            let each: Vec<Sample> = lines
                .iter()
                .filter(|l| !blank(l))
                .filter_map(|l| serde_json::from_slice::<Sample>(l).ok())
                .collect();
            assert_eq!(samples, each, "not every sample line, in order");
            round_trip(&samples);
        }
    }
}

/// Written as `watch --record` writes them, the samples read back the same,
/// one terminal-safe line each.
pub fn round_trip(samples: &[Sample]) {
    let mut text = Vec::new();
    for s in samples {
        let at = text.len();
        to_line(&mut text, s);
        let line = &text[at..];
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(line.ends_with(b"\n"));
        let line = std::str::from_utf8(line).expect("UTF-8 line");
        assert!(
            !line[..line.len() - 1].chars().any(is_hazard),
            "hazard in {line:?}"
        );
    }
    let back = read_bytes(Path::new("again.jsonl"), &text).expect("written lines read back");
    assert_eq!(back, samples, "round trip");
}

/// Panics (with a message) when an invariant does not hold, for `input` as
/// a file that claims to be a SQLite recording: no panic; a clear one-line
/// error naming the file, or samples; the file is never changed, and no
/// journal or WAL is left beside it.
#[cfg(feature = "sqlite")]
pub fn check_sqlite(input: &[u8]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fuzz.db");
    std::fs::write(&path, input).expect("write the input");
    let name = path.display().to_string();
    for result in [
        maplens_record::sqlite::read(&path),
        maplens_record::read(&path),
    ] {
        match result {
            Ok(samples) => {
                for s in &samples {
                    assert!(s.regions.windows(2).all(|w| w[0].start <= w[1].start));
                }
            }
            Err(e) => check_message(&e.to_string(), &name),
        }
        let now = std::fs::read(&path).expect("the input is still there");
        assert!(
            now == input,
            "the recording was modified ({} bytes, was {})",
            now.len(),
            input.len()
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["fuzz.db"], "files left beside the recording");
    }
}
