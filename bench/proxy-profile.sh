#!/usr/bin/env bash
# Where a pair of sidecars spends CPU and allocates, on the HTTP-aware path at saturation: a
# client and a server `trellis proxy` (HTTP-aware forward, nginx behind, real control plane),
# both recording JFR ("profile" settings), a warm-up, then wrk with 64 connections for the
# run's seconds. Prints, per proxy, JFR's hot methods, allocation by site and by class, and
# the GC summary; the recordings stay in the work directory for `jfr view`/JMC.
# Everything listens on 127.0.0.1; the load is bounded in time.
#
# Usage: bench/proxy-profile.sh [seconds] [wrk-connections]
#   TRELLIS_JAVA_OPTS adds JVM options to both proxies; TRELLIS names another checkout's launcher.
#   ASYNC_PROFILER=/path/to/libasyncProfiler.so also profiles the measured run with async-profiler
#   (native and kernel frames too, which JFR does not see), attached through jcmd for that run
#   only; the stacks go to WORK/{client,server}.collapsed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:-15}"; CONNECTIONS="${2:-64}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_init trellis-profile
bench_require "wrk hey nginx curl" "wrk hey nginx curl"
NGINX_PORT=30080; TRELLIS_IN=30143; FWD=30083; ADMIN_CLIENT=30191; ADMIN_SERVER=30192
bench_build
JFR="$(dirname "$JAVA")/jfr"; JCMD="$(dirname "$JAVA")/jcmd"

bench_nginx "$NGINX_PORT"
bench_control_plane "$TRELLIS_IN" "bench-h1=$NGINX_PORT"

export TRELLIS_JAVA_OPTS="${TRELLIS_JAVA_OPTS:-} -XX:StartFlightRecording=settings=profile,name=bench"
bench_proxy emoji --inbound 127.0.0.1:$TRELLIS_IN --outbound off --admin 127.0.0.1:$ADMIN_SERVER --inbound-ports $NGINX_PORT
SERVER=$PROXY
bench_proxy web --inbound 127.0.0.1:0 --outbound off --admin 127.0.0.1:$ADMIN_CLIENT --forward "$FWD=http://bench-h1.bench.svc.cluster.local:80"
CLIENT=$PROXY
bench_wait_http "http://127.0.0.1:$ADMIN_SERVER/ready" "http://127.0.0.1:$ADMIN_CLIENT/ready" "http://127.0.0.1:$FWD/"
s=$(java_pid "$SERVER"); c=$(java_pid "$CLIENT")

wrk -t 1 -c "$CONNECTIONS" -d 10s "http://127.0.0.1:$FWD/" >/dev/null          # warm-up, not recorded
for pid in "$c" "$s"; do "$JCMD" "$pid" JFR.stop name=bench >/dev/null; "$JCMD" "$pid" JFR.start name=bench settings=profile >/dev/null; done
thread_cpu() { # pid: "name ticks" per thread
  local t; for t in /proc/"$1"/task/*; do echo "$(tr ' ' '_' <"$t/comm") $(awk '{print $14+$15}' "$t/stat")"; done
}
thread_cpu "$c" >"$WORK/client-threads-0"; thread_cpu "$s" >"$WORK/server-threads-0"
if [[ -n "${ASYNC_PROFILER:-}" ]]; then
  # jcmd parses key=value words as its own arguments: the agent's options go in quotes.
  for pid in "$c" "$s"; do "$JCMD" "$pid" JVMTI.agent_load "$ASYNC_PROFILER" '"start,event=cpu,interval=1ms"' | grep -v '^[0-9]*:$\|return code: 0' || true; done
fi
wrk -t 1 -c "$CONNECTIONS" -d "${DURATION}s" --latency "http://127.0.0.1:$FWD/" | tee "$WORK/wrk.txt"
thread_cpu "$c" >"$WORK/client-threads-1"; thread_cpu "$s" >"$WORK/server-threads-1"
if [[ -n "${ASYNC_PROFILER:-}" ]]; then
  "$JCMD" "$c" JVMTI.agent_load "$ASYNC_PROFILER" "\"stop,collapsed,file=$WORK/client.collapsed\"" >/dev/null
  "$JCMD" "$s" JVMTI.agent_load "$ASYNC_PROFILER" "\"stop,collapsed,file=$WORK/server.collapsed\"" >/dev/null
fi
"$JCMD" "$c" JFR.dump name=bench filename="$WORK/client.jfr" >/dev/null
"$JCMD" "$s" JFR.dump name=bench filename="$WORK/server.jfr" >/dev/null

for who in client server; do
  echo "================ $who proxy"
  echo "CPU seconds by thread during the run (ticks/100):"
  awk 'NR==FNR {before[$1]+=$2; next} {after[$1]+=$2} END {for (n in after) if (after[n]-before[n] > 0) printf "  %-32s %6.2f\n", n, (after[n]-before[n])/100}' \
    "$WORK/$who-threads-0" "$WORK/$who-threads-1" | sort -k2 -rn
  if [[ -f "$WORK/$who.collapsed" ]]; then
    echo "async-profiler, frames on CPU most often (self):"
    awk '{n=$NF; $NF=""; k=split($0, f, ";"); sub(/ $/, "", f[k]); self[f[k]]+=n; total+=n}
         END {for (m in self) printf "  %5.1f%%  %s\n", 100*self[m]/total, substr(m, 1, 140)}' "$WORK/$who.collapsed" | sort -rn | head -30
  fi
  for view in hot-methods allocation-by-site allocation-by-class gc-pauses; do
    "$JFR" view --width 160 "$view" "$WORK/$who.jfr" | head -40
  done
done
echo "recordings: $WORK/client.jfr $WORK/server.jfr"
trap - EXIT; bench_cleanup
