#!/usr/bin/env bash
# pushwire side by side with the peer servers of ../shared/bench — tokio-tungstenite,
# fastwebsockets, hyper, axum SSE and long-poll, and the servers people pick instead: nginx +
# Nchan and Node.js with `ws` — through the same load generator, interleaved in one run. Writes
# raw result lines to $OUT and prints median tables (summarize.py).
#
# Nchan does not number events, so the fan-out is also run "stamped" for every server: one
# publisher connection writes `{"seq":K,"ts":T,...}` itself (loadgen --stamp --pub-conns 1;
# ../shared/bench/README.md, "Stamped publishing"). The servers that number events are run in
# both modes.
#
#   benches/peers.sh [FILTER]      e.g. benches/peers.sh 'echo|idle'
#   REPS=3 DUR=10 BENCH=../shared/bench benches/peers.sh
#
# The server is pinned to CPU 0 and the load generator to CPU 1 (run.sh's defaults), so
# pushwire runs one worker thread (--threads 1), like the peers' current-thread runtimes.
# pushwire's runs go through benches/common/io/loadgen, which adds the server's system calls per
# operation over the measured window (from its /stats), printed as a last table. Each pushwire
# scenario runs on both drivers: `pushwire` (epoll, the default) and `pushwire-uring` (io_uring,
# `--driver uring` / PUSHWIRE_DRIVER=uring); on io_uring the /stats counts are reads and writes of
# the ring's buffers, not system calls, so they are left out (benches/syscalls.sh counts those).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-$here/../shared/bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/bench-target}
B=$CARGO_TARGET_DIR/release
P=$here/target/release/examples
REPS=${REPS:-3}
DUR=${DUR:-10}
WARM=${WARM:-2}
FILTER=${1:-.}
OUT=${OUT:-$here/target/bench-peers-$(date +%Y%m%d-%H%M%S).txt}
mkdir -p "$(dirname "$OUT")"
ulimit -n "$(ulimit -Hn)"

(cd "$BENCH" && cargo build --release -q) || exit 1
# The non-Rust peers: nginx with the Nchan module (Debian) and Node's `ws` (pinned, npm ci).
if ! ls /usr/lib/nginx/modules/ngx_nchan_module.so >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnginx-mod-nchan >/dev/null || exit 1
fi
[ -d "$BENCH/peers/node/node_modules/ws" ] || bash "$BENCH/peers/node/install.sh" || exit 1
NCHAN="$BENCH/peers/nchan/serve --port {port}"
NODE="node $BENCH/peers/node/server.js --port {port}"
(cd "$here" && CARGO_TARGET_DIR="$here/target" cargo build --release -q --bin pushwire --example hello --example ws_echo) || exit 1

# The command that runs pushwire's server SRV on the io_uring driver.
uring_cmd() {
  sed -e 's|\(/pushwire \)|\1--driver uring |' \
    -e 's|^\([^ ]*/examples/[^ ]*\)|env PUSHWIRE_DRIVER=uring \1|' <<< "$1"
}

run() { # ID 'SERVER CMD' -- loadgen args...
  local id=$1 srv=$2; shift 3
  [[ $id =~ $FILTER ]] || return 0
  # Every pushwire scenario on both drivers, interleaved run by run.
  local ids=("$id") srvs=("$srv") i
  if [[ $id == */pushwire ]]; then
    ids+=("$id-uring")
    srvs+=("$(uring_cmd "$srv")")
  fi
  for _ in $(seq "$REPS"); do
    for i in "${!ids[@]}"; do
      # pushwire's readiness server also reports its system calls over the window.
      local lg=()
      [[ ${ids[$i]} == */pushwire ]] && lg=(--loadgen "$here/benches/common/io/loadgen")
      "$BENCH/run.sh" --name "${ids[$i]}" --timeout 150 "${lg[@]}" --server "${srvs[$i]}" -- "$@" \
        | tee -a "$OUT"
    done
  done
}

C=(--duration "$DUR" --warmup "$WARM")
WS='ws://127.0.0.1:{port}/'
for size in 20 16384; do
  run "echo-$size/pushwire" "$P/ws_echo --threads 1 --port {port}" -- ws-echo --url "$WS" --conns 100 --size $size "${C[@]}"
  run "echo-$size/fastws-st" "$B/ws-echo-fastws --port {port}" -- ws-echo --url "$WS" --conns 100 --size $size "${C[@]}"
  run "echo-$size/tt-st" "$B/ws-echo-tt --port {port}" -- ws-echo --url "$WS" --conns 100 --size $size "${C[@]}"
  run "echo-$size/node" "$NODE" -- ws-echo --url "$WS" --conns 100 --size $size "${C[@]}"
done
run "echo-1MiB/pushwire" "$P/ws_echo --threads 1 --port {port}" -- ws-echo --url "$WS" --conns 10 --size 1048576 "${C[@]}"
run "echo-1MiB/fastws-st" "$B/ws-echo-fastws --port {port}" -- ws-echo --url "$WS" --conns 10 --size 1048576 "${C[@]}"
run "http-get/pushwire" "$P/hello --threads 1 --port {port}" -- http-get --url 'http://127.0.0.1:{port}/' --conns 100 "${C[@]}"
run "http-get/hyper" "$B/http-hello --port {port}" -- http-get --url 'http://127.0.0.1:{port}/' --conns 100 "${C[@]}"
run "ws-idle-19900/pushwire" "$P/ws_echo --threads 1 --port {port}" -- ws-idle --url "$WS" --conns 19900
run "ws-idle-19900/fastws-st" "$B/ws-echo-fastws --port {port}" -- ws-idle --url "$WS" --conns 19900
run "ws-idle-19900/tt-st" "$B/ws-echo-tt --port {port}" -- ws-idle --url "$WS" --conns 19900
run "ws-idle-19900/node" "$NODE" -- ws-idle --url "$WS" --conns 19900
run "ws-idle-19900/nchan" "$NCHAN" -- ws-idle --url 'ws://127.0.0.1:{port}/ws' --conns 19900
run "sse-idle-19900/pushwire" "$here/target/release/pushwire --threads 1 --port {port}" -- sse-idle --url 'http://127.0.0.1:{port}/events' --conns 19900
run "sse-idle-19900/sse-axum" "$B/sse-axum --port {port}" -- sse-idle --url 'http://127.0.0.1:{port}/events' --conns 19900
run "sse-idle-19900/node" "$NODE" -- sse-idle --url 'http://127.0.0.1:{port}/events' --conns 19900
run "sse-idle-19900/nchan" "$NCHAN" -- sse-idle --url 'http://127.0.0.1:{port}/events' --conns 19900
for r in ${RATES:-100 1000}; do
  run "sse-fanout-1k-r$r/pushwire" "$here/target/release/pushwire --threads 1 --port {port}" -- sse-fanout --url 'http://127.0.0.1:{port}/events' --subs 1000 --rate $r "${C[@]}"
  run "sse-fanout-1k-r$r/sse-axum" "$B/sse-axum --port {port}" -- sse-fanout --url 'http://127.0.0.1:{port}/events' --subs 1000 --rate $r "${C[@]}"
  run "ws-fanout-1k-r$r/pushwire" "$here/target/release/pushwire --threads 1 --port {port}" -- ws-fanout --url 'ws://127.0.0.1:{port}/ws' --subs 1000 --rate $r "${C[@]}"
  run "sse-fanout-1k-r$r/node" "$NODE" -- sse-fanout --url 'http://127.0.0.1:{port}/events' --subs 1000 --rate $r "${C[@]}"
  run "ws-fanout-1k-r$r/ws-fanout-tt" "$B/ws-fanout-tt --port {port}" -- ws-fanout --url 'ws://127.0.0.1:{port}/ws' --subs 1000 --rate $r "${C[@]}"
  run "ws-fanout-1k-r$r/node" "$NODE" -- ws-fanout --url 'ws://127.0.0.1:{port}/ws' --subs 1000 --rate $r "${C[@]}"
  # Stamped: one publisher numbers the events itself (what Nchan needs), for every server.
  S=(--stamp --pub-conns 1)
  for srv in "pushwire|$here/target/release/pushwire --threads 1 --port {port}" "nchan|$NCHAN" "node|$NODE" "sse-axum|$B/sse-axum --port {port}"; do
    run "sse-fanout-1k-stamped-r$r/${srv%%|*}" "${srv#*|}" -- sse-fanout --url 'http://127.0.0.1:{port}/events' --subs 1000 --rate $r "${S[@]}" "${C[@]}"
  done
  for srv in "pushwire|$here/target/release/pushwire --threads 1 --port {port}" "nchan|$NCHAN" "node|$NODE" "ws-fanout-tt|$B/ws-fanout-tt --port {port}"; do
    run "ws-fanout-1k-stamped-r$r/${srv%%|*}" "${srv#*|}" -- ws-fanout --url 'ws://127.0.0.1:{port}/ws' --subs 1000 --rate $r "${S[@]}" "${C[@]}"
  done
  run "longpoll-1k-r$r/pushwire" "$here/target/release/pushwire --threads 1 --port {port}" -- longpoll --url 'http://127.0.0.1:{port}/poll' --clients 1000 --rate $r "${C[@]}"
  run "longpoll-1k-r$r/longpoll-axum" "$B/longpoll-axum --port {port}" -- longpoll --url 'http://127.0.0.1:{port}/poll' --clients 1000 --rate $r "${C[@]}"
done

echo "raw results: $OUT"
python3 "$BENCH/summarize.py" "$OUT"
# pushwire's system calls on connection sockets per operation (medians over the runs).
python3 - "$OUT" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(t.split("=", 1) for t in line.split() if "=" in t)
    if "srv_syscalls_per_op" in kv:
        rows.setdefault(kv["name"], []).append(kv)
if rows:
    keys = ["srv_syscalls_per_op", "srv_reads_per_op", "srv_writes_per_op", "srv_wouldblock_pct"]
    print("\n### pushwire: system calls per operation over the window\n")
    print("| scenario | runs | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for name, runs in rows.items():
        med = [statistics.median(float(r[k]) for r in runs) for k in keys]
        print(f"| {name} | {len(runs)} | " + " | ".join(f"{m:.3f}" for m in med) + " |")
PY
