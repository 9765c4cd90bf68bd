#!/usr/bin/env bash
# Fan-out cost as connections grow, at the same total delivery rate: 1,000 followers x 100
# events/s, 5,000 x 20/s and 19,900 x 5/s (100,000 deliveries/s each), over SSE, WebSocket and
# long-polling, against the ready server on one worker, through the shared harness
# (../shared/bench: server on CPU 0, load generator on CPU 1). Medians by its summarize.py; the
# figure to read is "srv cpu us/op" (server CPU per delivered event) down each column.
#
#   REPS=2 DUR=10 bash benches/flat.sh [FILTER]
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-$here/../shared/bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/bench-target}
P=$here/target/release/examples
REPS=${REPS:-2}
DUR=${DUR:-10}
FILTER=${1:-.}
OUT=${OUT:-$here/target/bench-flat-$(date +%Y%m%d-%H%M%S).txt}
mkdir -p "$(dirname "$OUT")"
ulimit -n "$(ulimit -Hn)"
(cd "$BENCH" && cargo build --release -q) || exit 1
(cd "$here" && CARGO_TARGET_DIR="$here/target" cargo build --release -q --bin pushwire) || exit 1

run() { # ID -- loadgen args...
  local id=$1; shift 2
  [[ $id =~ $FILTER ]] || return 0
  "$BENCH/run.sh" --name "$id" --timeout 240 --server "$here/target/release/pushwire --threads 1 --port {port}" \
    -- "$@" --duration "$DUR" --warmup 2 --connect-timeout 120 | tee -a "$OUT"
}

for _ in $(seq "$REPS"); do
  for pair in 1000:100 5000:20 19900:5; do
    n=${pair%:*} r=${pair#*:}
    run "sse-fanout-$n-r$r/pushwire" -- sse-fanout --url 'http://127.0.0.1:{port}/events' --subs "$n" --rate "$r"
    run "ws-fanout-$n-r$r/pushwire" -- ws-fanout --url 'ws://127.0.0.1:{port}/ws' --subs "$n" --rate "$r"
    run "longpoll-$n-r$r/pushwire" -- longpoll --url 'http://127.0.0.1:{port}/poll' --clients "$n" --rate "$r"
  done
done
echo "raw results: $OUT"
python3 "$BENCH/summarize.py" "$OUT"
