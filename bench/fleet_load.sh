#!/usr/bin/env bash
# p99 of `POST /reports` under load, for SQLite and PostgreSQL (bench/README.md has the numbers).
#
# Builds the release binary and runs the load test `tests/it/fleet_load.rs` with the server from that
# build (LAUNCHER_BENCH_BIN): 1,000 simulated launchers, each from its own loopback address
# (127.0.x.y), report once, 16 at a time; the test checks that the database's count equals the number
# sent and prints the percentiles, which this script collects. PostgreSQL is started by the test
# (initdb + pg_ctl in a temp folder; Debian's `postgresql` package). ROUNDS (default 3) repeats it.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --quiet
export LAUNCHER_BENCH_BIN="$root/target/release/launcher"
for ((i = 1; i <= ROUNDS; i++)); do
  cargo test --quiet --features fault-injection --test it -- fleet_load --nocapture --test-threads=1 2>/dev/null |
    grep -o 'fleet-load .*'
done
