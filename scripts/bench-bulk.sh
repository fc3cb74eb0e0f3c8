#!/usr/bin/env bash
# Bulk activation benchmark on loopback: provisions N SIMs (inventory) into a fresh SQLite store,
# starts `warden serve` (release build), activates all of them with one bulk job through the REST API
# while measuring API latency, checks every SIM's state through the API, then drives AIR at the HSS
# for a sample of the SIMs with `warden bench s6a` to show the HSS serves the new state.
# Usage: scripts/bench-bulk.sh [SIMS=1000000]. Bounded: the job is polled for at most 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
SIMS=${1:-1000000}
cargo build --release -q -p warden
W=$PWD/target/release/warden
HERE=$PWD
DIR=$(mktemp -d); trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
cd "$DIR"
PORT=$((20000 + RANDOM % 20000)); HPORT=$((PORT + 1))
cat > warden.toml <<TOML
data_dir = "data"
[diameter]
listen = "127.0.0.1:$PORT"
origin_host = "hss.home.example"
origin_realm = "home.example"
[[diameter.peers]]
origin_host = "bench.home.example"
origin_realm = "home.example"
imsi_prefixes = ["00101"]
[http]
listen = "127.0.0.1:$HPORT"
rate_per_sec = 100000.0
rate_burst = 100000.0
TOML
printf '[[profile]]\nname = "meter"\nservices = ["data"]\n[[profile.apn]]\nname = "m.example"\n' > profiles.toml
python3 - "$SIMS" <<'PY'
import sys
n = int(sys.argv[1])
with open("sims.csv", "w") as f, open("imsis.txt", "w") as g:
    f.write("imsi,k,opc,amf,profile,tenant,status\n")
    for i in range(1, n + 1):
        imsi = "00101%010d" % i
        f.write(f"{imsi},465b5ce8b199b49faa5f0a2ee238a6bc,cd63cb71954a9f4e48a5994e37a02baf,8000,meter,acme,inventory\n")
        if i % max(1, n // 10000) == 0:
            g.write(imsi + "\n")
PY
$W --config warden.toml profile import profiles.toml >/dev/null
$W --config warden.toml tenant create acme >/dev/null
echo "== provisioning $SIMS SIMs (CLI import, one transaction)"
/usr/bin/time -f "import: %e s, max RSS %M KiB" $W --config warden.toml sim import sims.csv
$W --config warden.toml admin init >/dev/null
TOKEN=$($W --config warden.toml token issue --role tenant_operator --tenant acme --name bench | head -1)
$W --config warden.toml serve 2>serve.log & SERVER=$!
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$HPORT) 2>/dev/null && break; sleep 0.1; done
python3 "$HERE/scripts/bench_bulk.py" "http://127.0.0.1:$HPORT/api/v1" "$TOKEN" "$SIMS"
if [ -n "${KEEP_LOG:-}" ]; then cp serve.log "$KEEP_LOG"; fi
echo "== AIR for a sample of $(wc -l < imsis.txt) activated SIMs (5 s)"
$W bench s6a --target 127.0.0.1:$PORT --imsi-file imsis.txt --rate 2000 --duration 5 --connections 1 \
   --origin-host bench.home.example --origin-realm home.example --destination-realm home.example
