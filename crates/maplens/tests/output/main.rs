//! What maplens prints, as a user meets it: the README's commands on a fresh
//! clone, and text from a target made safe for a terminal in every command
//! and format.

#[path = "../common/json.rs"]
mod json;
#[path = "../common/leaks.rs"]
mod leaks;

mod churn;
mod damon;
mod deleted_names;
mod deleted_scans;
mod diff;
mod elf_segments;
mod faults;
mod hostile_text;
mod html;
mod layouts;
mod manners;
mod odd_names;
mod offline;
mod pages;
mod plot;
mod readme;
mod scan_pool;
mod serve;
mod serve_abuse;
mod tui;
mod watch;
mod widths;
