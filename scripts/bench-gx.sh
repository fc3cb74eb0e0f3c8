#!/usr/bin/env bash
# End-to-end Gx and DNS benchmark on loopback (issue #16): provisions N SIMs with an allowlist profile
# into a fresh SQLite store, starts `warden serve` (release build) with Gx peers and the DNS firewall
# (its upstream a tiny fixed-answer resolver on loopback), then
#   1. drives the PCRF with `warden bench gx` (every request a CCR-Initial of a new session) at each rate;
#   2. opens 8 sessions at 127.0.1.1-8 and drives the DNS firewall with `warden bench dns` from those
#      addresses for allowed, cached names (per-SIM rate limit off for the measurement).
# Usage: scripts/bench-gx.sh [SIMS=10000] [DURATION=8] [RATES="20000"] [CONNECTIONS=4] [DNS_QUERIES=500000]
# Server and generators share the machine; every run is bounded. After each Gx step the CPU time
# (user + system, from /proc and getrusage) that the server and the generator spent per answered
# CCR-I is printed: unlike the rates, it barely moves with what else runs on the machine.
# DNS_QUERIES=0 skips the DNS part.
set -euo pipefail
cd "$(dirname "$0")/.."
SIMS=${1:-10000}; DURATION=${2:-8}; RATES=${3:-20000}; CONNS=${4:-4}; QUERIES=${5:-500000}
W=${WARDEN:-}
if [ -z "$W" ]; then cargo build --release -q -p warden; W=$PWD/target/release/warden; fi
# The generator may be another build (GENERATOR=path), to measure server and generator changes apart.
G=${GENERATOR:-$W}
DIR=$(mktemp -d); trap 'kill $SERVER $UPSTREAM 2>/dev/null || true; rm -rf "$DIR"' EXIT
cd "$DIR"
PORT=$((20000 + RANDOM % 20000)); DNS=$((PORT + 1)); UP=$((PORT + 2))
# A resolver that answers every A question with 192.0.2.1, TTL 3600.
cat > upstream.py <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    q, a = s.recvfrom(1500)
    end = 12
    while q[end]: end += q[end] + 1
    question = q[12:end + 5]
    hdr = q[:2] + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00"
    s.sendto(hdr + question + b"\xc0\x0c\x00\x01\x00\x01" + struct.pack(">I", 3600) + b"\x00\x04\xc0\x00\x02\x01", a)
PY
python3 upstream.py "$UP" & UPSTREAM=$!
{
  echo 'data_dir = "data"'
  echo '[diameter]'; echo "listen = \"127.0.0.1:$PORT\""; echo 'origin_host = "pcrf.home.example"'; echo 'origin_realm = "home.example"'
  echo 'max_in_flight = 1024'
  for i in $(seq 0 $((CONNS - 1))) x; do
    h="c$i.bench.home.example"; [ "$i" = x ] && h="bench.home.example"
    echo '[[diameter.peers]]'; echo "origin_host = \"$h\""; echo 'origin_realm = "home.example"'
    echo 'imsi_prefixes = ["00101"]'; echo 'applications = ["gx"]'
  done
  # Sessions are never ended here: RATE*DURATION/SIMS of them per SIM, beyond the default per-SIM cap.
  echo '[pcrf]'; echo 'ccr_initial_per_sec = 1000000'; echo 'max_sessions_per_imsi = 1000000'; echo "dns_servers = [\"127.0.0.1\"]"
  echo '[dns]'; echo "listen = \"127.0.0.1:$DNS\""; echo "upstream = [\"127.0.0.1:$UP\"]"; echo 'queries_per_sec_per_sim = 0'
  echo '[http]'; echo 'enabled = false'
} > warden.toml
printf '[[profile]]\nname = "meter"\nservices = ["data"]\nallow_prefixes = ["198.51.100.0/24", "203.0.113.7/32:443/tcp"]\nallow_domains = ["*.meters.example"]\n[[profile.apn]]\nname = "internet"\n' > profiles.toml
{
  echo 'imsi,k,opc,amf,profile'
  for i in $(seq 1 "$SIMS"); do printf '00101%010d,465b5ce8b199b49faa5f0a2ee238a6bc,cd63cb71954a9f4e48a5994e37a02baf,8000,meter\n' "$i"; done
} > sims.csv
cut -d, -f1 sims.csv | tail -n +2 > imsis.txt
$W --config warden.toml profile import profiles.toml >/dev/null
$W --config warden.toml sim import sims.csv
$W --config warden.toml serve 2>serve.log & SERVER=$!
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
COMMON="--imsi-file imsis.txt --origin-host bench.home.example --origin-realm home.example --destination-realm home.example"
# CPU seconds (user + system) the server has used so far.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SERVER/stat"; }
for RATE in $RATES; do
  echo "== Gx: CCR-I at $RATE/s, $CONNS connections, $DURATION s, $SIMS SIMs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  BEFORE=$(server_cpu)
  /usr/bin/time -f '%U %S' -o gen.time \
    $G bench gx --target 127.0.0.1:$PORT $COMMON --rate "$RATE" --duration "$DURATION" --connections "$CONNS" --window 256 | tee gx.out
  AFTER=$(server_cpu)
  ANSWERS=$(awk '/^answers:/ { print $2 }' gx.out)
  awk -v s0="$BEFORE" -v s1="$AFTER" -v n="$ANSWERS" '{ g = $1 + $2;
    printf "cpu per CCR-I:  server %.1f µs, generator %.1f µs (%.2f s and %.2f s for %d answers)\n",
           (s1 - s0) * 1e6 / n, g * 1e6 / n, s1 - s0, g, n }' gen.time
done
[ "$QUERIES" = 0 ] && exit 0
echo "== DNS: $QUERIES cached questions from 8 SIM addresses"
$W bench gx --target 127.0.0.1:$PORT $COMMON --rate 8 --duration 1 --connections 1 --first-ip 127.0.1.1 >/dev/null
SOURCES=""; for i in $(seq 1 8); do SOURCES="$SOURCES --source 127.0.1.$i"; done
# Warm the cache, then measure.
$W bench dns --target 127.0.0.1:$DNS $SOURCES --name a.meters.example --name b.meters.example --queries 2000 >/dev/null
$W bench dns --target 127.0.0.1:$DNS $SOURCES --name a.meters.example --name b.meters.example --queries "$QUERIES" --window 32
