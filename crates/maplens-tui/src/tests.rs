//! The state driven by keys and drawn to ratatui's `TestBackend`.

use maplens_core::analysis::Category;
use maplens_core::model::Snapshot;
use maplens_core::parse::Mode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use crate::state::{Action, App, Change, Data, Key, PermFilter, SortKey, View};
use crate::widgets::{Theme, draw};

/// One region of smaps text with Size, Rss, Pss, Swap and VmFlags.
fn region(out: &mut String, head: &str, size_kb: u64, rss_kb: u64, flags: &str) {
    out.push_str(head);
    out.push('\n');
    for (k, v) in [
        ("Size", size_kb),
        ("KernelPageSize", 4),
        ("Rss", rss_kb),
        ("Pss", rss_kb / 2),
        ("Swap", 0),
    ] {
        out.push_str(&format!("{k}:{v:>12} kB\n"));
    }
    out.push_str(&format!("VmFlags: {flags}\n"));
}

/// A small process: a program, libc's four segments, a heap, a thread
/// stack with its guard, a file whose name holds an escape and a newline,
/// the main stack and the vdso.
fn smaps(heap_rss_kb: u64) -> String {
    let mut t = String::new();
    let lib = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    region(
        &mut t,
        "55d0c0000000-55d0c0001000 r-xp 00000000 08:01 7 /usr/bin/prog",
        4,
        4,
        "rd ex mr mw me",
    );
    region(
        &mut t,
        &format!("7f0000000000-7f0000028000 r--p 00000000 08:01 9 {lib}"),
        160,
        160,
        "rd mr mw me",
    );
    region(
        &mut t,
        &format!("7f0000028000-7f00001bd000 r-xp 00028000 08:01 9 {lib}"),
        1620,
        900,
        "rd ex mr mw me",
    );
    region(
        &mut t,
        &format!("7f00001bd000-7f0000215000 r--p 001bd000 08:01 9 {lib}"),
        352,
        100,
        "rd mr mw me",
    );
    region(
        &mut t,
        &format!("7f0000215000-7f0000219000 rw-p 00214000 08:01 9 {lib}"),
        16,
        16,
        "rd wr mr mw me ac",
    );
    region(
        &mut t,
        "55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0 [heap]",
        132,
        heap_rss_kb,
        "rd wr mr mw me ac",
    );
    region(
        &mut t,
        "7f1000000000-7f1000001000 ---p 00000000 00:00 0 ",
        4,
        0,
        "mr mw me",
    );
    region(
        &mut t,
        "7f1000001000-7f1000801000 rw-p 00000000 00:00 0 ",
        8192,
        40,
        "rd wr mr mw me ac",
    );
    region(
        &mut t,
        "7f2000000000-7f2000001000 r--s 00000000 08:01 11 /tmp/evil\x1b]0;pwned\x07\\012name",
        4,
        4,
        "rd sh mr mw me ms",
    );
    region(
        &mut t,
        "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]",
        132,
        24,
        "rd wr mr mw me gd ac",
    );
    region(
        &mut t,
        "7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]",
        8,
        4,
        "rd ex mr mw me de",
    );
    // The kernel prints regions in address order: sort the blocks.
    let mut blocks: Vec<String> = Vec::new();
    for line in t.lines() {
        if !line.contains(':') || line.contains(" /tmp/evil") || line.contains(" /usr/") {
            blocks.push(String::new());
        }
        let b = blocks.last_mut().expect("a region line first");
        b.push_str(line);
        b.push('\n');
    }
    blocks
        .sort_by_key(|b| u64::from_str_radix(b.split('-').next().unwrap_or("0"), 16).unwrap_or(0));
    blocks.concat()
}

fn app(live: bool) -> App {
    let snap =
        Snapshot::from_text("test.smaps", smaps(20).as_bytes(), Mode::Strict).expect("parses");
    App::new(Data::new(snap), live)
}

fn typed(app: &mut App, keys: &str) {
    for c in keys.chars() {
        let k = match c {
            '\n' => Key::Enter,
            '\u{1b}' => Key::Esc,
            '\t' => Key::Tab,
            c => Key::Char(c),
        };
        app.key(k);
    }
}

/// Draws `app` at `w`×`h` and returns the screen, a line per row, and the
/// buffer for style checks.
fn screen(app: &mut App, w: u16, h: u16, color: bool) -> (String, ratatui::buffer::Buffer) {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("backend");
    term.draw(|f| draw(f, app, Theme { color })).expect("draws");
    let buf = term.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..h {
        for x in 0..w {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    (s, buf)
}

fn path_of(app: &App, i: usize) -> &str {
    &app.data.paths[i]
}

#[test]
fn search_keeps_only_matching_paths_case_insensitively() {
    let mut a = app(false);
    assert_eq!(a.visible().len(), 11);
    typed(&mut a, "/LIBC\n");
    assert_eq!(a.search, "LIBC");
    assert_eq!(a.visible().len(), 4);
    assert!(
        a.visible()
            .iter()
            .all(|&i| path_of(&a, i).contains("libc.so.6"))
    );
    // Esc clears the search.
    typed(&mut a, "\u{1b}");
    assert_eq!(a.visible().len(), 11);
    // A search being typed can be abandoned.
    typed(&mut a, "/heap\u{1b}");
    assert_eq!((a.visible().len(), a.input.is_none()), (11, true));
}

#[test]
fn kind_filter_steps_through_the_categories_present() {
    let mut a = app(false);
    let kinds = a.kinds();
    assert!(kinds.contains(&Category::Code) && kinds.contains(&Category::Heap));
    for &k in &kinds {
        a.key(Key::Char('f'));
        assert_eq!(a.kind, Some(k));
        assert!(!a.visible().is_empty());
        assert!(
            a.visible()
                .iter()
                .all(|&i| a.data.cl.classes[i].category == k)
        );
    }
    a.key(Key::Char('f'));
    assert_eq!((a.kind, a.visible().len()), (None, 11));
    a.key(Key::Char('F'));
    assert_eq!(a.kind, kinds.last().copied());
}

#[test]
fn perm_filter_and_clear() {
    let mut a = app(false);
    a.key(Key::Char('p'));
    assert_eq!(a.perm, PermFilter::Exec);
    // prog, libc's code, vdso.
    assert_eq!(a.visible().len(), 3);
    a.key(Key::Char('p'));
    assert_eq!(a.perm, PermFilter::Write);
    assert!(
        a.visible()
            .iter()
            .all(|&i| a.data.snap.regions[i].perms.write())
    );
    typed(&mut a, "pp");
    assert_eq!(a.perm, PermFilter::Shared);
    assert_eq!(a.visible().len(), 1);
    assert!(path_of(&a, a.visible()[0]).starts_with("/tmp/evil"));
    typed(&mut a, "/x\n");
    typed(&mut a, "c");
    assert_eq!(
        (a.perm, a.search.as_str(), a.visible().len()),
        (PermFilter::Any, "", 11)
    );
}

#[test]
fn sort_by_size_largest_first_and_reverse() {
    let mut a = app(false);
    a.key(Key::Char('s'));
    assert_eq!((a.sort, a.descending), (SortKey::Size, true));
    let sizes: Vec<u64> = a
        .visible()
        .iter()
        .map(|&i| a.data.snap.regions[i].size())
        .collect();
    assert_eq!(sizes[0], 8192 * 1024);
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    a.key(Key::Char('S'));
    let first = a.visible()[0];
    assert_eq!(a.data.snap.regions[first].size(), 4096);
}

#[test]
fn selection_follows_the_region_through_filters() {
    let mut a = app(false);
    let heap = (0..11).find(|&i| path_of(&a, i) == "[heap]").expect("heap");
    let pos = a.visible().iter().position(|&i| i == heap).expect("shown");
    for _ in 0..pos {
        a.key(Key::Down);
    }
    assert_eq!(a.selected(), Some(heap));
    a.key(Key::Char('p')); // executable: the heap is not shown
    assert_ne!(a.selected(), Some(heap));
    a.key(Key::Char('c'));
    a.key(Key::End);
    assert_eq!(a.cursor[0], 10);
    a.key(Key::Down);
    assert_eq!(a.cursor[0], 10);
    a.key(Key::Home);
    assert_eq!(a.cursor[0], 0);
}

#[test]
fn views_switch_by_number_and_tab_and_q_quits() {
    let mut a = app(false);
    assert_eq!(a.key(Key::Char('3')), Action::None);
    assert_eq!(a.view, View::Threads);
    a.key(Key::Tab);
    assert_eq!(a.view, View::Findings);
    a.key(Key::Tab);
    assert_eq!(a.view, View::Regions);
    a.key(Key::BackTab);
    assert_eq!(a.view, View::Findings);
    // While typing a search, q is text; Ctrl-C always quits.
    typed(&mut a, "/q");
    assert_eq!(a.input.as_deref(), Some("q"));
    assert_eq!(a.key(Key::CtrlC), Action::Quit);
    typed(&mut a, "\u{1b}");
    assert_eq!(a.key(Key::Char('q')), Action::Quit);
    // Refresh is for live targets only.
    assert_eq!(a.key(Key::Char('r')), Action::None);
    assert_eq!(app(true).key(Key::Char('r')), Action::Refresh);
}

#[test]
fn objects_group_a_librarys_segments_and_enter_shows_them() {
    let mut a = app(false);
    a.key(Key::Char('2'));
    let lines = a.object_lines();
    let libc = a
        .data
        .report
        .objects
        .iter()
        .position(|o| o.path.ends_with(b"libc.so.6"))
        .expect("libc is an object");
    assert_eq!(a.data.report.objects[libc].segments.len(), 4);
    let at = lines
        .iter()
        .position(|&(o, s)| o == libc && s == Some(1))
        .expect("segment line");
    for _ in 0..at {
        a.key(Key::Down);
    }
    let (s, _) = screen(&mut a, 80, 24, false);
    assert!(s.contains("/usr/lib/x86_64-linux-gnu/libc.so.6"), "{s}");
    assert!(s.contains("4 segments"), "{s}");
    assert!(s.contains("7f0000028000-7f00001bd000 r-xp @28000"), "{s}");
    a.key(Key::Enter);
    assert_eq!(a.view, View::Regions);
    assert!(a.detail);
    assert_eq!(a.visible().len(), 4);
    let sel = a.selected().expect("selected");
    assert_eq!(a.data.snap.regions[sel].start, 0x7f00_0002_8000);
}

#[test]
fn detail_pane_has_rule_evidence_and_every_smaps_field() {
    let mut a = app(false);
    typed(&mut a, "/heap\n\n");
    assert!(a.detail);
    let (s, _) = screen(&mut a, 120, 50, false);
    let heap = a.selected().expect("heap");
    let c = &a.data.cl.classes[heap];
    assert!(s.contains(&format!("rule      {}", c.rule)), "{s}");
    assert!(s.contains(&format!("evidence  {}", c.evidence)), "{s}");
    assert!(s.contains("heap (heap (brk))"), "{s}");
    for f in ["Size", "KernelPageSize", "Rss", "Pss", "Swap", "VmFlags"] {
        assert!(s.contains(&format!("  {f} ")), "{f} in\n{s}");
    }
    assert!(s.contains("Rss                  20 kB"), "{s}");
    assert!(s.contains("Resident set size"), "{s}");
    // VmFlags spelled out.
    assert!(
        s.contains("    ac  counted against the commit limit"),
        "{s}"
    );
    a.key(Key::Esc);
    assert!(!a.detail);
}

#[test]
fn target_text_is_escaped_before_it_reaches_a_cell() {
    let mut a = app(false);
    typed(&mut a, "/evil\n\n");
    for (w, h) in [(80, 24), (200, 60)] {
        let (s, buf) = screen(&mut a, w, h, true);
        assert!(s.contains(r"/tmp/evil\x1b]0;pwned\x07\012name"), "{s}");
        for c in buf.content() {
            assert!(
                !c.symbol().chars().any(maplens_core::text::is_hazard),
                "raw control {:?} in a cell",
                c.symbol()
            );
        }
    }
}

#[test]
fn threads_view_lists_stacks_with_their_use() {
    let mut a = app(false);
    a.key(Key::Char('3'));
    let (s, _) = screen(&mut a, 200, 60, false);
    assert!(s.contains("USED (RSS)"), "{s}");
    // The main stack: 24 kB of 132 kB resident.
    assert!(s.contains("24K 18%"), "{s}");
    a.key(Key::Enter);
    assert_eq!(a.view, View::Regions);
    let sel = a.selected().expect("stack selected");
    assert_eq!(
        a.data.snap.regions[sel].start,
        a.data.report.threads.stacks[0].start
    );
}

#[test]
fn summary_bar_fills_the_width_and_lists_categories() {
    let mut a = app(false);
    let (s, _) = screen(&mut a, 80, 24, false);
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines[0].starts_with("maplens test.smaps  saved  11 regions"),
        "{s}"
    );
    // NO_COLOR: each category by its own character, every column used.
    assert_eq!(lines[1].chars().filter(|&c| c != ' ').count(), 80, "{s}");
    assert!(lines[2].contains("code"), "{s}");
    assert!(lines[3].starts_with(" 1:Regions(11) 2:Objects"), "{s}");
}

#[test]
fn no_color_means_no_colour_in_any_cell() {
    let mut a = app(true);
    typed(&mut a, "\n");
    let (_, buf) = screen(&mut a, 100, 30, false);
    for c in buf.content() {
        assert_eq!((c.fg, c.bg), (Color::Reset, Color::Reset), "{c:?}");
    }
    let (_, buf) = screen(&mut a, 100, 30, true);
    assert!(buf.content().iter().any(|c| c.fg != Color::Reset));
}

#[test]
fn every_size_draws_and_small_ones_degrade() {
    let mut a = app(true);
    for (w, h) in [
        (200, 60),
        (80, 24),
        (60, 14),
        (40, 10),
        (30, 6),
        (20, 4),
        (10, 3),
        (1, 1),
    ] {
        for keys in ["", "\n", "2", "3", "4", "?"] {
            let mut b = app(true);
            typed(&mut b, keys);
            screen(&mut b, w, h, true);
        }
        let (s, _) = screen(&mut a, w, h, false);
        if w < 20 || h < 4 {
            assert!(s.contains("small") || w < 12, "{s}");
        } else {
            assert!(s.contains("Regions"), "{w}x{h}\n{s}");
        }
    }
    // At 80x24 the strip shows where the selected region lies.
    let (s, _) = screen(&mut a, 80, 24, false);
    assert!(s.contains("where region 1 of 11"), "{s}");
}

#[test]
fn help_lists_the_keys_and_any_key_closes_it() {
    let mut a = app(false);
    a.key(Key::Char('?'));
    let (s, _) = screen(&mut a, 80, 24, false);
    assert!(
        s.contains("search paths") && s.contains("filter by kind"),
        "{s}"
    );
    a.key(Key::Char('x'));
    assert!(!a.help);
}

#[test]
fn live_readings_mark_changes_since_the_first() {
    let mut a = app(true);
    let heap_start = 0x55d0_c100_0000;
    assert!(a.select_start(heap_start));
    typed(&mut a, "\nJJ");
    assert_eq!(a.detail_scroll, 2);
    // A second reading: the heap's RSS grew by 100 kB and a region is new.
    let mut text = smaps(120);
    text.push_str("7ffd00000000-7ffd00001000 rw-p 00000000 00:00 0 \nSize: 4 kB\nRss: 4 kB\n");
    let snap = Snapshot::from_text("test.smaps", text.as_bytes(), Mode::Strict).expect("parses");
    a.apply(Data::new(snap));
    assert_eq!(a.live.as_ref().map(|l| l.readings), Some(2));
    let heap = a.selected().expect("selection kept");
    assert_eq!(a.detail_scroll, 2, "the detail stays scrolled");
    assert_eq!(a.data.snap.regions[heap].start, heap_start);
    assert_eq!(a.changes.per_region[heap], Some(Change::Rss(100 * 1024)));
    assert_eq!((a.changes.new, a.changes.gone), (1, 0));
    assert_eq!(a.changes.rss, Some(104 * 1024));
    let (s, _) = screen(&mut a, 80, 24, false);
    assert!(s.contains("since start: RSS +104K"), "{s}");
    assert!(s.contains("1 new 0 gone"), "{s}");
    assert!(
        s.lines()
            .any(|l| l.starts_with('*') && l.contains("[heap]")),
        "{s}"
    );
    // A failed reading keeps the last one on screen and says why.
    a.reading_failed("the process exited".into());
    let (s, _) = screen(&mut a, 80, 24, false);
    assert!(
        s.contains("reading failed") && s.contains("the process exited"),
        "{s}"
    );
}
