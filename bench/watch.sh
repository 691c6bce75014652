#!/usr/bin/env bash
# What `maplens watch` costs on a process with 60,000 regions (maplens issue
# 15): the watcher's CPU time per sample for a rollup-only sample and for a
# full one (smaps), from the cost each sample carries (`--verbose`), and the
# bytes a sample takes in a SQLite and in a JSON Lines recording.
#   bench/watch.sh [REGIONS] [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-60000}
S=${2:-12}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p maplens -p maplens-testkid
M=${MAPLENS:-$CARGO_TARGET_DIR/release/maplens}
KID=$CARGO_TARGET_DIR/release/maplens-testkid

coproc KIDP { exec "$KID" --regions "$N"; }
read -r info <&"${KIDP[0]}"
PID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info")
TMP=$(mktemp -d)
trap 'kill -CONT "$PID" 2>/dev/null; exec {KIDP[1]}>&-; wait; rm -rf "$TMP"' EXIT
kill -STOP "$PID"   # still: the rollup never moves, so only every 12th sample is full
echo "machine load: $(cut -d" " -f1-3 /proc/loadavg)"
echo "pid $PID: $(wc -l < /proc/$PID/maps) regions; $S samples a run, 0.5 s apart"

run() { # NAME ARGS...: watch with --verbose, print per-kind medians
    local name=$1; shift
    "$M" watch "$PID" --interval 500ms --duration "$((S / 2))s" --json --verbose "$@" \
        >/dev/null 2>"$TMP/$name.err"
    python3 - "$name" "$TMP/$name.err" <<'PY'
import re, statistics, sys
name, path = sys.argv[1], sys.argv[2]
kinds = {}
for line in open(path):
    m = re.search(r": (full|rollup) sample: (\d+) µs CPU, (\d+) µs wall", line)
    if m:
        kinds.setdefault(m[1], []).append((int(m[2]), int(m[3])))
for k, v in sorted(kinds.items()):
    cpu = statistics.median(c for c, _ in v) / 1000
    wall = statistics.median(w for _, w in v) / 1000
    print(f"{name:<22} {k:<6} samples {len(v):>3}  CPU median {cpu:8.2f} ms  wall median {wall:8.2f} ms")
PY
}
run "default (rollup)" --record "$TMP/default.db"
run "--full sqlite" --full --record "$TMP/full.db"
run "--full jsonl" --full --record "$TMP/full.jsonl"
run "default jsonl" --record "$TMP/default.jsonl"

size() { # FILE: bytes per sample
    local f=$1 n
    if [[ $f == *.db ]]; then
        n=$(sqlite3 "$f" "SELECT count(*) FROM sample")
        sqlite3 "$f" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    else
        n=$(wc -l < "$f")
    fi
    local b; b=$(stat -c %s "$f")
    echo "$(basename "$f"): $n samples, $b bytes, $((b / n)) bytes per sample"
}
for f in default.db full.db default.jsonl full.jsonl; do size "$TMP/$f"; done
