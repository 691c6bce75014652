//! `maplens pmap`: procps-ng pmap, byte for byte (see `crate::pmap`).

use std::ffi::OsString;
use std::process::ExitCode;

/// Runs pmap with its own argument syntax (not clap's: it must accept and
/// refuse exactly what procps-ng pmap does).
pub fn main(args: Vec<OsString>) -> ExitCode {
    crate::pmap::main(args)
}
