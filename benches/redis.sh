#!/usr/bin/env bash
# Fan-out through one node over Redis beside the embedded hub, through the shared harness's
# load generator, interleaved in one run; and Redis's own cost per published event (INFO
# commandstats and INFO cpu, reset before each Redis run).
#
#   benches/redis.sh [FILTER]          REPS=3 DUR=10 RATE=1000 benches/redis.sh
#
# The node is pinned to CPU 0 and the load generator to CPU 1 (run.sh's defaults); redis-server
# runs unpinned, so its CPU is counted apart (from INFO cpu), not in the node's.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-$here/../shared/bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/bench-target}
P=$here/target/release/examples
REPS=${REPS:-3}
DUR=${DUR:-10}
WARM=${WARM:-2}
RATE=${RATE:-1000}
FILTER=${1:-.}
OUT=${OUT:-$here/target/bench-redis-$(date +%Y%m%d-%H%M%S).txt}
mkdir -p "$(dirname "$OUT")"
ulimit -n "$(ulimit -Hn)"
(cd "$BENCH" && cargo build --release -q) || exit 1
(cd "$here" && CARGO_TARGET_DIR="$here/target" cargo build --release -q --bin pushwire) || exit 1

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
  --dir "$dir" > /dev/null &
redis_pid=$!
trap 'kill $redis_pid; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.1; done
URL=redis://127.0.0.1:$port

# Redis's cost since the last reset: EVAL calls and µs per call, Redis CPU ms.
redis_cost() {
  local stats cpu
  stats=$(redis-cli -p "$port" info commandstats | tr -d '\r' | grep -E '^cmdstat_eval(sha)?:')
  cpu=$(redis-cli -p "$port" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.0f", s * 1000}')
  echo "$1 redis: ${stats:-no EVAL} redis_cpu_ms_total=$cpu"
}

run() { # ID 'SERVER CMD' -- loadgen args...
  local id=$1 srv=$2; shift 3
  [[ $id =~ $FILTER ]] || return 0
  for _ in $(seq "$REPS"); do
    redis-cli -p "$port" config resetstat > /dev/null
    local before
    before=$(redis-cli -p "$port" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.0f", s * 1000}')
    "$BENCH/run.sh" --name "$id" --timeout 150 --server "$srv" -- "$@" | tee -a "$OUT"
    if [[ $id == */redis ]]; then
      echo "$(redis_cost "$id") redis_cpu_ms_before=$before" | tee -a "$OUT"
    fi
  done
}

C=(--duration "$DUR" --warmup "$WARM")
for r in $RATE; do
  for mode in embedded redis; do
    extra=""; [ "$mode" = redis ] && extra="--redis $URL"
    run "sse-fanout-1k-r$r/$mode" "$here/target/release/pushwire --threads 1 --port {port} $extra" -- sse-fanout --url 'http://127.0.0.1:{port}/events' --subs 1000 --rate "$r" "${C[@]}"
    run "ws-fanout-1k-r$r/$mode" "$here/target/release/pushwire --threads 1 --port {port} $extra" -- ws-fanout --url 'ws://127.0.0.1:{port}/ws' --subs 1000 --rate "$r" "${C[@]}"
    run "longpoll-1k-r$r/$mode" "$here/target/release/pushwire --threads 1 --port {port} $extra" -- longpoll --url 'http://127.0.0.1:{port}/poll' --clients 1000 --rate "$r" "${C[@]}"
  done
done
python3 "$BENCH/summarize.py" "$OUT" 2>/dev/null || true
echo "raw: $OUT"
