//! Work split over two threads, for big processes only.
//!
//! Measured on a 2-vCPU machine: two threads computing side by side ran
//! at about half speed each, so only independent pieces of work are split
//! (the report beside its findings, a table's widths in two halves), and
//! only for maps big enough to repay a thread.

/// Regions (or rows) at or above which a second thread pays for itself,
/// on a machine with a core to spare.
pub fn worth_two_threads(n: usize) -> bool {
    const FROM: usize = 8192;
    n >= FROM && std::thread::available_parallelism().is_ok_and(|c| c.get() > 1)
}

/// `(a(), b())`, `b` on a scoped thread when one can be had (else here,
/// after `a`: under `RLIMIT_NPROC` no thread may be).
pub fn on_two_threads<A, B: Send>(a: impl FnOnce() -> A, b: impl Fn() -> B + Sync) -> (A, B) {
    std::thread::scope(|s| {
        let second = std::thread::Builder::new().spawn_scoped(s, &b);
        let first = a();
        let second = match second {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => b(),
        };
        (first, second)
    })
}
