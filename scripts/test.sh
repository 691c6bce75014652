#!/usr/bin/env bash
# Runs every test of maplens, after installing what the tests need.
# This is the README's test command; .ci/run calls it and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests use as oracles or helpers: procps pmap, smem,
# setpriv (util-linux), qemu-user for cross-built binaries.
need=()
command -v pmap >/dev/null 2>&1 || need+=(procps)
command -v smem >/dev/null 2>&1 || need+=(smem)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
if ((${#need[@]})); then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
