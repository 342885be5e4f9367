#!/usr/bin/env bash
# Prometheus's memory under the demo: `./trellis demo` with a real Prometheus (on PATH) for
# MINUTES, printing every minute Prometheus's resident memory, its head series and samples
# appended, and the demo JVM's resident memory; then the same demo with the embedded scraper
# (--prometheus off) as the baseline of the same run. Everything listens on 127.0.0.1.
#
# Usage: bench/demo-prometheus-memory.sh [minutes]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MINUTES="${1:-10}"
WORK="$(mktemp -d /tmp/trellis-prometheus-memory.XXXXXX)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
command -v prometheus >/dev/null || { echo "bench: prometheus is missing (apt-get install prometheus)" >&2; exit 1; }
"$ROOT/trellis" version --client >/dev/null   # builds the distribution when needed

rss() { echo $(( $(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0) / 1024 )); }

run() {  # run NAME MODE
  local name="$1" mode="$2" dir="$WORK/$1"
  "$ROOT/trellis" demo --dir "$dir" --prometheus "$mode" --duration "$((MINUTES * 60 + 30))s" --refresh 600s >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1 600); do grep -q "login link" "$WORK/$name.log" && break; sleep 0.1; done
  local jvm prom="" port="" password=""
  jvm=$(pgrep -f -n "demo --dir $dir" || true)
  if [[ "$mode" != off ]]; then
    prom=$(pgrep -f -n "prometheus --config.file=$dir/prometheus" || true)
    port=$(grep -o 'Prometheus http://127.0.0.1:[0-9]*' "$WORK/$name.log" | grep -o '[0-9]*$')
    password=$(cat "$dir/prometheus/password")
  fi
  echo "$name: demo pid $jvm${prom:+, prometheus pid $prom (port $port)}"
  for m in $(seq 1 "$MINUTES"); do
    sleep 60
    if [[ -n "$prom" ]]; then
      local series samples
      # Prometheus's own metrics (it does not scrape itself here), read with its password.
      series=$(curl -s -u "viz:$password" "http://127.0.0.1:$port/metrics" | awk '/^prometheus_tsdb_head_series / {print $2}')
      samples=$(curl -s -u "viz:$password" "http://127.0.0.1:$port/metrics" | awk '/^prometheus_tsdb_head_samples_appended_total/ {s += $2} END {print s}')
      echo "  minute $m: prometheus rss=$(rss "$prom") MiB, head series=$series, samples appended=$samples; demo rss=$(rss "$jvm") MiB"
    else
      echo "  minute $m: demo rss=$(rss "$jvm") MiB"
    fi
  done
  kill "${PIDS[-1]}" 2>/dev/null || true
  wait "${PIDS[-1]}" 2>/dev/null || true
}

run with-prometheus auto
run embedded off
