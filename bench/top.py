#!/usr/bin/env python3
"""Benchmark `maplens top` against `cat /proc/*/smaps_rollup` and smem.

Prints, from one run on this machine: the median wall time of each command
over several runs, the ratios maplens/cat and smem/maplens, what the pool of
readers gains (`-j 1`, one reader, against the default), and the peak RSS
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
    """Wall time (s) of one run; output discarded."""
    t0 = time.perf_counter()
    subprocess.run(argv, shell=shell, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def peak_rss(argv, shell=False):
    """Peak RSS (KiB) from GNU time's %M. Not from this script's wait4: a
    child forked from Python starts with Python's RSS as its high-water
    mark before exec; GNU time is a small C program."""
    if not os.access("/usr/bin/time", os.X_OK):
        return None
    cmd = ["/bin/sh", "-c", argv] if shell else argv
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=False)
    try:
        return int(r.stderr.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def bench(name, argv, runs, shell=False):
    run_once(argv, shell)  # warm the page cache and dentries
    times = [run_once(argv, shell) for _ in range(runs)]
    peak = peak_rss(argv, shell)
    med = statistics.median(times)
    shown = f"{peak / 1024:6.1f} MiB" if peak else "     ?"
    print(f"{name:28s} median {med * 1000:8.2f} ms  min {min(times) * 1000:8.2f} ms"
          f"  peak RSS {shown}  ({runs} runs)")
    return med, peak


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
    top1, _ = bench("maplens top -j 1", [a.maplens, "top", "-j", "1", "--no-progress"], a.runs)
    bench("maplens top --format json", [a.maplens, "top", "--format", "json"], a.runs)
    sm, _ = bench("maplens top --smaps", [a.maplens, "top", "--smaps", "--no-progress"],
                  max(3, a.runs // 4))
    sm1, _ = bench("maplens top --smaps -j 1",
                   [a.maplens, "top", "--smaps", "-j", "1", "--no-progress"], max(3, a.runs // 4))
    cats, _ = bench("maplens top --by category",
                    [a.maplens, "top", "--by", "category"], max(3, a.runs // 4))
    bench("maplens libs", [a.maplens, "libs"], max(3, a.runs // 4))
    smem = None
    if shutil.which("smem"):
        smem, _ = bench("smem", ["smem", "-c", "pid uss pss rss swap"], max(3, a.runs // 5))
    print()
    print(f"maplens top / cat smaps_rollup : {top / cat:5.2f}x   (target <= 1.3x)")
    print(f"top -j 1 / top (the reader pool): {top1 / top:5.2f}x; with --smaps {sm1 / sm:5.2f}x")
    if smem:
        print(f"smem / maplens top             : {smem / top:5.1f}x   (target >= 20x)")
        print(f"smem / maplens top --by category: {smem / cats:5.1f}x  (full smaps, classified)")
    if peak:
        print(f"maplens top peak RSS           : {peak / 1024:5.1f} MiB (target < 16 MiB)")


if __name__ == "__main__":
    main()
