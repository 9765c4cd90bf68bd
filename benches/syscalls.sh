#!/usr/bin/env bash
# System calls per operation on both drivers, counted by strace (-c -f) over a whole run:
# WebSocket echo (per echoed message) and the fan-outs to 1,000 followers (per delivered event),
# with the load generator of ../shared/bench. strace slows the server, so these runs count; they
# do not time (benches/peers.sh does).
#
#   benches/syscalls.sh              DUR=5 RATE=1000 by default
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-$here/../shared/bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/bench-target}
LG=$CARGO_TARGET_DIR/release/loadgen
DUR=${DUR:-5}
RATE=${RATE:-1000}
command -v strace >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null || exit 1; }
(cd "$BENCH" && cargo build --release -q -p loadgen) || exit 1
(cd "$here" && CARGO_TARGET_DIR="$here/target" cargo build --release -q --bin pushwire --example ws_echo) || exit 1
ulimit -n "$(ulimit -Hn)"
port=23500
tmp=$(mktemp -d)

listening() { for _ in $(seq 100); do (: > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; return 1; }

# count NAME DRIVER 'SERVER ARGS' OPS_KEY -- LOADGEN ARGS: one strace'd run, one table row.
count() {
  local name=$1 driver=$2 server=$3 key=$4; shift 5
  port=$((port + 1))
  local srv=${server//\{port\}/$port}
  env PUSHWIRE_DRIVER="$driver" strace -c -f -o "$tmp/strace" $srv >/dev/null 2>&1 &
  local spid=$!
  listening "$port" || { echo "$name: no server"; return; }
  local line
  line=$("$LG" "${@//\{port\}/$port}" --duration "$DUR" --warmup 1 2>/dev/null | tail -1)
  pkill -TERM -f -- "--port $port\$" ; wait "$spid" 2>/dev/null
  local ops calls top
  ops=$(tr ' ' '\n' <<< "$line" | awk -F= -v k="$key" '$1==k {print $2}')
  [ "$key" = delivered_per_s ] && ops=$(awk -v o="$ops" -v d="$DUR" 'BEGIN{print o*d}')
  # strace -c: % time, seconds, usecs/call, calls, [errors,] syscall.
  calls=$(awk '$NF=="total" {print $4}' "$tmp/strace")
  top=$(awk 'NR>2 && $NF!="total" && $1!~/^-/ && NF>=5 {print $NF"="$4}' "$tmp/strace" \
    | sort -t= -k2 -nr | head -4 | paste -sd' ')
  awk -v n="$name" -v d="$driver" -v o="$ops" -v c="$calls" -v t="$top" \
    'BEGIN{printf "| %s | %s | %d | %d | %.3f | %s |\n", n, d, o, c, (o>0?c/o:0), t}'
}

echo "| scenario | driver | operations | system calls | per operation | most called |"
echo "|---|---|---|---|---|---|"
for driver in epoll uring; do
  count "WebSocket echo 100 x 20 B" "$driver" "$here/target/release/examples/ws_echo --threads 1 --port {port}" msgs -- \
    ws-echo --url 'ws://127.0.0.1:{port}/' --conns 100 --size 20
  count "SSE fan-out 1,000 subs, $RATE/s" "$driver" "$here/target/release/pushwire --threads 1 --log-level warn --port {port}" delivered_per_s -- \
    sse-fanout --url 'http://127.0.0.1:{port}/events' --subs 1000 --rate "$RATE"
  count "WebSocket fan-out 1,000 subs, $RATE/s" "$driver" "$here/target/release/pushwire --threads 1 --log-level warn --port {port}" delivered_per_s -- \
    ws-fanout --url 'ws://127.0.0.1:{port}/ws' --subs 1000 --rate "$RATE"
done
rm -rf "$tmp"
