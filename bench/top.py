#!/usr/bin/env python3
"""Benchmark `maplens top` against `cat /proc/*/smaps_rollup` and smem.

Prints, from one run on this machine: the median wall time of each command
over several runs, the ratios maplens/cat and smem/maplens, and the peak RSS
of maplens (ru_maxrss of the child). Targets (docs/top.md): within 1.3x of
cat, at least 20x faster than smem, peak RSS under 16 MiB.

    python3 bench/top.py [--maplens PATH] [--runs N]

Use the release build: `cargo build --release -p maplens`.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def run_once(argv, shell=False):
    """Wall time (s) and peak RSS (KiB) of one run; output discarded."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, shell=shell, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    p.returncode = status
    return dt, ru.ru_maxrss


def bench(name, argv, runs, shell=False):
    times, peaks = [], []
    run_once(argv, shell)  # warm the page cache and dentries
    for _ in range(runs):
        dt, peak = run_once(argv, shell)
        times.append(dt)
        peaks.append(peak)
    med = statistics.median(times)
    print(f"{name:28s} median {med * 1000:8.2f} ms  min {min(times) * 1000:8.2f} ms"
          f"  peak RSS {max(peaks) / 1024:6.1f} MiB  ({runs} runs)")
    return med, max(peaks)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--maplens", default=os.path.join(target, "release", "maplens"))
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    if not os.access(a.maplens, os.X_OK):
        sys.exit(f"{a.maplens}: not built; run `cargo build --release -p maplens`")
    nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
    print(f"{nproc} processes; {os.cpu_count()} CPUs; maplens = {a.maplens}")
    cat, _ = bench("cat /proc/*/smaps_rollup",
                   "cat /proc/[0-9]*/smaps_rollup", a.runs, shell=True)
    top, peak = bench("maplens top", [a.maplens, "top", "--no-progress"], a.runs)
    bench("maplens top --format json", [a.maplens, "top", "--format", "json"], a.runs)
    cats, _ = bench("maplens top --by category",
                    [a.maplens, "top", "--by", "category"], max(3, a.runs // 4))
    bench("maplens libs", [a.maplens, "libs"], max(3, a.runs // 4))
    smem = None
    if shutil.which("smem"):
        smem, _ = bench("smem", ["smem", "-c", "pid uss pss rss swap"], max(3, a.runs // 5))
    print()
    print(f"maplens top / cat smaps_rollup : {top / cat:5.2f}x   (target <= 1.3x)")
    if smem:
        print(f"smem / maplens top             : {smem / top:5.1f}x   (target >= 20x)")
        print(f"smem / maplens top --by category: {smem / cats:5.1f}x  (full smaps, classified)")
    print(f"maplens top peak RSS           : {peak / 1024:5.1f} MiB (target < 16 MiB)")


if __name__ == "__main__":
    main()
