#!/usr/bin/env bash
# Static maplens binaries for devices.
#
#   scripts/cross-build.sh [--lite|--full] [TARGET…]
#
# TARGET is one of (default: x86_64 and aarch64 musl, armv7 gnueabihf):
#   x86_64-unknown-linux-musl      static musl, linked by rust-lld
#   aarch64-unknown-linux-musl     static musl, linked by rust-lld
#   armv7-unknown-linux-musleabihf static musl, linked by rust-lld
#   armv7-unknown-linux-gnueabihf  static glibc (+crt-static), linked by
#                                  Debian's arm-linux-gnueabihf-gcc; the
#                                  fallback when rustup has no musleabihf std
#
# --lite (default) builds parsing, the reports, pmap, top and capture
# (`--no-default-features --features lite`); --full adds every analysis
# feature (findings, gzip/zstd bundles, Unicode regexes, progress bars) but
# not the front ends (tui, html, serve, SQLite recordings, plots): SQLite
# is C and needs a cross C compiler, and none of them is for a small device.
# Profile `release-small` (opt-level z, fat LTO, panic=abort, stripped).
# Prints one line per binary: target, size in bytes, path.
#
# Needs: `rustup target add TARGET`; for the gnueabihf fallback
# `apt-get install gcc-arm-linux-gnueabihf libc6-dev-armhf-cross`.
set -euo pipefail
cd "$(dirname "$0")/.."

features=(--no-default-features --features lite)
targets=()
for a in "$@"; do
    case "$a" in
        --lite) features=(--no-default-features --features lite) ;;
        --full) features=(--no-default-features --features lite,gzip,zstd,check,unicode-regex,progress) ;;
        -*) echo "cross-build.sh: unknown option $a" >&2; exit 2 ;;
        *) targets+=("$a") ;;
    esac
done
((${#targets[@]})) || targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf)

# musl targets carry their own crt objects and libc: rust-lld links them
# with no C cross compiler.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_LINKER=rust-lld
# glibc armv7: Debian's cross gcc, glibc linked statically.
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS="-C target-feature=+crt-static"

out="${CARGO_TARGET_DIR:-target}"
# Print absolute paths: callers (tests) run from other directories.
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
for t in "${targets[@]}"; do
    cargo build -p maplens --profile release-small --target "$t" "${features[@]}" >&2
    bin="$out/$t/release-small/maplens"
    echo "$t $(stat -c %s "$bin") $bin"
done
