#!/usr/bin/env bash
# TLS side by side: pushwire's ready server (its TLS port) and the same rustls setup under
# tokio (benches/tls_peer), server pinned to CPU 0 and the load generator (examples/tls_load)
# to CPU 1, interleaved in one run.
#
#   benches/tls.sh [FILTER]        e.g. benches/tls.sh handshakes
#   REPS=3 DUR=10 CONNS=19900 benches/tls.sh
#
# Rows: full handshakes per server CPU-second with an ECDSA P-256 and an RSA-2048 certificate
# (TCP connect, handshake, one GET, close; 4 client threads), and resumed ones (TLS 1.3
# tickets, ECDSA); server memory per idle connection
# at CONNS connections: pushwire plaintext and TLS (an event stream each) and the tokio peer
# (a keep-alive connection after one GET).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/bench-target}
REPS=${REPS:-3}
DUR=${DUR:-10}
CONNS=${CONNS:-19900}
FILTER=${1:-.}
OUT=${OUT:-$here/target/bench-tls-$(date +%Y%m%d-%H%M%S).txt}
P=$here/target/release/examples
peer=$CARGO_TARGET_DIR/release/tls_peer
certs=$here/target/bench-tls
mkdir -p "$certs" "$(dirname "$OUT")"
ulimit -n "$(ulimit -Hn)"

(cd "$here/benches/tls_peer" && cargo build --release -q) || exit 1
(cd "$here" && CARGO_TARGET_DIR="$here/target" cargo build --release -q \
  --bin pushwire --example tls_load) || exit 1
"$here/target/release/pushwire" cert --out "$certs/ecdsa" > /dev/null
[ -f "$certs/rsa.key" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
  -out "$certs/rsa.key" 2> /dev/null
"$here/target/release/pushwire" cert --out "$certs/rsa" --key "$certs/rsa.key" > /dev/null

listening() { for _ in $(seq 100); do (: > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; return 1; }

# run ID PORT 'SERVER CMD' LOADGEN ARGS...: one measurement, one result line.
run() {
  local id=$1 port=$2 srv=$3; shift 3
  [[ $id =~ $FILTER ]] || return 0
  taskset -c 0 $srv > /dev/null 2>&1 &
  local pid=$!
  listening "$port" || { echo "$id: server did not start"; kill "$pid"; return 1; }
  local line
  line=$(taskset -c 1 "$P/tls_load" --addr "127.0.0.1:$port" --pid "$pid" "$@" 2>&1)
  kill "$pid"; wait "$pid" 2> /dev/null
  echo "name=$id $line" | tee -a "$OUT"
}

demo() { # KIND: the ready server on one worker, plaintext on 24100, TLS on 24101
  echo "$here/target/release/pushwire --threads 1 --port 24100 --tls-port 24101 --tls-cert $certs/$1/cert.pem --tls-key $certs/$1/key.pem"
}
tokio_peer() { echo "$peer --port 24102 --cert $certs/$1/cert.pem --key $certs/$1/key.pem"; }

for _ in $(seq "$REPS"); do
  for kind in ecdsa rsa; do
    H=(--mode handshakes --threads 4 --duration "$DUR" --ca "$certs/$kind/ca.pem")
    run "handshakes-$kind/pushwire" 24101 "$(demo $kind)" "${H[@]}"
    run "handshakes-$kind/tokio-rustls" 24102 "$(tokio_peer $kind)" "${H[@]}"
  done
  R=(--mode handshakes --threads 4 --duration "$DUR" --ca "$certs/ecdsa/ca.pem" --resume)
  run "resumed-ecdsa/pushwire" 24101 "$(demo ecdsa)" "${R[@]}"
  run "resumed-ecdsa/tokio-rustls" 24102 "$(tokio_peer ecdsa)" "${R[@]}"
  I=(--mode idle --conns "$CONNS")
  run "idle-$CONNS/pushwire-plain" 24100 "$(demo ecdsa)" "${I[@]}" --target '/events?topic=idle'
  run "idle-$CONNS/pushwire-tls" 24101 "$(demo ecdsa)" "${I[@]}" --target '/events?topic=idle' \
    --ca "$certs/ecdsa/ca.pem"
  run "idle-$CONNS/tokio-rustls" 24102 "$(tokio_peer ecdsa)" "${I[@]}" --ca "$certs/ecdsa/ca.pem"
done

echo "raw results: $OUT"
# Medians per row.
python3 - "$OUT" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    rows.setdefault(kv["name"], []).append(kv)
print(f"| {'scenario':34} | runs | median | unit |")
print(f"|{'-'*36}|------|--------|------|")
for name, runs in rows.items():
    key, unit = ("per_server_cpu_s", "handshakes per server CPU-s") if runs[0].get("mode") == "handshakes" else ("bytes_per_conn", "server bytes per idle connection")
    vals = [float(r[key]) for r in runs if key in r]
    if vals:
        print(f"| {name:34} | {len(vals)} | {statistics.median(vals):.0f} | {unit} |")
PY
