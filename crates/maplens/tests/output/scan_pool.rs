//! The scan behind `top`, `libs` and `watch --all` reads processes' memory
//! files on a bounded pool of readers: on frozen children whose pages are
//! all their own, a scan on four readers gives the very rows (PID order,
//! every figure) and calls its hooks with the very regions, in the same
//! order, as a scan on one.

use maplens_core::parse::Entry;
use maplens_core::system::{self, Detail, ProcessMeta, ScanHooks, ScanOptions};
use maplens_testkid::Kid;

/// Records every region the scan hands out, in order.
#[derive(Default)]
struct Regions(Vec<(u32, u64, u64)>);

impl ScanHooks for Regions {
    fn region(
        &mut self,
        meta: &ProcessMeta,
        e: &Entry<'_>,
        _c: Option<maplens_core::analysis::Category>,
    ) {
        self.0.push((meta.pid, e.header.start, e.header.end));
    }
}

#[test]
fn four_readers_give_the_rows_and_regions_of_one() {
    let kids: Vec<Kid> = (0..6)
        .map(|k| {
            let regions = (k * 7 + 3).to_string();
            Kid::spawn_private(&["--regions", &regions, "--threads", "1"]).expect("spawn kid")
        })
        .collect();
    for k in &kids {
        k.stop().expect("freeze kid");
    }
    // Two PIDs that are no process: rows for neither, in either scan.
    let mut pids: Vec<u32> = kids.iter().map(|k| k.pid).collect();
    pids.extend([u32::MAX - 1, u32::MAX - 2]);
    pids.sort_unstable();
    for detail in [Detail::Rollup, Detail::Smaps, Detail::Categories] {
        let scan = |readers: usize| {
            let opts = ScanOptions {
                detail,
                pids: pids.clone(),
                readers,
                ..ScanOptions::default()
            };
            let mut hooks = Regions::default();
            let r = system::scan(&opts, &mut hooks).expect("scan");
            (r, hooks.0)
        };
        let (one, one_regions) = scan(1);
        let (four, four_regions) = scan(4);
        assert_eq!(
            one.rows.len(),
            kids.len(),
            "{detail:?}: {:?}",
            one.unreadable
        );
        assert_eq!(one.rows, four.rows, "{detail:?}: rows");
        assert_eq!(one.unreadable, four.unreadable, "{detail:?}: unreadable");
        assert_eq!(one.totals, four.totals, "{detail:?}: totals");
        let order: Vec<u32> = four.rows.iter().map(|r| r.meta.pid).collect();
        assert!(
            order.is_sorted(),
            "{detail:?}: rows in PID order: {order:?}"
        );
        assert!(four.rows.iter().all(|r| r.mem.rss > 0), "{detail:?}");
        if detail != Detail::Rollup {
            assert!(
                one_regions.len() > kids.len() * 10,
                "{detail:?}: {}",
                one_regions.len()
            );
            assert_eq!(
                one_regions, four_regions,
                "{detail:?}: regions to the hooks"
            );
        }
    }
    for k in &kids {
        k.cont().expect("thaw kid");
    }
}
