//! `maplens maps TARGET`: one row per region, with its kind and a note.

use crate::pattern::{Pattern, PermPattern};

use anyhow::{Context, bail};
use maplens_core::analysis::{Category, Class, classify};
use maplens_core::model::Region;
use maplens_core::parse::PathKind;

use crate::common::{Format, TargetArgs};
use crate::render::maps;

/// Arguments of `maplens maps`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Columns: START END the range (hex), SIZE end - start, PERM r/w/x and
  p(rivate) or s(hared), OFFSET into the file (hex), DEV major:minor (hex) of the
  file's filesystem, INODE the file's (0: no file), RSS PSS SWAP from smaps (- when
  unknown), KIND the category, PATH as decoded (escaped), NOTE what it is in words;
  (?) marks a guess from the layout; --explain adds RULE and EVIDENCE.

Filters combine: a region is shown when it passes all of them.
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

/// Runs `maps`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let filter = Filter::new(args)?;
    // The threads' stack pointers tell thread stacks apart; their names
    // are not shown here, and the rollup adds nothing to the regions.
    let snap = args.target.load_with(&maplens_core::source::Options {
        threads: true,
        thread_names: false,
        rollup: false,
        ..args.target.options()
    })?;
    let cl = classify(&snap);
    let rows: Vec<usize> = (0..snap.regions.len())
        .filter(|&i| filter.keep(&snap.regions[i], &cl.classes[i]))
        .collect();
    let r = maps::print(
        &snap,
        &cl,
        &rows,
        maps::View {
            format: args.format,
            bytes: args.bytes,
            explain: args.explain,
        },
    );
    // The process ends next: freeing 60,000 regions one by one only costs
    // time (about 5 ms) for memory the kernel takes back at once.
    std::mem::forget((snap, cl));
    r
}
