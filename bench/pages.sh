#!/usr/bin/env bash
# `maplens pages` over every region of a frozen 60,000-region process,
# against `cat /proc/PID/smaps`: median wall time and peak RSS of each
# (issue 18). Both mechanisms: PAGEMAP_SCAN and the forced per-page read.
#   bench/pages.sh [REGIONS]        REPS=5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-60000}
REPS=${REPS:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p maplens -p maplens-testkid
M=$CARGO_TARGET_DIR/release/maplens
KID=$CARGO_TARGET_DIR/release/maplens-testkid
GTIME=/usr/bin/time
[ -x "$GTIME" ] || { echo "bench/pages.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
coproc KIDP { exec "$KID" --regions "$N"; }
read -r info <&"${KIDP[0]}"
PID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info")
trap 'kill -CONT "$PID" 2>/dev/null; exec {KIDP[1]}>&-; wait' EXIT
kill -STOP "$PID"
echo "pid $PID: $(wc -l < /proc/$PID/maps) regions; median of $REPS runs"
run() { # name, env, command...
  local name=$1 envs=$2; shift 2
  local walls=() rss=0
  for _ in $(seq "$REPS"); do
    local t0 t1 m
    t0=$(date +%s%N)
    m=$(env $envs "$GTIME" -f %M "$@" 2>&1 >/dev/null | tail -1)
    t1=$(date +%s%N)
    walls+=($(( (t1 - t0) / 1000000 )))
    (( m > rss )) && rss=$m
  done
  local med
  med=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (REPS + 1) / 2 ))p")
  printf '%-36s %6s ms  %7s KiB peak RSS\n' "$name" "$med" "$rss"
}
run "cat smaps" "X=1" cat "/proc/$PID/smaps"
run "maplens pages (PAGEMAP_SCAN)" "X=1" "$M" pages "$PID"
run "maplens pages (per-page pagemap)" "MAPLENS_NO_IOCTL=pagemap_scan" "$M" pages "$PID"
run "maplens pages --format json" "X=1" "$M" pages "$PID" --format json
