//! A progress line on stderr for long scans: indicatif in normal builds, a
//! plain `\r`-rewritten counter in the lite device build. Callers decide
//! when to show it (only on a terminal).

/// A progress display with a known total.
pub struct Progress {
    #[cfg(feature = "progress")]
    bar: indicatif::ProgressBar,
    #[cfg(not(feature = "progress"))]
    total: u64,
}

impl Progress {
    /// Starts drawing on stderr.
    pub fn new(total: u64, what: &str) -> Progress {
        #[cfg(feature = "progress")]
        {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "maplens: {what} {{bar:30}} {{pos}}/{{len}}"
                ))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            Progress { bar }
        }
        #[cfg(not(feature = "progress"))]
        {
            eprint!("maplens: {what} 0/{total}");
            Progress { total }
        }
    }

    /// Shows `done` of the total.
    pub fn set(&self, done: u64) {
        #[cfg(feature = "progress")]
        self.bar.set_position(done);
        #[cfg(not(feature = "progress"))]
        eprint!("\rmaplens: {done}/{}", self.total);
    }

    /// Removes the line.
    pub fn finish(self) {
        #[cfg(feature = "progress")]
        self.bar.finish_and_clear();
        #[cfg(not(feature = "progress"))]
        eprint!("\r\x1b[2K");
    }
}
