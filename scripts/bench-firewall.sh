#!/usr/bin/env bash
# Added latency and throughput of the roaming firewall, on loopback: provisions N SIMs into a fresh
# SQLite store, starts `warden serve` (release build) with the HSS and a [firewall] in front of it,
# and runs `warden bench s6a` at each rate three ways:
#   direct     generator -> HSS
#   firewall   generator -> firewall -> HSS (every AIR screened and relayed)
#   screened   generator -> firewall, foreign IMSIs (every AIR screened and answered by the firewall:
#              its own throughput without the HSS)
# Usage: scripts/bench-firewall.sh [SIMS=10000] [DURATION=8] [RATES="20000"] [CONNECTIONS=4]
# Server and generator share the machine; every run is bounded by DURATION seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
SIMS=${1:-10000}; DURATION=${2:-8}; RATES=${3:-20000}; CONNS=${4:-4}
cargo build --release -q -p warden
W=${CARGO_TARGET_DIR:-$PWD/target}/release/warden
DIR=$(mktemp -d); trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
cd "$DIR"
PORT=$((20000 + RANDOM % 20000)); FPORT=$((PORT + 1))
{
  echo 'data_dir = "data"'
  echo '[diameter]'; echo "listen = \"127.0.0.1:$PORT\""; echo 'origin_host = "hss.home.example"'; echo 'origin_realm = "home.example"'
  echo 'max_in_flight = 1024'
  for h in fw.home.example bench.partner.example $(seq -f 'c%g.bench.partner.example' 0 $((CONNS - 1))); do
    echo '[[diameter.peers]]'; echo "origin_host = \"$h\""
    case $h in fw.*) echo 'origin_realm = "home.example"';; *) echo 'origin_realm = "partner.example"';; esac
    echo 'imsi_prefixes = ["00101"]'
  done
  echo '[firewall]'; echo "listen = \"127.0.0.1:$FPORT\""; echo 'origin_host = "fw.home.example"'; echo 'origin_realm = "home.example"'
  echo 'upstream_connections = 2'; echo 'max_in_flight = 2048'
  echo '[firewall.home]'; echo 'realms = ["home.example"]'; echo 'plmns = ["00101"]'; echo 'imsi_prefixes = ["00101"]'
  echo '[[firewall.partners]]'; echo 'name = "bench"'; echo 'realms = ["partner.example"]'; echo 'plmns = ["26201"]'
  printf 'origin_hosts = ["bench.partner.example"'; for i in $(seq 0 $((CONNS - 1))); do printf ', "c%d.bench.partner.example"' "$i"; done; echo ']'
  echo '[firewall.budgets]'; echo 'imsi_rate_per_sec = 1000'; echo 'imsi_burst = 1000'
  echo '[firewall.overload]'; echo 'capacity_per_sec = 1000000'; echo 'max_in_flight = 1000000'; echo 'max_latency_ms = 10000'
} > warden.toml
printf '[[profile]]\nname = "meter"\nservices = ["data"]\n[[profile.apn]]\nname = "m.example"\n' > profiles.toml
{
  echo 'imsi,k,opc,amf,profile'
  for i in $(seq 1 "$SIMS"); do printf '00101%010d,465b5ce8b199b49faa5f0a2ee238a6bc,cd63cb71954a9f4e48a5994e37a02baf,8000,meter\n' "$i"; done
} > sims.csv
cut -d, -f1 sims.csv | tail -n +2 > imsis.txt
sed 's/^00101/99999/' imsis.txt > foreign.txt
$W --config warden.toml profile import profiles.toml >/dev/null
$W --config warden.toml sim import sims.csv >/dev/null
$W --config warden.toml serve 2>serve.log & SERVER=$!
for P in $PORT $FPORT; do
  for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$P) 2>/dev/null && break; sleep 0.1; done
done
ARGS=(--duration "$DURATION" --connections "$CONNS" --window 256 --origin-host bench.partner.example
      --origin-realm partner.example --destination-realm home.example --plmn 26201)
# Warm the HSS's subscriber cache and SQN blocks first, so that no path pays the cold start.
$W bench s6a --target 127.0.0.1:$PORT --imsi-file imsis.txt --rate 20000 "${ARGS[@]}" >/dev/null
for RATE in $RATES; do
  echo "== direct to the HSS: rate $RATE/s, $CONNS connections, $DURATION s"
  $W bench s6a --target 127.0.0.1:$PORT --imsi-file imsis.txt --rate "$RATE" "${ARGS[@]}"
  echo "== through the firewall: rate $RATE/s"
  $W bench s6a --target 127.0.0.1:$FPORT --imsi-file imsis.txt --rate "$RATE" "${ARGS[@]}"
  echo "== screened and answered by the firewall (foreign IMSIs): rate $RATE/s"
  $W bench s6a --target 127.0.0.1:$FPORT --imsi-file foreign.txt --rate "$RATE" "${ARGS[@]}"
done
