#!/usr/bin/env bash
# What `redis_wait_replicas` costs a publish: a six-node Redis Cluster on this machine (three
# primaries, three replicas), one pushwire node with `--redis-wait-replicas 0` and one with 1,
# and sequential publishes over one keep-alive connection to each, alternating, three rounds.
# Prints the latency of a publish (mean, p50, p99) for each.
#
#   benches/cluster_wait.sh [publishes per round]      (needs redis-server, redis-cli, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
cargo build --release --bin pushwire -q
dir=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
ports=(17101 17102 17103 17104 17105 17106)
for p in "${ports[@]}"; do
  redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-node-timeout 1000 \
    --cluster-config-file "nodes-$p.conf" --save "" --dir "$dir" > /dev/null &
  pids+=($!)
done
for p in "${ports[@]}"; do until redis-cli -p "$p" ping > /dev/null 2>&1; do sleep 0.1; done; done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 \
  --cluster-yes > /dev/null
until [ "$(redis-cli -p 17101 cluster info | tr -d '\r' | grep cluster_state)" = cluster_state:ok ]; do
  sleep 0.2
done
# A replica can confirm writes once its initial sync is over.
synced() {
  local n=0
  for p in "${ports[@]}"; do
    [ "$(redis-cli -p "$p" role | sed -n 4p)" = connected ] && n=$((n + 1))
  done
  [ "$n" = 3 ]
}
until synced; do sleep 0.2; done
for w in 0 1; do
  target/release/pushwire --port "1819$w" --redis redis+cluster://127.0.0.1:17101 \
    --redis-wait-replicas "$w" --log-level warn &
  pids+=($!)
done
for w in 0 1; do until curl -fs "http://127.0.0.1:1819$w/ready" > /dev/null; do sleep 0.2; done; done
publish() {
  python3 - "$1" "$n" <<'PY'
import http.client, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
lat = []
for i in range(n):
    start = time.perf_counter()
    c.request("POST", "/publish?topic=t%d" % (i % 30), body=b"x")
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
    lat.append(time.perf_counter() - start)
lat.sort()
print("mean %.0f us  p50 %.0f us  p99 %.0f us" % (sum(lat) / n * 1e6, lat[n // 2] * 1e6, lat[n * 99 // 100] * 1e6))
PY
}
for round in 1 2 3; do
  for w in 0 1; do echo "round $round, redis_wait_replicas=$w: $(publish "1819$w")"; done
done
