#!/usr/bin/env bash
# The injector's memory under admission load, as its container runs it: the controller image's
# JVM flags (read from images/Dockerfile) with -XX:MaxRAM set to the pod's memory limit (what the
# JVM sees in the container), against fabric8's mock API server holding NAMESPACES namespaces
# (its namespace cache), answering AdmissionReviews of a three-container pod over HTTPS from
# hey at CONCURRENCY for SECONDS. One row per variant: a label and extra JVM options (as the
# Deployment's JAVA_TOOL_OPTIONS would give them). Peak RSS (VmHWM), RSS after the load, heap
# used after a full collection (the live set), admissions/s, p99. Everything on 127.0.0.1.
#
# Usage: bench/injector-memory.sh [seconds] [concurrency] [namespaces] ['label|-Xopt -Xopt' ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:-30}"; CONCURRENCY="${2:-50}"; NAMESPACES="${3:-2000}"; shift 3 || true
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-injector-memory
bench_require "hey curl" "hey curl"
bench_build
LIMIT=256m; LISTEN=29443; ADMIN=29998

"$JAVA" -cp "$ROOT/benchmarks/target/benchmarks.jar" dev.trellis.benchmarks.BenchInjector "$WORK/bench" "$ROOT" "$NAMESPACES" >"$WORK/api.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 150); do [[ -f "$WORK/bench/args" ]] && break; sleep 0.2; done
[[ -f "$WORK/bench/args" ]] || { echo "bench: the mock API server did not start; see $WORK/api.log" >&2; exit 1; }
read -r -a JVM <"$WORK/bench/jvm"; read -r -a ARGS <"$WORK/bench/args"

printf '%-28s %9s %9s %9s %11s %9s %9s\n' variant "peak MiB" "after" "live MiB" "reviews/s" "p99 ms" "errors"
run() {
  local label=$1 opts=$2
  # shellcheck disable=SC2086
  KUBECONFIG="$WORK/bench/kubeconfig" "${JVM[@]}" -XX:MaxRAM=$LIMIT $opts "${ARGS[@]}" --listen 127.0.0.1:$LISTEN --admin 127.0.0.1:$ADMIN \
    >"$WORK/injector-$label.log" 2>&1 &
  local pid=$!
  bench_wait_http "http://127.0.0.1:$ADMIN/ready"
  hey -z 5s -c "$CONCURRENCY" -m POST -T application/json -D "$WORK/bench/review.json" "https://127.0.0.1:$LISTEN/inject?timeout=10s" >/dev/null 2>&1
  hey -z "${DURATION}s" -c "$CONCURRENCY" -m POST -T application/json -D "$WORK/bench/review.json" \
    "https://127.0.0.1:$LISTEN/inject?timeout=10s" >"$WORK/hey-$label.txt" 2>&1
  local peak after live rps p99 errors
  peak=$(peak_rss_mb "$pid"); after=$(rss_mb "$pid")
  "$(dirname "$JAVA")/jcmd" "$pid" GC.run >/dev/null 2>&1 || true
  live=$("$(dirname "$JAVA")/jcmd" "$pid" GC.heap_info 2>/dev/null | awk '/^(DefNew|Tenured)/ {for (i=1;i<=NF;i++) if ($i=="used") {v=$(i+1); sub("K.*","",v); n+=v}} END {print int(n/1024)}')
  if [[ "$opts" == *NativeMemoryTracking* ]]; then
    "$(dirname "$JAVA")/jcmd" "$pid" VM.native_memory summary >"$WORK/nmt-$label.txt" 2>&1 || true
  fi
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/hey-$label.txt")
  p99=$(awk '/99% in/ {printf "%.1f", $3*1000}' "$WORK/hey-$label.txt")
  errors=$(awk '/Error distribution/ {e=1; next} e && NF {n+=$1} END {print n+0}' "$WORK/hey-$label.txt")
  printf '%-28s %9s %9s %9s %11s %9s %9s\n' "$label" "$peak" "$after" "${live:-?}" "$rps" "$p99" "$errors"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
if [[ $# -eq 0 ]]; then
  set -- "image-defaults|" "heap-48m|-Xmx48m"
fi
for variant in "$@"; do
  run "${variant%%|*}" "${variant#*|}"
done
echo "logs in $WORK"
