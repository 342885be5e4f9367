#!/usr/bin/env bash
# Measures a sidecar's start-up and idle footprint: time from exec to /ready (holding a mesh
# certificate from the identity service) and resident memory once ready, for `trellis proxy`
# as the launcher runs it, with and without the JDK 25 AOT cache (JEP 483/514/515) the launcher
# records on a proxy's first run after a build (left at cli/target/trellis-proxy.aot).
# Everything listens on 127.0.0.1.
#
# With TRAINED_AOT=FILE, also from that cache: one made as the proxy image makes its own
# (images/proxy-aot-training.sh, a run without a control plane), for the launcher's JVM.
#
# Usage: [TRAINED_AOT=FILE] bench/proxy-startup.sh [runs-per-variant]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-5}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-startup
AOT_CACHE="$ROOT/cli/target/trellis-proxy.aot"   # where ./trellis proxy looks for it
rm -f "$AOT_CACHE" "$AOT_CACHE".recording.*
bench_build
bench_control_plane 28143

# One proxy start: prints "<ms to ready> <RSS KiB when ready>", then stops it.
start_once() {
  local aot="$1" cache="${2:-$AOT_CACHE}" t0 pid
  t0=$(date +%s%N)
  TRELLIS_AOT="$aot" TRELLIS_AOT_CACHE="$cache" "$ROOT/trellis" proxy --identity spiffe://cluster.local/ns/bench/sa/web \
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
  local name="$1" aot="$2" cache="${3:-$AOT_CACHE}" all=()
  for _ in $(seq 1 "$RUNS"); do all+=("$(start_once "$aot" "$cache")"); done
  printf '%s\n' "${all[@]}" | sort -n | awk -v name="$name" '{ms[NR]=$1; rss+=$2} END {
    printf "%-22s ready median %5d ms (min %d, max %d)   RSS mean %6.1f MiB\n", name, ms[int((NR+1)/2)], ms[1], ms[NR], rss/NR/1024 }'
}

report "default" off
# The first run with the cache on records it (and writes it as it exits); the next ones use it.
start_once on >/dev/null
report "aot-cache" on
[[ -f "$AOT_CACHE" ]] || { echo "bench: the launcher recorded no AOT cache; see $WORK/proxy.log" >&2; exit 1; }
echo "AOT cache: $(du -h "$AOT_CACHE" | cut -f1), kept at $AOT_CACHE for later ./trellis proxy runs"
if [[ -n "${TRAINED_AOT:-}" ]]; then
  touch "$TRAINED_AOT"   # the launcher takes a cache only when it is newer than the jar
  report "image-training" on "$TRAINED_AOT"
  grep -h "\[aot" "$WORK/proxy.log" | head -3 || true
fi
