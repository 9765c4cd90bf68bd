#!/usr/bin/env bash
# Autobahn|Testsuite (../shared/autobahn), strict, both roles.
#
#   .ci/autobahn.sh plain     sections 1-11: server role against ws_echo_blocking (a hand-written
#                             driver loop), ws_echo (the reactor) and the ready server's /echo,
#                             that one over ws:// and over wss:// (TLS); client role with
#                             autobahn_client, over ws:// and over wss://
#   .ci/autobahn.sh deflate   sections 1-13 with permessage-deflate: server role against ws_echo,
#                             client role with autobahn_client (both built with --features deflate);
#                             and sections 12-13 against ws_echo and the ready server's /echo on the
#                             io_uring driver (1-11 on it are in `uring`). Two lanes side by side,
#                             one suite at a time in each.
#   .ci/autobahn.sh uring     sections 1-11 on the io_uring driver: server role against ws_echo and
#                             the ready server's /echo, over ws:// and over wss://
#
# STRICT=1: NON-STRICT, WRONG CODE and UNCLEAN fail as FAILED does; every case must be OK or
# INFORMATIONAL. Each run's summary lines are printed; reports go to target/autobahn/.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=../shared/autobahn
mode=${1:-plain}
reports=target/autobahn
mkdir -p "$reports"
export STRICT=1

# Waits until something listens on 127.0.0.1:$1 (at most 10 s).
listening() { for _ in $(seq 100); do (: > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; return 1; }

# Runs the server-role suite against $2 (a ws:// URL), cases $3, excluded $4; $1 names the run.
# Failed cases are run once more, alone and strict (see `rerun_failed`).
server_role() {
  local name=$1 url=$2 cases=$3 exclude=$4
  echo "--- server role: $name ($url, cases $cases, excluded $exclude)"
  if AGENT=pushwire "$suite/run-server-suite.sh" "$url" "$cases" "$exclude" "$reports/server-$name" \
    > "$reports/server-$name.log" 2>&1; then
    grep -E '^(cases run|behavior|behaviorClose|RESULT)' "$reports/server-$name.log"
    return 0
  fi
  rerun_failed "$reports/server-$name.log" \
    env AGENT=pushwire "$suite/run-server-suite.sh" "$url" '{cases}' none "$reports/server-$name-rerun"
}

# After a failed run whose summary is $1: runs the command that follows once more for the failed
# cases only ('{cases}' in it is replaced by their list), strict as before, and passes only if
# they all pass then. About one full run in four, one case has ended UNCLEAN because the suite's
# own Python peer let its 1 s close-handshake timer fire (in the instance seen in the client role,
# our client had completed the closing handshake cleanly); the same cases run alone have not
# reproduced it. Each re-run is printed as FLAKY in the log. A crash or a missing case fails.
#
# NO_RERUN=1 turns the re-run off: a failed case fails the run (.ci/autobahn_soak.sh).
rerun_failed() {
  local log=$1; shift
  cat "$log"
  [ "${NO_RERUN:-0}" = 1 ] && return 1
  local failed
  failed=$({ grep -E '^ !! ' "$log" || true; } | awk '{print $2}' | paste -sd, -)
  grep -Eq 'missing: 0$' "$log" || return 1
  [ -n "$failed" ] || return 1
  echo "FLAKY? re-running the failed case(s) once: $failed"
  local args=() a
  for a in "$@"; do args+=("${a//\{cases\}/$failed}"); done
  "${args[@]}" > "$log.rerun" 2>&1 || { cat "$log.rerun"; return 1; }
  grep -E '^(cases run|behavior|behaviorClose|RESULT)' "$log.rerun"
  echo "FLAKY: $failed failed once and passed when run again"
}

# Runs the client-role suite with the autobahn_client binary $2; $1 names the run.
# Failed cases are run once more, alone and strict (see `rerun_failed`).
client_role() {
  local name=$1 client=$2 exclude=$3
  echo "--- client role: $name (excluded $exclude)"
  if "$suite/run-client-suite.sh" -p 9140 -a pushwire -o "$reports/client-$name" -x "$exclude" \
    -- "$client" --url '{url}' > "$reports/client-$name.log" 2>&1; then
    grep -E '^(cases run|behavior|behaviorClose|RESULT)' "$reports/client-$name.log"
    return 0
  fi
  rerun_failed "$reports/client-$name.log" \
    "$suite/run-client-suite.sh" -p 9141 -a pushwire -o "$reports/client-$name-rerun" \
    -c '{cases}' -x none -- "$client" --url '{url}'
}

# The client role over wss://: the suite's fuzzing server with a test certificate (the shared
# client-suite script speaks ws:// only), our client trusting that certificate's CA, and the
# same strict summary. $1 names the run, $2 is the client, $3 the excluded cases, $4 the cases,
# $5 the port.
client_role_wss() {
  local name=$1 client=$2 exclude=$3 cases=${4:-*} port=${5:-9142}
  local out="$reports/client-$name"
  local py="${AUTOBAHN_VENV:-/tmp/autobahn-venv}/bin/python"
  echo "--- client role over TLS: $name (wss://, cases $cases, excluded $exclude)"
  rm -rf "$out" && mkdir -p "$out" && out=$(cd "$out" && pwd)
  "$py" - "$out/spec.json" "$port" "$out" "$cases" "$exclude" "$certs" <<'EOF'
import json, re, sys
path, port, outdir, cases, exclude, certs = sys.argv[1:]
split = lambda s: [x for x in re.split(r"[,\s]+", s) if x and x != "none"]
json.dump({
    "url": f"wss://127.0.0.1:{port}",
    "key": f"{certs}/key.pem", "cert": f"{certs}/cert.pem",
    "options": {"failByDrop": False}, "outdir": outdir, "webport": 0,
    "cases": split(cases) or ["*"], "exclude-cases": split(exclude),
    "exclude-agent-cases": {},
}, open(path, "w"), indent=2)
EOF
  local wstest
  wstest="$(cd "$suite" && pwd)/wstest_loopback.py"
  (cd "$out" && exec "$py" "$wstest" -m fuzzingserver \
    -s "$out/spec.json" -u 0) > "$out/wstest.log" 2>&1 &
  local spid=$!
  listening "$port" || { kill "$spid"; cat "$out/wstest.log"; return 1; }
  local rc=0
  "$client" --url "wss://localhost:$port" --ca "$certs/ca.pem" > "$out/client.log" 2>&1 || rc=$?
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
  [ "$rc" = 0 ] || { echo "client exited $rc"; tail -5 "$out/client.log"; return 1; }
  "$py" "$suite/summarise.py" "$out" --agent pushwire --strict --spec "$out/spec.json"
}

"$suite/setup.sh" > "$reports/setup.log" 2>&1 || { cat "$reports/setup.log"; exit 2; }
# The suite's timers come from txaio's `_BatchedTimer`, which quantizes a deadline with
# `int(now + delay) * 1000`: it truncates to the whole second before converting to milliseconds,
# so the 1 s close-handshake timeout fires anywhere from 0 to 1 s after it is set — after 40 ms
# when the clock reads x.96 s. A peer whose close reply takes longer than what is left of the
# second is then reported UNCLEAN (the intermittent failures: 9.2.3 over wss ended by a 1 s
# timeout 56 ms into the case). Quantizing in milliseconds, as its own documentation says,
# makes the timer fire after 0.8 to 1 s.
common=$(ls "${AUTOBAHN_VENV:-/tmp/autobahn-venv}"/lib/python3*/site-packages/txaio/_common.py)
sed -i 's|real_time = int(now + delay) \* 1000$|real_time = int((now + delay) * 1000)|' "$common"
grep -q 'real_time = int((now + delay) \* 1000)' "$common" || { echo "txaio: timer not fixed" >&2; exit 2; }

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

case "$mode" in
  plain)
    cargo build --release --bin pushwire --example ws_echo_blocking --example ws_echo \
      --example autobahn_client
    bin=target/release/examples
    certs=$(pwd)/$reports/certs
    target/release/pushwire cert --out "$certs" > /dev/null
    "$bin/ws_echo_blocking" --port 9131 > /dev/null 2>&1 & pids+=($!)
    "$bin/ws_echo" --port 9132 --threads 1 > /dev/null 2>&1 & pids+=($!)
    # Its log (one line per connection: how it ended, bytes each way, close codes) is kept
    # beside the reports: the evidence when a case ends UNCLEAN.
    target/release/pushwire --port 9133 --threads 1 --tls-port 9135 --tls-cert "$certs/cert.pem" \
      --tls-key "$certs/key.pem" --log-level info > "$reports/pushwire.log" 2>&1 & pids+=($!)
    listening 9131 && listening 9132 && listening 9133 && listening 9135
    server_role ws_echo_blocking ws://127.0.0.1:9131 '*' '12.*,13.*'
    server_role ws_echo ws://127.0.0.1:9132 '*' '12.*,13.*'
    server_role demo-echo ws://127.0.0.1:9133/echo '*' '12.*,13.*'
    server_role demo-echo-tls wss://127.0.0.1:9135/echo '*' '12.*,13.*'
    client_role autobahn_client "$bin/autobahn_client" '12.*,13.*'
    if client_role_wss autobahn_client-tls "$bin/autobahn_client" '12.*,13.*' \
      > "$reports/client-autobahn_client-tls.log" 2>&1; then
      grep -E '^(--- |cases run|behavior|behaviorClose|RESULT)' "$reports/client-autobahn_client-tls.log"
    else
      rerun_failed "$reports/client-autobahn_client-tls.log" \
        client_role_wss autobahn_client-tls-rerun "$bin/autobahn_client" none '{cases}' 9143
    fi
    ;;
  deflate)
    # A target directory of its own, so the plain and deflate builds do not replace each other.
    export CARGO_TARGET_DIR=target/deflate
    cargo build --release --features deflate,uring --example ws_echo --example autobahn_client
    CARGO_TARGET_DIR=target cargo build --release --bin pushwire
    bin=target/deflate/release/examples
    "$bin/ws_echo" --port 9134 --threads 1 > /dev/null 2>&1 & pids+=($!)
    listening 9134
    # AUTOBAHN_URING=0 (a kernel that refuses io_uring): the io_uring runs are left out.
    uring=${AUTOBAHN_URING:-1}
    if [ "$uring" = 1 ]; then
      PUSHWIRE_DRIVER=uring "$bin/ws_echo" --port 9139 --threads 1 > /dev/null 2>&1 & pids+=($!)
      target/release/pushwire --port 9144 --threads 1 --driver uring --log-level info \
        > "$reports/pushwire-uring-deflate.log" 2>&1 & pids+=($!)
      listening 9139 && listening 9144
    else
      echo "SKIPPED: sections 12-13 on the io_uring driver (no io_uring here)"
    fi
    # Each lane's summary is printed when both are done; either failing fails the step.
    {
      server_role ws_echo-deflate ws://127.0.0.1:9134 '*' none &&
        { [ "$uring" = 0 ] ||
          server_role ws_echo-uring-deflate ws://127.0.0.1:9139 '12.*,13.*' none; }
    } > "$reports/lane-1.out" 2>&1 &
    lane1=$!
    {
      client_role autobahn_client-deflate "$bin/autobahn_client" none &&
        { [ "$uring" = 0 ] ||
          server_role demo-echo-uring-deflate ws://127.0.0.1:9144/echo '12.*,13.*' none; }
    } > "$reports/lane-2.out" 2>&1 &
    lane2=$!
    rc=0
    wait "$lane1" || rc=1
    wait "$lane2" || rc=1
    cat "$reports/lane-1.out" "$reports/lane-2.out"
    exit "$rc"
    ;;
  uring)
    cargo build --release --bin pushwire --example ws_echo
    bin=target/release/examples
    certs=$(pwd)/$reports/certs
    target/release/pushwire cert --out "$certs" > /dev/null
    PUSHWIRE_DRIVER=uring "$bin/ws_echo" --port 9136 --threads 1 > /dev/null 2>&1 & pids+=($!)
    target/release/pushwire --port 9137 --threads 1 --driver uring --tls-port 9138 \
      --tls-cert "$certs/cert.pem" --tls-key "$certs/key.pem" --log-level info \
      > "$reports/pushwire-uring.log" 2>&1 & pids+=($!)
    listening 9136 && listening 9137 && listening 9138
    server_role ws_echo-uring ws://127.0.0.1:9136 '*' '12.*,13.*'
    server_role demo-echo-uring ws://127.0.0.1:9137/echo '*' '12.*,13.*'
    server_role demo-echo-uring-tls wss://127.0.0.1:9138/echo '*' '12.*,13.*'
    ;;
  *)
    echo "usage: $0 plain|deflate|uring" >&2
    exit 2
    ;;
esac
