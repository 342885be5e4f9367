#!/usr/bin/env bash
# The dashboard's live stream under load: a real demo, `hey` calling the web app at RATE
# requests/s (each call is 2 tapped requests: the emoji and voting proxies' inbound sides; the
# web proxy's explicit forwards emit no tap events; plus the vote bot's own traffic), and one live stream of
# the whole namespace read by curl for SECONDS. Reports the lines the stream delivered per
# second, what it dropped, and the demo JVM's resident memory every 10 s; then the same load
# without a live stream, as the baseline of the same run. Everything listens on 127.0.0.1.
#
# Usage: bench/dashboard-live.sh [rate] [seconds]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RATE="${1:-250}"
SECONDS_RUN="${2:-120}"
WORK="$(mktemp -d /tmp/trellis-dashboard-live.XXXXXX)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
command -v hey >/dev/null || { echo "bench: hey is missing (apt-get install hey)" >&2; exit 1; }
"$ROOT/trellis" version --client >/dev/null   # builds the distribution when needed

run() {  # run NAME WITH_STREAM
  local name="$1" stream="$2" dir="$WORK/$1"
  "$ROOT/trellis" demo --dir "$dir" --duration "$((SECONDS_RUN + 40))s" --refresh 600s >"$WORK/$name-demo.log" 2>&1 &
  local demo=$!
  PIDS+=("$demo")
  for _ in $(seq 1 600); do grep -q "login link" "$WORK/$name-demo.log" && break; sleep 0.1; done
  local link port base web jvm
  link=$(grep -o 'http://127.0.0.1:[0-9]*/login?code=[A-Za-z0-9_-]*' "$WORK/$name-demo.log")
  base="${link%%/login*}"
  port="${base##*:}"
  web=$(python3 - "$dir/state/emojivoto.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for doc in text.split("\n---"):
    if re.search(r"^kind: Pod$", doc, re.M) and re.search(r"^  name: web-0$", doc, re.M):
        print(re.search(r"containerPort: (\d+)", doc).group(1))
PY
)
  jvm=$(pgrep -f -n "demo --dir $dir" || echo "$demo")
  curl -s -c "$WORK/$name.cookies" -H "Origin: $base" -H 'Content-Type: application/json' \
    -d "{\"code\":\"${link##*code=}\"}" "$base/login" >/dev/null
  local csrf
  csrf=$(curl -s -b "$WORK/$name.cookies" "$base/api/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
  sleep 5
  hey -z "${SECONDS_RUN}s" -c 10 -q $((RATE / 10)) "http://127.0.0.1:$web/api/vote?choice=:joy:" >"$WORK/$name-hey.txt" 2>&1 &
  PIDS+=("$!")
  if [[ "$stream" == yes ]]; then
    timeout "$SECONDS_RUN" curl -s -N -b "$WORK/$name.cookies" -H "Origin: $base" -H "X-Trellis-CSRF: $csrf" \
      -H 'Content-Type: application/json' -d '{"namespace":"emojivoto"}' "$base/api/live" >"$WORK/$name-stream.ndjson" || true &
    PIDS+=("$!")
  fi
  echo "$name: demo pid $jvm, dashboard port $port, web app port $web, load $RATE req/s for $SECONDS_RUN s, live stream: $stream"
  for t in $(seq 10 10 "$SECONDS_RUN"); do
    sleep 10
    echo "  t=${t}s rss=$(( $(awk '/VmRSS/ {print $2}' "/proc/$jvm/status") / 1024 )) MiB"
  done
  wait "${PIDS[-1]}" 2>/dev/null || true
  if [[ "$stream" == yes ]]; then
    local lines last
    lines=$(grep -c '"kind":"req"' "$WORK/$name-stream.ndjson" || true)
    last=$(grep '"kind":"stats"' "$WORK/$name-stream.ndjson" | tail -1)
    echo "  stream: $lines requests in ${SECONDS_RUN} s = $((lines / SECONDS_RUN))/s; last stats line: $last"
  fi
  grep -E "Requests/sec|Status code|\[200\]|\[5" "$WORK/$name-hey.txt" | sed 's/^/  hey: /'
  kill "$demo" 2>/dev/null || true
  wait "$demo" 2>/dev/null || true
}

run with-stream yes
run baseline no
