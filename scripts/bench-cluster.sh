#!/usr/bin/env bash
# End-to-end S6a benchmark of several `warden serve` instances on one PostgreSQL database (issue #14):
# provisions N SIMs into a fresh database, starts INSTANCES instances (release build), and drives
# every instance at once with its own `warden bench s6a` at RATE/INSTANCES (0: as fast as possible),
# for a cold run (empty caches) then a warm one; prints each generator's report and the sum.
# Usage: scripts/bench-cluster.sh [INSTANCES=2] [SIMS=10000] [DURATION=10] [RATE=0] [CONNECTIONS=2]
# ALLOC=block|exact overrides [sqn] allocation (default: exact on PostgreSQL).
# Needs PostgreSQL at $PG (default postgres://postgres@127.0.0.1:5432/test; the database named there
# is only used to create and drop a database of the run's own). Bounded: each run lasts DURATION s.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2}; SIMS=${2:-10000}; DURATION=${3:-10}; RATE=${4:-0}; CONNS=${5:-2}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test}
cargo build --release -q -p warden
W=$PWD/target/release/warden
DB="warden_bench_$$"
psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
URL="${PG%/*}/$DB"
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
            psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/kek.hex"
PORTS=()
for i in $(seq 1 "$N"); do
  mkdir -p "$DIR/i$i"; PORT=$((20000 + RANDOM % 20000)); PORTS+=("$PORT")
  {
    echo 'data_dir = "data"'
    echo '[storage]'; echo "url = \"$URL\""
    echo '[keys]'; echo "kek_file = \"$DIR/kek.hex\""
    echo '[diameter]'; echo "listen = \"127.0.0.1:$PORT\""; echo "origin_host = \"hss$i.home.example\""
    echo 'origin_realm = "home.example"'; echo 'max_in_flight = 1024'
    for c in $(seq 0 $((CONNS - 1))); do
      echo '[[diameter.peers]]'; echo "origin_host = \"c$c.bench.home.example\""; echo 'origin_realm = "home.example"'
      echo 'imsi_prefixes = ["00101"]'
    done
    echo '[http]'; echo 'enabled = false'
    if [ -n "${ALLOC:-}" ]; then echo '[sqn]'; echo "allocation = \"$ALLOC\""; fi
  } > "$DIR/i$i/warden.toml"
done
cd "$DIR"
printf '[[profile]]\nname = "meter"\nservices = ["data"]\n[[profile.apn]]\nname = "m.example"\n' > profiles.toml
{
  echo 'imsi,k,opc,amf,profile'
  for i in $(seq 1 "$SIMS"); do printf '00101%010d,465b5ce8b199b49faa5f0a2ee238a6bc,cd63cb71954a9f4e48a5994e37a02baf,8000,meter\n' "$i"; done
} > sims.csv
cut -d, -f1 sims.csv | tail -n +2 > imsis.txt
$W --config i1/warden.toml profile import profiles.toml >/dev/null
$W --config i1/warden.toml sim import sims.csv >/dev/null
for i in $(seq 1 "$N"); do
  (cd "i$i" && exec $W --config warden.toml serve 2>serve.log) & PIDS+=($!)
done
for PORT in "${PORTS[@]}"; do
  for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
done
PER=$(( RATE / N ))
for RUN in cold warm; do
  echo "== $RUN: $N instance(s), rate ${RATE:-0}/s in all (0: unpaced), $CONNS connections each, $DURATION s, $SIMS SIMs"
  GENS=()
  for i in $(seq 1 "$N"); do
    $W bench s6a --target 127.0.0.1:"${PORTS[$((i - 1))]}" --imsi-file imsis.txt --rate "$PER" --duration "$DURATION" \
      --connections "$CONNS" --window 256 --origin-host bench.home.example --origin-realm home.example \
      --destination-realm home.example --json > "report-$RUN-$i.json" & GENS+=($!)
  done
  wait "${GENS[@]}"
  python3 - "$RUN" "$N" <<'PY'
import json, sys
run, n = sys.argv[1], int(sys.argv[2])
reports = [json.load(open(f"report-{run}-{i}.json")) for i in range(1, n + 1)]
for i, r in enumerate(reports, 1):
    print(f"  instance {i}: {r['rate']:.0f} AIR/s ok, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
          f"errors {r['errors']}, timeouts {r['timeouts']}, failed {r['failed']}, codes {r['result_codes']}")
print(f"  total: {sum(r['rate'] for r in reports):.0f} AIR/s ok; worst p99 {max(r['p99_ms'] for r in reports):.2f} ms")
PY
done
echo "== failed requests in the servers' logs (by error)"
grep -h "request failed" i*/serve.log 2>/dev/null | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/.*error=//' | cut -c1-160 | sort | uniq -c | sort -rn | head -5 || true

