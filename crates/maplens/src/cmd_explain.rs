//! `maplens explain LINE…`: what each field of a maps line means.

use std::fmt::Write as _;
use std::io::Read;

use anyhow::Context;
use maplens_core::analysis::classify;
use maplens_core::model::Snapshot;
use maplens_core::parse::{
    self, ErrorKind, Field, FieldValue, Header, KNOWN_FLAGS, Mode, PathKind,
};

use crate::cmd_maps::printable_path;
use crate::common::{emit, human};

/// Arguments of `maplens explain`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Example:
  maplens explain '7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0'
  grep libc /proc/self/maps | maplens explain --stdin

Lines given together are explained together, so a library's segments are
recognised as such; smaps text (field lines under a region) is explained too.")]
pub struct Args {
    /// maps (or smaps) lines to explain.
    pub lines: Vec<String>,
    /// Read the lines from standard input.
    #[arg(long)]
    pub stdin: bool,
}

fn perms_words(h: &Header<'_>) -> String {
    let p = h.perms;
    format!(
        "{}, {}, {}, {}",
        if p.read() {
            "r readable"
        } else {
            "- not readable"
        },
        if p.write() {
            "w writable"
        } else {
            "- not writable"
        },
        if p.exec() {
            "x executable"
        } else {
            "- not executable"
        },
        if p.shared() {
            "s shared (MAP_SHARED: writes are seen by every process mapping it)"
        } else {
            "p private (copy-on-write: writes make a private copy)"
        }
    )
}

fn path_words(h: &Header<'_>) -> String {
    let k = h.path.kind();
    let mut s = match k {
        PathKind::Anonymous => "(none): unnamed, anonymous memory".to_owned(),
        PathKind::File => "a file mapped into memory".to_owned(),
        PathKind::ThreadStack(t) => {
            format!("the stack of thread {t} (kernels 3.4 to 4.8)")
        }
        PathKind::SysV(key) => format!("System V shared memory segment, key 0x{key:08x}"),
        PathKind::Memfd(n) => format!("memfd named \"{}\"", String::from_utf8_lossy(n)),
        PathKind::AnonNamed(n) => format!(
            "anonymous memory named \"{}\" by the program",
            String::from_utf8_lossy(n)
        ),
        other => format!("special name ({})", other.tag()),
    };
    if h.path.deleted() {
        s.push_str("; \" (deleted)\": the file was removed (or never had a name) while mapped");
    }
    if h.path.raw().windows(4).any(|w| w == b"\\012") {
        s.push_str("; \\012 is how the kernel writes a newline in a file name");
    }
    s
}

fn dev_words(h: &Header<'_>) -> String {
    let d = h.dev;
    if d.is_none() {
        format!("{d}: major 0, minor 0: no block device (anonymous memory or a pseudo filesystem)")
    } else if d.major == 0 {
        format!(
            "{d}: major 0, minor {}: a filesystem without a device (tmpfs, NFS, overlay, hugetlbfs, …)",
            d.minor
        )
    } else {
        format!(
            "{d}: major {}, minor {}: the block device holding the file (see /proc/partitions)",
            d.major, d.minor
        )
    }
}

/// Explains a whole text (maps or smaps lines).
pub fn explain_text(text: &[u8]) -> anyhow::Result<String> {
    let snap = Snapshot::from_text("input", text, Mode::Lenient)?;
    let cl = classify(&snap);
    let mut out = String::new();
    // Report bad lines with the reason rather than skipping silently.
    for e in parse::Parser::new(text).filter_map(Result::err) {
        let _ = writeln!(out, "line {}: not a maps line: {e}\n", e.line);
        if e.kind == ErrorKind::FieldBeforeHeader {
            let _ = writeln!(out, "  (smaps field lines must follow a region line)\n");
        }
    }
    for e in parse::Parser::new(text).filter_map(Result::ok) {
        let h = &e.header;
        // (A binary search and the entry's own offset: looking both up
        // from the start made a 60,000-region smaps take hours.)
        let Some(r) = snap
            .find(h.start)
            .filter(|&i| snap.regions[i].start == h.start && snap.regions[i].end == h.end)
        else {
            continue;
        };
        let c = &cl.classes[r];
        let line = text.get(e.byte_offset..).unwrap_or_default();
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let _ = writeln!(out, "{}", String::from_utf8_lossy(line));
        let size = h.size();
        let _ = writeln!(
            out,
            "  address   {:x}-{:x}: {} ({} bytes), {} pages of {}",
            h.start,
            h.end,
            human(size, false),
            size,
            size / cl.page_size.max(1),
            human(cl.page_size, false)
        );
        let _ = writeln!(out, "  perms     {}: {}", h.perms, perms_words(h));
        let _ = writeln!(
            out,
            "  offset    {:x}: {}",
            h.offset,
            if h.inode == 0 && h.path.is_empty() {
                "no file; old kernels print the page offset of anonymous memory here".to_owned()
            } else {
                format!("the region starts {} bytes into the file", h.offset)
            }
        );
        let _ = writeln!(out, "  device    {}", dev_words(h));
        let _ = writeln!(
            out,
            "  inode     {}: {}",
            h.inode,
            if h.inode == 0 {
                "not backed by a file".to_owned()
            } else {
                format!("inode number of the file (ls -i, find -inum {})", h.inode)
            }
        );
        let _ = writeln!(
            out,
            "  pathname  {}",
            if h.path.is_empty() {
                path_words(h)
            } else {
                format!("{}: {}", printable_path(h.path.raw()), path_words(h))
            }
        );
        let _ = writeln!(
            out,
            "  kind      {}: {}{}",
            c.category.id(),
            c.note,
            if c.heuristic {
                " (inferred from the layout)"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "  why       rule {}: {}", c.rule, c.evidence);
        if let Some(b) = &e.smaps {
            for f in b.fields() {
                let key = String::from_utf8_lossy(f.key);
                let what = match (Field::from_key(f.key), f.value) {
                    (Some(k), _) => k.doc().to_owned(),
                    (None, FieldValue::Text(t)) if f.key == b"VmFlags" => t
                        .split(|&b| b == b' ')
                        .filter(|c| !c.is_empty())
                        .map(|code| {
                            let name = String::from_utf8_lossy(code);
                            KNOWN_FLAGS
                                .iter()
                                .find(|k| k.code.as_bytes() == code)
                                .map_or_else(
                                    || format!("{name}=unknown flag"),
                                    |k| format!("{name}={}", k.meaning),
                                )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    (None, _) if f.key == b"Name" => {
                        "the name the process gave the region (Android)".into()
                    }
                    (None, _) => {
                        "a field this version of maplens does not know (kept as is)".into()
                    }
                };
                let val = match f.value {
                    FieldValue::Kb(v) => format!("{v} kB"),
                    FieldValue::Number(v) => v.to_string(),
                    FieldValue::Text(t) => String::from_utf8_lossy(t).into_owned(),
                };
                let _ = writeln!(out, "  {key:<15} {val}: {what}");
            }
        }
        out.push('\n');
    }
    if snap.regions.is_empty() && out.is_empty() {
        anyhow::bail!("no maps line to explain");
    }
    Ok(out)
}

/// Runs `explain`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let mut text = Vec::new();
    if args.stdin || args.lines.is_empty() {
        std::io::stdin()
            .lock()
            .read_to_end(&mut text)
            .context("reading standard input")?;
    }
    for l in &args.lines {
        text.extend_from_slice(l.as_bytes());
        text.push(b'\n');
    }
    emit(explain_text(&text)?.as_bytes())
}
