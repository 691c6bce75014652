//! `maplens pmap`: procps-ng pmap, byte for byte.

use std::ffi::OsString;
use std::process::ExitCode;

/// Runs pmap with its own argument syntax (not clap's: it must accept and
/// refuse exactly what procps-ng pmap does).
pub fn main(_args: Vec<OsString>) -> ExitCode {
    eprintln!("maplens: error: pmap is not built yet (issue 4)");
    ExitCode::FAILURE
}
