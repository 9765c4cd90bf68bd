#!/usr/bin/env bash
# Interleaved before/after runs through the shared harness: WebSocket echo and SSE/WebSocket
# fan-out for an earlier build and this one, and the fan-out with logging off and at info.
#
#   git worktree add /tmp/pw-base <commit>
#   (cd /tmp/pw-base && CARGO_TARGET_DIR=/tmp/pw-base-target cargo build --release --examples)
#   OLD=/tmp/pw-base-target/release/examples benches/before_after.sh
#
# OLD holds the earlier build's `ws_echo` and hub server (`demo` before the binary existed; set
# OLD_HUB to its command). Results: raw lines in $OUT, medians printed.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-$here/../shared/bench}
OLD=${OLD:?the examples directory of the earlier build}
OLD_HUB=${OLD_HUB:-$OLD/demo}
NEW=$here/target/release
REPS=${REPS:-3}
OUT=${OUT:-$here/target/before-after-$(date +%Y%m%d-%H%M%S).txt}
ulimit -n "$(ulimit -Hn)"
(cd "$here" && cargo build --release -q --bin pushwire --example ws_echo) || exit 1
C=(--duration "${DUR:-8}" --warmup 2)
run() { "$BENCH/run.sh" --name "$1" --timeout 150 --server "$2" -- "${@:3}" >> "$OUT"; }
for _ in $(seq "$REPS"); do
  for side in old new; do
    if [ $side = old ]; then echo_srv="$OLD/ws_echo"; hub="$OLD_HUB"
    else echo_srv="$NEW/examples/ws_echo"; hub="$NEW/pushwire --log-level warn"; fi
    run "echo-20/$side" "$echo_srv --threads 1 --port {port}" ws-echo --url 'ws://127.0.0.1:{port}/' --conns 100 --size 20 "${C[@]}"
    run "sse-fanout-r1000/$side" "$hub --threads 1 --port {port}" sse-fanout --url 'http://127.0.0.1:{port}/events' --subs 1000 --rate 1000 "${C[@]}"
    run "ws-fanout-r1000/$side" "$hub --threads 1 --port {port}" ws-fanout --url 'ws://127.0.0.1:{port}/ws' --subs 1000 --rate 1000 "${C[@]}"
  done
  for lvl in off info; do
    run "sse-fanout-r1000/log-$lvl" "$NEW/pushwire --log-level $lvl --threads 1 --port {port}" sse-fanout --url 'http://127.0.0.1:{port}/events' --subs 1000 --rate 1000 "${C[@]}"
  done
done
echo "raw results: $OUT"
python3 "$BENCH/summarize.py" "$OUT"
