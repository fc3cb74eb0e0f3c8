#!/usr/bin/env bash
# Server time of the portal's SIM list and SIM detail pages at scale (issue #15): provisions SIMS SIMs
# (default a million) into a fresh SQLite store or PostgreSQL database, spread over 20 tenants in
# blocks of 10,000 IMSIs, with mixed status (70 % active, 20 % suspended, 8 % inventory, 2 %
# terminated) and priority (1 % critical, 20 % low), starts `warden serve` (release build), and asks
# the API the questions those pages ask — as the operator and as a tenant, first pages, deep pages,
# every filter, ICCID search, one SIM, its events — REPEAT times each over keep-alive connections.
# Before asking, a bulk job suspends the active SIMs among the first 30 % (an event feed of ~200,000).
# Prints each question's server time from the `Server-Timing` header (p50/p99/max) and the client's.
# Usage: scripts/bench-portal.sh [SIMS=1000000] [BACKEND=sqlite|postgres] [REPEAT=200]
# PostgreSQL: $PG (default postgres://postgres@127.0.0.1:5432/test; the run creates and drops a
# database of its own). Bounded: REPEAT requests per question, one client.
set -euo pipefail
cd "$(dirname "$0")/.."
SIMS=${1:-1000000}; BACKEND=${2:-sqlite}; REPEAT=${3:-200}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test}
cargo build --release -q -p warden
W=$PWD/target/release/warden
DIR=$(mktemp -d)
DB="warden_portal_bench_$$"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "$BACKEND" = postgres ]; then psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; fi
  rm -rf "$DIR"
}
trap cleanup EXIT
cd "$DIR"
HPORT=$((20000 + RANDOM % 20000))
{
  echo 'data_dir = "data"'
  if [ "$BACKEND" = postgres ]; then
    psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > kek.hex
    echo '[storage]'; echo "url = \"${PG%/*}/$DB\""
    echo '[keys]'; echo "kek_file = \"$DIR/kek.hex\""
  fi
  echo '[diameter]'; echo "listen = \"127.0.0.1:$((HPORT + 1))\""
  echo 'origin_host = "hss.home.example"'; echo 'origin_realm = "home.example"'
  echo '[http]'; echo "listen = \"127.0.0.1:$HPORT\""
  echo 'rate_per_sec = 100000.0'; echo 'rate_burst = 100000.0'
} > warden.toml
printf '[[profile]]\nname = "meter"\nservices = ["data"]\n[[profile.apn]]\nname = "m.example"\n' > profiles.toml
printf '[[profile]]\nname = "alarm"\nservices = ["data", "sms"]\n[[profile.apn]]\nname = "a.example"\n' >> profiles.toml
python3 - "$SIMS" > sims.csv <<'PY'
import sys
n = int(sys.argv[1])
def luhn(body):
    total = 0
    for i, d in enumerate(reversed(body)):
        v = int(d) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return body + str((10 - total % 10) % 10)
out = sys.stdout
out.write("imsi,iccid,k,opc,amf,profile,priority,tenant,status\n")
for i in range(n):
    tenant = f"t{(i // 10000) % 20:02d}"
    r = (i * 7919) % 100
    status = "active" if r < 70 else "suspended" if r < 90 else "inventory" if r < 98 else "terminated"
    p = (i * 104729) % 100
    priority = "critical" if p < 1 else "low" if p < 21 else "standard"
    profile = "alarm" if priority == "critical" else "meter"
    out.write(f"00101{i:010d},{luhn(f'8949001{i:011d}')},465b5ce8b199b49faa5f0a2ee238a6bc,"
              f"cd63cb71954a9f4e48a5994e37a02baf,8000,{profile},{priority},{tenant},{status}\n")
PY
echo "== provisioning $SIMS SIMs ($BACKEND)"
START=$(date +%s)
$W --config warden.toml profile import profiles.toml >/dev/null
$W --config warden.toml sim import sims.csv >/dev/null
echo "   $(( $(date +%s) - START )) s"
TOKEN=$($W --config warden.toml admin init 2>/dev/null | head -1)
$W --config warden.toml serve 2>serve.log & SERVER=$!
for _ in $(seq 1 300); do (echo > /dev/tcp/127.0.0.1/"$HPORT") 2>/dev/null && break; sleep 0.1; done
python3 - "$HPORT" "$TOKEN" "$SIMS" "$REPEAT" <<'PY'
import http.client, json, sys, time
port, operator, sims, repeat = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port)
def call(method, path, token, body=None):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    t = time.perf_counter()
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    r = conn.getresponse()
    data = r.read()
    client = (time.perf_counter() - t) * 1000
    timing = r.getheader("Server-Timing", "app;dur=nan")
    server = float(timing.split("dur=")[1])
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data else None, server, client
for t in range(20):
    call("POST", "/api/v1/tenants", operator, {"name": f"t{t:02d}"})
tenant = call("POST", "/api/v1/tokens", operator, {"name": "bench", "role": "tenant_admin", "tenant": "t07"})[0]["secret"]
# An event feed of some size: suspend the active SIMs among the first 30 % (one event each).
job = call("POST", "/api/v1/jobs", operator, {"status": "suspended", "selection": {
    "imsi_from": "001010000000000", "imsi_to": f"00101{max(sims * 3 // 10 - 1, 0):010d}", "status": "active"}})[0]
t0 = time.time()
while True:
    j = call("GET", f"/api/v1/jobs/{job['id']}", operator)[0]
    if j["state"] not in ("queued", "running"):
        break
    if time.time() - t0 > 600:
        raise SystemExit("the event-making job did not finish in 10 minutes")
    time.sleep(0.5)
print(f"   {j['succeeded']} SIMs suspended by a bulk job in {time.time() - t0:.0f} s: as many events in the feed")
mid = f"00101{sims // 2:010d}"
deep = call("GET", f"/api/v1/sims?limit=100&imsi_from={mid}", operator)[0]["items"][0]["imsi"]
one_tenant_sim = f"00101{7 * 10000 + 123:010d}"        # t07, in the suspended range: has an event
quiet_tenant_sim = f"00101{(7 + 20 * 2) * 10000 + 123:010d}"   # t07, beyond it: no event
questions = [
    ("operator: first page", operator, "/api/v1/sims?limit=100"),
    ("operator: page from the middle", operator, f"/api/v1/sims?limit=100&cursor={deep}"),
    ("operator: status=terminated", operator, "/api/v1/sims?limit=100&status=terminated"),
    ("operator: priority=critical", operator, "/api/v1/sims?limit=100&priority=critical"),
    ("operator: tenant=t13", operator, "/api/v1/sims?limit=100&tenant=t13"),
    ("operator: tenant=t13 + status=inventory", operator, "/api/v1/sims?limit=100&tenant=t13&status=inventory"),
    ("operator: profile=alarm", operator, "/api/v1/sims?limit=100&profile=alarm"),
    ("operator: ICCID prefix search", operator, f"/api/v1/sims?limit=100&iccid_prefix=8949001{sims // 3:011d}"[:-3]),
    ("tenant: first page", tenant, "/api/v1/sims?limit=100"),
    ("tenant: status=suspended", tenant, "/api/v1/sims?limit=100&status=suspended"),
    ("tenant: priority=critical", tenant, "/api/v1/sims?limit=100&priority=critical"),
    ("tenant: another tenant's SIM (404)", tenant, None),
    ("tenant: SIM detail", tenant, f"/api/v1/sims/{one_tenant_sim}"),
    ("tenant: SIM events", tenant, f"/api/v1/events?imsi={one_tenant_sim}&limit=50"),
    ("tenant: SIM detail (quiet SIM)", tenant, f"/api/v1/sims/{quiet_tenant_sim}"),
    ("tenant: SIM events (quiet SIM)", tenant, f"/api/v1/events?imsi={quiet_tenant_sim}&limit=50"),
    ("tenant: events feed, first page", tenant, "/api/v1/events?limit=100"),
    ("operator: SIM detail", operator, f"/api/v1/sims/{mid}"),
    ("tenant: dashboard counts", tenant, "/api/v1/stats/sims"),
    ("operator: dashboard counts", operator, "/api/v1/stats/sims"),
]
print(f"{'question':44} {'server p50':>10} {'p99':>8} {'max':>8}   {'client p50':>10} {'p99':>8}  items")
for name, token, path in questions:
    if path is None:
        path = f"/api/v1/sims/00101{3 * 10000 + 5:010d}"
        servers, clients = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            r = conn.getresponse(); r.read()
            assert r.status == 404, r.status
            clients.append((time.perf_counter() - t) * 1000)
            servers.append(float(r.getheader("Server-Timing").split("dur=")[1]))
        items = "404"
    else:
        servers, clients, items = [], [], ""
        for _ in range(repeat):
            try:
                body, s, c = call("GET", path, token)
            except SystemExit as e:
                print(f"{name:44} {e}")
                break
            servers.append(s); clients.append(c)
            if isinstance(body, dict) and "items" in body:
                items = str(len(body["items"]))
        if not servers:
            continue
    servers.sort(); clients.sort()
    q = lambda v, p: v[min(len(v) - 1, int(len(v) * p))]
    print(f"{name:44} {q(servers, .5):8.2f}ms {q(servers, .99):6.2f}ms {servers[-1]:6.2f}ms   "
          f"{q(clients, .5):8.2f}ms {q(clients, .99):6.2f}ms  {items}")
PY
