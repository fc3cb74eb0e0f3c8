"""Drives one bulk activation through the REST API and measures it (used by bench-bulk.sh).

Starts a job that activates every SIM in the range, polls it, and meanwhile measures the latency of
GET /sims/{imsi} and GET /jobs/{id} from a second thread. Afterwards checks that no SIM is left in
inventory and that a sample of SIMs reads back active. Standard library only."""
import json
import random
import sys
import threading
import time
import urllib.request

BASE, TOKEN, N = sys.argv[1], sys.argv[2], int(sys.argv[3])


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else float("nan")


first, last = "00101%010d" % 1, "00101%010d" % N
t0 = time.monotonic()
job = call("POST", "/jobs", {"status": "active", "selection": {"imsi_from": first, "imsi_to": last}})
accepted = time.monotonic() - t0
done = threading.Event()
lat = {"sim": [], "job": []}


def prober():
    while not done.is_set():
        imsi = "00101%010d" % random.randint(1, N)
        s = time.monotonic()
        call("GET", "/sims/" + imsi)
        lat["sim"].append(time.monotonic() - s)
        s = time.monotonic()
        call("GET", "/jobs/" + job["id"])
        lat["job"].append(time.monotonic() - s)
        time.sleep(0.01)


th = threading.Thread(target=prober)
th.start()
state = job
while state["state"] in ("queued", "running") and time.monotonic() - t0 < 600:
    time.sleep(0.5)
    state = call("GET", "/jobs/" + job["id"])
elapsed = time.monotonic() - t0
done.set()
th.join()
print(f"== bulk activation of {N} SIMs: {state['state']} in {elapsed:.1f} s "
      f"({state['succeeded'] / elapsed:,.0f} SIMs/s); succeeded {state['succeeded']}, "
      f"unchanged {state['unchanged']}, failed {state['failed']}; POST answered in {accepted * 1000:.1f} ms")
for k, xs in lat.items():
    print(f"   API under load, GET /{k}s/…: n={len(xs)} p50 {pct(xs, 0.5):.1f} ms p99 {pct(xs, 0.99):.1f} ms max {pct(xs, 1.0):.1f} ms")
left = call("GET", "/sims?status=inventory&limit=1")["items"]
sample = [("00101%010d" % random.randint(1, N)) for _ in range(1000)]
bad = [i for i in sample if call("GET", "/sims/" + i)["status"] != "active"]
print(f"   consistency: SIMs left in inventory: {len(left)}; sample of 1000 read back active: {1000 - len(bad)}")
if state["state"] != "succeeded" or state["succeeded"] != N or left or bad:
    sys.exit("bulk activation incomplete")
