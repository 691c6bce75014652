#!/usr/bin/env bash
# Benchmark `maplens pmap` against procps `pmap` on a process with 60,000
# mappings and 200 threads. Prints wall-time ratios from one run and the
# peak RSS of each command.
#   bench/pmap.sh [MAPPINGS] [THREADS]
# BASE=/path/to/an/older/maplens also times that binary's `pmap -X` in the
# same rounds (before/after a change, on the same frozen process).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-60000}
T=${2:-200}
REPS=${REPS:-5}   # each command runs REPS times (in rounds); the fastest run is reported
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p maplens -p maplens-testkid
M=$CARGO_TARGET_DIR/release/maplens
KID=$CARGO_TARGET_DIR/release/maplens-testkid
PMAP=${PMAP:-/usr/bin/pmap}

coproc KIDP { exec "$KID" --mappings "$N" --threads "$T"; }
read -r info <&"${KIDP[0]}"
PID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info")
# Thaw the kid before closing its stdin: a stopped kid never sees EOF, and
# the wait would hang whenever the script stops early.
trap 'kill -CONT "$PID" 2>/dev/null; exec {KIDP[1]}>&-; wait' EXIT
kill -STOP "$PID"   # a still process: every command sees the same smaps
export REPS
echo "machine load: $(cut -d" " -f1-3 /proc/loadavg); best of $REPS runs each, run in rounds"
echo "pid $PID: $(wc -l < /proc/$PID/maps) mappings, $(ls /proc/$PID/task | wc -l) threads"

# Each command runs REPS times, in rounds (cat, pmap -X, maplens -X, ...
# then again), so that all of them see the same load on a shared machine;
# the fastest run of each counts. Wall seconds are measured around each run,
# peak RSS (KiB) of the command itself from GNU time's %M (a tiny forked
# parent, so the figure is the command's own); without /usr/bin/time,
# getrusage of a forked python child is used (which counts the fork of
# python, so it is an upper bound). One line per command: seconds, KiB.
measure_all() {
  python3 - "$@" <<'PY'
import os, resource, subprocess, sys, tempfile, time
cmds = [c.split("\x1f") for c in sys.argv[1:]]
gt = "/usr/bin/time"
best = [None] * len(cmds)
with open(os.devnull, "wb") as null, tempfile.NamedTemporaryFile("r") as tf:
    for _ in range(int(os.environ.get("REPS", "5"))):
        for i, cmd in enumerate(cmds):
            full = [gt, "-q", "-o", tf.name, "-f", "%M"] + cmd if os.access(gt, os.X_OK) else cmd
            t = time.perf_counter()
            subprocess.call(full, stdout=null)
            dt = time.perf_counter() - t
            if full is not cmd:
                tf.seek(0)
                rss = int(tf.read().split()[-1])
            else:
                rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if best[i] is None or dt < best[i][0]:
                best[i] = (dt, rss)
for dt, rss in best:
    print(f"{dt:.4f} {rss}")
PY
}
cat "/proc/$PID/smaps" > /dev/null   # warm up
US=$'\x1f'
BASE=${BASE:-}
extra=()
[ -n "$BASE" ] && extra=("$BASE${US}pmap${US}-X${US}$PID" "$BASE${US}pmap${US}-x${US}$PID")
{ read -r t_cat r_cat; read -r t_pX r_pX; read -r t_mX r_mX; read -r t_px r_px; read -r t_mx r_mx
  if [ -n "$BASE" ]; then read -r t_bX r_bX; read -r t_bx r_bx; fi; } < <(
  measure_all "cat${US}/proc/$PID/smaps" "$PMAP${US}-X${US}$PID" "$M${US}pmap${US}-X${US}$PID" \
    "$PMAP${US}-x${US}$PID" "$M${US}pmap${US}-x${US}$PID" "${extra[@]}")
printf '%-28s %9s %12s\n' command seconds peak-RSS-KiB
printf '%-28s %9s %12s\n' "cat smaps" "$t_cat" "$r_cat" "pmap -X" "$t_pX" "$r_pX" \
  "maplens pmap -X" "$t_mX" "$r_mX" "pmap -x" "$t_px" "$r_px" "maplens pmap -x" "$t_mx" "$r_mx"
if [ -n "$BASE" ]; then
  printf '%-28s %9s %12s\n' "BASE pmap -X" "$t_bX" "$r_bX" "BASE pmap -x" "$t_bx" "$r_bx"
  python3 -c 'import sys; m,b,c,mx,bx=map(float,sys.argv[1:]); print(f"maplens pmap -X / BASE -X     = {m/b:.3f}   (BASE -X / cat smaps = {b/c:.3f})"); print(f"maplens pmap -x / BASE -x     = {mx/bx:.3f}")' \
    "$t_mX" "$t_bX" "$t_cat" "$t_mx" "$t_bx"
fi
python3 - "$t_mX" "$t_pX" "$t_mx" "$t_px" "$t_cat" "$r_mX" "$r_pX" <<'PY'
import sys
mX, pX, mx, px, cat, rmX, rpX = map(float, sys.argv[1:])
print(f"maplens pmap -X / pmap -X      = {mX/pX:.3f}  ({pX/mX:.1f}x faster; target >= 10x)")
print(f"pmap -X / cat smaps            = {pX/cat:.1f}  (the best speed-up any reader of smaps can reach)")
print(f"maplens pmap -x / pmap -x      = {mx/px:.3f}  ({px/mx:.1f}x faster)")
print(f"maplens pmap -X / cat smaps    = {mX/cat:.3f}  (target <= 1.1)")
print(f"peak RSS maplens -X - pmap -X  = {(rmX-rpX)/1024:+.1f} MiB  (target <= +8 MiB)")
PY
# Same bytes?
# (one after the other: each maps libc, which shifts the kid's Pss of libc
# pages while it runs)
"$PMAP" -X "$PID" > /tmp/pmap-bench-a.$$; "$M" pmap -X "$PID" > /tmp/pmap-bench-b.$$
if cmp -s /tmp/pmap-bench-a.$$ /tmp/pmap-bench-b.$$; then
  echo "-X output: identical"
else
  n=$(diff /tmp/pmap-bench-a.$$ /tmp/pmap-bench-b.$$ | grep -c '^<' || true)
  # (diff exits 1 here: under pipefail, without `|| true`, set -e would end
  # the script)
  other=$(diff /tmp/pmap-bench-a.$$ /tmp/pmap-bench-b.$$ | grep '^<' | grep -v -E '\.so|^<  +[0-9]' | wc -l || true)
  echo "-X output: $n lines differ, $other of them not shared-library rows or totals"
  echo "  (the Pss of libc/ld.so pages shifts as each tool maps them; tests/pmap_live.rs checks the rest)"
fi
rm -f /tmp/pmap-bench-a.$$ /tmp/pmap-bench-b.$$
kill -CONT "$PID"
