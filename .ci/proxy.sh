#!/usr/bin/env bash
# pushwire behind a real nginx (Debian's nginx-light) with deploy/nginx.conf: SSE, WebSocket,
# long-polling and a drain through it (tests/interop/behind_proxy.py).
#
#   bash .ci/proxy.sh            (needs nginx, python3 with websockets, target/release/pushwire)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'kill "${pids[@]}" 2>/dev/null || true; cp "$dir/pushwire.log" target/proxy-pushwire.log 2>/dev/null; rm -rf "$dir"' EXIT
pids=()
upstream=9441
proxy=9442
target/release/pushwire --port "$upstream" --threads 2 --trusted-proxies 127.0.0.1/32 \
  > /dev/null 2> "$dir/pushwire.log" &
pids+=($!)
pushwire_pid=$!
mkdir -p "$dir/logs"
{
  echo "pid $dir/nginx.pid; error_log $dir/logs/error.log; daemon off; worker_processes 1;"
  echo "events {}"
  echo "http { access_log off; client_body_temp_path $dir; proxy_temp_path $dir;"
  sed -e "s/127.0.0.1:8080;/127.0.0.1:$upstream;/" -e "s/listen 80;/listen $proxy;/" deploy/nginx.conf
  echo "}"
} > "$dir/nginx.conf"
nginx -t -q -p "$dir" -c "$dir/nginx.conf"
nginx -p "$dir" -c "$dir/nginx.conf" &
pids+=($!)
for port in "$upstream" "$proxy"; do
  for _ in $(seq 100); do (: > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

python3 tests/interop/behind_proxy.py "$proxy" "$pushwire_pid" "$dir/pushwire.log"
