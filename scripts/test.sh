#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need beyond
# cargo when it is missing, then formatting, lints, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
# Browser and fault tests start servers and a browser: run test binaries one
# at a time so timing-sensitive tests do not fight over the two cores.
cargo test --locked -- --test-threads=2

if [ -f scripts/fuzz.sh ]; then
    echo "== cargo fuzz (FUZZ_SECONDS=${FUZZ_SECONDS:-30} per target)"
    bash scripts/fuzz.sh
fi

echo "== release build (the Dockerfile's build command)"
cargo build --release --locked

echo "== benchmark smoke run (1 round, 1 s a row; the full benchmark: bash bench/run.sh)"
bash bench/run.sh --smoke
