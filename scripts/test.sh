#!/usr/bin/env bash
# Runs every test of maplens, after installing what the tests need.
# This is the README's test command; .ci/run calls it and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests use as oracles or helpers: procps pmap, smem,
# setpriv (util-linux), readelf (binutils), qemu-user and an ARM cross linker
# for the static device builds (tests/cross.rs runs them under qemu),
# prometheus and promtool (tests/output/serve.rs scrapes `maplens serve`),
# and Debian's chromium for the HTML report's browser test (tests/output/html.rs).
need=()
command -v pmap >/dev/null 2>&1 || need+=(procps)
command -v readelf >/dev/null 2>&1 || need+=(binutils)
command -v perl >/dev/null 2>&1 || need+=(perl-base)
command -v smem >/dev/null 2>&1 || need+=(smem)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
command -v arm-linux-gnueabihf-gcc >/dev/null 2>&1 || need+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
command -v go >/dev/null 2>&1 || need+=(golang-go)
# gcc -m32 for the 32-bit layout test: the i386 libc and gcc's 32-bit runtime,
# not gcc-multilib, which Debian makes conflict with the ARM cross compiler.
if ! echo 'int main(void){return 0;}' | gcc -m32 -x c - -o /dev/null >/dev/null 2>&1; then
    need+=(libc6-dev-i386 "lib32gcc-$(gcc -dumpversion | cut -d. -f1)-dev")
fi
if ((${#need[@]})); then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# Static device builds: aarch64 and x86_64 with musl (linked by rust-lld),
# armv7 with static glibc (rustup serves no armv7 musl std here).
rustup target add aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf \
    x86_64-unknown-linux-musl >/dev/null 2>&1 ||
    echo "note: rustup could not add the cross targets; tests/cross.rs will say it skipped"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Licences, duplicate versions and sources of every dependency (deny.toml).
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny@0.20.2
cargo deny check licenses bans sources
# Advisories: the RustSec database lives on GitHub. Use the clone named by
# MAPLENS_ADVISORY_DB, or clone it (20 s at most); a machine that cannot
# reach GitHub (CI here) checks against supply-chain/advisory-db, this
# tree's own crates' advisories as of the date in its SNAPSHOT file
# (refreshed by scripts/advisory-snapshot.sh).
db=${MAPLENS_ADVISORY_DB:-}
if [ -z "$db" ]; then
    db=$(mktemp -d)/advisory-db
    if timeout 20 git clone -q --depth 1 https://github.com/rustsec/advisory-db "$db" \
        >/dev/null 2>&1; then
        echo "advisories: the RustSec database of today"
    else
        db=supply-chain/advisory-db
        echo "advisories: GitHub is not reachable; the snapshot of" \
            "$(head -1 "$db/SNAPSHOT" | cut -d' ' -f3) (supply-chain/advisory-db)"
        new=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.lock fuzz/Cargo.lock | LC_ALL=C sort -u |
            LC_ALL=C comm -23 - "$db/CRATES")
        if [ -n "$new" ]; then
            echo "supply-chain/advisory-db was taken before these crates came in:" $new >&2
            echo "refresh it: scripts/advisory-snapshot.sh CLONE-OF-RUSTSEC-ADVISORY-DB" >&2
            exit 1
        fi
    fi
fi
command -v cargo-audit >/dev/null 2>&1 || cargo install --locked cargo-audit@0.22.2
for lock in Cargo.lock fuzz/Cargo.lock; do
    cargo audit --db "$db" --no-fetch --stale --file "$lock"
done
# cargo-deny reads its database from DB-PATH/advisory-db-HASH, the hash of
# its default URL (cargo-deny 0.20.2), and asks git for its date: give it a
# copy there, committed at the snapshot's date when it is not a clone.
dbs=$(mktemp -d)
cp -r "$db" "$dbs/advisory-db-3157b0e258782691"
if [ ! -d "$db/.git" ]; then
    (
        cd "$dbs/advisory-db-3157b0e258782691"
        when=$(head -1 SNAPSHOT | cut -d' ' -f3)
        git init -q && git add -A
        GIT_AUTHOR_DATE=$when GIT_COMMITTER_DATE=$when \
            git -c user.name=maplens -c user.email=maplens@localhost commit -qm snapshot
    )
fi
sed "s|^\[advisories\]\$|[advisories]\ndb-path = \"$dbs\"|" deny.toml >"$dbs/deny.toml"
cargo deny --offline --config "$dbs/deny.toml" check advisories
rm -rf "$dbs"
cargo test --workspace
# Every cargo fuzz target (fuzz/README.md), built with libFuzzer on the
# stable toolchain (RUSTC_BOOTSTRAP for these builds only) and run for
# 10 s from its seeds into a scratch corpus (the committed seeds and the
# fixtures are read, never written). A crash fails the test command.
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz@0.13.2
(
    cd fuzz
    export RUSTC_BOOTSTRAP=1
    cargo fuzz build
    for t in $(cargo fuzz list); do
        seeds=corpus/$t
        [ -d "$seeds" ] || seeds=../tests/data/fixtures
        scratch=$(mktemp -d)
        if cargo fuzz run "$t" "$scratch" "$seeds" -- -max_total_time=10 \
            -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 >"$scratch.log" 2>&1; then
            status=0
        else
            status=$?
        fi
        grep -E '^(#[0-9]+[[:space:]]+DONE|==[0-9]+==|SUMMARY)' "$scratch.log" || true
        if [ "$status" != 0 ]; then
            tail -40 "$scratch.log" >&2
            echo "scripts/test.sh: fuzz target $t failed (exit $status)" >&2
            exit 1
        fi
        rm -rf "$scratch" "$scratch.log"
        echo "fuzz $t: 10 s, no crash"
    done
)
