#!/usr/bin/env bash
# Builds the firmware and prints its size (text = flash, data, bss = static RAM) and the flash
# each module takes, from the symbol table. Needs `rustup target add thumbv7em-none-eabihf`
# and `rustup component add llvm-tools` (llvm-size and llvm-nm ship with it).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release -q
bin=target/thumbv7em-none-eabihf/release/pushwire-device
tools=$(dirname "$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size | head -1)")
"$tools/llvm-size" "$bin"
echo
echo "flash by module (bytes of functions and constants, from the symbol table):"
"$tools/llvm-nm" --print-size --size-sort --demangle "$bin" | python3 -c '
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
    key = "::".join(path[:2]) if path[0] == "pushwire" and len(path) > 2 else path[0]
    sizes[key] += int(parts[1], 16)
for key, size in sizes.most_common(20):
    print(f"{size:8d}  {key}")
'
