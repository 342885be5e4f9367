#!/usr/bin/env bash
# Does the server proxy's old generation grow at a steady 1,000 req/s (HTTP-aware)? For each
# checkout given (default: this one), a client and a server `trellis proxy` with the real control
# plane and nginx behind: warm-up, a 5 s burst of 64 connections, a full collection of the server
# under load (what is in flight moves to the old generation, as a long run's promotions do), then
# SECONDS at 1,000 req/s with gc+age logging. One table row per checkout: bytes at age 1 per young
# collection, the old generation before and after, young pause times, RSS. Loopback only; every
# load is bounded in time. See docs/benchmarks.md, "The server proxy's heap, cause found".
#
# Usage: bench/proxy-heap.sh [seconds] [checkout ...]   (each checkout with its ./trellis)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:-20}"; shift || true
CHECKOUTS=("$@"); [[ ${#CHECKOUTS[@]} -gt 0 ]] || CHECKOUTS=("$ROOT")
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-heap
bench_require "hey wrk nginx curl" "hey wrk nginx curl"
NGINX_PORT=28080; TRELLIS_IN=28143; FWD=28083; ADMIN_C=28191; ADMIN_S=28192
bench_build
JCMD="$(dirname "$JAVA")/jcmd"
bench_nginx "$NGINX_PORT"
bench_control_plane "$TRELLIS_IN" "bench-h1=$NGINX_PORT"

echo "| checkout | requests | server: bytes at age 1 per young collection (last 20) | server old generation before → after | server young pauses p50 / p90 (last 40) | RSS client + server |"
echo "|---|---|---|---|---|---|"
for checkout in "${CHECKOUTS[@]}"; do
  "$checkout/trellis" version --client >/dev/null   # builds it if needed
  export TRELLIS="$checkout/trellis" TRELLIS_JAVA_OPTS="-Xlog:gc*:file=$WORK/gc-%p.log -Xlog:gc+age=trace:file=$WORK/age-%p.log"
  bench_proxy emoji --inbound 127.0.0.1:$TRELLIS_IN --outbound off --admin 127.0.0.1:$ADMIN_S --inbound-ports $NGINX_PORT; sp=$PROXY
  bench_proxy web --inbound 127.0.0.1:0 --outbound off --admin 127.0.0.1:$ADMIN_C --forward "$FWD=http://bench-h1.bench.svc.cluster.local:80"; cp=$PROXY
  bench_wait_http "http://127.0.0.1:$ADMIN_S/ready" "http://127.0.0.1:$ADMIN_C/ready" "http://127.0.0.1:$FWD/"
  c=$(java_pid "$cp"); s=$(java_pid "$sp")
  hey -z 5s -c 20 -q 50 "http://127.0.0.1:$FWD/" >/dev/null 2>&1
  wrk -t 1 -c 64 -d 5s "http://127.0.0.1:$FWD/" >/dev/null 2>&1
  hey -z 60s -c 20 -q 50 "http://127.0.0.1:$FWD/" >/dev/null 2>&1 & load=$!
  sleep 2; "$JCMD" "$s" GC.run >/dev/null; sleep 1
  kill "$load" 2>/dev/null || true
  while kill -0 "$load" 2>/dev/null; do sleep 0.1; done
  old_before=$(grep 'Tenured:' "$WORK/gc-$s.log" | tail -1 | sed 's/.*->\([0-9]*\)K.*/\1/')
  hey -z "${DURATION}s" -c 20 -q 50 "http://127.0.0.1:$FWD/" >"$WORK/hey.txt" 2>&1
  old_after=$(grep 'Tenured:' "$WORK/gc-$s.log" | tail -1 | sed 's/.*->\([0-9]*\)K.*/\1/')
  age1=$(grep -E ' - age +1:' "$WORK/age-$s.log" | tail -20 | awk '{t+=$(NF-3)} END {printf "%.0f KB", t/NR/1024}')
  pauses=$(grep 'Pause Young (Allocation Failure) [0-9]' "$WORK/gc-$s.log" | tail -40 | awk '{print $NF}' | tr -d 'ms' | sort -n \
    | awk '{a[NR]=$1} END {printf "%.1f / %.1f ms", a[int(NR/2)], a[int(NR*0.9)]}')
  echo "| $(cd "$checkout" && git log --oneline -1 | cut -c1-50) | $(awk '$1=="[200]" {print $2}' "$WORK/hey.txt") | $age1 | ${old_before} KB → ${old_after} KB | $pauses | $(rss_mb "$c") + $(rss_mb "$s") MiB |"
  kill "$cp" "$sp" "$c" "$s" 2>/dev/null || true
  while kill -0 "$c" 2>/dev/null || kill -0 "$s" 2>/dev/null; do sleep 0.2; done
done
echo; echo "logs: $WORK"
