//! `maplens maps TARGET`: one row per region, with its kind and a note.

use crate::pattern::{Pattern, PermPattern};
use std::fmt::Write as _;

use anyhow::{Context, bail};
use maplens_core::analysis::{Category, Class, Classified, classify};
use maplens_core::model::{Region, Snapshot};
use maplens_core::parse::{Field, PathKind};
use serde_json::{Value, json};

use crate::common::{Format, TargetArgs, emit, human};
use crate::render::{JSON_SCHEMA_VERSION, csv, plain_table};

/// Arguments of `maplens maps`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Filters combine: a region is shown when it passes all of them.
  --perm rw      readable and writable (prefix of rwxp; '?' matches anything)
  --perm ??xp    executable and private
  --kind thread-stack,guard-page   by category or by name kind (see below)
  --addr 7f00a000            the region holding that address
  --addr 7f00a000-7f00f000   regions overlapping that range
  --path 'libc|ld-linux'     regex on the decoded path

Kinds (categories): code read-only-data relro writable-data bss heap malloc-arena thread-stack
  main-stack guard-page reservation linker-gap anon-mmap named-anon shared-memory mapped-file
  device kernel hugetlb writable-exec
Kinds (names): anonymous file heap stack thread-stack vdso vvar vvar-vclock vsyscall vectors
  sigpage uprobes anon-named anon-shmem-named memfd sysv-shm shared-anon anon-hugepage
  anon-inode other-special other"
)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Only regions whose permissions match this pattern.
    #[arg(long, value_name = "PATTERN", allow_hyphen_values = true)]
    pub perm: Option<String>,
    /// Only regions of these kinds (comma-separated, repeatable).
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Only regions holding an address, or overlapping a range A-B (hex).
    #[arg(long, value_name = "A[-B]")]
    pub addr: Option<String>,
    /// Only regions whose decoded path matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub path: Option<String>,
    /// Exact byte counts instead of human units.
    #[arg(long)]
    pub bytes: bool,
    /// Show why each region was classified (rule and evidence).
    #[arg(long)]
    pub explain: bool,
}

fn parse_hex(s: &str) -> anyhow::Result<u64> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    u64::from_str_radix(t, 16).with_context(|| format!("--addr: '{s}' is not a hex address"))
}

/// A region filter built from the arguments.
struct Filter {
    perm: Option<PermPattern>,
    kinds: Vec<String>,
    addr: Option<(u64, u64)>,
    path: Option<Pattern>,
}

impl Filter {
    fn new(a: &Args) -> anyhow::Result<Filter> {
        let perm = a.perm.as_deref().map(PermPattern::new).transpose()?;
        for k in &a.kind {
            if Category::from_id(k).is_none() && !PathKind::ALL_TAGS.contains(&k.as_str()) {
                bail!("--kind: unknown kind '{k}' (see `maplens maps --help` for the list)");
            }
        }
        let addr = match &a.addr {
            Some(s) => Some(match s.split_once('-') {
                Some((x, y)) => {
                    let (x, y) = (parse_hex(x)?, parse_hex(y)?);
                    if y <= x {
                        bail!("--addr: the range {s} is empty");
                    }
                    (x, y)
                }
                None => {
                    let x = parse_hex(s)?;
                    (x, x.saturating_add(1))
                }
            }),
            None => None,
        };
        let path = match &a.path {
            Some(p) => {
                Some(Pattern::new(p).map_err(|e| anyhow::anyhow!("--path: bad regex '{p}': {e}"))?)
            }
            None => None,
        };
        Ok(Filter {
            perm,
            kinds: a.kind.clone(),
            addr,
            path,
        })
    }

    fn keep(&self, r: &Region, c: &Class) -> bool {
        if let Some(p) = &self.perm
            && !p.matches(r.perms)
        {
            return false;
        }
        if !self.kinds.is_empty()
            && !self
                .kinds
                .iter()
                .any(|k| k == c.category.id() || k == r.kind().tag())
        {
            return false;
        }
        if let Some((a, b)) = self.addr
            && !(r.start < b && a < r.end)
        {
            return false;
        }
        if let Some(re) = &self.path
            && !re.is_match(&r.path.view().decoded())
        {
            return false;
        }
        true
    }
}

/// The path as one printable line: control bytes escaped (the kernel's
/// `\012` stays as printed), invalid UTF-8 as `\xNN`.
pub fn printable_path(raw: &[u8]) -> String {
    let mut s = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch.is_control() {
                let _ = write!(s, "\\x{:02x}", ch as u32);
            } else {
                s.push(ch);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

fn kb_or(r: &Region, f: Field) -> Option<u64> {
    r.kb(f)
}

/// The JSON object of one region (schema documented in README.md).
pub fn region_json(r: &Region, c: &Class, cl: &Classified) -> Value {
    let decoded = r.path.view().decoded();
    let mut v = json!({
        "start": format!("0x{:x}", r.start),
        "end": format!("0x{:x}", r.end),
        "size": r.size(),
        "perms": r.perms.to_string(),
        "offset": format!("0x{:x}", r.offset),
        "dev": r.dev.to_string(),
        "inode": r.inode,
        "path": String::from_utf8_lossy(&decoded),
        "path_raw": String::from_utf8_lossy(r.path.raw()),
        "deleted": r.path.deleted(),
        "path_kind": r.kind().tag(),
        "category": c.category.id(),
        "note": c.note,
        "rule": c.rule,
        "evidence": c.evidence,
        "heuristic": c.heuristic,
        "thread": c.thread,
        "object": c.object.map(|o| cl.objects[o].path.clone()),
        "line": r.line,
    });
    if std::str::from_utf8(&decoded).is_err() {
        v["path_bytes"] = json!(decoded.to_vec());
    }
    if let Some(s) = &r.smaps {
        let mut m = serde_json::Map::new();
        for (f, val) in s.known.iter() {
            m.insert(f.key().to_owned(), json!(val));
        }
        for (k, val) in &s.extra {
            m.insert(k.to_string(), json!(val));
        }
        if let Some(fl) = &s.vmflags {
            m.insert("VmFlags".into(), json!(fl));
        }
        if let Some(n) = &s.name {
            m.insert("Name".into(), json!(String::from_utf8_lossy(n)));
        }
        v["smaps"] = Value::Object(m);
    }
    v
}

/// The JSON document of `maps`, serialized as it is written: one region's
/// object at a time, never the whole tree (60,000 regions made a 900 MB
/// tree). The keys come in the order serde_json's sorted maps print them,
/// so the bytes are those of the one-tree version.
struct JsonDoc<'a> {
    snap: &'a Snapshot,
    cl: &'a Classified,
    rows: &'a [usize],
}

/// The `regions` array of a [`JsonDoc`].
struct JsonRegions<'a>(&'a JsonDoc<'a>);

impl serde::Serialize for JsonDoc<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let notices: Vec<String> = self.snap.notices.iter().map(ToString::to_string).collect();
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("comm", &self.snap.process.comm)?;
        m.serialize_entry("format", &self.snap.format.map(|f| f.file_name()))?;
        m.serialize_entry("notices", &notices)?;
        m.serialize_entry("page_size", &self.cl.page_size)?;
        m.serialize_entry("pid", &self.snap.process.pid)?;
        m.serialize_entry("regions", &JsonRegions(self))?;
        m.serialize_entry("schema_version", &JSON_SCHEMA_VERSION)?;
        m.serialize_entry("source", &self.snap.origin)?;
        m.end()
    }
}

impl serde::Serialize for JsonRegions<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let d = self.0;
        let mut seq = s.serialize_seq(Some(d.rows.len()))?;
        for &i in d.rows {
            seq.serialize_element(&region_json(&d.snap.regions[i], &d.cl.classes[i], d.cl))?;
        }
        seq.end()
    }
}

/// Writes a value as pretty JSON and a newline to standard output through
/// a buffer; a closed pipe (`| head`) is not an error.
fn emit_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let r = serde_json::to_writer_pretty(&mut out, v)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Runs `maps`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let filter = Filter::new(args)?;
    let snap = args.target.load(true)?;
    let cl = classify(&snap);
    let rows: Vec<usize> = (0..snap.regions.len())
        .filter(|&i| filter.keep(&snap.regions[i], &cl.classes[i]))
        .collect();
    let out = match args.format {
        Format::Json => {
            return emit_json(&JsonDoc {
                snap: &snap,
                cl: &cl,
                rows: &rows,
            });
        }
        Format::Csv | Format::Table => table(&snap, &cl, &rows, args)?,
    };
    emit(out.as_bytes())?;
    if args.format == Format::Table {
        for n in &snap.notices {
            eprintln!("maplens: note: {n}");
        }
    }
    Ok(())
}

fn table(snap: &Snapshot, cl: &Classified, rows: &[usize], args: &Args) -> anyhow::Result<String> {
    let smaps = snap.has_residency();
    let csv_mode = args.format == Format::Csv;
    let exact = args.bytes || csv_mode;
    let mut header = vec!["START", "END", "SIZE", "PERM", "OFFSET", "DEV", "INODE"];
    if smaps {
        header.extend(["RSS", "PSS", "SWAP"]);
    }
    header.extend(["KIND", "PATH", "NOTE"]);
    if args.explain {
        header.extend(["RULE", "EVIDENCE"]);
    }
    let numeric: Vec<bool> = header
        .iter()
        .map(|h| matches!(*h, "SIZE" | "INODE" | "RSS" | "PSS" | "SWAP"))
        .collect();
    let w = if cl.is_64bit { 12 } else { 8 };
    let mut out_rows = Vec::with_capacity(rows.len());
    let mut tot = [0u64; 4];
    for &i in rows {
        let r = &snap.regions[i];
        let c = &cl.classes[i];
        let mut row = vec![
            format!("{:0w$x}", r.start),
            format!("{:0w$x}", r.end),
            human(r.size(), exact),
            r.perms.to_string(),
            format!("{:08x}", r.offset),
            r.dev.to_string(),
            r.inode.to_string(),
        ];
        tot[0] += r.size();
        if smaps {
            for (j, f) in [Field::Rss, Field::Pss, Field::Swap]
                .into_iter()
                .enumerate()
            {
                let v = kb_or(r, f);
                tot[j + 1] += v.unwrap_or(0) * 1024;
                row.push(v.map_or_else(|| "-".into(), |k| human(k * 1024, exact)));
            }
        }
        row.push(c.category.id().to_owned());
        row.push(if csv_mode {
            String::from_utf8_lossy(&r.path.view().decoded()).into_owned()
        } else {
            printable_path(r.path.raw())
        });
        row.push(format!(
            "{}{}",
            c.note,
            if c.heuristic && !csv_mode { " (?)" } else { "" }
        ));
        if args.explain {
            row.push(format!(
                "{}{}",
                c.rule,
                if c.heuristic { " (heuristic)" } else { "" }
            ));
            row.push(c.evidence.clone());
        }
        out_rows.push(row);
    }
    if csv_mode {
        return csv(&header, &out_rows);
    }
    let mut s = plain_table(&header, &numeric, &out_rows);
    let _ = write!(s, "{} regions, {}", rows.len(), human(tot[0], args.bytes));
    if smaps {
        let _ = write!(
            s,
            ", RSS {}, PSS {}, swap {}",
            human(tot[1], args.bytes),
            human(tot[2], args.bytes),
            human(tot[3], args.bytes)
        );
    } else {
        s.push_str(" (maps only: residency unknown)");
    }
    s.push('\n');
    if rows.iter().any(|&i| cl.classes[i].heuristic) && !args.explain {
        s.push_str("(?) inferred from the layout; --explain shows the evidence\n");
    }
    Ok(s)
}
