#!/usr/bin/env bash
# cognito-sidecar's benchmark, side by side with nginx and Apache +
# mod_auth_openidc, on 127.0.0.1. See the README's "Performance" section.
#
#   bash bench/run.sh            # the full run (~10 minutes); writes bench/results.md
#   bash bench/run.sh --smoke    # 1 round of 1 s, rows 1, 3 and 4 only (no Apache, no seeding)
#
# Other options go to bench/py/bench.py (--rounds N, --duration S, --out FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
for arg in "$@"; do
    [ "$arg" = "--smoke" ] && smoke=1
done

bash bench/install.sh

echo "== cargo build --release --locked --features bench-seed"
cargo build --release --locked --features bench-seed
bin="$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/cognito-sidecar"

# The smoke run prints its table only; the full run also writes bench/results.md.
out=(--out bench/results.md)
if [ "$smoke" = 1 ]; then
    out=()
fi

# bench.py ends every server it starts; this trap covers an interrupted run.
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM

command="bash bench/run.sh"
[ "$#" -gt 0 ] && command="$command $*"
timeout --signal=TERM 1800 python3 bench/py/bench.py --bin "$bin" "${out[@]}" --command "$command" "$@" &
pid=$!
wait "$pid"
