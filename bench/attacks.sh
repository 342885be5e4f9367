#!/usr/bin/env bash
# The outside review's floods, against real `trellis proxy` processes, each with an honest
# client beside it: what the honest client gets, and what the attacked process spends (CPU
# seconds over the attack, resident memory after it, peak resident memory). HAProxy 2.6 in
# `mode http` (timeout http-request 10s) takes the same slowloris for comparison.
#
#   admin slowloris      128 connections trickling a request to the server proxy's admin port;
#                        honest: GET /ready every 50 ms
#   outbound slowloris   4,000 connections trickling request heads to the client proxy's HTTP
#                        listener; honest: a GET through it every 50 ms
#   rapid reset (proxy)  20,000 HEADERS+RST_STREAM per connection, over mTLS as a mesh
#                        identity, to the server proxy's inbound port; honest: GETs through the mesh
#   rapid reset (CA)     the same against the identity service's gRPC port
#
# Everything listens on 127.0.0.1; every attack stops by itself after its duration.
# Usage: bench/attacks.sh [seconds-per-attack]   (root lets it apt-get nginx and haproxy)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:-20}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-attacks
bench_require "nginx haproxy curl bc" "nginx haproxy curl bc"
ulimit -n 65536 2>/dev/null || true

NGINX_PORT=29080; SERVER_IN=29143; SERVER_ADMIN=29191; CLIENT_OUT=29140; CLIENT_ADMIN=29192; CLIENT_FWD=29081; HAPROXY_HTTP=29082
AUTHORITY=bench-h1.bench.svc.cluster.local
bench_build
# every run of the load tool is bounded, whatever happens to it
attack() { timeout --kill-after=5 $((DURATION + 60)) "$JAVA" -Xmx512m -cp "$ROOT/benchmarks/target/benchmarks.jar" dev.trellis.benchmarks.Attacks "$@"; }

bench_nginx "$NGINX_PORT"

bench_control_plane "$SERVER_IN" "bench-h1=$NGINX_PORT"   # serves $AUTHORITY:80
bench_proxy emoji --inbound 127.0.0.1:$SERVER_IN --outbound off --admin 127.0.0.1:$SERVER_ADMIN --inbound-ports "$NGINX_PORT"
SERVER_PROXY=$PROXY
bench_proxy web --inbound 127.0.0.1:0 --outbound 127.0.0.1:$CLIENT_OUT --admin 127.0.0.1:$CLIENT_ADMIN \
  --forward "$CLIENT_FWD=http://$AUTHORITY:80"
CLIENT_PROXY=$PROXY

cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 8192
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-request 10s
frontend http_in
  bind 127.0.0.1:$HAPROXY_HTTP
  default_backend app
backend app
  server app 127.0.0.1:$NGINX_PORT
CONF
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 & PIDS+=($!)
HAPROXY=$!

bench_wait_http "http://127.0.0.1:$NGINX_PORT/" "http://127.0.0.1:$CLIENT_FWD/" "http://127.0.0.1:$HAPROXY_HTTP/" "http://127.0.0.1:$SERVER_ADMIN/ready"
"$ROOT/trellis" identity certify --server "$IDENTITY_ADDR" --trust-anchor "$WORK/pki/trust-anchor.pem" \
  --identity spiffe://cluster.local/ns/bench/sa/web --token-file "$WORK/pki/web.token" --out "$WORK/attacker" >/dev/null 2>&1

# measure NAME VICTIM_PID HONEST_ARGS... -- ATTACK_ARGS...
measure() {
  local name=$1 victim=$2; shift 2
  local honest=() attacker=()
  while [[ "$1" != "--" ]]; do honest+=("$1"); shift; done; shift
  attacker=("$@")
  local before; before="$(attack honest "${honest[0]}" 5 "${honest[@]:1}" 2>>"$WORK/honest.err" || echo "honest: client failed (see honest.err)")"
  local c0; c0=$(cpu_seconds "$victim")
  attack "${attacker[@]}" >"$WORK/attack.out" 2>&1 &
  local attacker_pid=$!
  sleep 2
  local during; during="$(attack honest "${honest[0]}" $((DURATION - 4)) "${honest[@]:1}" 2>>"$WORK/honest.err" || echo "honest: client failed (see honest.err)")"
  wait "$attacker_pid" || true
  local c1; c1=$(cpu_seconds "$victim")
  printf '| %s | %s | %s | %s | %s s | %s MiB | %s MiB |\n' "$name" "$(tail -1 "$WORK/attack.out")" "${before#honest: }" "${during#honest: }" \
    "$(echo "$c1 - $c0" | bc)" "$(rss_mb "$victim")" "$(peak_rss_mb "$victim")"
}

SERVER_JAVA=$(java_pid $SERVER_PROXY); CLIENT_JAVA=$(java_pid $CLIENT_PROXY)
echo "# Trellis under the outside review's floods, $(date -u +%Y-%m-%dT%H:%MZ), ${DURATION}s per attack, $(nproc) cores"
echo
echo "| attack | attacker's view | honest client before | honest client during | victim CPU over the attack | victim RSS after | victim peak RSS |"
echo "|---|---|---|---|---|---|---|"
measure "admin slowloris (server proxy admin)" "$SERVER_JAVA" "http://127.0.0.1:$SERVER_ADMIN/ready" -- \
  slowloris "127.0.0.1:$SERVER_ADMIN" 128 "$DURATION" 'GET /ready HTTP/1.1\r\nX-Slow: '
measure "outbound slowloris (client proxy HTTP listener)" "$CLIENT_JAVA" "http://$AUTHORITY/" "127.0.0.1:$CLIENT_OUT" -- \
  slowloris "127.0.0.1:$CLIENT_OUT" 4000 "$DURATION" "GET http://$AUTHORITY/ HTTP/1.1\\r\\nHost: $AUTHORITY\\r\\nX-Slow: "
measure "outbound slowloris, HAProxy mode http" "$HAPROXY" "http://127.0.0.1:$HAPROXY_HTTP/" -- \
  slowloris "127.0.0.1:$HAPROXY_HTTP" 4000 "$DURATION" 'GET / HTTP/1.1\r\nHost: app\r\nX-Slow: '
measure "rapid reset (server proxy inbound, mTLS)" "$SERVER_JAVA" "http://127.0.0.1:$CLIENT_FWD/" -- \
  rapid-reset "127.0.0.1:$SERVER_IN" "$DURATION" emoji.bench.serviceaccount.identity.trellis.cluster.local "$WORK/pki/trust-anchor.pem" \
  "$WORK/attacker/chain.pem" "$WORK/attacker/key.pem" spiffe://cluster.local/ns/bench/sa/web "$NGINX_PORT"
measure "rapid reset (identity service gRPC)" "$CONTROL_PLANE" "http://127.0.0.1:$CLIENT_FWD/" -- \
  rapid-reset "$IDENTITY_ADDR" "$DURATION" trellis-identity.trellis.serviceaccount.identity.trellis.cluster.local "$WORK/pki/trust-anchor.pem" \
  "$WORK/attacker/chain.pem" "$WORK/attacker/key.pem" spiffe://cluster.local/ns/bench/sa/web 1
echo
echo "logs: $WORK"
