#!/usr/bin/env bash
# Measures `./trellis demo`: time from the command to the first request that succeeded through
# the whole mesh (vote bot -> web -> emoji and voting, every hop over mTLS), and the demo's
# resident memory (one JVM: control plane, 5 proxies, the app, the metrics API) after 20 s
# of steady traffic. Baseline in the same run: `./trellis version --client` (launcher + JVM
# start, nothing else). Everything listens on 127.0.0.1.
#
# Usage: bench/demo-startup.sh [runs]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-3}"
WORK="$(mktemp -d /tmp/trellis-demo-bench.XXXXXX)"
"$ROOT/trellis" version --client >/dev/null   # builds the distribution when needed

for i in $(seq 1 "$RUNS"); do
  t0=$(date +%s%N)
  "$ROOT/trellis" version --client >/dev/null
  echo "baseline run $i: trellis version --client $(( ($(date +%s%N) - t0) / 1000000 )) ms"
done

for i in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/demo"
  t0=$(date +%s%N)
  "$ROOT/trellis" demo --dir "$WORK/demo" --duration 25s --refresh 30s >"$WORK/demo.log" 2>&1 &
  pid=$!
  first=""
  for _ in $(seq 1 600); do
    if grep -q "first successful request" "$WORK/demo.log"; then first=$(( ($(date +%s%N) - t0) / 1000000 )); break; fi
    sleep 0.05
  done
  sleep 20
  jvm=$(pgrep -f "dev.trellis.cli.Main demo --dir $WORK/demo" | head -1)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$jvm/status")
  threads=$(ls "/proc/$jvm/task" | wc -l)
  wait "$pid"
  echo "demo run $i: first successful request after ${first:-?} ms (command to line printed); RSS $((rss / 1024)) MiB, $threads threads; $(grep 'first successful' "$WORK/demo.log" | sed 's/trellis demo: //')"
done
