//! `maplens explain LINE…`: what each field of a maps line means.

use std::io::Read;

use anyhow::Context;

use crate::common::emit;
use crate::render::explain::explain_text;

/// Arguments of `maplens explain`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Example:
  maplens explain '7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0'
  grep libc /proc/self/maps | maplens explain --stdin

Lines given together are explained together, so a library's segments are
recognised as such; smaps text (field lines under a region) is explained too.")]
pub struct Args {
    /// maps (or smaps) lines to explain (any bytes: file names need not be
    /// UTF-8).
    pub lines: Vec<std::ffi::OsString>,
    /// Read the lines from standard input.
    #[arg(long)]
    pub stdin: bool,
    /// The target's page size in bytes (maps text does not say; smaps'
    /// KernelPageSize does), to count pages.
    #[arg(long, value_name = "BYTES")]
    pub page_size: Option<u64>,
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
        text.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(l.as_os_str()));
        text.push(b'\n');
    }
    let (out, notes) = explain_text(&text, args.page_size)?;
    for n in &notes {
        eprintln!("maplens: note: {n}");
    }
    emit(out.as_bytes())
}
