#!/usr/bin/env bash
# The roaming firewall's storm scenario (crates/firewall/tests/storm.rs), release build, with its
# numbers printed: a partner offers 10x the HSS capacity (2,000/s) with critical, standard and
# low-priority devices for 5 s, then normal traffic. About 10 s plus the build.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --locked --release -p firewall --test storm -- --nocapture
