#!/usr/bin/env bash
# Builds confrere and confrere-bench in release and runs the benchmark
# harness: it sets up its own nodes (and an sshd for scp) on loopback and
# prints one table. Arguments go to confrere-bench (--help lists them).
# Usage: scripts/bench.sh [--quick] [--runs N] [--json] [--dir DIR] ...
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p confrere -p confrere-bench
exec target/release/confrere-bench "$@"
