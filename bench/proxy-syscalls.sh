#!/usr/bin/env bash
# System calls per new app connection, per proxy (issue 21, item 3), and per request on kept-alive connections: a client and a server
# `trellis proxy` with the real control plane and nginx behind, each traced with `strace -c -f`
# while hey opens one connection per request (8 at a time, no keep-alive) for the run's
# seconds, first through an opaque forward (each app connection is an mTLS connection between
# the proxies), then through an HTTP-aware one (the hop between the proxies is one pooled
# HTTP/2 connection). strace slows the proxies down several times over: the counts per
# connection are what this measures, not the rate. Everything listens on 127.0.0.1; every
# load is bounded in time.
#
# Usage: bench/proxy-syscalls.sh [seconds]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:-10}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-syscalls
bench_require "hey nginx curl strace" "hey nginx curl strace"
NGINX_PORT=30080; TRELLIS_IN=30143; TCP_FWD=30081; HTTP_FWD=30083; ADMIN_CLIENT=30191; ADMIN_SERVER=30192
bench_build
bench_nginx "$NGINX_PORT"
bench_control_plane "$TRELLIS_IN" "bench-h1=$NGINX_PORT"
bench_proxy emoji --inbound 127.0.0.1:$TRELLIS_IN --outbound off --admin 127.0.0.1:$ADMIN_SERVER --inbound-ports $NGINX_PORT
SERVER=$PROXY
bench_proxy web --inbound 127.0.0.1:0 --outbound off --admin 127.0.0.1:$ADMIN_CLIENT \
  --forward $TCP_FWD=bench-h1.bench.svc.cluster.local:80 --forward $HTTP_FWD=http://bench-h1.bench.svc.cluster.local:80
CLIENT=$PROXY
bench_wait_http "http://127.0.0.1:$ADMIN_SERVER/ready" "http://127.0.0.1:$ADMIN_CLIENT/ready" "http://127.0.0.1:$TCP_FWD/" "http://127.0.0.1:$HTTP_FWD/"
S=$(java_pid "$SERVER"); C=$(java_pid "$CLIENT")
# Warm: the JIT's work is not what is counted.
for port in $TCP_FWD $HTTP_FWD; do hey -z 5s -c 8 --disable-keepalive "http://127.0.0.1:$port/" >/dev/null 2>&1; done

# trace NAME PORT [HEY-OPTIONS...]: the top system calls per request of each proxy.
trace() {
  local name=$1 port=$2 done_ pid; shift 2
  local load=("$@"); [[ ${#load[@]} -gt 0 ]] || load=(-c 8 --disable-keepalive)
  strace -c -f -q -o "$WORK/strace-$name-client.txt" -p "$C" & local tc=$!
  strace -c -f -q -o "$WORK/strace-$name-server.txt" -p "$S" & local ts=$!
  sleep 1
  hey -z "${DURATION}s" "${load[@]}" "http://127.0.0.1:$port/" >"$WORK/hey-$name.txt" 2>&1
  kill -INT "$tc" "$ts"; wait "$tc" "$ts" 2>/dev/null || true
  done_=$(awk '$1=="[200]" {print $2}' "$WORK/hey-$name.txt")
  for side in client server; do
    local file="$WORK/strace-$name-$side.txt" total top
    total=$(awk -v n="${done_:-1}" '$NF == "total" {printf "%.1f", $4 / n}' "$file")
    top=$(awk -v n="${done_:-1}" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {printf "%s %.1f\n", $NF, $4 / n}' "$file" \
      | sort -k2 -nr | head -8 | paste -sd, - | sed 's/,/, /g')
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$side" "${done_:-0}" "$total" "$top"
  done
}

echo "# System calls per request (one new app connection each, then kept-alive), $(date -u +%Y-%m-%dT%H:%MZ), ${DURATION}s per path, $(nproc) cores (under strace)"
echo
echo "| path | proxy | requests | system calls per request | the most frequent, per request |"
echo "|---|---|---|---|---|"
trace opaque $TCP_FWD
trace http $HTTP_FWD
# Then requests on kept-alive app connections: what a request costs once its connection exists.
trace http-kept-alive $HTTP_FWD -c 64
echo
echo "strace summaries: $WORK"
