#!/usr/bin/env bash
# What `maplens tui` costs on a process with many regions (60,000 by
# default), driven in tmux like a person would:
#  - seconds from start to the first full screen on a saved smaps;
#  - seconds from Enter to the filtered table after `/` and a search;
#  - CPU seconds used over 20 s of watching the live process (a reading
#    every --interval, 2 s by default) and over 20 s of a saved file (idle).
#   bench/tui.sh [REGIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-60000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p maplens -p maplens-testkid
M=${MAPLENS:-$CARGO_TARGET_DIR/release/maplens}
KID=$CARGO_TARGET_DIR/release/maplens-testkid
command -v tmux >/dev/null || { echo "bench/tui.sh: needs tmux" >&2; exit 1; }

coproc KIDP { exec "$KID" --mappings "$N"; }
read -r info <&"${KIDP[0]}"
PID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info")
TMP=$(mktemp -d)
SOCK=maplens-bench-tui-$$
T() { tmux -L "$SOCK" -f /dev/null "$@"; }
trap 'T kill-server 2>/dev/null; exec {KIDP[1]}>&-; wait; rm -rf "$TMP"' EXIT
cat "/proc/$PID/smaps" > "$TMP/smaps"
echo "machine load: $(cut -d" " -f1-3 /proc/loadavg)"
echo "pid $PID: $(wc -l < /proc/$PID/maps) regions; smaps $(($(stat -c %s "$TMP/smaps") / 1024)) KiB"

now() { date +%s.%N; }
# Waits until the pane shows $1; prints the seconds since $2.
until_shown() {
    local want=$1 t0=$2
    for _ in $(seq 1 2000); do
        if T capture-pane -p -t main | grep -qF -- "$want"; then
            echo "$(now) - $t0" | bc
            return
        fi
        sleep 0.01
    done
    echo "timeout waiting for $want" >&2
    exit 1
}
cpu_of() { # utime+stime of the pane's maplens, in seconds
    local p
    p=$(pgrep -nx maplens -P "$(T display -p -t main '#{pane_pid}')" || T display -p -t main '#{pane_pid}')
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$p/stat"
}

t0=$(now)
T new-session -d -x 200 -y 60 -s main "exec $M tui $TMP/smaps"
echo "first screen, saved file: $(until_shown ':Regions(' "$t0") s"
T send-keys -t main -l /maplens-testkid
t0=$(now)
T send-keys -t main Enter
echo "search applied: $(until_shown '/maplens-testkid sort' "$t0") s"
c0=$(cpu_of); sleep 20; c1=$(cpu_of)
echo "CPU over 20 s idle on the saved file: $(echo "$c1 - $c0" | bc) s"
T kill-server

t0=$(now)
T new-session -d -x 200 -y 60 -s main "exec $M tui $PID"
echo "first screen, live: $(until_shown ':Regions(' "$t0") s"
c0=$(cpu_of); sleep 20; c1=$(cpu_of)
echo "CPU over 20 s live (a reading every 2 s): $(echo "$c1 - $c0" | bc) s"
