#!/usr/bin/env bash
# End-to-end S6a benchmark on loopback: provisions N SIMs into a fresh SQLite store, starts
# `warden serve` (release build), drives it with `warden bench s6a`, and prints each report.
# Usage: scripts/bench-hss.sh [SIMS=10000] [DURATION=10] [RATES="0"] [CONNECTIONS=4]
# Server and generator share the machine; every run is bounded by DURATION seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
SIMS=${1:-10000}; DURATION=${2:-10}; RATES=${3:-0}; CONNS=${4:-4}
cargo build --release -q -p warden
W=$PWD/target/release/warden
DIR=$(mktemp -d); trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
cd "$DIR"
PORT=$((20000 + RANDOM % 20000))
{
  echo 'data_dir = "data"'
  echo '[diameter]'; echo "listen = \"127.0.0.1:$PORT\""; echo 'origin_host = "hss.home.example"'; echo 'origin_realm = "home.example"'
  echo 'max_in_flight = 1024'
  for i in $(seq 0 $((CONNS - 1))); do
    echo '[[diameter.peers]]'; echo "origin_host = \"c$i.bench.home.example\""; echo 'origin_realm = "home.example"'; echo 'imsi_prefixes = ["00101"]'
  done
  if [ "$CONNS" = 1 ]; then echo '[[diameter.peers]]'; echo 'origin_host = "bench.home.example"'; echo 'origin_realm = "home.example"'; echo 'imsi_prefixes = ["00101"]'; fi
} > warden.toml
printf '[[profile]]\nname = "meter"\nservices = ["data"]\n[[profile.apn]]\nname = "m.example"\n' > profiles.toml
{
  echo 'imsi,k,opc,amf,profile'
  for i in $(seq 1 "$SIMS"); do printf '00101%010d,465b5ce8b199b49faa5f0a2ee238a6bc,cd63cb71954a9f4e48a5994e37a02baf,8000,meter\n' "$i"; done
} > sims.csv
cut -d, -f1 sims.csv | tail -n +2 > imsis.txt
$W --config warden.toml profile import profiles.toml >/dev/null
$W --config warden.toml sim import sims.csv
$W --config warden.toml serve 2>serve.log & SERVER=$!
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
for RATE in $RATES; do
  echo "== rate $RATE/s, $CONNS connections, $DURATION s, $SIMS SIMs"
  $W bench s6a --target 127.0.0.1:$PORT --imsi-file imsis.txt --rate "$RATE" --duration "$DURATION" \
     --connections "$CONNS" --window 256 --origin-host bench.home.example --origin-realm home.example \
     --destination-realm home.example
done
