//! Where samples come from, for `watch`, `diff`, `baseline`, `leaks` and
//! `plot`: a recording (`rec.db`, `rec.jsonl`, `rec.db@-1`,
//! `rec.db:PID@first`), a live process (one sample through
//! `maplens_core::source::collect`), or anything else a TARGET can be (a
//! file, a directory, a bundle), read once. Also the duration words
//! (`5s`, `100ms`, `8h`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use maplens_core::model::{Sample, Series};
use maplens_core::source::collect::{Collector, Policy};
use maplens_core::source::{self, Target};
#[cfg(feature = "html")]
use maplens_core::{model::Snapshot, parse::Mode};
use maplens_record::Pick;

/// A duration given on the command line: `250ms`, `5s`, `2m`, `8h`, `1d`,
/// or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{text}': expected a duration like 500ms, 5s, 2m, 8h"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        "d" => v * 86400.0,
        _ => return Err(format!("'{text}': unknown unit '{unit}' (ms, s, m, h, d)")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(format!("'{text}': a duration must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A recording named on the command line, with the pick after `@` and the
/// process after `:`.
#[derive(Debug)]
pub struct RecordingRef {
    /// The file.
    pub path: PathBuf,
    /// `:PID`.
    pub pid: Option<u32>,
    /// `@PICK`.
    pub pick: Option<Pick>,
}

/// Reads `word` as a recording reference when its file part is a
/// recording: `FILE`, `FILE@PICK`, `FILE:PID`, `FILE:PID@PICK`. The word is
/// bytes, as the shell gave it: a file name need not be UTF-8.
pub fn recording_ref(word: &OsStr) -> anyhow::Result<Option<RecordingRef>> {
    let bytes = word.as_bytes();
    let os = OsStr::from_bytes;
    let (rest, pick) = match bytes.iter().rposition(|&b| b == b'@') {
        Some(i) if !Path::new(word).exists() => (&bytes[..i], Some(&bytes[i + 1..])),
        _ => (bytes, None),
    };
    let (file, pid) = match rest.iter().rposition(|&b| b == b':') {
        Some(i)
            if !Path::new(os(rest)).exists()
                && i + 1 < rest.len()
                && rest[i + 1..].iter().all(u8::is_ascii_digit) =>
        {
            let digits = std::str::from_utf8(&rest[i + 1..]).unwrap_or_default();
            (&rest[..i], Some(digits.parse().context("PID too large")?))
        }
        _ => (rest, None),
    };
    let path = Path::new(os(file));
    if !maplens_record::is_recording(path) {
        if pick.is_some() && path.is_file() {
            bail!(
                "{}: not a maplens recording, so '@…' picks nothing in it",
                path.display()
            );
        }
        return Ok(None);
    }
    let pick = match pick {
        Some(p) => {
            let text = String::from_utf8_lossy(p);
            Some(Pick::parse(&text).with_context(|| {
                format!(
                    "{}: '@{}' names no sample; use @first, @last, @N, @-N or @YYYY-MM-DDTHH:MM",
                    word.to_string_lossy(),
                    text
                )
            })?)
        }
        None => None,
    };
    Ok(Some(RecordingRef {
        path: path.to_owned(),
        pid,
        pick,
    }))
}

/// Every series of a recording (or of its `:PID`).
pub fn read_series(r: &RecordingRef) -> anyhow::Result<Vec<Series>> {
    let samples = maplens_record::read(&r.path)?;
    if samples.is_empty() {
        bail!("{}: the recording holds no sample", r.path.display());
    }
    let all = Series::split(samples);
    let pids: Vec<String> = all
        .iter()
        .map(|s| s.pid.map_or("?".into(), |p| p.to_string()))
        .collect();
    let series: Vec<Series> = all
        .into_iter()
        .filter(|s| r.pid.is_none() || s.pid == r.pid)
        .collect();
    if series.is_empty() {
        bail!(
            "{}: holds no process {}; it holds: {}",
            r.path.display(),
            r.pid.unwrap_or(0),
            pids.join(", ")
        );
    }
    Ok(series)
}

/// The sample a recording reference names: the full sample picked (the
/// last one without `@`) of its one series.
pub fn pick_sample(r: &RecordingRef) -> anyhow::Result<Sample> {
    let mut series = read_series(r)?;
    if series.len() > 1 {
        let names: Vec<String> = series.iter().map(Series::label).collect();
        bail!(
            "{} holds {} process runs ({}); name one as {}:PID@…",
            r.path.display(),
            series.len(),
            names.join(", "),
            r.path.display()
        );
    }
    let full: Vec<Sample> = series
        .remove(0)
        .samples
        .into_iter()
        .filter(|s| s.full)
        .collect();
    let pick = r.pick.clone().unwrap_or(Pick::Index(-1));
    match pick.choose(&full) {
        Some(i) => Ok(full[i].clone()),
        None => bail!(
            "{}: {pick:?} names no sample; it holds {} full samples",
            r.path.display(),
            full.len()
        ),
    }
}

/// Resolves a live target word (PID or process name) to a PID; `None` for
/// anything else.
pub fn live_pid(word: &OsStr, proc_root: &Path) -> anyhow::Result<Option<u32>> {
    match Target::parse_os(word) {
        Target::Pid(p) => Ok(Some(p)),
        Target::Name(n) => Ok(Some(source::find_by_name(proc_root, &n)?)),
        _ => Ok(None),
    }
}

/// One full sample of any side of a `diff`: a recording reference, a live
/// process, or a file, directory or bundle.
pub fn load_sample(word: &OsStr, opts: &source::Options) -> anyhow::Result<Sample> {
    if let Some(r) = recording_ref(word)? {
        return pick_sample(&r);
    }
    if let Some(pid) = live_pid(word, &opts.proc_root)? {
        let policy = Policy {
            always_full: true,
            ..Policy::default()
        };
        return Ok(Collector::new(pid, opts.clone(), policy).sample()?);
    }
    let snap = source::load(&Target::parse_os(word), opts)?;
    // (A rollup alone gives a sample of totals only: `full` is false.)
    Ok(Sample::from_snapshot(&snap, 0, true))
}

/// The regions of a full sample as a snapshot, for the commands that
/// take a recording as their target (`maplens html rec.db`): each region as
/// an smaps entry with its size and, when recorded, its Rss (the only smaps
/// figure a sample keeps), and the sample's pid and name. Classification is
/// left to the caller, as for any other snapshot.
#[cfg(feature = "html")]
pub fn snapshot_of_sample(sample: &Sample, origin: &str) -> anyhow::Result<Snapshot> {
    use std::fmt::Write as _;
    let mut text = String::new();
    for r in &sample.regions {
        let _ = writeln!(
            text,
            "{:x}-{:x} {} {:08x} 00:00 {} {}",
            r.start, r.end, r.perms, r.offset, r.inode, r.path
        );
        let _ = writeln!(text, "Size: {} kB", r.size() / 1024);
        if let Some(rss) = r.rss {
            let _ = writeln!(text, "Rss: {} kB", rss / 1024);
        }
    }
    let mut snap = Snapshot::from_text("smaps", text.as_bytes(), Mode::Lenient)
        .with_context(|| format!("{origin}: the recorded regions do not read back"))?;
    snap.origin = origin.to_owned();
    snap.process.pid = sample.pid;
    snap.process.comm = sample.comm.clone();
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
