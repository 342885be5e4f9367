#!/bin/sh
# The proxy image's AOT cache (JDK 25, JEP 483/514/515): a training run of `trellis proxy` on the
# image's own runtime, class path and JVM options. The proxy starts, loads and links what a start
# needs (its configuration, Netty, BoringSSL, the TLS context, metrics, the admin server, the
# identity client), tries a control plane that is not there for ten seconds and is stopped; the
# JVM writes the cache as it exits. (The launcher makes its own cache from a proxy's first run.)
#
# Usage: proxy-aot-training.sh OUTPUT JAVA [JVM options...] -cp CLASSPATH dev.trellis.cli.Main
# (after OUTPUT: the image's ENTRYPOINT, less the -XX:AOTCache option that reads the cache).
set -eu
out="$1"; java="$2"; shift 2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Any trust anchor will do: a run without a control plane verifies nothing.
"$(dirname "$java")/keytool" -genkeypair -keystore "$work/anchor.p12" -storepass training -alias anchor -keyalg EC \
  -groupname secp256r1 -dname CN=trellis-aot-training -ext bc:c -validity 2 >/dev/null 2>&1
"$(dirname "$java")/keytool" -exportcert -rfc -keystore "$work/anchor.p12" -storepass training -alias anchor >"$work/anchor.pem"
echo training >"$work/token"
# Stopped by SIGTERM after 10 s, as a pod's proxy is: timeout's own status (124) is expected.
timeout -s TERM 10 "$java" -XX:AOTCacheOutput="$out" "$@" proxy \
  --identity spiffe://cluster.local/ns/trellis/sa/aot-training --trust-anchor "$work/anchor.pem" --token-file "$work/token" \
  --identity-addr 127.0.0.1:9 --destination-addr 127.0.0.1:9 --inbound 127.0.0.1:0 --outbound 127.0.0.1:0 --admin 127.0.0.1:0 \
  --connection-log /dev/null >"$work/training.log" 2>&1 || true
if [ ! -s "$out" ]; then
  echo "proxy-aot-training: no AOT cache at $out; the training run said:" >&2
  tail -n 30 "$work/training.log" >&2
  exit 1
fi
echo "proxy-aot-training: $(wc -c <"$out") bytes at $out"
