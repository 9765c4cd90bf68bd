#!/usr/bin/env bash
# Runs the Autobahn|Testsuite N times in a row (default 30), strict, both roles, every driver,
# with no re-run of a failed case (NO_RERUN=1), and counts the runs with a case that was not OK
# or INFORMATIONAL (UNCLEAN among them). Long: not part of every CI run.
#
#   .ci/autobahn_soak.sh [N] [plain|deflate]
#
# Prints one line per run and a summary; the logs of a failing run are kept in
# target/autobahn-soak/run-K/.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
mode=${2:-plain}
out=target/autobahn-soak
rm -rf "$out"
mkdir -p "$out"
failed=0
for k in $(seq "$runs"); do
  start=$(date +%s)
  if NO_RERUN=1 bash .ci/autobahn.sh "$mode" > "$out/run-$k.log" 2>&1; then
    echo "run $k/$runs: ok ($(( $(date +%s) - start )) s)"
    rm -f "$out/run-$k.log"
  else
    failed=$((failed + 1))
    mkdir -p "$out/run-$k"
    cp -r target/autobahn/. "$out/run-$k/"
    echo "run $k/$runs: FAILED ($(grep -hE '^ !! |UNCLEAN' "$out/run-$k.log" | head -5 | tr '\n' ' '))"
  fi
done
echo "autobahn soak ($mode): $((runs - failed)) of $runs runs clean, $failed with a failed case"
[ "$failed" = 0 ]
