# Shared set-up for the bench/*.sh scripts (sourced, not run): a work directory cleaned up on
# exit, tools installed when missing, the distribution and benchmarks jar built, JDK 25 found,
# the bench control plane (identity service + fixed discovery) and bench proxies started,
# and the /proc readings every script reports. Everything listens on 127.0.0.1.
#
# A script sets ROOT, then: bench_init PREFIX; bench_require "TOOLS..." "PACKAGES...";
# bench_build; bench_control_plane INBOUND_PORT [AUTHORITY=PORT...]; bench_proxy SA ARGS...

# bench_init PREFIX: WORK (a fresh directory under /tmp), PIDS (killed on exit).
bench_init() {
  WORK="$(mktemp -d "/tmp/$1.XXXXXX")"
  PIDS=()
  # Proxies start without the launcher's AOT cache unless a script asks (proxy-startup.sh
  # measures both): a first run would record one, which costs while it runs and as it exits.
  export TRELLIS_AOT="${TRELLIS_AOT:-off}"
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

# bench_require "TOOL..." "PACKAGE...": installs the packages (as root, with apt) when a tool is missing.
bench_require() {
  local tool
  for tool in $1; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      if [[ "$(id -u)" == 0 ]]; then
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $2 >/dev/null
        return
      fi
      echo "bench: $tool is missing; install $2" >&2
      exit 1
    fi
  done
}

# bench_build: the distribution (./trellis builds it on first use), the benchmarks jar, and JAVA (a JDK 25).
bench_build() {
  "$ROOT/trellis" version --client >/dev/null
  (cd "$ROOT" && ./mvnw -q -B -o -DskipTests -pl benchmarks -am package >/dev/null 2>&1 || ./mvnw -q -B -DskipTests -pl benchmarks -am package >/dev/null)
  JAVA="$(ls -d /usr/lib/jvm/*25*/bin/java 2>/dev/null | head -1)"
  [[ -x "$JAVA" ]] || { echo "bench: no JDK 25 under /usr/lib/jvm" >&2; exit 1; }
}

# bench_nginx PORT [H2_PORT]: the backend, one nginx worker answering 200 with a short body,
# HTTP/1.1 on PORT and HTTP/2 prior knowledge on H2_PORT (nginx 1.22 cannot do both on one
# plaintext port); config and logs in $WORK/nginx.
bench_nginx() {
  mkdir -p "$WORK/nginx"
  {
    echo "worker_processes 1; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log;"
    echo "events { worker_connections 8192; }"
    echo "http { access_log off; keepalive_requests 1000000;"
    echo "  server { listen 127.0.0.1:$1; location / { return 200 \"trellis bench backend\\n\"; } }"
    [[ -n "${2:-}" ]] && echo "  server { listen 127.0.0.1:$2 http2; location / { return 200 \"trellis bench backend\\n\"; } }"
    echo "}"
  } >"$WORK/nginx/nginx.conf"
  nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' & PIDS+=($!)
}

# bench_control_plane INBOUND_PORT [SERVICE=PORT...]: the identity service and the destination
# service (local mode) announcing SERVICE.bench.svc.cluster.local:80 at app port PORT of one
# server pod whose proxy listens on INBOUND_PORT. Sets
# CONTROL_PLANE (its pid) and, from its env file, IDENTITY_ADDR and DESTINATION_ADDR; tokens
# and the trust anchor are in $WORK/pki.
bench_control_plane() {
  "$JAVA" -cp "$ROOT/benchmarks/target/benchmarks.jar" dev.trellis.benchmarks.BenchControlPlane "$WORK/pki" "$@" \
    >"$WORK/control-plane.log" 2>&1 & PIDS+=($!)
  CONTROL_PLANE=$!
  for _ in $(seq 1 100); do [[ -f "$WORK/pki/env" ]] && break; sleep 0.2; done
  [[ -f "$WORK/pki/env" ]] || { echo "bench: the control plane did not start; see $WORK/control-plane.log" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$WORK/pki/env"
}

# bench_proxy SA ARGS...: `trellis proxy` as spiffe://cluster.local/ns/bench/sa/SA against the
# bench control plane, no connection log, no tap, the rest from ARGS; output in
# $WORK/proxy-SA.log. TRELLIS names another checkout's launcher (a "before" build). Sets
# PROXY (the launcher's pid; see java_pid).
bench_proxy() {
  local sa=$1; shift
  "${TRELLIS:-$ROOT/trellis}" proxy --identity "spiffe://cluster.local/ns/bench/sa/$sa" --trust-anchor "$WORK/pki/trust-anchor.pem" \
    --identity-addr "$IDENTITY_ADDR" --token-file "$WORK/pki/$sa.token" --destination-addr "$DESTINATION_ADDR" \
    --connection-log /dev/null --tap off "$@" >"$WORK/proxy-$sa.log" 2>&1 & PIDS+=($!)
  PROXY=$!
}

# bench_wait_http URL...: each answers 2xx within 30 s, or the script stops naming it.
bench_wait_http() {
  local url
  for url in "$@"; do
    for _ in $(seq 1 150); do curl -sf "$url" >/dev/null && break; sleep 0.2; done
    curl -sf "$url" >/dev/null || { echo "bench: $url does not answer; logs in $WORK" >&2; exit 1; }
  done
}

java_pid() { pgrep -P "$1" java || echo "$1"; }   # ./trellis execs java, so the pid is java's own
cpu_seconds() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
pss_mb() { awk '/^Pss:/ {printf "%.0f", $2/1024}' "/proc/$1/smaps_rollup"; }
peak_rss_mb() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
