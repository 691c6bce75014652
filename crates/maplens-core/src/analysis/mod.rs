//! Analysis: what each region is, and how the regions add up.

mod classify;
mod report;

pub use classify::{ARENA_SIZE_32, ARENA_SIZE_64, Category, Class, Classified, Object, classify};
pub use report::{
    AllocRow, Allocators, CategoryRow, Gap, NamedRow, ObjectRow, Report, Segment, StackRow,
    Threads, Totals, Usage, report,
};
