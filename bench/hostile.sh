#!/usr/bin/env bash
# Hostile files, bounded (maplens issue 19): peak RSS and time of maplens on
# inputs no kernel writes, beside the input's own size. Each line: the
# input, its size, maplens's exit status, its first line of stderr, its wall
# time and peak RSS, and peak RSS / input size.
#   bench/hostile.sh [REGIONS]      # default 1,000,000 (10000000 for the note)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p maplens
M=${MAPLENS:-$CARGO_TARGET_DIR/release/maplens}
GTIME=/usr/bin/time
[ -x "$GTIME" ] || { echo "bench/hostile.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "machine load: $(cut -d" " -f1-3 /proc/loadavg)"

python3 - "$T" "$N" <<'PY'
import os, sys
t, n = sys.argv[1], int(sys.argv[2])
def w(name, data):
    with open(os.path.join(t, name), "wb") as f:
        f.write(data)
line = lambda a, b, p=b"": b"%012x-%012x rw-p 00000000 00:00 0          %s\n" % (a, b, p)
# n well-formed regions, in one maps file.
with open(os.path.join(t, "many.maps"), "wb") as f:
    chunk = []
    for i in range(n):
        a = 0x10000000 + i * 0x2000
        chunk.append(line(a, a + 0x1000))
        if len(chunk) == 65536:
            f.write(b"".join(chunk)); chunk = []
    f.write(b"".join(chunk))
# One line of 1 GiB: a path of 1 GiB after a header.
with open(os.path.join(t, "gib-line.maps"), "wb") as f:
    f.write(line(0x1000, 0x2000, b"/a"))
    f.write(b"%012x-%012x r--p 00000000 08:01 1          /" % (0x3000, 0x4000))
    block = b"x" * (1 << 20)
    for _ in range(1024):
        f.write(block)
    f.write(b"\n")
# Reversed and overlapping addresses, end < start, non-hex, NULs, bad UTF-8.
rows = [line(0x9000, 0xa000), line(0x5000, 0x6000), line(0x5800, 0x7000),
        b"00007000-00006000 rw-p 00000000 00:00 0\n",
        b"zzzz-yyyy rw-p 00000000 00:00 0\n",
        b"00010000-00011000 rw-p 00000000 00:00 0   /a\x00b\xff\xfe\n"]
w("odd.maps", b"".join(rows * max(1, n // 60)))
PY

# A decompression bomb: 4 GiB of zeros in a gzip bundle of a few MiB.
python3 - "$T" <<'PY'
import gzip, os, sys, tarfile
t = sys.argv[1]
info = tarfile.TarInfo("1/smaps")
info.size = 4 << 30
zeros = bytes(1 << 24)
with gzip.open(os.path.join(t, "bomb.tar.gz"), "wb", compresslevel=1) as g:
    g.write(info.tobuf())
    for _ in range(info.size // len(zeros)):
        g.write(zeros)
    g.write(bytes(1024))   # the tar's two end blocks
PY

printf '%-28s %12s %4s %9s %11s %10s  %s\n' input bytes exit "wall s" "peak MiB" "RSS/input" "first error line"
for f in many.maps gib-line.maps odd.maps bomb.tar.gz; do
    for cmd in maps report; do
        args=("$T/$f")
        [ "$cmd" = maps ] && args=(maps "$T/$f")
        set +e
        "$GTIME" -f "%e %M" -o "$T/time" "$M" "${args[@]}" >/dev/null 2>"$T/err"
        code=$?
        set -e
        read -r wall kib < <(tail -1 "$T/time")
        size=$(stat -c %s "$T/$f")
        err=$( (grep -v '^Command exited' "$T/err" || true) | head -1 | cut -c1-90)
        python3 -c 'import sys; n,s,c,w,k,e=sys.argv[1:]; print(f"{n:<28} {int(s):>12} {c:>4} {float(w):>9.2f} {int(k)/1024:>11.1f} {int(k)*1024/int(s):>10.3f}  {e}")' \
            "$cmd $f" "$size" "$code" "$wall" "$kib" "$err"
    done
done
