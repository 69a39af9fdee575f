#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS (default 30) each, starting
# from the committed seed corpus, and fails on the first crash. The corpus is
# copied to a temporary directory so runs never grow the committed one.
# Crashing inputs land in fuzz/artifacts/<target>/ (ignored by git).
#
# Only the stable toolchain is installed; RUSTC_BOOTSTRAP=1 lets cargo-fuzz
# pass the nightly-only -Zsanitizer flag to it.
#
#   FUZZ_SECONDS=10 bash scripts/fuzz.sh            # every target
#   FUZZ_SECONDS=60 bash scripts/fuzz.sh jwt        # some targets
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for target in "${targets[@]}"; do
    echo "== cargo fuzz run $target (${FUZZ_SECONDS}s)"
    mkdir -p "$work/$target"
    if [ -d "fuzz/corpus/$target" ]; then
        cp -R "fuzz/corpus/$target/." "$work/$target/"
    fi
    # -rss_limit_mb: the sanitizer build of the whole stack is large.
    cargo fuzz run "$target" "$work/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096 -print_final_stats=1
done
echo "== fuzzing: ${#targets[@]} targets, no crash"
