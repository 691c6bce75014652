//! # maplens-core
//!
//! Lossless parsing and analysis of the Linux kernel's memory-map files:
//! `/proc/PID/maps`, `smaps` and `smaps_rollup`.
//!
//! The crate is layered, each layer using only those before it:
//!
//! * [`parse`]: bytes in, records out; zero-copy, no I/O.
//! * [`model`]: owned regions and snapshots that can be compared and stored.
//! * [`source`]: live `/proc`, copied trees, files and stdin, read into snapshots.
//! * [`analysis`]: what each region is (category, plain-words note, the rule
//!   and evidence), and how the regions add up.
//! * [`text`]: the one escaper for text from a target, before any terminal,
//!   table or CSV output.
//!
//! Pathnames are bytes, never assumed UTF-8: a file name may hold any byte
//! but `/` and NUL, and the kernel escapes only the newline (as `\012`).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
#[cfg(feature = "check")]
pub mod check;
pub mod model;
pub mod parse;
pub mod source;
pub mod system;
pub mod text;
