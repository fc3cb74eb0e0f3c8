#!/usr/bin/env bash
# Throughput and added latency of the GTP-C firewall, on loopback: starts `warden serve` (release
# build) with only a [gtp] section in a fresh data directory, and runs `warden bench gtp` twice at
# each rate — directly to its built-in P-GW responder, then through the firewall — each time setting
# up SESSIONS tunnels first (Create Session, every one parked for its store read: no SIMs are
# provisioned, so the registration and APN checks are off) and then sending Modify Bearer Requests
# on them for DURATION seconds. Every request and response through the firewall is screened.
# Usage: scripts/bench-gtp.sh [RATES="20000 100000"] [DURATION=8] [SESSIONS=10000] [SOCKETS=4]
# WARDEN=path runs that binary (nothing is built); otherwise PROFILE=debug uses the debug build and
# the release build is the default. Generator, responder and firewall share the machine. After each
# run through the firewall the CPU time (user + system, from /proc) `warden serve` spent per
# screened message is printed: unlike the rates, it barely moves with what else runs on the machine.
# PIN=1 pins `warden serve` to the last CPU and the generator with its responder to the others
# (taskset), as if the firewall had a machine of its own: then its added latency is its own, not
# the time it waited for a CPU the load generator held. LOAD_NICE=N runs the generator and its
# responder at nice N (the firewall stays at 0): on shared cores the firewall is then served first.
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${1:-"20000 100000"}; DURATION=${2:-8}; SESSIONS=${3:-10000}; SOCKETS=${4:-4}
W=${WARDEN:-}
if [ -z "$W" ]; then
  PROFILE=${PROFILE:-release}
  if [ "$PROFILE" = release ]; then cargo build --release -q -p warden; else cargo build -q -p warden; fi
  W=${CARGO_TARGET_DIR:-$PWD/target}/$PROFILE/warden
fi
W=$(realpath "$W")
SERVE_CPU=(); LOAD_CPU=(nice -n "${LOAD_NICE:-0}")
if [ "${PIN:-0}" = 1 ]; then
  LAST=$(($(nproc) - 1))
  [ "$LAST" -ge 1 ] || { echo "bench-gtp: PIN=1 needs two CPUs" >&2; exit 2; }
  SERVE_CPU=(taskset -c "$LAST"); LOAD_CPU+=(taskset -c "0-$((LAST - 1))")
fi
[ -x "$W" ] || { echo "bench-gtp: $W is not an executable" >&2; exit 2; }
DIR=$(mktemp -d); SERVER=; trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
cd "$DIR"
PORT=$((20000 + RANDOM % 20000)); GPORT=$((PORT + 1)); PGW=$((PORT + 2))
{
  echo 'data_dir = "data"'
  echo '[diameter]'; echo "listen = \"127.0.0.1:$PORT\""; echo 'origin_host = "hss.home.example"'; echo 'origin_realm = "home.example"'
  echo '[gtp]'; echo "listen = \"127.0.0.1:$GPORT\""; echo "upstream = \"127.0.0.1:$PGW\""
  echo 'max_pending_per_partner = 1000000'; echo "workers = ${WORKERS:-2}"
  echo '[gtp.home]'; echo 'imsi_prefixes = ["00101"]'; echo 'plmns = ["00101"]'
  echo '[[gtp.partners]]'; echo 'name = "bench"'; echo 'addresses = ["127.0.0.1"]'; echo 'plmns = ["26201"]'
  echo 'setup_rate_per_sec = 1000000'; echo 'max_tunnels = 10000000'
  echo '[gtp.budgets]'; echo 'imsi_setups_per_min = 1000000'; echo 'imsi_burst = 1000'
  echo '[gtp.overload]'; echo 'capacity_per_sec = 100000000'
  echo '[gtp.rules]'; echo 'not-registered = "off"'; echo 'apn = "off"'
} > warden.toml
"${SERVE_CPU[@]}" $W --config warden.toml serve 2>serve.log & SERVER=$!
sleep 2
# CPU seconds (user + system) the server has used so far.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SERVER/stat"; }
for RATE in $RATES; do
  echo "== $RATE Modify Bearer Requests/s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  "${LOAD_CPU[@]}" $W --config warden.toml bench gtp --direct --pgw "127.0.0.1:$PGW" --rate "$RATE" --duration "$DURATION" \
    --sessions "$SESSIONS" --sockets "$SOCKETS"
  BEFORE=$(server_cpu)
  "${LOAD_CPU[@]}" $W --config warden.toml bench gtp --target "127.0.0.1:$GPORT" --pgw "127.0.0.1:$PGW" --rate "$RATE" \
    --duration "$DURATION" --sessions "$SESSIONS" --sockets "$SOCKETS" | tee through.out
  AFTER=$(server_cpu)
  # Screened: the set-ups (request and response) and every answered Modify Bearer (both ways).
  ANSWERED=$(awk '/^through the firewall:/ { for (i = 1; i <= NF; i++) if ($i == "answered") print $(i - 1) }' through.out | head -1)
  awk -v s0="$BEFORE" -v s1="$AFTER" -v a="${ANSWERED:-0}" -v t="$SESSIONS" 'BEGIN { n = 2 * (a + t);
    if (n > 0) printf "server CPU: %.2f s for %d screened messages: %.2f µs per message (load average %s)\n",
      s1 - s0, n, (s1 - s0) * 1e6 / n, "'"$(cut -d' ' -f1-3 /proc/loadavg)"'" }'
done
