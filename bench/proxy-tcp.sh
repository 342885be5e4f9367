#!/usr/bin/env bash
# Measures the proxy's data path against a fast local backend, three ways, in one go:
#   direct        load tool -> nginx
#   trellis-tcp   load tool -> trellis proxy (client, --forward, opaque) -> mTLS -> trellis proxy (server) -> nginx
#   trellis-http  the same with --forward PORT=http://...: balanced per request / per HTTP/2 stream
#   haproxy       load tool -> haproxy (client) -> mTLS -> haproxy (server) -> nginx
# Both meshes carry the connection as opaque TCP over TLS 1.3 with client certificates from
# the same mesh CA. Loads: HTTP/1.1 at a fixed moderate rate (hey) and at saturation (wrk),
# HTTP/2 prior knowledge at saturation (h2load). Reports requests/s, p50/p99, and each proxy's
# peak RSS and CPU seconds. Everything listens on 127.0.0.1; every load is bounded in time.
#
# Usage: bench/proxy-tcp.sh [seconds-per-run]   (run as root to let it apt-get the tools)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:-15}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-bench
bench_require "wrk hey h2load nginx haproxy curl bc" "wrk hey nghttp2-client haproxy nginx curl bc"

# Ports: nginx serves HTTP/1.1 on one port and HTTP/2 prior knowledge on another (nginx 1.22
# cannot do both on one plaintext port); each path has one entry port per protocol.
NGINX_PORT=28080; NGINX_H2_PORT=28090
TRELLIS_FWD=28081; TRELLIS_H2_FWD=28091; TRELLIS_IN=28143
TRELLIS_HTTP_FWD=28083; TRELLIS_HTTP_H2_FWD=28093   # per-request / per-stream HTTP mode
HAPROXY_CLIENT=28082; HAPROXY_H2_CLIENT=28092; HAPROXY_SERVER=28443; HAPROXY_H2_SERVER=28444
ADMIN_CLIENT=28191; ADMIN_SERVER=28192
bench_build

# --- backend: nginx, one worker, a 612-byte page ---
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX_PORT; location / { return 200 "trellis bench backend\n"; } }
  server { listen 127.0.0.1:$NGINX_H2_PORT http2; location / { return 200 "trellis bench backend\n"; } }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' & PIDS+=($!)

# --- control plane (identity service + fixed discovery) ---
bench_control_plane "$TRELLIS_IN" "bench-h1.bench.svc.cluster.local:80=$NGINX_PORT" "bench-h2.bench.svc.cluster.local:80=$NGINX_H2_PORT"

# --- trellis proxies ---
bench_proxy emoji --inbound 127.0.0.1:$TRELLIS_IN --outbound off --admin 127.0.0.1:$ADMIN_SERVER --inbound-ports "$NGINX_PORT,$NGINX_H2_PORT"
SERVER_PROXY=$PROXY
bench_proxy web --inbound 127.0.0.1:0 --outbound off --admin 127.0.0.1:$ADMIN_CLIENT \
  --forward "$TRELLIS_FWD=bench-h1.bench.svc.cluster.local:80,$TRELLIS_H2_FWD=bench-h2.bench.svc.cluster.local:80" \
  --forward "$TRELLIS_HTTP_FWD=http://bench-h1.bench.svc.cluster.local:80,$TRELLIS_HTTP_H2_FWD=http://bench-h2.bench.svc.cluster.local:80"
CLIENT_PROXY=$PROXY

# --- haproxy pair, same mTLS hop with certificates from the same CA ---
for who in web emoji; do
  "$ROOT/trellis" identity certify --server "$IDENTITY_ADDR" --trust-anchor "$WORK/pki/trust-anchor.pem" \
    --identity "spiffe://cluster.local/ns/bench/sa/$who" --token-file "$WORK/pki/$who.token" --out "$WORK/haproxy-$who" >/dev/null
  cat "$WORK/haproxy-$who/chain.pem" "$WORK/haproxy-$who/key.pem" >"$WORK/haproxy-$who.pem"
done
cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend client_side
  bind 127.0.0.1:$HAPROXY_CLIENT
  default_backend to_server_side
frontend client_side_h2
  bind 127.0.0.1:$HAPROXY_H2_CLIENT
  default_backend to_server_side_h2
backend to_server_side
  server s 127.0.0.1:$HAPROXY_SERVER ssl crt $WORK/haproxy-web.pem ca-file $WORK/pki/trust-anchor.pem verify required verifyhost emoji.bench.serviceaccount.identity.trellis.cluster.local sni str(emoji.bench.serviceaccount.identity.trellis.cluster.local)
backend to_server_side_h2
  server s 127.0.0.1:$HAPROXY_H2_SERVER ssl crt $WORK/haproxy-web.pem ca-file $WORK/pki/trust-anchor.pem verify required verifyhost emoji.bench.serviceaccount.identity.trellis.cluster.local sni str(emoji.bench.serviceaccount.identity.trellis.cluster.local)
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
# Two processes, like two sidecars: each runs only its half.
sed '/^frontend server_side$/,$d' "$WORK/haproxy.cfg" >"$WORK/haproxy-client.cfg"
{ sed '/^frontend client_side$/,$d' "$WORK/haproxy.cfg"; sed -n '/^frontend server_side$/,$p' "$WORK/haproxy.cfg"; } >"$WORK/haproxy-server.cfg"
haproxy -f "$WORK/haproxy-server.cfg" -db >"$WORK/haproxy-server.log" 2>&1 & PIDS+=($!); HAPROXY_SERVER_PID=$!
haproxy -f "$WORK/haproxy-client.cfg" -db >"$WORK/haproxy-client.log" 2>&1 & PIDS+=($!); HAPROXY_CLIENT_PID=$!

# --- wait until every path answers ---
bench_wait_http "http://127.0.0.1:$NGINX_PORT/" "http://127.0.0.1:$TRELLIS_FWD/" "http://127.0.0.1:$TRELLIS_HTTP_FWD/" "http://127.0.0.1:$HAPROXY_CLIENT/"

run() { # name port h2port
  local name=$1 port=$2 h2port=$3
  local hey_out wrk_out h2_out
  hey_out="$(hey -z "${DURATION}s" -c 10 -q 100 "http://127.0.0.1:$port/" 2>&1)"
  wrk_out="$(wrk -t 2 -c 64 -d "${DURATION}s" --latency "http://127.0.0.1:$port/" 2>&1)"
  h2_out="$(h2load -D "$DURATION" -c 16 -m 10 -t 1 "http://127.0.0.1:$h2port/" 2>&1)"
  printf '| %s | fixed 1000 rps (hey) | %s | %s | %s |\n' "$name" \
    "$(echo "$hey_out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$hey_out" | awk '/50% in/ {printf "%.2f ms", $3*1000}')" \
    "$(echo "$hey_out" | awk '/99% in/ {printf "%.2f ms", $3*1000}')"
  printf '| %s | saturation HTTP/1.1 (wrk, 64 conns) | %s | %s | %s |\n' "$name" \
    "$(echo "$wrk_out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$wrk_out" | awk '$1=="50%" {print $2}')" \
    "$(echo "$wrk_out" | awk '$1=="99%" {print $2}')"
  printf '| %s | saturation HTTP/2 (h2load, 16 conns x 10 streams) | %s | %s | %s |\n' "$name" \
    "$(echo "$h2_out" | awk '/finished in/ {print $4}')" "n/a" "n/a"
}

echo "# Trellis proxy TCP path benchmark, $(date -u +%Y-%m-%dT%H:%MZ), ${DURATION}s per run, $(nproc) cores"
echo
echo "| path | load | requests/s | p50 | p99 |"
echo "|---|---|---|---|---|"
run direct $NGINX_PORT $NGINX_H2_PORT
T0C=$(cpu_seconds "$(java_pid $CLIENT_PROXY)"); T0S=$(cpu_seconds "$(java_pid $SERVER_PROXY)")
run trellis-tcp $TRELLIS_FWD $TRELLIS_H2_FWD
run trellis-http $TRELLIS_HTTP_FWD $TRELLIS_HTTP_H2_FWD
T1C=$(cpu_seconds "$(java_pid $CLIENT_PROXY)"); T1S=$(cpu_seconds "$(java_pid $SERVER_PROXY)")
H0C=$(cpu_seconds $HAPROXY_CLIENT_PID); H0S=$(cpu_seconds $HAPROXY_SERVER_PID)
run haproxy $HAPROXY_CLIENT $HAPROXY_H2_CLIENT
H1C=$(cpu_seconds $HAPROXY_CLIENT_PID); H1S=$(cpu_seconds $HAPROXY_SERVER_PID)
echo
echo "| proxy | peak RSS | CPU seconds over its runs |"
echo "|---|---|---|"
echo "| trellis client-side (tcp + http runs) | $(peak_rss_mb "$(java_pid $CLIENT_PROXY)") MiB | $(echo "$T1C - $T0C" | bc) |"
echo "| trellis server-side (tcp + http runs) | $(peak_rss_mb "$(java_pid $SERVER_PROXY)") MiB | $(echo "$T1S - $T0S" | bc) |"
echo "| haproxy client-side | $(peak_rss_mb $HAPROXY_CLIENT_PID) MiB | $(echo "$H1C - $H0C" | bc) |"
echo "| haproxy server-side | $(peak_rss_mb $HAPROXY_SERVER_PID) MiB | $(echo "$H1S - $H0S" | bc) |"
echo
echo "logs: $WORK"
