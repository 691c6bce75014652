//! Analysis: what each region is, and how the regions add up.

mod classify;
mod diff;
mod leaks;
pub mod pages;
mod report;
mod trend;
pub mod wss;

pub use classify::{
    ARENA_SIZE_32, ARENA_SIZE_64, Alternative, Arena, Category, Class, Classified, Confidence,
    KNOWN_NAMES, KnownName, NamePattern, Object, Runtime, classify, known_name,
};
pub use diff::{Change, RESIDENT_STEP, RegionChange, RowChange, SampleDiff, comparable, diff};
pub use leaks::{Figure, Finding, LeakReport, LimitEta, Scope, leaks};
pub use report::{
    AllocRow, Allocators, CategoryRow, Gap, NamedRow, ObjectRow, Report, Segment, StackRow,
    Threads, Totals, Usage, report,
};
pub use trend::{MIN_POINTS, Shape, Trend, theil_sen, time_to, trend};
