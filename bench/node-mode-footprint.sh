#!/usr/bin/env bash
# Node mode against sidecars, pod for pod: N pods' proxies as N `trellis proxy` sidecars, then
# as one node-proxy process hosting N proxies (NodeHostBench: the node proxy's hosting, with
# loopback sockets in place of the agent's), each pod forwarding HTTP to one shared server
# sidecar (nginx behind it; not counted). For each N and mode: RSS (sum over processes) once
# ready and at its peak under the demo's kind of traffic (a fixed rate per pod, FixedRateLoad),
# CPU per request, p50/p99; then, at N=1, one pod's saturation throughput (wrk, 64 connections).
# Everything listens on 127.0.0.1; every load is bounded in time.
#
# Usage: bench/node-mode-footprint.sh [seconds] [rate-per-pod] [pod counts...]
#   defaults: 20 s, 20 req/s per pod, 1 10 30 100
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:-20}"; RATE="${2:-20}"; shift 2 || shift $# || true
COUNTS=("$@"); (( ${#COUNTS[@]} )) || COUNTS=(1 10 30 100)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-node-footprint
bench_require "wrk nginx curl bc" "wrk nginx curl bc"
NGINX_PORT=29080; TRELLIS_IN=29143; ADMIN_SERVER=29192; FWD=30000; ADMIN=32000
bench_build
BENCH_JAR="$ROOT/benchmarks/target/benchmarks.jar"

bench_nginx "$NGINX_PORT"
bench_control_plane "$TRELLIS_IN" "bench-h1=$NGINX_PORT"
bench_proxy emoji --inbound 127.0.0.1:$TRELLIS_IN --outbound off --admin 127.0.0.1:$ADMIN_SERVER --inbound-ports $NGINX_PORT
bench_wait_http "http://127.0.0.1:$ADMIN_SERVER/ready"

sum_rss() { local t=0; for p in "$@"; do t=$(( t + $(rss_mb "$p") )); done; echo "$t"; }
sum_cpu() { local t=0; for p in "$@"; do t=$(echo "$t + $(cpu_seconds "$p")" | bc); done; echo "$t"; }
threads() { local t=0; for p in "$@"; do t=$(( t + $(ls /proc/"$p"/task | wc -l) )); done; echo "$t"; }

load() { # ports seconds [watched] -> the FixedRateLoad line(s)
  "$JAVA" -XX:+UseSerialGC -Xmx256m -cp "$BENCH_JAR" dev.trellis.benchmarks.FixedRateLoad "$FWD" "$1" "$RATE" "$2" ${3:+"$3"} 2>"$WORK/load.err"
}

measure() { # label n pids...: one table row
  local label=$1 n=$2; shift 2
  local pids=("$@")
  sleep 2
  local idle; idle=$(sum_rss "${pids[@]}")
  load "$n" 10 >/dev/null   # warm up
  local c0 peak=0 v out
  c0=$(sum_cpu "${pids[@]}")
  load "$n" "$DURATION" >"$WORK/load-$label-$n.txt" &
  local loader=$!
  while kill -0 "$loader" 2>/dev/null; do
    v=$(sum_rss "${pids[@]}"); (( v > peak )) && peak=$v
    sleep 1
  done
  local cpu requests
  cpu=$(echo "$(sum_cpu "${pids[@]}") - $c0" | bc)
  out=$(cat "$WORK/load-$label-$n.txt")
  requests=$(awk '{print $2}' <<<"$out")
  local saturation="-"
  if (( n == 1 )); then
    wrk -t 1 -c 64 -d 10s "http://127.0.0.1:$FWD/" >"$WORK/wrk-$label.txt" 2>&1
    saturation=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk-$label.txt")
  fi
  printf '| %s | %d | %d | %d MiB | %d MiB | %.1f MiB | %s | %s µs | %s | %s | %s |\n' "$label" "$n" "$(threads "${pids[@]}")" "$idle" "$peak" \
    "$(echo "scale=1; $peak / $n" | bc)" "$(awk '{print $6}' <<<"$out")" "$(echo "scale=0; $cpu * 1000000 / $requests" | bc)" \
    "$(awk '{print $8" "$9}' <<<"$out")" "$(awk '{print $11" "$12}' <<<"$out")" "$saturation"
}

sidecars() { # n
  local n=$1 i pids=() launchers=()
  for (( i = 0; i < n; i++ )); do
    bench_proxy "web" --inbound 127.0.0.1:0 --outbound off --admin "127.0.0.1:$((ADMIN + i))" --workload "web-$i" \
      --forward "$((FWD + i))=http://bench-h1.bench.svc.cluster.local:80"
    launchers+=("$PROXY")
    # Started one by one as a kubelet starts pods on a node, each once the previous is ready: 2 cores.
    bench_wait_http "http://127.0.0.1:$((ADMIN + i))/ready"
  done
  for l in "${launchers[@]}"; do pids+=("$(java_pid "$l")"); done
  measure sidecars "$n" "${pids[@]}"
  kill "${launchers[@]}" "${pids[@]}" 2>/dev/null || true
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done
}

node_proxy() { # n [io-threads]
  local n=$1 threads=${2:-2}
  # The launcher's proxy flags, with the heap and young generation grown with the pods it hosts.
  "$JAVA" -XX:+UseSerialGC -Xms48m "-Xmx$((96 + 2 * n))m" "-Xmn$((16 + n / 4))m" -XX:SurvivorRatio=2 -XX:MaxDirectMemorySize=64m \
    -XX:ReservedCodeCacheSize=64m -XX:SweeperThreshold=50 -XX:MetaspaceSize=40m -XX:MaxMetaspaceSize=64m -Xss512k -XX:+ExitOnOutOfMemoryError \
    -Dio.netty.allocator.numDirectArenas=1 -Dio.netty.allocator.numHeapArenas=1 -Dio.netty.leakDetection.level=disabled \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
    -cp "$BENCH_JAR" dev.trellis.benchmarks.NodeHostBench "$n" "$FWD" "$WORK/pki" "$IDENTITY_ADDR" "$DESTINATION_ADDR" "$threads" >"$WORK/node-$n.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 600); do grep -q '^ready' "$WORK/node-$n.log" && break; kill -0 "$pid" || break; sleep 0.2; done
  grep -q '^ready' "$WORK/node-$n.log" || { echo "bench: the node proxy with $n pods did not get ready; see $WORK/node-$n.log" >&2; exit 1; }
  measure "node-proxy ($threads loop$( (( threads > 1 )) && echo s))" "$n" "$pid"
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
}

echo "# Node proxy against sidecars, $(date -u +%Y-%m-%dT%H:%MZ), ${RATE} req/s per pod for ${DURATION}s, $(nproc) cores"
echo
echo "| mode | pods | threads | RSS once ready | peak RSS under load | peak RSS per pod | load req/s | CPU per request | p50 | p99 | one pod's saturation req/s (wrk 64) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for n in "${COUNTS[@]}"; do
  node_proxy "$n"
  # One pod alone: also with one loop, as a sidecar has (on 2 cores the second loop competes with the load and the server).
  (( n == 1 )) && node_proxy 1 1
  sidecars "$n"
done
echo
echo "logs: $WORK"
