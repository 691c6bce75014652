//! The explorer's model: what is loaded, what is selected, filtered and
//! sorted, and what changed since the first reading. No ratatui or
//! crossterm type appears here, so every key's effect can be tested
//! without a terminal; `widgets` only reads this state.
//!
//! Every figure comes from `maplens_core`: [`classify`] says what a region
//! is, [`report`] adds them up, and [`check::evaluate`] finds problems. This
//! module decides only what to show.
//!
//! ```
//! use maplens_core::{model::Snapshot, parse::Mode};
//! use maplens_tui::state::{App, Data, Key};
//! let text = b"\
//! 55d0c0000000-55d0c0001000 r-xp 00000000 08:01 7 /bin/x
//! 7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
//! ";
//! let snap = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
//! let mut app = App::new(Data::new(snap), false);
//! assert_eq!(app.visible().len(), 2);
//! for c in "/stack\n".chars() {
//!     app.key(if c == '\n' { Key::Enter } else { Key::Char(c) });
//! }
//! assert_eq!(app.visible().len(), 1);
//! ```

use std::collections::HashMap;

use maplens_core::analysis::{Category, Classified, Report, classify, report};
use maplens_core::check::{self, CheckOptions, Outcome, Severity};
use maplens_core::model::{Region, Snapshot};
use maplens_core::parse::Field;
use maplens_core::text::escape;

/// One reading of the target with everything derived from it.
pub struct Data {
    /// The regions and process facts as read.
    pub snap: Snapshot,
    /// What each region is (the one classification).
    pub cl: Classified,
    /// How the regions add up.
    pub report: Report,
    /// Findings (from `info` up) and the rules that could not run.
    pub outcome: Outcome,
    /// Each region's decoded path, escaped for a terminal cell.
    pub paths: Vec<String>,
}

impl Data {
    /// Classifies, adds up and checks a snapshot.
    pub fn new(snap: Snapshot) -> Data {
        let cl = classify(&snap);
        let report = report(&snap, &cl);
        let outcome = check::evaluate(
            &snap,
            &cl,
            &CheckOptions {
                min_severity: Severity::Info,
                ignore: Vec::new(),
                system: snap.system.clone(),
            },
        );
        let paths = snap
            .regions
            .iter()
            .map(|r| {
                let mut p = escape(&r.path.view().decoded()).into_owned();
                if r.path.deleted() {
                    p.push_str(" (deleted)");
                }
                p
            })
            .collect();
        Data {
            snap,
            cl,
            report,
            outcome,
            paths,
        }
    }

    /// Bytes resident of region `i`, when smaps says.
    pub fn rss(&self, i: usize) -> Option<u64> {
        self.snap.regions[i].kb(Field::Rss).map(|k| k * 1024)
    }

    /// Proportional bytes of region `i`, when smaps says.
    pub fn pss(&self, i: usize) -> Option<u64> {
        self.snap.regions[i].kb(Field::Pss).map(|k| k * 1024)
    }

    /// Swapped-out bytes of region `i`, when smaps says.
    pub fn swap(&self, i: usize) -> Option<u64> {
        self.snap.regions[i].kb(Field::Swap).map(|k| k * 1024)
    }
}

/// The panes of the explorer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Every region, sortable and filterable, with a detail pane.
    Regions,
    /// Programs and libraries with their segments.
    Objects,
    /// Threads and their stacks.
    Threads,
    /// What `maplens check` finds.
    Findings,
}

impl View {
    /// Every view, in tab order.
    pub const ALL: [View; 4] = [View::Regions, View::Objects, View::Threads, View::Findings];

    /// The tab's title.
    pub const fn title(self) -> &'static str {
        match self {
            View::Regions => "Regions",
            View::Objects => "Objects",
            View::Threads => "Threads",
            View::Findings => "Findings",
        }
    }
}

/// What the region table is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Start address (the kernel's order).
    Address,
    /// Size of the range.
    Size,
    /// Resident bytes.
    Rss,
    /// Proportional bytes.
    Pss,
    /// Swapped-out bytes.
    Swap,
    /// Category, in report order.
    Kind,
    /// Decoded path.
    Path,
}

impl SortKey {
    /// Every key, in the order `s` steps through them.
    pub const ALL: [SortKey; 7] = [
        SortKey::Address,
        SortKey::Size,
        SortKey::Rss,
        SortKey::Pss,
        SortKey::Swap,
        SortKey::Kind,
        SortKey::Path,
    ];

    /// The name shown in the status line.
    pub const fn name(self) -> &'static str {
        match self {
            SortKey::Address => "address",
            SortKey::Size => "size",
            SortKey::Rss => "rss",
            SortKey::Pss => "pss",
            SortKey::Swap => "swap",
            SortKey::Kind => "kind",
            SortKey::Path => "path",
        }
    }
}

/// A permission filter (`p` steps through them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PermFilter {
    /// Every region.
    Any,
    /// Executable (`x`).
    Exec,
    /// Writable (`w`).
    Write,
    /// Writable and executable (`wx`).
    WriteExec,
    /// Shared (`s`).
    Shared,
    /// No access (`---`): guards and reservations.
    NoAccess,
}

impl PermFilter {
    /// Every filter, in the order `p` steps through them.
    pub const ALL: [PermFilter; 6] = [
        PermFilter::Any,
        PermFilter::Exec,
        PermFilter::Write,
        PermFilter::WriteExec,
        PermFilter::Shared,
        PermFilter::NoAccess,
    ];

    /// The name shown in the status line.
    pub const fn name(self) -> &'static str {
        match self {
            PermFilter::Any => "any",
            PermFilter::Exec => "x",
            PermFilter::Write => "w",
            PermFilter::WriteExec => "wx",
            PermFilter::Shared => "s",
            PermFilter::NoAccess => "---",
        }
    }

    /// Whether region `r` passes.
    pub fn keeps(self, r: &Region) -> bool {
        let p = r.perms;
        match self {
            PermFilter::Any => true,
            PermFilter::Exec => p.exec(),
            PermFilter::Write => p.write(),
            PermFilter::WriteExec => p.write() && p.exec(),
            PermFilter::Shared => p.shared(),
            PermFilter::NoAccess => p.none(),
        }
    }
}

/// A key, as the state sees it (the event loop maps terminal keys here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Char(char),
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BackTab,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
    /// Ctrl-C.
    CtrlC,
}

/// What the event loop should do after a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing more than redrawing.
    None,
    /// Leave the explorer.
    Quit,
    /// Read the target again now.
    Refresh,
}

/// How a region differs from the first reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Not in the first reading.
    New,
    /// Same start, different end.
    Resized,
    /// Same range, resident bytes moved by this much.
    Rss(i64),
}

/// The first reading of a live target, to show what changed since.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    /// (start, inode, offset) → (end, resident bytes).
    regions: HashMap<(u64, u64, u64), (u64, Option<u64>)>,
    /// Total resident bytes then.
    pub rss: Option<u64>,
    /// Total size then.
    pub size: u64,
}

impl Baseline {
    fn of(d: &Data) -> Baseline {
        Baseline {
            regions: d
                .snap
                .regions
                .iter()
                .enumerate()
                .map(|(i, r)| ((r.start, r.inode, r.offset), (r.end, d.rss(i))))
                .collect(),
            rss: d.report.totals.usage.rss,
            size: d.report.totals.usage.size,
        }
    }
}

/// What changed since the first reading, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Per region of the current reading (same indices).
    pub per_region: Vec<Option<Change>>,
    /// Regions of the first reading no longer there.
    pub gone: usize,
    /// Regions not there at first.
    pub new: usize,
    /// Change of the total resident bytes.
    pub rss: Option<i64>,
    /// Change of the total size.
    pub size: i64,
}

/// The state of a live refresh.
#[derive(Clone, Debug, PartialEq)]
pub struct Live {
    /// Seconds between readings.
    pub interval: f64,
    /// Readings are not taken while paused.
    pub paused: bool,
    /// Readings taken so far (the first included).
    pub readings: u64,
    /// Why the last reading failed (the process exited, say).
    pub error: Option<String>,
}

/// The whole explorer state.
pub struct App {
    /// The current reading.
    pub data: Data,
    /// The shown pane.
    pub view: View,
    /// Sort key of the region table.
    pub sort: SortKey,
    /// Sorted descending (largest first) when true.
    pub descending: bool,
    /// Only regions of this category.
    pub kind: Option<Category>,
    /// Only regions with these permissions.
    pub perm: PermFilter,
    /// Only regions whose shown path contains this (case-insensitive).
    pub search: String,
    /// The search being typed after `/`, if any.
    pub input: Option<String>,
    /// The detail pane is open.
    pub detail: bool,
    /// First line of the detail pane shown.
    pub detail_scroll: u16,
    /// The key help is shown.
    pub help: bool,
    /// Live refresh, for a running process.
    pub live: Option<Live>,
    /// The first reading (live targets only).
    pub baseline: Option<Baseline>,
    /// What changed since the first reading.
    pub changes: Changes,
    /// Selected row and first shown row, per view (index by `View as usize`).
    pub cursor: [usize; 4],
    /// First shown row per view (the widgets keep the selection in sight).
    pub offset: [usize; 4],
    /// Rows that one page key moves (set from the last drawn height).
    pub page: usize,
    visible: Vec<usize>,
}

impl App {
    /// A new explorer on one reading; `live` turns on refresh and change
    /// tracking (two seconds apart until [`App::set_interval`]).
    pub fn new(data: Data, live: bool) -> App {
        let baseline = live.then(|| Baseline::of(&data));
        let mut app = App {
            data,
            view: View::Regions,
            sort: SortKey::Address,
            descending: false,
            kind: None,
            perm: PermFilter::Any,
            search: String::new(),
            input: None,
            detail: false,
            detail_scroll: 0,
            help: false,
            live: live.then_some(Live {
                interval: 2.0,
                paused: false,
                readings: 1,
                error: None,
            }),
            baseline,
            changes: Changes::default(),
            cursor: [0; 4],
            offset: [0; 4],
            page: 10,
            visible: Vec::new(),
        };
        app.recompute();
        app
    }

    /// Sets the seconds between live readings.
    pub fn set_interval(&mut self, secs: f64) {
        if let Some(l) = &mut self.live {
            l.interval = secs;
        }
    }

    /// Region indices shown in the table, in order.
    pub fn visible(&self) -> &[usize] {
        &self.visible
    }

    /// The selected region (an index into the snapshot's regions).
    pub fn selected(&self) -> Option<usize> {
        self.visible
            .get(self.cursor[View::Regions as usize])
            .copied()
    }

    /// Rows of the current view (for cursor movement).
    pub fn rows(&self) -> usize {
        match self.view {
            View::Regions => self.visible.len(),
            View::Objects => self.object_lines().len(),
            View::Threads => self.thread_rows(),
            View::Findings => self.data.outcome.findings.len(),
        }
    }

    /// Thread rows: every stack the report matched, then threads without one.
    pub fn thread_rows(&self) -> usize {
        let t = &self.data.report.threads;
        t.stacks.len() + t.unmatched.len()
    }

    /// The lines of the objects view: (object, None) for an object's
    /// header, (object, Some(segment)) for each of its segments.
    pub fn object_lines(&self) -> Vec<(usize, Option<usize>)> {
        let mut v = Vec::new();
        for (o, row) in self.data.report.objects.iter().enumerate() {
            v.push((o, None));
            v.extend((0..row.segments.len()).map(|s| (o, Some(s))));
        }
        v
    }

    /// Takes a new reading: the selection stays on the same address, and
    /// changes are measured against the first reading.
    pub fn apply(&mut self, data: Data) {
        let keep = self.selected().map(|i| self.data.snap.regions[i].start);
        let (offset, scroll) = (self.offset[View::Regions as usize], self.detail_scroll);
        self.data = data;
        if let Some(l) = &mut self.live {
            l.readings += 1;
            l.error = None;
        }
        // Old indices mean nothing in the new reading.
        self.visible.clear();
        self.recompute();
        if let Some(start) = keep
            && self.select_start(start)
        {
            // The same region: the view stays where it was.
            self.offset[View::Regions as usize] = offset;
            self.detail_scroll = scroll;
        }
        for v in View::ALL {
            let n = match v {
                View::Regions => self.visible.len(),
                View::Objects => self.object_lines().len(),
                View::Threads => self.thread_rows(),
                View::Findings => self.data.outcome.findings.len(),
            };
            let c = &mut self.cursor[v as usize];
            *c = (*c).min(n.saturating_sub(1));
        }
    }

    /// Records that a live reading failed (the last good one stays shown).
    pub fn reading_failed(&mut self, why: String) {
        if let Some(l) = &mut self.live {
            l.error = Some(why);
        }
    }

    /// Puts the region cursor on the region starting at `start`; false
    /// when no such region is shown.
    pub fn select_start(&mut self, start: u64) -> bool {
        match self
            .visible
            .iter()
            .position(|&i| self.data.snap.regions[i].start == start)
        {
            Some(pos) => {
                self.cursor[View::Regions as usize] = pos;
                true
            }
            None => false,
        }
    }

    fn recompute(&mut self) {
        self.changes = self.diff();
        self.refilter();
    }

    fn diff(&self) -> Changes {
        let Some(b) = &self.baseline else {
            return Changes::default();
        };
        let d = &self.data;
        let mut seen = 0;
        let per_region: Vec<Option<Change>> = d
            .snap
            .regions
            .iter()
            .enumerate()
            .map(
                |(i, r)| match b.regions.get(&(r.start, r.inode, r.offset)) {
                    None => Some(Change::New),
                    Some(&(end, rss)) => {
                        seen += 1;
                        if end != r.end {
                            Some(Change::Resized)
                        } else {
                            match (rss, d.rss(i)) {
                                (Some(a), Some(n)) if a != n => {
                                    Some(Change::Rss(n as i64 - a as i64))
                                }
                                _ => None,
                            }
                        }
                    }
                },
            )
            .collect();
        let new = per_region
            .iter()
            .filter(|c| **c == Some(Change::New))
            .count();
        let u = &d.report.totals.usage;
        Changes {
            per_region,
            gone: b.regions.len().saturating_sub(seen),
            new,
            rss: match (b.rss, u.rss) {
                (Some(a), Some(n)) => Some(n as i64 - a as i64),
                _ => None,
            },
            size: u.size as i64 - b.size as i64,
        }
    }

    /// Applies filters and sort again, keeping the selected region when it
    /// stays shown.
    fn refilter(&mut self) {
        let keep = self.selected();
        let d = &self.data;
        let needle = self.search.to_lowercase();
        let mut v: Vec<usize> = (0..d.snap.regions.len())
            .filter(|&i| {
                let r = &d.snap.regions[i];
                self.kind.is_none_or(|k| d.cl.classes[i].category == k)
                    && self.perm.keeps(r)
                    && (needle.is_empty() || d.paths[i].to_lowercase().contains(&needle))
            })
            .collect();
        let order = |c: Category| Category::ALL.iter().position(|&x| x == c);
        match self.sort {
            SortKey::Address => {}
            SortKey::Size => v.sort_by_key(|&i| d.snap.regions[i].size()),
            SortKey::Rss => v.sort_by_key(|&i| d.rss(i)),
            SortKey::Pss => v.sort_by_key(|&i| d.pss(i)),
            SortKey::Swap => v.sort_by_key(|&i| d.swap(i)),
            SortKey::Kind => v.sort_by_key(|&i| order(d.cl.classes[i].category)),
            SortKey::Path => v.sort_by(|&a, &b| d.paths[a].cmp(&d.paths[b])),
        }
        if self.descending {
            v.reverse();
        }
        self.visible = v;
        // The same region stays selected (and scrolled) when still shown;
        // otherwise the first one.
        match keep.and_then(|k| self.visible.iter().position(|&i| i == k)) {
            Some(pos) => self.cursor[View::Regions as usize] = pos,
            None => {
                self.cursor[View::Regions as usize] = 0;
                self.offset[View::Regions as usize] = 0;
                self.detail_scroll = 0;
            }
        }
    }

    /// Categories present in this reading, in report order (what `f` steps
    /// through).
    pub fn kinds(&self) -> Vec<Category> {
        let mut present: Vec<Category> = self.data.cl.classes.iter().map(|c| c.category).collect();
        present.sort_by_key(|&c| Category::ALL.iter().position(|&x| x == c));
        present.dedup();
        present
    }

    fn step_kind(&mut self, forward: bool) {
        let kinds = self.kinds();
        let pos = self.kind.and_then(|k| kinds.iter().position(|&x| x == k));
        // None sits before the first kind and after the last.
        self.kind = match (pos, forward) {
            (None, true) => kinds.first().copied(),
            (None, false) => kinds.last().copied(),
            (Some(p), true) => kinds.get(p + 1).copied(),
            (Some(0), false) => None,
            (Some(p), false) => kinds.get(p - 1).copied(),
        };
        self.refilter();
    }

    fn move_cursor(&mut self, delta: isize) {
        let n = self.rows();
        let c = &mut self.cursor[self.view as usize];
        if n == 0 {
            *c = 0;
            return;
        }
        *c = c.saturating_add_signed(delta).min(n - 1);
        if self.view == View::Regions {
            self.detail_scroll = 0;
        }
    }

    /// Handles one key.
    pub fn key(&mut self, k: Key) -> Action {
        if k == Key::CtrlC {
            return Action::Quit;
        }
        if let Some(input) = &mut self.input {
            match k {
                Key::Enter => {
                    self.search = self.input.take().unwrap_or_default();
                    self.refilter();
                }
                Key::Esc => self.input = None,
                Key::Backspace => {
                    input.pop();
                }
                Key::Char(c) => input.push(c),
                _ => {}
            }
            return Action::None;
        }
        if self.help {
            // Any key closes the help; `q` still quits.
            self.help = false;
            return if k == Key::Char('q') {
                Action::Quit
            } else {
                Action::None
            };
        }
        match k {
            Key::Char('q') => return Action::Quit,
            Key::Esc if self.detail && self.view == View::Regions => self.detail = false,
            Key::Esc if !self.search.is_empty() => {
                self.search.clear();
                self.refilter();
            }
            Key::Esc => {}
            Key::Char('?') => self.help = true,
            Key::Tab => self.view = View::ALL[(self.view as usize + 1) % 4],
            Key::BackTab => self.view = View::ALL[(self.view as usize + 3) % 4],
            Key::Char(c @ '1'..='4') => self.view = View::ALL[c as usize - '1' as usize],
            Key::Down | Key::Char('j') => self.move_cursor(1),
            Key::Up | Key::Char('k') => self.move_cursor(-1),
            Key::PageDown => self.move_cursor(self.page.max(1) as isize),
            Key::PageUp => self.move_cursor(-(self.page.max(1) as isize)),
            Key::Home | Key::Char('g') => self.move_cursor(isize::MIN),
            Key::End | Key::Char('G') => self.move_cursor(isize::MAX),
            Key::Char('r') if self.live.is_some() => return Action::Refresh,
            Key::Char(' ') => {
                if let Some(l) = &mut self.live {
                    l.paused = !l.paused;
                }
            }
            Key::Enter if self.view == View::Objects => self.open_object(),
            Key::Enter if self.view == View::Threads => self.open_thread(),
            Key::Enter | Key::Char('d') => {
                self.view = View::Regions;
                self.detail = !self.detail;
            }
            Key::Char('J') => self.detail_scroll = self.detail_scroll.saturating_add(1),
            Key::Char('K') => self.detail_scroll = self.detail_scroll.saturating_sub(1),
            Key::Char('/') => {
                self.view = View::Regions;
                self.input = Some(self.search.clone());
            }
            Key::Char('f') => self.step_kind(true),
            Key::Char('F') => self.step_kind(false),
            Key::Char('p') => {
                let i = PermFilter::ALL.iter().position(|&p| p == self.perm);
                self.perm = PermFilter::ALL[(i.unwrap_or(0) + 1) % PermFilter::ALL.len()];
                self.refilter();
            }
            Key::Char('s') => {
                let i = SortKey::ALL.iter().position(|&s| s == self.sort);
                self.sort = SortKey::ALL[(i.unwrap_or(0) + 1) % SortKey::ALL.len()];
                // Figures read best largest first; names and addresses in order.
                self.descending =
                    !matches!(self.sort, SortKey::Address | SortKey::Kind | SortKey::Path);
                self.refilter();
            }
            Key::Char('S') => {
                self.descending = !self.descending;
                self.refilter();
            }
            Key::Char('c') => {
                self.kind = None;
                self.perm = PermFilter::Any;
                self.search.clear();
                self.refilter();
            }
            _ => {}
        }
        Action::None
    }

    /// From the objects view: show the selected object's regions.
    fn open_object(&mut self) {
        let lines = self.object_lines();
        let Some(&(o, seg)) = lines.get(self.cursor[View::Objects as usize]) else {
            return;
        };
        let row = &self.data.report.objects[o];
        let start = seg
            .and_then(|s| row.segments.get(s))
            .or(row.segments.first())
            .map(|s| s.start);
        self.kind = None;
        self.perm = PermFilter::Any;
        self.search = escape(&row.path).into_owned();
        self.view = View::Regions;
        self.refilter();
        if let Some(s) = start {
            self.select_start(s);
        }
        self.detail = true;
    }

    /// From the threads view: show the selected thread's stack region.
    fn open_thread(&mut self) {
        let Some(st) = self
            .data
            .report
            .threads
            .stacks
            .get(self.cursor[View::Threads as usize])
        else {
            return;
        };
        let start = st.start;
        self.kind = None;
        self.perm = PermFilter::Any;
        self.search.clear();
        self.view = View::Regions;
        self.refilter();
        self.select_start(start);
        self.detail = true;
    }

    /// The filters in force, in words (for the status line).
    pub fn filters(&self) -> String {
        let mut v = Vec::new();
        if let Some(k) = self.kind {
            v.push(format!("kind={}", k.id()));
        }
        if self.perm != PermFilter::Any {
            v.push(format!("perm={}", self.perm.name()));
        }
        if !self.search.is_empty() {
            v.push(format!("/{}", self.search));
        }
        v.join(" ")
    }
}

/// Keeps row `sel` in a window of `height` rows that started at `offset`;
/// returns the new first row.
///
/// ```
/// use maplens_tui::state::window;
/// assert_eq!(window(0, 0, 10), 0);
/// assert_eq!(window(12, 0, 10), 3);
/// assert_eq!(window(2, 5, 10), 2);
/// ```
pub fn window(sel: usize, offset: usize, height: usize) -> usize {
    if height == 0 {
        return sel;
    }
    if sel < offset {
        sel
    } else if sel >= offset + height {
        sel + 1 - height
    } else {
        offset
    }
}

/// Bytes in human units (binary, one decimal below 10).
///
/// ```
/// use maplens_tui::state::human;
/// assert_eq!(human(0), "0");
/// assert_eq!(human(4096), "4.0K");
/// assert_eq!(human(8 << 20), "8.0M");
/// assert_eq!(human(300 << 20), "300M");
/// ```
pub fn human(b: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if b < 1024 {
        return b.to_string();
    }
    let mut v = b as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[u])
    } else {
        format!("{v:.0}{}", UNITS[u])
    }
}

/// An optional byte count in human units, `-` when unknown.
pub fn human_opt(b: Option<u64>) -> String {
    b.map_or_else(|| "-".to_owned(), human)
}

/// A signed change in human units with its sign.
///
/// ```
/// use maplens_tui::state::signed;
/// assert_eq!(signed(8192), "+8.0K");
/// assert_eq!(signed(-4096), "-4.0K");
/// assert_eq!(signed(0), "0");
/// ```
pub fn signed(d: i64) -> String {
    let s = human(d.unsigned_abs());
    if d == 0 {
        s
    } else if d < 0 {
        format!("-{s}")
    } else {
        format!("+{s}")
    }
}
