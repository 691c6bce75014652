#!/usr/bin/env bash
# Live faults, at full count (maplens issue 19): the fault tests of
# crates/maplens/tests/output/faults.rs, each run N times (default 1,000)
# instead of the test command's few hundred: a process churning 3,000
# regions read by the report, maps, pmap -X, top and watch; processes
# killed at random moments mid-read; a process exec-ing every millisecond;
# N short-lived processes while top, watch --all and serve read them all.
# Every run is checked as in the tests (no panic, no hang, a result that
# adds up or one error line); this prints each test's tally.
#   bench/faults.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
echo "machine load: $(cut -d" " -f1-3 /proc/loadavg); $N runs each"
start=$(date +%s)
MAPLENS_FAULT_RUNS=$N cargo test -q --release -p maplens --test output -- \
    --test-threads 1 --nocapture \
    faults::a_process_churning_its_mappings_is_read_a_thousand_times \
    faults::processes_killed_mid_read_give_one_line_or_a_result \
    faults::a_process_that_keeps_execing_is_read_or_refused_cleanly \
    churn::five_hundred_short_lived_processes_hang_nothing_and_leak_nothing 2>&1 |
    grep -oE '(churn|killed mid-read|exec loop|short-lived): .*|test result.*|.*panicked.*|FAILED.*'
echo "took $(($(date +%s) - start)) s"
