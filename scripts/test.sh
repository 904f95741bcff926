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

# The PKCS#11 tests (tests/tests/pkcs11.rs) put TEST cards on SoftHSM2
# tokens: softhsm2-util and its module. Without them (and without root or
# sudo to install them) those tests are skipped, unless CONFRERE_SOFTHSM_REQUIRED=1
# or, as root, CONFRERE_NETNS_REQUIRED=1 (below) makes them fail.
if ! command -v softhsm2-util >/dev/null 2>&1; then
    echo "installing softhsm2 (needed by the PKCS#11 card tests)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq softhsm2 \
        || echo "softhsm2 could not be installed: the PKCS#11 tests will be skipped" >&2
fi

# The multi-host tests (tests/tests/netns_*.rs, reach*.rs) build practices
# behind NAT routers in Linux network namespaces: they need root, `ip` and `tc`
# (iproute2) and `nft` (nftables). As root (CI), they must run: a missing tool or kernel
# feature fails them instead of skipping them.
if [ "$(id -u)" = 0 ]; then
    missing=""
    command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
    command -v nft >/dev/null 2>&1 || missing="$missing nftables"
    if [ -n "$missing" ]; then
        echo "installing$missing (needed by the network namespace tests)" >&2
        apt-get update -qq && apt-get install -y -qq $missing
    fi
    export CONFRERE_NETNS_REQUIRED=1
    # The web inbox's browser test (tests/tests/web_ui.rs) drives headless
    # Chromium through chromedriver; as root it must run, so install them.
    missing=""
    command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
    command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
    if [ -n "$missing" ]; then
        echo "installing$missing (needed by the web inbox's browser test)" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    fi
else
    echo "not root: the network namespace tests will be skipped" >&2
    echo "not root: the web inbox's browser test is skipped without chromium and chromedriver" >&2
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

# Every fuzz target for 10 s, two at a time (docs/fuzzing.md): a crash fails CI.
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
bash scripts/fuzz.sh --seconds 10 --jobs 2
