#!/usr/bin/env bash
# The cost of access tokens in a reconnect storm: 5,000 event streams opened and closed against
# the ready server without tokens and with them (in the query, as EventSource sends them),
# alternating, three rounds each — and, to tell the check from the bytes, the same requests
# (token included) against a server that does not check them; prints the server's CPU time (user + system, from
# /proc/<pid>/task/*/schedstat) per round and per stream. Compare the difference with `cargo bench --bench
# auth` (the cost of one check).
#
#   bash benches/token_storm.sh [count]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5000}
cargo build --release --quiet --bin pushwire --example sse_storm
dir=$(mktemp -d)
head -c 32 /dev/urandom | base64 > "$dir/secret"
token=$(target/release/pushwire token --secret-file "$dir/secret" --sub storm --subscribe storm)
# CPU time of every thread of the process, in ms, to the nanosecond (schedstat, not the
# 10 ms ticks of /proc/<pid>/stat).
cpu_ms() { cat /proc/"$1"/task/*/schedstat | awk '{ns += $1} END {printf "%.3f", ns / 1e6}'; }
listening() { for _ in $(seq 100); do (: > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; return 1; }
run() { # name port extra-args...
  local name=$1 port=$2; shift 2
  target/release/pushwire --port "$port" --threads 1 "$@" > /dev/null &
  local pid=$!
  listening "$port"
  local before after
  before=$(cpu_ms "$pid")
  target/release/examples/sse_storm --addr "127.0.0.1:$port" --count "$count" --parallel 50 \
    ${token_arg:+--token "$token_arg"} > /dev/null
  after=$(cpu_ms "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk -v n="$name" -v b="$before" -v a="$after" -v c="$count" \
    'BEGIN { printf "| %s | %.1f ms | %.2f µs |\n", n, a - b, (a - b) * 1000 / c }'
}
echo "| $count SSE reconnects, server on one worker | server CPU | per stream |"
echo "|---|---|---|"
for round in 1 2 3; do
  token_arg="" run "plain (round $round)" 9431
  token_arg="$token" run "same bytes, unchecked (round $round)" 9433
  token_arg="$token" run "with tokens (round $round)" 9432 --token-secret-file "$dir/secret"
done
rm -rf "$dir"
