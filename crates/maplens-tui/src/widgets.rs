//! Drawing: turns the [`App`] state into ratatui widgets. Nothing here
//! changes what is selected or shown, except keeping the selection in sight
//! (`App::offset`) and remembering the page height for page keys.
//!
//! Every string from the target (paths, names, evidence, findings) reaches a
//! cell through `maplens_core::text::escape` (in [`crate::state::Data`] for
//! paths, [`t`] for the rest).

use std::borrow::Cow;

use maplens_core::analysis::Category;
use maplens_core::parse::{Field, KNOWN_FLAGS};
use maplens_core::text::escape;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use crate::state::{App, Change, View, human, human_opt, signed, window};

/// Colours, or none (`NO_COLOR`): then categories are told apart by their
/// fill character and the selection by reverse video.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    /// Use colours.
    pub color: bool,
}

impl Theme {
    /// Colours unless `NO_COLOR` is set to a non-empty value.
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    fn selected(self) -> Style {
        if self.color {
            Style::default()
                .bg(Color::Indexed(24))
                .fg(Color::White)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    fn changed(self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        }
    }

    fn head(self) -> Style {
        let s = Style::default().add_modifier(Modifier::BOLD);
        if self.color { s.fg(Color::Cyan) } else { s }
    }

    fn dim(self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }
}

/// A category's colour.
fn cat_color(c: Category) -> Color {
    match c {
        Category::Code => Color::LightRed,
        Category::ReadOnlyData => Color::Yellow,
        Category::Relro => Color::LightYellow,
        Category::WritableData => Color::LightGreen,
        Category::Bss => Color::Green,
        Category::Heap => Color::Magenta,
        Category::MallocArena => Color::LightMagenta,
        Category::ThreadStack => Color::Cyan,
        Category::MainStack => Color::LightCyan,
        Category::GuardPage => Color::DarkGray,
        Category::Reservation => Color::Gray,
        Category::LinkerGap => Color::Indexed(240),
        Category::AnonMmap => Color::Blue,
        Category::NamedAnon => Color::LightBlue,
        Category::SharedMemory => Color::Indexed(208),
        Category::MappedFile => Color::White,
        Category::Device => Color::Indexed(130),
        Category::KernelProvided => Color::Indexed(245),
        Category::Hugetlb => Color::Indexed(99),
        Category::WritableExec => Color::Red,
        Category::ManagedHeap => Color::Indexed(171),
        Category::JitCode => Color::Indexed(203),
    }
}

/// A category's fill character: with colour a full block, without one a
/// character of its own (so the bar still reads in `NO_COLOR`).
fn cat_fill(theme: Theme, c: Category) -> char {
    const FILLS: [char; 22] = [
        '#', ':', '%', '=', '-', 'H', 'M', 'T', 'S', '_', '.', ',', 'a', 'n', '&', 'f', 'D', 'k',
        'h', '!', 'J', 'j',
    ];
    if theme.color {
        '█'
    } else {
        let i = Category::ALL.iter().position(|&x| x == c).unwrap_or(0);
        FILLS[i % FILLS.len()]
    }
}

/// Target text for a cell: escaped.
pub fn t(s: &str) -> Cow<'_, str> {
    escape(s.as_bytes())
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, app: &mut App, theme: Theme) {
    let area = f.area();
    if area.width < 20 || area.height < 4 {
        f.render_widget(
            Paragraph::new(format!(
                "maplens: {}x{} is too small; q quits",
                area.width, area.height
            ))
            .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let summary_h = if area.height >= 16 {
        3
    } else if area.height >= 10 {
        1
    } else {
        0
    };
    let chunks = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(summary_h),
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .split(area);
    if summary_h > 0 {
        summary(f, chunks[0], app, theme);
    }
    tabs(f, chunks[1], app, theme);
    match app.view {
        View::Regions => regions(f, chunks[2], app, theme),
        View::Objects => objects(f, chunks[2], app, theme),
        View::Threads => threads(f, chunks[2], app, theme),
        View::Findings => findings(f, chunks[2], app, theme),
    }
    footer(f, chunks[3], app, theme);
    if app.help {
        help(f, area, theme);
    }
}

fn summary(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let d = &app.data;
    let r = &d.report;
    let u = &r.totals.usage;
    let mut title = vec![Span::styled("maplens ", theme.head())];
    let who = match (&r.comm, r.pid) {
        (Some(c), Some(p)) => format!("{} ({p})", t(c)),
        (None, Some(p)) => format!("pid {p}"),
        (Some(c), None) => t(c).into_owned(),
        (None, None) => t(&r.source).into_owned(),
    };
    title.push(Span::styled(
        who,
        Style::default().add_modifier(Modifier::BOLD),
    ));
    match &app.live {
        Some(l) if l.error.is_some() => {
            title.push(Span::styled("  stopped", theme.changed()));
        }
        Some(l) if l.paused => title.push(Span::styled("  paused", theme.changed())),
        Some(l) => title.push(Span::raw(format!("  live {}s #{}", l.interval, l.readings))),
        None => title.push(Span::styled("  saved", theme.dim())),
    }
    title.push(Span::raw(format!(
        "  {} regions  VSZ {}  RSS {}  PSS {}  swap {}",
        u.regions,
        human(u.size),
        human_opt(u.rss),
        human_opt(u.pss),
        human_opt(u.swap)
    )));
    let mut lines = vec![Line::from(title)];
    if area.height >= 3 {
        let (bar, legend) = category_bar(app, area.width as usize, theme);
        lines.push(bar);
        lines.push(legend);
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// The categories as one bar (by RSS when known, else by size) and a
/// legend of the largest ones, with what changed since the start first.
fn category_bar(app: &App, width: usize, theme: Theme) -> (Line<'static>, Line<'static>) {
    let r = &app.data.report;
    let by_rss = r.has_residency;
    let mut cats: Vec<(Category, u64)> = r
        .categories
        .iter()
        .map(|c| {
            (
                c.category,
                if by_rss {
                    c.usage.rss.unwrap_or(0)
                } else {
                    c.usage.size
                },
            )
        })
        .filter(|&(_, w)| w > 0)
        .collect();
    cats.sort_by_key(|&(c, _)| Category::ALL.iter().position(|&x| x == c));
    let total: u64 = cats.iter().map(|c| c.1).sum();
    let mut spans = Vec::new();
    if total > 0 && width > 0 {
        // Largest remainder, so the cells add up to the width.
        let mut cells: Vec<(usize, u128)> = cats
            .iter()
            .map(|&(_, w)| {
                let exact = u128::from(w) * width as u128;
                (
                    (exact / u128::from(total)) as usize,
                    exact % u128::from(total),
                )
            })
            .collect();
        let used: usize = cells.iter().map(|c| c.0).sum();
        let mut order: Vec<usize> = (0..cells.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(cells[i].1));
        for &i in order.iter().take(width.saturating_sub(used)) {
            cells[i].0 += 1;
        }
        for (&(c, _), &(n, _)) in cats.iter().zip(&cells) {
            if n > 0 {
                spans.push(Span::styled(
                    cat_fill(theme, c).to_string().repeat(n),
                    theme.fg(cat_color(c)),
                ));
            }
        }
    } else {
        spans.push(Span::styled("(no regions)", theme.dim()));
    }
    let mut legend = Vec::new();
    if let Some(b) = &app.baseline {
        let c = &app.changes;
        let changed = c.new > 0 || c.gone > 0 || c.rss.is_some_and(|d| d != 0) || c.size != 0;
        let mut s = String::from("since start:");
        if !changed {
            s.push_str(" unchanged");
        } else {
            if let (Some(d), Some(_)) = (c.rss, b.rss) {
                s.push_str(&format!(" RSS {}", signed(d)));
            }
            if c.size != 0 {
                s.push_str(&format!(" VSZ {}", signed(c.size)));
            }
            s.push_str(&format!(" {} new {} gone", c.new, c.gone));
        }
        legend.push(Span::styled(
            s,
            if changed {
                theme.changed()
            } else {
                theme.dim()
            },
        ));
        legend.push(Span::raw("  "));
    }
    let mut by_weight = cats.clone();
    by_weight.sort_by_key(|&(_, w)| std::cmp::Reverse(w));
    legend.push(Span::styled(
        if by_rss { "RSS: " } else { "size: " },
        theme.dim(),
    ));
    for (c, w) in by_weight {
        legend.push(Span::styled(
            cat_fill(theme, c).to_string(),
            theme.fg(cat_color(c)),
        ));
        legend.push(Span::raw(format!("{} {}  ", c.id(), human(w))));
    }
    (Line::from(spans), Line::from(legend))
}

fn tabs(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let mut spans = Vec::new();
    for (i, v) in View::ALL.iter().enumerate() {
        let label = match v {
            View::Findings => format!(
                "{}:{}({})",
                i + 1,
                v.title(),
                app.data.outcome.findings.len()
            ),
            View::Regions => format!("{}:{}({})", i + 1, v.title(), app.visible().len()),
            _ => format!("{}:{}", i + 1, v.title()),
        };
        let style = if *v == app.view {
            theme.selected()
        } else {
            Style::default()
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(label, style));
    }
    // Filters first: they matter more than the sort when the line is cut.
    let mut right = String::new();
    let fl = app.filters();
    if !fl.is_empty() {
        right.push(' ');
        right.push_str(&t(&fl));
    }
    right.push_str(&format!(
        " sort:{}{}",
        app.sort.name(),
        if app.descending { "↓" } else { "↑" }
    ));
    spans.push(Span::styled(right, theme.head()));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn footer(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let line = if let Some(input) = &app.input {
        Line::from(vec![
            Span::styled("search path: /", theme.head()),
            Span::raw(t(input).into_owned()),
            Span::styled("█", theme.dim()),
            Span::styled("  Enter apply  Esc cancel", theme.dim()),
        ])
    } else if let Some(e) = app.live.as_ref().and_then(|l| l.error.as_ref()) {
        Line::from(Span::styled(
            format!("reading failed, showing the last one: {}", t(e)),
            theme.changed(),
        ))
    } else {
        let hints = match app.view {
            View::Regions => "?:keys /:search f:kind p:perm s:sort Enter:detail Tab:view q:quit",
            View::Objects => "?:keys Enter:its regions Tab:view q:quit",
            View::Threads => "?:keys Enter:its stack Tab:view q:quit",
            View::Findings => "?:keys j/k:move Tab:view q:quit",
        };
        Line::from(Span::styled(hints, theme.dim()))
    };
    f.render_widget(Paragraph::new(line), area);
}

/// A row window of `height` around the view's cursor; returns (first row,
/// selected row within the window).
fn rows_window(app: &mut App, view: View, height: usize) -> (usize, usize) {
    let v = view as usize;
    let off = window(app.cursor[v], app.offset[v], height);
    app.offset[v] = off;
    app.page = height.saturating_sub(1).max(1);
    (off, app.cursor[v] - off)
}

fn regions(f: &mut Frame, area: Rect, app: &mut App, theme: Theme) {
    let strip_h = if area.height >= 14 {
        3
    } else if area.height >= 8 {
        1
    } else {
        0
    };
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(1), Constraint::Length(strip_h)])
        .split(area);
    let (table_area, detail_area) = if app.detail {
        if parts[0].width >= 140 {
            let p = Layout::default()
                .direction(Direction::Horizontal)
                .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
                .split(parts[0]);
            (p[0], Some(p[1]))
        } else if parts[0].height >= 6 {
            let p = Layout::default()
                .direction(Direction::Vertical)
                .constraints([Constraint::Percentage(40), Constraint::Percentage(60)])
                .split(parts[0]);
            (p[0], Some(p[1]))
        } else {
            // No room for both: the detail alone.
            (Rect::default(), Some(parts[0]))
        }
    } else {
        (parts[0], None)
    };
    if table_area.height > 0 {
        region_table(f, table_area, app, theme);
    }
    if let Some(a) = detail_area {
        detail(f, a, app, theme);
    }
    if strip_h > 0 {
        strip(f, parts[1], app, theme);
    }
}

fn region_table(f: &mut Frame, area: Rect, app: &mut App, theme: Theme) {
    let w = area.width;
    // Columns by width: the path always, the rest as room allows.
    let wide = w >= 110;
    let mid = w >= 64;
    let note = w >= 170;
    let mut head = vec![""];
    let mut widths = vec![Constraint::Length(1)];
    if mid {
        head.push("START");
        widths.push(Constraint::Length(12));
    }
    if wide {
        head.push("END");
        widths.push(Constraint::Length(12));
    }
    head.extend(["PERM", "SIZE"]);
    widths.extend([Constraint::Length(4), Constraint::Length(6)]);
    if mid {
        head.push("RSS");
        widths.push(Constraint::Length(6));
    }
    if wide {
        head.extend(["PSS", "SWAP"]);
        widths.extend([Constraint::Length(6), Constraint::Length(6)]);
    }
    head.extend(["KIND", "PATH"]);
    widths.extend([Constraint::Length(14), Constraint::Fill(2)]);
    if note {
        head.push("NOTE");
        widths.push(Constraint::Fill(2));
    }
    // What the fixed columns leave for the path (half of it with notes).
    let fixed: u16 = widths
        .iter()
        .map(|c| match c {
            Constraint::Length(n) => *n + 1,
            _ => 1,
        })
        .sum();
    let path_w = usize::from(w.saturating_sub(fixed)) / if note { 2 } else { 1 };
    let body_h = area.height.saturating_sub(1) as usize;
    let (off, sel) = rows_window(app, View::Regions, body_h);
    let d = &app.data;
    let rows: Vec<Row> = app
        .visible()
        .iter()
        .skip(off)
        .take(body_h)
        .map(|&i| {
            let r = &d.snap.regions[i];
            let c = &d.cl.classes[i];
            let change = app.changes.per_region.get(i).copied().flatten();
            let mark = match change {
                Some(Change::New) => "+",
                Some(Change::Resized) => "~",
                Some(Change::Rss(_)) => "*",
                None => " ",
            };
            let mut cells = vec![Cell::from(mark)];
            if mid {
                cells.push(Cell::from(format!("{:x}", r.start)));
            }
            if wide {
                cells.push(Cell::from(format!("{:x}", r.end)));
            }
            cells.push(Cell::from(r.perms.to_string()));
            cells.push(Cell::from(human(r.size())));
            if mid {
                cells.push(Cell::from(human_opt(d.rss(i))));
            }
            if wide {
                cells.push(Cell::from(human_opt(d.pss(i))));
                cells.push(Cell::from(human_opt(d.swap(i))));
            }
            cells.push(Cell::from(Span::styled(
                c.category.id(),
                theme.fg(cat_color(c.category)),
            )));
            cells.push(Cell::from(fit_left(&d.paths[i], path_w)));
            if note {
                cells.push(Cell::from(t(&c.note).into_owned()));
            }
            let row = Row::new(cells);
            if change.is_some() {
                row.style(theme.changed())
            } else {
                row
            }
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(theme.head()))
        .column_spacing(1)
        .row_highlight_style(theme.selected());
    let mut st = TableState::default().with_selected((!app.visible().is_empty()).then_some(sel));
    f.render_stateful_widget(table, area, &mut st);
    if app.visible().is_empty() {
        let msg = Rect {
            y: area.y + 1,
            height: 1,
            ..area
        };
        f.render_widget(
            Paragraph::new(Span::styled(
                "no region matches the filters (c clears them)",
                theme.dim(),
            )),
            msg,
        );
    }
}

/// `s` cut to `w` columns from the left, so a long path keeps its file
/// name: `…/lib/libc.so.6`.
///
/// ```
/// use maplens_tui::widgets::fit_left;
/// assert_eq!(fit_left("/usr/lib/libc.so.6", 11), "…/libc.so.6");
/// assert_eq!(fit_left("[heap]", 12), "[heap]");
/// ```
pub fn fit_left(s: &str, w: usize) -> Cow<'_, str> {
    let n = s.chars().count();
    if n <= w || w == 0 {
        return Cow::Borrowed(s);
    }
    let tail: String = s.chars().skip(n - (w - 1)).collect();
    Cow::Owned(format!("…{tail}"))
}

/// The lines of the detail pane for region `i`.
pub fn detail_lines(app: &App, i: usize, theme: Theme) -> Vec<Line<'static>> {
    let d = &app.data;
    let r = &d.snap.regions[i];
    let c = &d.cl.classes[i];
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<10}"), theme.head()),
            Span::raw(v),
        ])
    };
    let mut v = vec![
        kv(
            "range",
            format!(
                "{:x}-{:x} {} ({} bytes)",
                r.start,
                r.end,
                human(r.size()),
                r.size()
            ),
        ),
        kv("perms", r.perms.to_string()),
        kv(
            "path",
            if d.paths[i].is_empty() {
                "(none: anonymous)".into()
            } else {
                d.paths[i].clone()
            },
        ),
        kv(
            "kind",
            format!(
                "{} ({}): {}{}",
                c.category.id(),
                c.category.title(),
                t(&c.note),
                if c.heuristic {
                    " (inferred from the layout)"
                } else {
                    ""
                }
            ),
        ),
        kv("rule", c.rule.to_owned()),
        kv("evidence", t(&c.evidence).into_owned()),
    ];
    if let Some(o) = c.object.and_then(|o| d.cl.objects.get(o)) {
        let n = o.regions.iter().position(|&x| x == i).map_or(0, |p| p + 1);
        v.push(kv(
            "object",
            format!("{} (region {n} of {})", escape(&o.path), o.regions.len()),
        ));
    }
    if let Some(tid) = c.thread {
        let name = d
            .snap
            .process
            .threads
            .iter()
            .find(|th| th.tid == tid)
            .and_then(|th| th.comm.as_deref())
            .map(|n| format!(" \"{}\"", t(n)))
            .unwrap_or_default();
        v.push(kv("thread", format!("{tid}{name}")));
    }
    v.push(kv(
        "file",
        format!(
            "offset 0x{:x}  device {}  inode {}",
            r.offset, r.dev, r.inode
        ),
    ));
    match app.changes.per_region.get(i).copied().flatten() {
        Some(Change::New) => v.push(Line::from(Span::styled(
            "changed   new since the first reading",
            theme.changed(),
        ))),
        Some(Change::Resized) => v.push(Line::from(Span::styled(
            "changed   its end moved since the first reading",
            theme.changed(),
        ))),
        Some(Change::Rss(delta)) => v.push(Line::from(Span::styled(
            format!("changed   RSS {} since the first reading", signed(delta)),
            theme.changed(),
        ))),
        None => {}
    }
    match &r.smaps {
        None => v.push(Line::from(Span::styled(
            "no smaps fields (read from maps: residency unknown)",
            theme.dim(),
        ))),
        Some(s) => {
            v.push(Line::from(Span::styled("smaps", theme.head())));
            for (fld, val) in s.known.iter() {
                let shown = if matches!(fld, Field::ThpEligible | Field::ProtectionKey) {
                    val.to_string()
                } else {
                    format!("{val} kB")
                };
                v.push(Line::from(vec![
                    Span::raw(format!("  {:<16}{:>10}  ", fld.key(), shown)),
                    Span::styled(fld.doc(), theme.dim()),
                ]));
            }
            for (k, val) in &s.extra {
                let val = match val {
                    maplens_core::model::ExtraValue::Number(n) => n.to_string(),
                    maplens_core::model::ExtraValue::Text(x) => t(x).into_owned(),
                };
                v.push(Line::from(format!(
                    "  {:<16}{:>10}  (a field maplens does not know)",
                    t(k),
                    val
                )));
            }
            if let Some(name) = &s.name {
                v.push(Line::from(format!("  {:<16}{}", "Name", escape(name))));
            }
            if let Some(flags) = s.vmflags() {
                v.push(Line::from(format!("  {:<16}{}", "VmFlags", t(flags))));
                for code in flags.split_whitespace() {
                    let meaning = KNOWN_FLAGS
                        .iter()
                        .find(|k| k.code == code)
                        .map_or("unknown flag", |k| k.meaning);
                    v.push(Line::from(vec![
                        Span::raw(format!("    {:<4}", t(code))),
                        Span::styled(meaning, theme.dim()),
                    ]));
                }
            }
        }
    }
    v
}

fn detail(f: &mut Frame, area: Rect, app: &mut App, theme: Theme) {
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        " detail (Esc closes, J/K scroll) ",
        theme.head(),
    ));
    let Some(i) = app.selected() else {
        f.render_widget(Paragraph::new("no region selected").block(block), area);
        return;
    };
    let lines = detail_lines(app, i, theme);
    let max = (lines.len() as u16).saturating_sub(1);
    app.detail_scroll = app.detail_scroll.min(max);
    f.render_widget(
        Paragraph::new(Text::from(lines))
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.detail_scroll, 0)),
        area,
    );
}

/// The address-space strip: every region in address order (one cell for
/// several when there are more regions than columns) with the selected one
/// marked, then the neighbourhood to a log scale with the gaps drawn, then
/// the gaps in words.
fn strip(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let d = &app.data;
    let regions = &d.snap.regions;
    let w = area.width as usize;
    let Some(sel) = app.selected() else {
        f.render_widget(Paragraph::new(""), area);
        return;
    };
    let gap_before = sel
        .checked_sub(1)
        .map(|p| regions[sel].start.saturating_sub(regions[p].end));
    let gap_after = regions
        .get(sel + 1)
        .map(|n| n.start.saturating_sub(regions[sel].end));
    let words = Line::from(vec![
        Span::styled("where ", theme.head()),
        Span::raw(format!(
            "region {} of {}  gap before {}  gap after {}",
            sel + 1,
            regions.len(),
            gap_before.map_or("(first)".into(), human),
            gap_after.map_or("(last)".into(), human),
        )),
    ]);
    let mut lines = Vec::new();
    if area.height >= 3 && w > 0 && !regions.is_empty() {
        // Whole map, by region index.
        let n = regions.len();
        let cell_of = |i: usize| i * w / n.max(1);
        let sel_cell = cell_of(sel).min(w - 1);
        let mut spans = Vec::new();
        for cell in 0..w {
            let first = (cell * n).div_ceil(w).min(n - 1);
            let cat = d.cl.classes[first].category;
            let (ch, style) = if cell == sel_cell {
                ('▼', theme.selected())
            } else {
                (cat_fill(theme, cat), theme.fg(cat_color(cat)))
            };
            spans.push(Span::styled(ch.to_string(), style));
        }
        lines.push(Line::from(spans));
        lines.push(neighbourhood(app, sel, w, theme));
    }
    lines.push(words);
    f.render_widget(Paragraph::new(lines), area);
}

/// Up to two regions either side of `sel`, and the gaps between them, each
/// as wide as the log of its size (so a page and a terabyte both show).
fn neighbourhood(app: &App, sel: usize, w: usize, theme: Theme) -> Line<'static> {
    let d = &app.data;
    let regions = &d.snap.regions;
    let lo = sel.saturating_sub(2);
    let hi = (sel + 3).min(regions.len());
    // (size, Some(region) or None for a gap)
    let mut items: Vec<(u64, Option<usize>)> = Vec::new();
    for i in lo..hi {
        if i > lo {
            let g = regions[i].start.saturating_sub(regions[i - 1].end);
            if g > 0 {
                items.push((g, None));
            }
        }
        items.push((regions[i].size(), Some(i)));
    }
    let weight = |s: u64| u64::from(64 - s.max(1).leading_zeros());
    let total: u64 = items.iter().map(|x| weight(x.0)).sum::<u64>().max(1);
    let mut spans = Vec::new();
    let mut used = 0;
    for (k, &(size, who)) in items.iter().enumerate() {
        let mut n = (weight(size) * w as u64 / total) as usize;
        if k + 1 == items.len() {
            n = w.saturating_sub(used);
        }
        let n = n.max(1).min(w.saturating_sub(used));
        if n == 0 {
            break;
        }
        used += n;
        let label = human(size);
        let (fill, style) = match who {
            None => ('·', theme.dim()),
            Some(i) if i == sel => (' ', theme.selected()),
            Some(i) => {
                let c = d.cl.classes[i].category;
                (cat_fill(theme, c), theme.fg(cat_color(c)))
            }
        };
        let text = if label.chars().count() + 2 <= n {
            let pad = n - label.chars().count();
            let left = pad / 2;
            format!(
                "{}{}{}",
                fill.to_string().repeat(left),
                label,
                fill.to_string().repeat(pad - left)
            )
        } else {
            fill.to_string().repeat(n)
        };
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

fn objects(f: &mut Frame, area: Rect, app: &mut App, theme: Theme) {
    let lines = app.object_lines();
    let body_h = area.height.saturating_sub(1) as usize;
    let (off, sel) = rows_window(app, View::Objects, body_h);
    let d = &app.data;
    let rows: Vec<Row> = lines
        .iter()
        .skip(off)
        .take(body_h)
        .map(|&(o, seg)| {
            let row = &d.report.objects[o];
            match seg {
                None => Row::new(vec![
                    Cell::from(Span::styled(
                        escape(&row.path).into_owned(),
                        Style::default().add_modifier(Modifier::BOLD),
                    )),
                    Cell::from(format!("{} segments", row.segments.len())),
                    Cell::from(human(row.usage.size)),
                    Cell::from(human_opt(row.usage.rss)),
                    Cell::from(human_opt(row.usage.pss)),
                ]),
                Some(s) => {
                    let s = &row.segments[s];
                    Row::new(vec![
                        Cell::from(format!(
                            "  {:x}-{:x} {} @{:x}",
                            s.start,
                            s.end,
                            t(&s.perms),
                            s.offset
                        )),
                        Cell::from(Span::styled(s.kind.id(), theme.fg(cat_color(s.kind)))),
                        Cell::from(human(s.usage.size)),
                        Cell::from(human_opt(s.usage.rss)),
                        Cell::from(human_opt(s.usage.pss)),
                    ])
                }
            }
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(14),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(6),
        ],
    )
    .header(Row::new(["OBJECT / SEGMENT", "KIND", "SIZE", "RSS", "PSS"]).style(theme.head()))
    .row_highlight_style(theme.selected());
    let mut st = TableState::default().with_selected((!lines.is_empty()).then_some(sel));
    f.render_stateful_widget(table, area, &mut st);
}

fn threads(f: &mut Frame, area: Rect, app: &mut App, theme: Theme) {
    let th = &app.data.report.threads;
    let mut about = format!(
        "{} threads; stacks tied to threads by {}",
        th.count.map_or("?".into(), |c| c.to_string()),
        t(&th.attribution)
    );
    if let Some(n) = &th.note {
        about.push_str(&format!(" ({})", t(n)));
    }
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Length(1), Constraint::Min(1)])
        .split(area);
    f.render_widget(Paragraph::new(Span::styled(about, theme.dim())), parts[0]);
    let body_h = parts[1].height.saturating_sub(1) as usize;
    let (off, sel) = rows_window(app, View::Threads, body_h);
    let th = &app.data.report.threads;
    let n = th.stacks.len() + th.unmatched.len();
    let wide = area.width >= 100;
    let rows: Vec<Row> = (off..n.min(off + body_h))
        .map(|k| {
            if let Some(s) = th.stacks.get(k) {
                let used = s.usage.rss.map_or("-".into(), |r| {
                    let pm = r * 1000 / s.usage.size.max(1);
                    if pm < 100 {
                        format!("{} {}.{}%", human(r), pm / 10, pm % 10)
                    } else {
                        format!("{} {}%", human(r), pm / 10)
                    }
                });
                let mut cells = vec![
                    Cell::from(s.tid.map_or("?".into(), |x| x.to_string())),
                    Cell::from(
                        s.name
                            .as_deref()
                            .map(|n| t(n).into_owned())
                            .unwrap_or_default(),
                    ),
                    Cell::from(if s.main { "main" } else { "thread" }),
                    Cell::from(human(s.usage.size)),
                    Cell::from(used),
                    Cell::from(human(s.guard)),
                ];
                if wide {
                    cells.push(Cell::from(format!("{:x}-{:x}", s.start, s.end)));
                    cells.push(Cell::from(format!(
                        "{}{}",
                        s.rule,
                        if s.heuristic { " (?)" } else { "" }
                    )));
                }
                Row::new(cells)
            } else {
                let (tid, name) = &th.unmatched[k - th.stacks.len()];
                Row::new(vec![
                    Cell::from(tid.to_string()),
                    Cell::from(
                        name.as_deref()
                            .map(|n| t(n).into_owned())
                            .unwrap_or_default(),
                    ),
                    Cell::from("?"),
                    Cell::from(""),
                    Cell::from("no stack region found"),
                ])
            }
        })
        .collect();
    let mut head = vec!["TID", "NAME", "STACK", "SIZE", "USED (RSS)", "GUARD"];
    let mut widths = vec![
        Constraint::Length(8),
        Constraint::Length(16),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(11),
        Constraint::Length(6),
    ];
    if wide {
        head.extend(["RANGE", "RULE"]);
        widths.extend([Constraint::Length(26), Constraint::Fill(1)]);
    }
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(theme.head()))
        .row_highlight_style(theme.selected());
    let mut st = TableState::default().with_selected((n > 0).then_some(sel));
    f.render_stateful_widget(table, parts[1], &mut st);
}

fn findings(f: &mut Frame, area: Rect, app: &mut App, theme: Theme) {
    let out = &app.data.outcome;
    if out.findings.is_empty() {
        let mut msg = vec![Line::from("No findings.")];
        if !out.skipped.is_empty() {
            msg.push(Line::from(Span::styled(
                format!(
                    "{} rules could not run on this target: {}",
                    out.skipped.len(),
                    out.skipped
                        .iter()
                        .map(|s| s.id)
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                theme.dim(),
            )));
        }
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(45), Constraint::Percentage(55)])
        .split(area);
    let body_h = parts[0].height.saturating_sub(1) as usize;
    let (off, sel) = rows_window(app, View::Findings, body_h);
    let out = &app.data.outcome;
    let rows: Vec<Row> = out
        .findings
        .iter()
        .skip(off)
        .take(body_h)
        .map(|x| {
            Row::new(vec![
                Cell::from(x.severity.id()),
                Cell::from(x.id),
                Cell::from(t(&x.summary).into_owned()),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(19),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["SEV", "RULE", "SUMMARY"]).style(theme.head()))
    .row_highlight_style(theme.selected());
    let mut st = TableState::default().with_selected(Some(sel));
    f.render_stateful_widget(table, parts[0], &mut st);
    let x = &out.findings[app.cursor[View::Findings as usize].min(out.findings.len() - 1)];
    let mut lines = vec![Line::from(Span::styled(
        t(&x.summary).into_owned(),
        theme.head(),
    ))];
    lines.push(Line::from(t(&x.explanation).into_owned()));
    for e in &x.evidence {
        lines.push(Line::from(format!("  · {}", t(e))));
    }
    for r in x.regions.iter().take(8) {
        lines.push(Line::from(format!(
            "  {:x}-{:x} {} {}",
            r.start,
            r.end,
            t(&r.perms),
            t(&r.path)
        )));
    }
    if x.regions.len() > 8 {
        lines.push(Line::from(format!(
            "  … {} regions in all",
            x.regions.len()
        )));
    }
    if let Some(s) = &x.saving {
        lines.push(Line::from(format!(
            "  saving: {} ({})",
            human(s.bytes),
            t(&s.basis)
        )));
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::default().borders(Borders::TOP))
            .wrap(Wrap { trim: false }),
        parts[1],
    );
}

/// The keys, one a line.
pub const KEYS: &[(&str, &str)] = &[
    ("1-4 Tab", "regions, objects, threads, findings"),
    ("j k ↑ ↓", "move; PgUp PgDn g G: page, first, last"),
    ("/", "search paths (Enter applies, Esc clears)"),
    ("f F", "filter by kind: next, previous"),
    ("p", "filter by permission: x w wx s ---"),
    ("c", "clear every filter"),
    ("s S", "sort: next key, reverse"),
    (
        "Enter d",
        "detail of the region (objects, threads: go there)",
    ),
    ("J K", "scroll the detail"),
    ("r space", "live: read now, pause"),
    ("? q", "this help, quit (also Ctrl-C)"),
];

fn help(f: &mut Frame, area: Rect, theme: Theme) {
    let w = area.width.min(64);
    let h = area.height.min(KEYS.len() as u16 + 4);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<9}"), theme.head()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(Span::styled(
        " + new  ~ resized  * RSS changed since the start",
        theme.dim(),
    )));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" keys (any key closes) "),
        ),
        r,
    );
}
