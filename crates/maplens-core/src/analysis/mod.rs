//! Analysis: what each region is, and how the regions add up.

mod classify;

pub use classify::{ARENA_SIZE_32, ARENA_SIZE_64, Category, Class, Classified, Object, classify};
