//! `maplens explain`: what each field of a maps (or smaps) line means, in
//! words, for the lines given together.

use std::fmt::Write as _;

use maplens_core::analysis::classify;
use maplens_core::model::Snapshot;
use maplens_core::parse::{
    self, ErrorKind, Field, FieldValue, Header, KNOWN_FLAGS, Mode, PathKind,
};

use super::{count, human, term, term_bytes};

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
        } else if p.write() {
            "p private (copy-on-write: a write makes a private copy of the page)"
        } else {
            "p private (MAP_PRIVATE; not writable as mapped, so nothing is copied)"
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
        PathKind::Memfd(n) => format!("memfd named \"{}\"", term_bytes(n)),
        PathKind::AnonNamed(n) => format!(
            "anonymous memory named \"{}\" by the program",
            term_bytes(n)
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

/// Explains a whole text (maps or smaps lines). Lines that are not maps
/// lines are described in the returned notes (for standard error); a text
/// with no maps line at all is an error naming the first bad line.
/// `page_size` is the page size the user gave; without it, and without
/// smaps' `KernelPageSize`, pages are not counted (one line cannot tell).
pub fn explain_text(text: &[u8], page_size: Option<u64>) -> anyhow::Result<(String, Vec<String>)> {
    let snap = Snapshot::from_text("input", text, Mode::Lenient)?;
    let cl = classify(&snap);
    let mut out = String::new();
    // Report bad lines with the reason rather than skipping silently.
    let mut notes = Vec::new();
    for e in parse::Parser::new(text).filter_map(Result::err) {
        let mut n = format!("line {}: not a maps line: {}", e.line, term(&e.to_string()));
        if e.kind == ErrorKind::FieldBeforeHeader {
            n.push_str(" (smaps field lines must follow a region line)");
        }
        notes.push(n);
    }
    if snap.regions.is_empty() {
        match notes.first() {
            Some(n) => anyhow::bail!("{n}"),
            None => anyhow::bail!("no maps line to explain"),
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
        let _ = writeln!(out, "{}", term_bytes(line));
        let size = h.size();
        let kernel_page = e
            .smaps
            .as_ref()
            .and_then(|b| b.known.get(Field::KernelPageSize))
            .map(|kb| kb * 1024);
        let pages = match page_size.or(kernel_page) {
            Some(p) if p > 0 => format!(
                "{} of {}",
                count(size / p, "page", "pages"),
                human(p, false)
            ),
            _ => "page size unknown from maps text (--page-size counts pages)".to_owned(),
        };
        let _ = writeln!(
            out,
            "  address   0x{:x}-0x{:x}: {} ({}), {pages}",
            h.start,
            h.end,
            human(size, false),
            count(size, "byte", "bytes"),
        );
        let _ = writeln!(out, "  perms     {}: {}", h.perms, perms_words(h));
        let _ = writeln!(
            out,
            "  offset    0x{:x}: {}",
            h.offset,
            if h.inode == 0 && matches!(h.path.kind(), PathKind::File) {
                format!(
                    "{} into the file (a file on a filesystem without inode numbers)",
                    count(h.offset, "byte", "bytes")
                )
            } else if h.inode == 0 {
                "no file; old kernels print the page offset of anonymous memory here".to_owned()
            } else {
                format!(
                    "the region starts {} into the file",
                    count(h.offset, "byte", "bytes")
                )
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
                // The decoded name, escaped: a newline shows as the
                // kernel's `\012`, and a backslash as `\\`.
                format!(
                    "{}{}: {}",
                    term_bytes(&h.path.decoded()),
                    if h.path.deleted() { " (deleted)" } else { "" },
                    path_words(h)
                )
            }
        );
        let _ = writeln!(
            out,
            "  kind      {}: {}{}",
            c.category.id(),
            term(&c.note),
            if c.heuristic {
                " (inferred from the layout)"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "  why       rule {}: {}", c.rule, term(&c.evidence));
        if let Some(b) = &e.smaps {
            for f in b.fields() {
                let key = term_bytes(f.key);
                let what = match (Field::from_key(f.key), f.value) {
                    (Some(k), _) => k.doc().to_owned(),
                    (None, FieldValue::Text(t)) if f.key == b"VmFlags" => t
                        .split(|&b| b == b' ')
                        .filter(|c| !c.is_empty())
                        .map(|code| {
                            let name = term_bytes(code);
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
                    FieldValue::Text(t) => term_bytes(t).into_owned(),
                };
                let _ = writeln!(out, "  {key:<15} {val}: {what}");
            }
        }
        out.push('\n');
    }
    Ok((out, notes))
}
