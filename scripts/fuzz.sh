#!/usr/bin/env bash
# Builds the coverage-guided fuzz targets of fuzz/ (libFuzzer through
# libfuzzer-sys, stable toolchain) and runs each for a while; reports the
# executions and crashes per target. Exits 1 if any target crashed (the input
# is kept under fuzz/artifacts/<target>/), 2 on a usage or build error.
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [--nice] [TARGET...]
#   scripts/fuzz.sh --list
#   scripts/fuzz.sh --seeds        # rewrite fuzz/corpus/ from real encodings
#
# --seconds N  how long each target runs (default 10)
# --jobs J     how many targets run at once (default 1)
# --nice       run the targets under `nice -n 19`
# Without TARGET, every target runs. What a run finds is kept in
# fuzz/corpus-run/<target>/ (not committed) and used again by the next run;
# the committed seeds are fuzz/corpus/<target>/. See docs/fuzzing.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ="$ROOT/fuzz"
SECONDS_EACH=10
JOBS=1
NICE=()
TARGETS=()
MODE=run

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case $1 in
    --seconds) SECONDS_EACH=${2:?--seconds needs a number}; shift 2 ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
    --nice) NICE=(nice -n 19); shift ;;
    --list) MODE=list; shift ;;
    --seeds) MODE=seeds; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[[ $SECONDS_EACH =~ ^[0-9]+$ && $SECONDS_EACH -ge 1 ]] \
  || { echo "fuzz.sh: --seconds wants a whole number of seconds, got $SECONDS_EACH" >&2; exit 2; }
[[ $JOBS =~ ^[0-9]+$ && $JOBS -ge 1 ]] \
  || { echo "fuzz.sh: --jobs wants a number of at least 1, got $JOBS" >&2; exit 2; }

ALL=$(sed -n 's/^path = "fuzz_targets\/\(.*\)\.rs"$/\1/p' "$FUZZ/Cargo.toml")
if [[ $MODE == list ]]; then echo "$ALL"; exit 0; fi

if [[ $MODE == seeds ]]; then
  rm -rf "$FUZZ/corpus"
  exec cargo run --quiet --locked --manifest-path "$FUZZ/Cargo.toml" --bin seeds -- "$FUZZ/corpus"
fi

if ((${#TARGETS[@]} == 0)); then
  read -r -d '' -a TARGETS <<< "$ALL" || true
fi
for t in "${TARGETS[@]}"; do
  grep -qx "$t" <<< "$ALL" || {
    echo "fuzz.sh: no target \"$t\"; the targets are: $(echo $ALL)" >&2; exit 2; }
done

# libFuzzer is C++: libfuzzer-sys compiles it with the system's C++ compiler.
if ! command -v c++ > /dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get > /dev/null; then
    echo "fuzz.sh: installing a C++ compiler (g++) for libFuzzer"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ > /dev/null
  else
    echo "fuzz.sh: libFuzzer needs a C++ compiler: install g++ (apt-get install g++)" >&2
    exit 2
  fi
fi

# Coverage instrumentation that builds on the stable toolchain (what
# cargo-fuzz passes, without the nightly-only sanitizer flag). The explicit
# --target keeps these flags off build scripts and proc macros.
HOST=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="$FUZZ/target"
bins=()
for t in "${TARGETS[@]}"; do bins+=(--bin "$t"); done
echo "fuzz.sh: building ${#TARGETS[@]} target(s)"
cargo build --quiet --locked --release --manifest-path "$FUZZ/Cargo.toml" --target "$HOST" "${bins[@]}" \
  || { echo "fuzz.sh: the fuzz targets do not build" >&2; exit 2; }
BIN="$CARGO_TARGET_DIR/$HOST/release"

LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

# run TARGET: one libFuzzer run; its log goes to $LOGS/TARGET.log.
run() {
  local t=$1
  local work="$FUZZ/corpus-run/$t" art="$FUZZ/artifacts/$t/"
  mkdir -p "$work" "$art" "$FUZZ/corpus/$t"
  set +e
  "${NICE[@]}" "$BIN/$t" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art" "$work" "$FUZZ/corpus/$t" \
    > "$LOGS/$t.log" 2>&1
  echo $? > "$LOGS/$t.rc"
  set -e
}

echo "fuzz.sh: running each target for ${SECONDS_EACH}s, $JOBS at a time"
running=0
for t in "${TARGETS[@]}"; do
  run "$t" &
  running=$((running + 1))
  if ((running >= JOBS)); then wait -n || true; running=$((running - 1)); fi
done
wait || true

printf '%-20s %14s %8s  %s\n' target executions crashes result
failed=0
total=0
for t in "${TARGETS[@]}"; do
  rc=$(cat "$LOGS/$t.rc" 2>/dev/null || echo 99)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$t.log" | tail -1)
  execs=${execs:-0}
  total=$((total + execs))
  if [[ $rc == 0 ]]; then
    printf '%-20s %14s %8s  %s\n' "$t" "$execs" 0 ok
  else
    failed=1
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$LOGS/$t.log" | tail -1)
    printf '%-20s %14s %8s  %s\n' "$t" "$execs" 1 "CRASH (exit $rc) ${input:-no input saved}"
    echo "---- $t: end of the libFuzzer log" >&2
    grep -v '^#[0-9]' "$LOGS/$t.log" | tail -40 >&2
    echo "---- replay with: $BIN/$t ${input:-<input>}" >&2
  fi
done
echo "fuzz.sh: $total executions in all"
exit "$failed"
