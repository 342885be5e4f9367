#!/usr/bin/env bash
# What a pair of sidecars costs under a fixed load, one JVM variant after another, with the
# real control plane: for each variant, a client and a server `trellis proxy` (HTTP-aware
# forward, nginx behind), idle RSS/PSS once ready, then 2,000 req/s (hey) for the run's
# seconds sampling RSS/PSS each second, CPU per request and p99; then, the JIT warm by now,
# wrk with 64 connections for the run's seconds: requests/s and CPU per request at saturation
# (the steady-state cost; a young JVM's fixed-rate CPU is mostly its compiler). The client's
# threads by name go to the log directory. A variant is a label and
# the environment to start the proxies with (TRELLIS_JAVA_OPTS, MALLOC_ARENA_MAX, ...).
# Everything listens on 127.0.0.1; every load is bounded in time.
#
# Usage: bench/proxy-footprint.sh [seconds] ['label|VAR=value;VAR=value' ...]
#   with no variants: the launcher's defaults, then a few candidates.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:-10}"; shift || true
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-footprint
bench_require "hey wrk nginx curl bc" "hey wrk nginx curl bc"
NGINX_PORT=29080; TRELLIS_IN=29143; FWD=29083; ADMIN_CLIENT=29191; ADMIN_SERVER=29192
bench_build

bench_nginx "$NGINX_PORT"
bench_control_plane "$TRELLIS_IN" "bench-h1=$NGINX_PORT"


variant() { # label env...: one table row
  local label=$1; shift
  env "$@" bash -c "$(declare -f bench_proxy); ROOT='$ROOT' WORK='$WORK' IDENTITY_ADDR='$IDENTITY_ADDR' DESTINATION_ADDR='$DESTINATION_ADDR' PIDS=();
    bench_proxy emoji --inbound 127.0.0.1:$TRELLIS_IN --outbound off --admin 127.0.0.1:$ADMIN_SERVER --inbound-ports $NGINX_PORT; echo \$PROXY >'$WORK/server.pid';
    bench_proxy web --inbound 127.0.0.1:0 --outbound off --admin 127.0.0.1:$ADMIN_CLIENT --forward $FWD=http://bench-h1.bench.svc.cluster.local:80; echo \$PROXY >'$WORK/client.pid'"
  local sl cl s c
  sl=$(cat "$WORK/server.pid"); cl=$(cat "$WORK/client.pid")
  bench_wait_http "http://127.0.0.1:$ADMIN_SERVER/ready" "http://127.0.0.1:$ADMIN_CLIENT/ready" "http://127.0.0.1:$FWD/"
  s=$(java_pid "$sl"); c=$(java_pid "$cl")
  sleep 1
  local idle="$(rss_mb "$c")/$(pss_mb "$c") + $(rss_mb "$s")/$(pss_mb "$s")"
  local threads="$(ls /proc/"$c"/task | wc -l) + $(ls /proc/"$s"/task | wc -l)"
  ls -l /proc/"$c"/task >/dev/null && for t in /proc/"$c"/task/*; do cat "$t/comm"; done | sed 's/[-_]*[0-9]*$//' | sort | uniq -c | sort -rn >"$WORK/threads-$label.txt"
  hey -z 5s -c 20 -q 100 "http://127.0.0.1:$FWD/" >/dev/null 2>&1   # warm up
  local c0 peak_c=0 peak_s=0 peak_pc=0 peak_ps=0 v
  c0=$(echo "$(cpu_seconds "$c") + $(cpu_seconds "$s")" | bc)
  hey -z "${DURATION}s" -c 20 -q 100 "http://127.0.0.1:$FWD/" >"$WORK/hey-$label.txt" 2>&1 &
  local load=$!
  while kill -0 "$load" 2>/dev/null; do
    v=$(rss_mb "$c"); (( v > peak_c )) && peak_c=$v
    v=$(rss_mb "$s"); (( v > peak_s )) && peak_s=$v
    v=$(pss_mb "$c"); (( v > peak_pc )) && peak_pc=$v
    v=$(pss_mb "$s"); (( v > peak_ps )) && peak_ps=$v
    sleep 1
  done
  local requests cpu
  requests=$(awk '$1=="[200]" {print $2}' "$WORK/hey-$label.txt")
  cpu=$(echo "$(cpu_seconds "$c") + $(cpu_seconds "$s") - $c0" | bc)
  local c1 saturated saturated_cpu
  c1=$(echo "$(cpu_seconds "$c") + $(cpu_seconds "$s")" | bc)
  wrk -t 1 -c 64 -d "${DURATION}s" "http://127.0.0.1:$FWD/" >"$WORK/wrk-$label.txt" 2>&1
  saturated=$(awk '/requests in/ {print $1}' "$WORK/wrk-$label.txt")
  saturated_cpu=$(echo "$(cpu_seconds "$c") + $(cpu_seconds "$s") - $c1" | bc)
  local after="$(rss_mb "$c") + $(rss_mb "$s")"
  # With -XX:NativeMemoryTracking=summary in the variant's TRELLIS_JAVA_OPTS: where each proxy's memory is, after the loads.
  "$(dirname "$JAVA")/jcmd" "$c" VM.native_memory summary >"$WORK/nmt-$label-client.txt" 2>&1 || true
  "$(dirname "$JAVA")/jcmd" "$s" VM.native_memory summary >"$WORK/nmt-$label-server.txt" 2>&1 || true
  printf '| %s | %s | %s | %s/%s + %s/%s | %s | %s µs | %s | %s | %s µs | %s |\n' "$label" "$threads" "$idle" "$peak_c" "$peak_pc" "$peak_s" "$peak_ps" \
    "$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/hey-$label.txt")" "$(echo "scale=1; $cpu * 1000000 / $requests" | bc)" \
    "$(awk '/99% in/ {printf "%.2f ms", $3*1000}' "$WORK/hey-$label.txt")" \
    "$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk-$label.txt")" "$(echo "scale=1; $saturated_cpu * 1000000 / $saturated" | bc)" "$after"
  kill "$sl" "$cl" "$s" "$c" 2>/dev/null || true
  while kill -0 "$s" 2>/dev/null || kill -0 "$c" 2>/dev/null; do sleep 0.2; done
}

echo "# Sidecar pair footprint at 2,000 req/s (HTTP-aware path), $(date -u +%Y-%m-%dT%H:%MZ), ${DURATION}s per variant, $(nproc) cores"
echo
echo "| variant | threads, client + server | idle RSS/PSS MiB, client + server | peak RSS/PSS MiB under load | requests/s | CPU per request (both) | p99 | saturation req/s (wrk 64) | CPU per request at saturation | RSS MiB after it |"
echo "|---|---|---|---|---|---|---|---|---|---|"
if (( $# == 0 )); then
  set -- "defaults|X=1" \
    "malloc-arenas-2|MALLOC_ARENA_MAX=2" \
    "c1-only|TRELLIS_JAVA_OPTS=-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=24m" \
    "xms16|TRELLIS_JAVA_OPTS=-Xms16m" \
    "all-three|MALLOC_ARENA_MAX=2;TRELLIS_JAVA_OPTS=-Xms16m -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=24m"
fi
for spec in "$@"; do
  label=${spec%%|*}
  IFS=';' read -r -a vars <<<"${spec#*|}"
  variant "$label" "${vars[@]}"
done
echo
echo "logs: $WORK"
