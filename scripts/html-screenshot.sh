#!/usr/bin/env bash
# Makes docs/img/html-report.png: `maplens html` of a maplens-testkid
# (threads, a 64 MiB anonymous mapping, malloc arenas, and files named
# `"><img src=x onerror=alert(1)>` and `<script>alert(1)</script>`),
# photographed by headless chromium's own --screenshot.
#   scripts/html-screenshot.sh            # needs chromium (apt-get install chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q -p maplens -p maplens-testkid
T=$(mktemp -d)
mkdir -p "$T/<script>alert(1)<" docs/img
coproc KIDP { exec "$CARGO_TARGET_DIR/debug/maplens-testkid" --threads 3 --thread-names \
    --big-anon 64 --arenas 2 --file-spaces "$T" --rwx \
    --named-file "$T/\"><img src=x onerror=alert(1)>" \
    --named-file "$T/<script>alert(1)</script>"; }
read -r info <&"${KIDP[0]}"
PID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info")
trap 'kill -CONT "$PID" 2>/dev/null; exec {KIDP[1]}>&-; wait; rm -rf "$T"' EXIT
kill -STOP "$PID"
"$CARGO_TARGET_DIR/debug/maplens" html "$PID" -o "$T/report.html"
shot() { # FILE HEIGHT
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$T/profile" --hide-scrollbars --window-size="1280,$2" \
        --virtual-time-budget=5000 --screenshot="$1" "file://$T/report.html#log" 2>/dev/null
}
# The whole page, top to bottom (headless chromium paints nothing when
# a screenshot starts scrolled to an anchor), the map on the log scale.
shot docs/img/html-report.png 3900
ls -l docs/img/html-report*.png
