#!/usr/bin/env bash
# Measures a sidecar's start-up and idle footprint: time from exec to /ready (holding a mesh
# certificate from the identity service) and resident memory once ready, for `trellis proxy`
# as the launcher runs it, with and without a JDK 25 AOT cache (JEP 483/514) made by one
# training run (left at cli/target/trellis-proxy.aot, where ./trellis proxy picks it up).
# Everything listens on 127.0.0.1.
#
# Usage: bench/proxy-startup.sh [runs-per-variant]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-5}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-startup
AOT_CACHE="$ROOT/cli/target/trellis-proxy.aot"   # where ./trellis proxy looks for it
rm -f "$AOT_CACHE"
bench_build
bench_control_plane 28143

# One proxy start: prints "<ms to ready> <RSS KiB when ready>", then stops it.
start_once() {
  local opts="$1" t0 pid
  t0=$(date +%s%N)
  TRELLIS_JAVA_OPTS="$opts" "$ROOT/trellis" proxy --identity spiffe://cluster.local/ns/bench/sa/web \
    --trust-anchor "$WORK/pki/trust-anchor.pem" --identity-addr "$IDENTITY_ADDR" --token-file "$WORK/pki/web.token" \
    --destination-addr "$DESTINATION_ADDR" --inbound 127.0.0.1:28144 --outbound 127.0.0.1:28140 --admin 127.0.0.1:28191 \
    --connection-log /dev/null --tap off >"$WORK/proxy.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null "http://127.0.0.1:28191/ready" && break
    sleep 0.01
  done
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  sleep 1   # settle: what a ready, idle sidecar holds
  local rss
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$ms $rss"
}

report() {
  local name="$1" opts="$2" all=()
  for _ in $(seq 1 "$RUNS"); do all+=("$(start_once "$opts")"); done
  printf '%s\n' "${all[@]}" | sort -n | awk -v name="$name" '{ms[NR]=$1; rss+=$2} END {
    printf "%-22s ready median %5d ms (min %d, max %d)   RSS mean %6.1f MiB\n", name, ms[int((NR+1)/2)], ms[1], ms[NR], rss/NR/1024 }'
}

report "default" ""
# Training run: the JVM records the classes it loaded and linked, and writes the cache at exit.
# The launcher adds the cache by itself once it exists, so the second report runs plain.
start_once "-XX:AOTCacheOutput=$AOT_CACHE" >/dev/null
[[ -f "$AOT_CACHE" ]] || { echo "bench: the training run wrote no AOT cache; see $WORK/proxy.log" >&2; exit 1; }
echo "AOT cache: $(du -h "$AOT_CACHE" | cut -f1), kept at $AOT_CACHE for later ./trellis proxy runs"
report "aot-cache" ""
