//! # maplens-tui
//!
//! `maplens tui TARGET`: an interactive explorer of one process's memory map
//! in a terminal (ratatui on crossterm). Panes: a summary with the
//! categories as a bar, a region table to sort and filter with a detail pane
//! (the classifier's rule and evidence, every smaps field) and an
//! address-space strip, the objects view (a library's segments together),
//! the threads and their stacks, and the findings of `maplens check`.
//!
//! The crate owns no analysis: every figure comes from `maplens_core`
//! (`classify`, `report`, `check`). It is split like bottom: [`state`] is
//! the model (keys in, selection out, no terminal types, unit-tested),
//! [`widgets`] draws it, and [`run`] is the event loop with a collector
//! thread that re-reads a live target.
//!
//! Drawing to ratatui's `TestBackend` needs no terminal:
//!
//! ```
//! use maplens_core::{model::Snapshot, parse::Mode};
//! use maplens_tui::{state::{App, Data}, widgets::{Theme, draw}};
//! use ratatui::{Terminal, backend::TestBackend};
//! let text = b"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]\n";
//! let snap = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
//! let mut app = App::new(Data::new(snap), false);
//! let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
//! term.draw(|f| draw(f, &mut app, Theme { color: false })).unwrap();
//! let screen: String = term.backend().buffer().content().iter().map(|c| c.symbol()).collect();
//! assert!(screen.contains("[stack]") && screen.contains("main-stack"));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod state;
pub mod widgets;

#[cfg(test)]
mod tests;

use std::io::{Stdout, stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use maplens_core::model::Snapshot;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};

use state::{Action, App, Data, Key};
use widgets::Theme;

/// How to run the explorer.
#[derive(Clone, Debug)]
pub struct Options {
    /// Re-read the target this often (a live process); `None` for a saved
    /// file or bundle, or when refresh is off.
    pub interval: Option<Duration>,
    /// Colours or not.
    pub theme: Theme,
}

/// Re-reads the target (a live process) for a refresh.
pub type Reload = Box<dyn FnMut() -> anyhow::Result<Snapshot> + Send>;

/// Puts the terminal back: cooked mode, main screen, cursor shown. Safe to
/// call more than once.
fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(stdout(), terminal::LeaveAlternateScreen, cursor::Show);
}

/// Restores the terminal when dropped (an error return, a panic unwinding).
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

fn setup() -> anyhow::Result<(Guard, Terminal<CrosstermBackend<Stdout>>)> {
    // A panic prints its message after the terminal is back, not into the
    // alternate screen where nobody would read it.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        hook(info);
    }));
    terminal::enable_raw_mode().context("the terminal: cannot enter raw mode (is it a tty?)")?;
    let guard = Guard;
    execute!(stdout(), terminal::EnterAlternateScreen, cursor::Hide)
        .context("the terminal: cannot switch to the alternate screen")?;
    let term = Terminal::new(CrosstermBackend::new(stdout())).context("the terminal")?;
    Ok((guard, term))
}

/// Maps a terminal key to the state's.
fn key_of(k: event::KeyEvent) -> Option<Key> {
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(k.code, KeyCode::Char('c')).then_some(Key::CtrlC);
    }
    Some(match k.code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        _ => return None,
    })
}

/// A reading from the collector: the derived data, or why it failed.
type Reading = Result<Data, String>;

/// Starts the collector: it re-reads the target every `interval` (or at
/// once on a message), unless paused, and sends each reading. It ends when
/// either channel closes.
fn collector(
    mut reload: Reload,
    interval: Duration,
    paused: Arc<AtomicBool>,
) -> (mpsc::Sender<()>, mpsc::Receiver<Reading>) {
    let (now_tx, now_rx) = mpsc::channel::<()>();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        loop {
            let forced = match now_rx.recv_timeout(interval) {
                Ok(()) => true,
                Err(mpsc::RecvTimeoutError::Timeout) => false,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            if !forced && paused.load(Ordering::Relaxed) {
                continue;
            }
            let reading = reload().map(Data::new).map_err(|e| format!("{e:#}"));
            if tx.send(reading).is_err() {
                return;
            }
        }
    });
    (now_tx, rx)
}

/// Runs the explorer on a first reading until the user quits. `reload`
/// (with [`Options::interval`]) makes it live: the target is read again in
/// the background and changes since the first reading are marked.
pub fn run(first: Snapshot, reload: Option<Reload>, opts: &Options) -> anyhow::Result<()> {
    let live = reload.is_some() && opts.interval.is_some();
    let mut app = App::new(Data::new(first), live);
    let paused = Arc::new(AtomicBool::new(false));
    let chans = match (reload, opts.interval) {
        (Some(r), Some(iv)) => {
            app.set_interval(iv.as_secs_f64());
            Some(collector(r, iv, paused.clone()))
        }
        _ => None,
    };
    let (_guard, mut term) = setup()?;
    loop {
        term.draw(|f| widgets::draw(f, &mut app, opts.theme))
            .context("drawing")?;
        // Test builds only: the tests check that a panic gives the
        // terminal back.
        #[cfg(debug_assertions)]
        if std::env::var_os("MAPLENS_TUI_TEST_PANIC").is_some() {
            panic!("MAPLENS_TUI_TEST_PANIC is set: panicking after the first draw");
        }
        if event::poll(Duration::from_millis(100)).context("reading the terminal")? {
            match event::read().context("reading the terminal")? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    // Esc then a key, typed quickly, reads as Alt+key:
                    // take it as the two keys.
                    let mut keys = Vec::new();
                    if k.modifiers.contains(KeyModifiers::ALT) {
                        keys.push(Key::Esc);
                    }
                    keys.extend(key_of(k));
                    for k in keys {
                        match app.key(k) {
                            Action::Quit => return Ok(()),
                            Action::Refresh => {
                                if let Some((now, _)) = &chans {
                                    let _ = now.send(());
                                }
                            }
                            Action::None => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(l) = &app.live {
            paused.store(l.paused, Ordering::Relaxed);
        }
        if let Some((_, rx)) = &chans {
            while let Ok(r) = rx.try_recv() {
                match r {
                    Ok(d) => app.apply(d),
                    Err(e) => app.reading_failed(e),
                }
            }
        }
    }
}
