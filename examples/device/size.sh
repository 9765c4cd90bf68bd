#!/usr/bin/env bash
# Builds the firmware and prints its size (text = flash, data, bss = static RAM) and the flash
# each module takes, from the symbol table; then the same server built without its event stream,
# and the embedded peers' servers (peers/: picoserve, embedded-websocket) built the same way, in
# one table. Needs `rustup target add thumbv7em-none-eabihf` and `rustup component add
# llvm-tools` (llvm-size and llvm-nm ship with it). `size.sh --own` builds pushwire's only.
set -euo pipefail
cd "$(dirname "$0")"
tools=$(dirname "$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size | head -1)")

# by_module BINARY: flash by module, from the symbol table.
by_module() {
  "$tools/llvm-nm" --print-size --size-sort --demangle "$1" | python3 -c '
import re, sys, collections
sizes = collections.Counter()
for line in sys.stdin:
    parts = line.split(maxsplit=3)
    if len(parts) < 4 or parts[2] not in "tTrR":
        continue
    name = parts[3].strip()
    for code, text in (("_$LT$", "<"), ("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("..", "::")):
        name = name.replace(code, text)
    name = name.lstrip("<")
    while True:  # a generic argument list says nothing of where the code lives
        shorter = re.sub(r"<[^<>]*>", "", name)
        if shorter == name:
            break
        name = shorter
    path = name.split(" as ")[0].split("::")
    top = ("pushwire", "picoserve", "embedded_websocket")
    key = "::".join(path[:2]) if path[0] in top and len(path) > 2 else path[0]
    sizes[key] += int(parts[1], 16)
for key, size in sizes.most_common(16):
    print(f"{size:8d}  {key}")
'
}

# row DIR BINARY LABEL [CARGO FLAGS]: builds DIR and prints one line of the table.
row() {
  local dir=$1 bin=$2 label=$3
  shift 3
  (cd "$dir" && cargo build --release -q "$@")
  "$tools/llvm-size" "$dir/target/thumbv7em-none-eabihf/release/$bin" | awk -v label="$label" \
    'NR == 2 { printf "| %s | %d | %d | %d |\n", label, $1, $2, $3 }'
}

cargo build --release -q
bin=target/thumbv7em-none-eabihf/release/pushwire-device
"$tools/llvm-size" "$bin"
echo
echo "flash by module (bytes of functions and constants, from the symbol table):"
by_module "$bin"
[ "${1:-}" = --own ] && exit 0

echo
echo "| server (thumbv7em-none-eabihf, opt-level z, LTO, panic abort) | text (flash) | data | bss (static RAM) |"
echo "|---|---|---|---|"
row . pushwire-device "pushwire: HTTP/1.1, WebSocket echo, event stream"
row . pushwire-device "pushwire: HTTP/1.1, WebSocket echo" --no-default-features
row peers/picoserve peer-picoserve "picoserve 0.20: HTTP/1.1, WebSocket echo, event stream"
row peers/picoserve peer-picoserve "picoserve 0.20: HTTP/1.1, WebSocket echo" --no-default-features
row peers/embedded-websocket peer-embedded-websocket "embedded-websocket 0.9: one request head, WebSocket echo"
echo
echo "flash by module, embedded-websocket:"
by_module peers/embedded-websocket/target/thumbv7em-none-eabihf/release/peer-embedded-websocket
# Leaves pushwire's own firmware built as the default (with its event stream).
cargo build --release -q
