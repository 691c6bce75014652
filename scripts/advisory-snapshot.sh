#!/usr/bin/env bash
# Refreshes supply-chain/advisory-db: the RustSec advisories (CC0-1.0) of
# every crate in maplens's lock files, from a clone of
# github.com/rustsec/advisory-db, so that scripts/test.sh can check
# advisories on a machine that cannot reach GitHub (CI here cannot).
#   scripts/advisory-snapshot.sh CLONE
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:?usage: scripts/advisory-snapshot.sh CLONE-OF-ADVISORY-DB}
[ -d "$src/crates" ] || { echo "$src: not a clone of the RustSec advisory-db" >&2; exit 1; }
out=supply-chain/advisory-db
rm -rf "$out"
mkdir -p "$out/crates"
# Every package name in every lock file: advisories are filed per crate,
# so these directories hold every advisory that can concern this tree.
names=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.lock fuzz/Cargo.lock | LC_ALL=C sort -u)
n=0
for name in $names; do
    if [ -d "$src/crates/$name" ]; then
        cp -r "$src/crates/$name" "$out/crates/"
        n=$((n + 1))
    fi
done
# The standard library's own advisories, and the database's licence.
[ -d "$src/rust" ] && cp -r "$src/rust" "$out/"
cp "$src/LICENSE.txt" "$out/"
# The crates looked for (scripts/test.sh checks that the lock files hold no
# other: a crate added since would go unchecked).
echo "$names" >"$out/CRATES"
commit=$(git -C "$src" log -1 --format='%H %cI' 2>/dev/null || echo unknown)
cat >"$out/SNAPSHOT" <<TXT
github.com/rustsec/advisory-db $commit
$(echo "$names" | wc -l) crates in Cargo.lock and fuzz/Cargo.lock, $n with advisories
TXT
echo "$out: $(find "$out" -name 'RUSTSEC-*.md' | wc -l) advisories; $(head -1 "$out/SNAPSHOT")"
