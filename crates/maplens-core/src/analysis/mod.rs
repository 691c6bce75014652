//! Analysis: what each region is, and how the regions add up.

mod classify;
mod report;
mod trend;

pub use classify::{
    ARENA_SIZE_32, ARENA_SIZE_64, Alternative, Arena, Category, Class, Classified, Confidence,
    KNOWN_NAMES, KnownName, NamePattern, Object, Runtime, classify, known_name,
};
pub use report::{
    AllocRow, Allocators, CategoryRow, Gap, NamedRow, ObjectRow, Report, Segment, StackRow,
    Threads, Totals, Usage, report,
};
pub use trend::{MIN_POINTS, Shape, Trend, theil_sen, time_to, trend};
