#!/usr/bin/env bash
# Runs every check that CI runs: formatting, lints and the whole test suite.
# Usage: scripts/test.sh        (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

# The test suite cross-checks certificates with the openssl command line tool.
if ! command -v openssl >/dev/null 2>&1; then
    echo "installing openssl (needed by the certificate tests)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq openssl
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

# Every fuzz target for 10 s, two at a time (docs/fuzzing.md): a crash fails CI.
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
bash scripts/fuzz.sh --seconds 10 --jobs 2
