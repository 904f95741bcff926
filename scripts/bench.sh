#!/usr/bin/env bash
# Builds confrere and confrere-bench in release and runs the benchmark
# harness: it sets up its own nodes (and an sshd for scp) on loopback and
# prints one table. Arguments go to confrere-bench (--help lists them).
# Usage: scripts/bench.sh [--quick] [--runs N] [--json] [--dir DIR] ...
#
# The directory stage (issue 12: lookups among --nodes nodes joined through
# 3 bootstrap nodes, before and after a quarter of them stop) is part of the
# full run; alone, with another node count (default 200):
#   scripts/bench.sh --only directory --nodes 500
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p confrere -p confrere-bench
exec target/release/confrere-bench "$@"
