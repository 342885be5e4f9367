#!/usr/bin/env bash
# The proxy against HAProxy, both modes, with the real control plane (identity and destination
# services, local mode), in one go:
#   direct         load tool -> nginx
#   trellis-tcp    load tool -> trellis proxy (client, --forward, opaque) -> mTLS -> trellis proxy (server) -> nginx
#   haproxy-tcp    load tool -> haproxy (client, mode tcp) -> mTLS -> haproxy (server, mode tcp) -> nginx
#   trellis-http   the same with --forward PORT=http://...: HTTP-aware, balanced per request / per HTTP/2 stream
#   haproxy-http   haproxy pairs in mode http, HTTP/2 over the mTLS hop (alpn h2), as Trellis does
# Every hop is TLS 1.3 with client certificates from the same mesh CA, and every new connection
# over it a full handshake: Trellis never resumes a TLS session (each connection checks the
# peer's current certificate and identity), so the HAProxy pairs run with `no-ssl-reuse` too
# (HAProxy's default resumes, which makes its new connections cheaper and is not the same work).
# Loads: HTTP/1.1 at a fixed 1,000 req/s (hey), at saturation (wrk, 64 connections), HTTP/2
# prior knowledge at saturation (h2load), each after an unmeasured warm-up that also opens
# connections (a sidecar in steady state has handshaken before: a cold JVM's first handshakes
# cost 5-10x its warm ones); then new connections, one request each (hey without keep-alive),
# with the CPU each costs. Then each pair's memory idle and at a fixed 2,000 req/s (RSS and
# PSS, sampled each second), CPU per request in each mode, and the Trellis proxies' NMT summary.
# Everything listens on 127.0.0.1; every load is bounded in time.
#
# Usage: bench/proxy-compare.sh [seconds-per-run]   (run as root to let it apt-get the tools)
#   TRELLIS=/path/to/other/checkout/trellis runs that checkout's proxy (a "before" build) against
#   this checkout's control plane and HAProxy.
#   TRELLIS_JAVA_OPTS adds JVM options to the two Trellis proxies (a variant to compare).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:-10}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-bench
bench_require "wrk hey h2load nginx haproxy curl bc" "wrk hey nghttp2-client haproxy nginx curl bc"

# Ports: nginx serves HTTP/1.1 on one port and HTTP/2 prior knowledge on another (nginx 1.22
# cannot do both on one plaintext port); each path has one entry port per protocol.
NGINX_PORT=28080; NGINX_H2_PORT=28090
TRELLIS_FWD=28081; TRELLIS_H2_FWD=28091; TRELLIS_IN=28143
TRELLIS_HTTP_FWD=28083; TRELLIS_HTTP_H2_FWD=28093
HAPROXY_CLIENT=28082; HAPROXY_H2_CLIENT=28092; HAPROXY_SERVER=28443; HAPROXY_H2_SERVER=28444
HAPROXY_HTTP_CLIENT=28084; HAPROXY_HTTP_H2_CLIENT=28094; HAPROXY_HTTP_SERVER=28445
ADMIN_CLIENT=28191; ADMIN_SERVER=28192
bench_build

# --- backend: nginx ---
bench_nginx "$NGINX_PORT" "$NGINX_H2_PORT"

# --- control plane (identity service + fixed discovery) ---
bench_control_plane "$TRELLIS_IN" "bench-h1=$NGINX_PORT" "bench-h2=$NGINX_H2_PORT"

# --- trellis proxies ---
export TRELLIS_JAVA_OPTS="${TRELLIS_JAVA_OPTS:-} -XX:NativeMemoryTracking=summary"
bench_proxy emoji --inbound 127.0.0.1:$TRELLIS_IN --outbound off --admin 127.0.0.1:$ADMIN_SERVER --inbound-ports "$NGINX_PORT,$NGINX_H2_PORT"
SERVER_PROXY=$PROXY
bench_proxy web --inbound 127.0.0.1:0 --outbound off --admin 127.0.0.1:$ADMIN_CLIENT \
  --forward "$TRELLIS_FWD=bench-h1.bench.svc.cluster.local:80,$TRELLIS_H2_FWD=bench-h2.bench.svc.cluster.local:80" \
  --forward "$TRELLIS_HTTP_FWD=http://bench-h1.bench.svc.cluster.local:80,$TRELLIS_HTTP_H2_FWD=http://bench-h2.bench.svc.cluster.local:80"
CLIENT_PROXY=$PROXY
TRELLIS_JAVA_OPTS="${TRELLIS_JAVA_OPTS% -XX:NativeMemoryTracking=summary}"

# --- haproxy pair, same mTLS hop with certificates from the same CA ---
for who in web emoji; do
  "$ROOT/trellis" identity certify --server "$IDENTITY_ADDR" --trust-anchor "$WORK/pki/trust-anchor.pem" \
    --identity "spiffe://cluster.local/ns/bench/sa/$who" --token-file "$WORK/pki/$who.token" --out "$WORK/haproxy-$who" >/dev/null
  cat "$WORK/haproxy-$who/chain.pem" "$WORK/haproxy-$who/key.pem" >"$WORK/haproxy-$who.pem"
done
# What every HAProxy config here starts with: one thread, TLS 1.3 only, the same timeouts; $1 is the mode.
haproxy_preamble() {
  cat <<CONF
global
  nbthread 1
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3
defaults
  mode $1
  timeout connect 5s
  timeout client 60s
  timeout server 60s
CONF
  if [[ "$1" == http ]]; then echo "  timeout http-keep-alive 60s"; fi
}
{ haproxy_preamble tcp; cat <<CONF
frontend client_side
  bind 127.0.0.1:$HAPROXY_CLIENT
  default_backend to_server_side
frontend client_side_h2
  bind 127.0.0.1:$HAPROXY_H2_CLIENT
  default_backend to_server_side_h2
backend to_server_side
  server s 127.0.0.1:$HAPROXY_SERVER ssl no-ssl-reuse crt $WORK/haproxy-web.pem ca-file $WORK/pki/trust-anchor.pem verify required verifyhost emoji.bench.serviceaccount.identity.trellis.cluster.local sni str(emoji.bench.serviceaccount.identity.trellis.cluster.local)
backend to_server_side_h2
  server s 127.0.0.1:$HAPROXY_H2_SERVER ssl no-ssl-reuse crt $WORK/haproxy-web.pem ca-file $WORK/pki/trust-anchor.pem verify required verifyhost emoji.bench.serviceaccount.identity.trellis.cluster.local sni str(emoji.bench.serviceaccount.identity.trellis.cluster.local)
frontend server_side
  bind 127.0.0.1:$HAPROXY_SERVER ssl crt $WORK/haproxy-emoji.pem ca-file $WORK/pki/trust-anchor.pem verify required
  default_backend app
frontend server_side_h2
  bind 127.0.0.1:$HAPROXY_H2_SERVER ssl crt $WORK/haproxy-emoji.pem ca-file $WORK/pki/trust-anchor.pem verify required
  default_backend app_h2
backend app
  server app 127.0.0.1:$NGINX_PORT
backend app_h2
  server app 127.0.0.1:$NGINX_H2_PORT
CONF
} >"$WORK/haproxy.cfg"
# The same pair in mode http: HTTP/1.1 or HTTP/2 in, HTTP/2 over the mTLS hop, HTTP/1.1 to the app.
SERVER_NAME="emoji.bench.serviceaccount.identity.trellis.cluster.local"
{ haproxy_preamble http; cat <<CONF
frontend client_side
  bind 127.0.0.1:$HAPROXY_HTTP_CLIENT
  bind 127.0.0.1:$HAPROXY_HTTP_H2_CLIENT proto h2
  default_backend to_server_side
backend to_server_side
  http-reuse always
  server s 127.0.0.1:$HAPROXY_HTTP_SERVER ssl no-ssl-reuse alpn h2 crt $WORK/haproxy-web.pem ca-file $WORK/pki/trust-anchor.pem verify required verifyhost $SERVER_NAME sni str($SERVER_NAME)
CONF
} >"$WORK/haproxy-http-client.cfg"
{ haproxy_preamble http; cat <<CONF
frontend server_side
  bind 127.0.0.1:$HAPROXY_HTTP_SERVER ssl alpn h2 crt $WORK/haproxy-emoji.pem ca-file $WORK/pki/trust-anchor.pem verify required
  default_backend app
backend app
  http-reuse always
  server app 127.0.0.1:$NGINX_PORT
CONF
} >"$WORK/haproxy-http-server.cfg"
haproxy -f "$WORK/haproxy-http-server.cfg" -db >"$WORK/haproxy-http-server.log" 2>&1 & PIDS+=($!); HAPROXY_HTTP_SERVER_PID=$!
haproxy -f "$WORK/haproxy-http-client.cfg" -db >"$WORK/haproxy-http-client.log" 2>&1 & PIDS+=($!); HAPROXY_HTTP_CLIENT_PID=$!
# Two processes, like two sidecars: each runs only its half.
sed '/^frontend server_side$/,$d' "$WORK/haproxy.cfg" >"$WORK/haproxy-client.cfg"
{ sed '/^frontend client_side$/,$d' "$WORK/haproxy.cfg"; sed -n '/^frontend server_side$/,$p' "$WORK/haproxy.cfg"; } >"$WORK/haproxy-server.cfg"
haproxy -f "$WORK/haproxy-server.cfg" -db >"$WORK/haproxy-server.log" 2>&1 & PIDS+=($!); HAPROXY_SERVER_PID=$!
haproxy -f "$WORK/haproxy-client.cfg" -db >"$WORK/haproxy-client.log" 2>&1 & PIDS+=($!); HAPROXY_CLIENT_PID=$!

# --- wait until every path answers ---
bench_wait_http "http://127.0.0.1:$NGINX_PORT/" "http://127.0.0.1:$TRELLIS_FWD/" "http://127.0.0.1:$TRELLIS_HTTP_FWD/" "http://127.0.0.1:$HAPROXY_CLIENT/" \
  "http://127.0.0.1:$HAPROXY_HTTP_CLIENT/"

TRELLIS_C=$(java_pid $CLIENT_PROXY); TRELLIS_S=$(java_pid $SERVER_PROXY)
REQUESTS=0
run() { # name port h2port: prints three table rows; REQUESTS = requests the three loads completed
  local name=$1 port=$2 h2port=$3
  local hey_out wrk_out h2_out
  # Unmeasured warm-up (the JIT's), both protocols and new connections: the tables are about a
  # sidecar in steady state.
  hey -z 5s -c 10 -q 100 "http://127.0.0.1:$port/" >/dev/null 2>&1
  hey -z 3s -c 4 --disable-keepalive "http://127.0.0.1:$port/" >/dev/null 2>&1
  h2load -D 3 -c 4 -m 4 -t 1 "http://127.0.0.1:$h2port/" >/dev/null 2>&1
  hey_out="$(hey -z "${DURATION}s" -c 10 -q 100 "http://127.0.0.1:$port/" 2>&1)"
  wrk_out="$(wrk -t 2 -c 64 -d "${DURATION}s" --latency "http://127.0.0.1:$port/" 2>&1)"
  h2_out="$(h2load -D "$DURATION" -c 16 -m 10 -t 1 "http://127.0.0.1:$h2port/" 2>&1)"
  printf '| %s | fixed 1000 rps (hey) | %s | %s | %s |\n' "$name" \
    "$(echo "$hey_out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$hey_out" | awk '/50% in/ {printf "%.2f ms", $3*1000}')" \
    "$(echo "$hey_out" | awk '/99% in/ {printf "%.2f ms", $3*1000}')"
  # A path that answers some requests with errors is not faster for it: those are named in the cell.
  local wrk_bad h2_bad
  wrk_bad=$(echo "$wrk_out" | awk '/Non-2xx or 3xx responses/ {print $NF}')
  h2_bad=$(echo "$h2_out" | awk '/^status codes:/ {print $5 + $7 + $9}')
  printf '| %s | saturation HTTP/1.1 (wrk, 64 conns) | %s%s | %s | %s |\n' "$name" \
    "$(echo "$wrk_out" | awk '/Requests\/sec/ {print $2}')" "${wrk_bad:+ ($wrk_bad not 2xx)}" \
    "$(echo "$wrk_out" | awk '$1=="50%" {print $2}')" \
    "$(echo "$wrk_out" | awk '$1=="99%" {print $2}')"
  [[ "${h2_bad:-0}" -gt 0 ]] || h2_bad=""
  printf '| %s | saturation HTTP/2 (h2load, 16 conns x 10 streams) | %s%s | %s | %s |\n' "$name" \
    "$(echo "$h2_out" | awk '/finished in/ {print $4}')" "${h2_bad:+ ($h2_bad not 2xx)}" "n/a" "n/a"
  # CPU per request counts the answered ones (2xx) only.
  REQUESTS=$(( $(echo "$hey_out" | awk '$1=="[200]" {print $2}') + $(echo "$wrk_out" | awk '/requests in/ {print $1}') - ${wrk_bad:-0} \
    + $(echo "$h2_out" | awk '/^status codes:/ {print $3}') ))
}

# new_connections NAME PORT PID1 PID2: one request per connection (hey, 8 at a time, no keep-alive):
# a table row, and the CPU per connection of both proxies into CPU_PER_CONNECTION[NAME].
declare -A CPU_PER_CONNECTION
new_connections() {
  local name=$1 port=$2 a=$3 b=$4 c0 c1 out done_
  c0=$(echo "$(cpu_seconds "$a") + $(cpu_seconds "$b")" | bc)
  out="$(hey -z "${DURATION}s" -c 8 --disable-keepalive "http://127.0.0.1:$port/" 2>&1)"
  c1=$(echo "$(cpu_seconds "$a") + $(cpu_seconds "$b")" | bc)
  done_=$(echo "$out" | awk '$1=="[200]" {print $2}')
  printf '| %s | new connections, one request each (hey, 8 conns, no keep-alive) | %s | %s | %s |\n' "$name" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '/50% in/ {printf "%.2f ms", $3*1000}')" \
    "$(echo "$out" | awk '/99% in/ {printf "%.2f ms", $3*1000}')"
  CPU_PER_CONNECTION[$name]="$(echo "scale=1; ($c1 - $c0) * 1000000 / ${done_:-1}" | bc) µs (${done_:-0} connections)"
}

# cpu_pair NAME PID1 PID2 LOAD...: runs LOAD, prints "NAME | requests | CPU s | CPU us per request"
declare -A CPU_PER_REQUEST
measure() { # key pid1 pid2 name port h2port
  local key=$1 a=$2 b=$3; shift 3
  local c0 c1
  c0=$(echo "$(cpu_seconds "$a") + $(cpu_seconds "$b")" | bc)
  run "$@"
  c1=$(echo "$(cpu_seconds "$a") + $(cpu_seconds "$b")" | bc)
  CPU_PER_REQUEST[$key]="$(echo "scale=1; ($c1 - $c0) * 1000000 / $REQUESTS" | bc) µs ($REQUESTS requests, $(echo "$c1 - $c0" | bc) s)"
}

# memory_at_rate NAME PORT PID1 PID2: idle RSS/PSS of both, then the peak of each second's sample under 2,000 req/s
memory_at_rate() {
  local name=$1 port=$2 a=$3 b=$4 peak_a=0 peak_b=0 peak_pa=0 peak_pb=0 v
  local idle="$(rss_mb "$a")/$(pss_mb "$a") + $(rss_mb "$b")/$(pss_mb "$b")"
  hey -z "${DURATION}s" -c 20 -q 100 "http://127.0.0.1:$port/" >"$WORK/hey-2000-$name.txt" 2>&1 &
  local load=$!
  while kill -0 "$load" 2>/dev/null; do
    v=$(rss_mb "$a"); (( v > peak_a )) && peak_a=$v
    v=$(rss_mb "$b"); (( v > peak_b )) && peak_b=$v
    v=$(pss_mb "$a"); (( v > peak_pa )) && peak_pa=$v
    v=$(pss_mb "$b"); (( v > peak_pb )) && peak_pb=$v
    sleep 1
  done
  printf '| %s | %s | %s/%s + %s/%s | %s |\n' "$name" "$idle" "$peak_a" "$peak_pa" "$peak_b" "$peak_pb" \
    "$(awk '/Requests\/sec/ {print $2}' "$WORK/hey-2000-$name.txt")"
}

echo "# Trellis proxy against HAProxy, $(date -u +%Y-%m-%dT%H:%MZ), ${DURATION}s per run, $(nproc) cores, proxy: ${TRELLIS:-$ROOT/trellis}"
echo
echo "| path | load | requests/s | p50 | p99 |"
echo "|---|---|---|---|---|"
run direct $NGINX_PORT $NGINX_H2_PORT
measure trellis-tcp "$TRELLIS_C" "$TRELLIS_S" trellis-tcp $TRELLIS_FWD $TRELLIS_H2_FWD
new_connections trellis-tcp $TRELLIS_FWD "$TRELLIS_C" "$TRELLIS_S"
measure haproxy-tcp $HAPROXY_CLIENT_PID $HAPROXY_SERVER_PID haproxy-tcp $HAPROXY_CLIENT $HAPROXY_H2_CLIENT
new_connections haproxy-tcp $HAPROXY_CLIENT $HAPROXY_CLIENT_PID $HAPROXY_SERVER_PID
measure trellis-http "$TRELLIS_C" "$TRELLIS_S" trellis-http $TRELLIS_HTTP_FWD $TRELLIS_HTTP_H2_FWD
new_connections trellis-http $TRELLIS_HTTP_FWD "$TRELLIS_C" "$TRELLIS_S"
measure haproxy-http $HAPROXY_HTTP_CLIENT_PID $HAPROXY_HTTP_SERVER_PID haproxy-http $HAPROXY_HTTP_CLIENT $HAPROXY_HTTP_H2_CLIENT
new_connections haproxy-http $HAPROXY_HTTP_CLIENT $HAPROXY_HTTP_CLIENT_PID $HAPROXY_HTTP_SERVER_PID
echo
echo "| pair | CPU per request, both proxies (over the three loads) |"
echo "|---|---|"
for key in trellis-tcp haproxy-tcp trellis-http haproxy-http; do echo "| $key | ${CPU_PER_REQUEST[$key]} |"; done
echo
echo "| pair | CPU per new app connection, both proxies (opaque: a full TLS 1.3 handshake with client certificates each; HTTP-aware: the hop's pooled connection) |"
echo "|---|---|"
for key in trellis-tcp haproxy-tcp trellis-http haproxy-http; do echo "| $key | ${CPU_PER_CONNECTION[$key]} |"; done
echo
echo "| pair at 2,000 req/s (hey, 20 conns x 100/s) | RSS/PSS MiB before it (after the saturation runs), client + server | peak RSS/PSS MiB during it | requests/s |"
echo "|---|---|---|---|"
memory_at_rate trellis-http $TRELLIS_HTTP_FWD "$TRELLIS_C" "$TRELLIS_S"
memory_at_rate haproxy-http $HAPROXY_HTTP_CLIENT "$HAPROXY_HTTP_CLIENT_PID" "$HAPROXY_HTTP_SERVER_PID"
memory_at_rate trellis-tcp $TRELLIS_FWD "$TRELLIS_C" "$TRELLIS_S"
memory_at_rate haproxy-tcp $HAPROXY_CLIENT "$HAPROXY_CLIENT_PID" "$HAPROXY_SERVER_PID"
echo
echo "| proxy | peak RSS over the whole run (VmHWM) |"
echo "|---|---|"
echo "| trellis client-side | $(peak_rss_mb "$TRELLIS_C") MiB |"
echo "| trellis server-side | $(peak_rss_mb "$TRELLIS_S") MiB |"
echo "| haproxy-tcp client / server | $(peak_rss_mb $HAPROXY_CLIENT_PID) / $(peak_rss_mb $HAPROXY_SERVER_PID) MiB |"
echo "| haproxy-http client / server | $(peak_rss_mb $HAPROXY_HTTP_CLIENT_PID) / $(peak_rss_mb $HAPROXY_HTTP_SERVER_PID) MiB |"
echo
for side in client server; do
  pid=$TRELLIS_C; [[ $side == server ]] && pid=$TRELLIS_S
  echo "Trellis $side proxy, native memory (NMT summary; RSS now $(rss_mb "$pid") MiB):"
  echo '```'
  "$(dirname "$JAVA")/jcmd" "$pid" VM.native_memory summary 2>/dev/null | awk '/^(Total|-)/ && /committed=/ {print}' | sed 's/^-  *//'
  echo '```'
done
echo
echo "logs: $WORK"
