#!/usr/bin/env bash
# What fleet reporting costs a launch with nothing to update (bench/README.md has the numbers).
#
# Builds the release binary, publishes a small app (bin/app, a shell script that exits 0, and 50 data
# files), starts `launcher serve --reports` (SQLite) on loopback, installs the app twice from it: one
# launcher.ini without ReportUrl, one with ReportUrl pointing at the same server. Then times with hyperfine
# a launch with nothing to update for each (a 304 for the channel manifest, then exec of the app), and
# checks through the database that the timed launches sent no report (the daily start report was made
# and sent while installing, so a normal launch spawns nothing).
# Everything lives in a temp folder that is removed at the end (KEEP=1 keeps it).
# Environment: RUNS (default 40), WARMUP (default 5).
set -euo pipefail

RUNS=${RUNS:-40}
WARMUP=${WARMUP:-5}

root=$(cd "$(dirname "$0")/.." && pwd)
for tool in hyperfine sqlite3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed (apt-get install -y $tool)" >&2; exit 1; }
done

(cd "$root" && cargo build --release --quiet)
launcher="$root/target/release/launcher"

work=$(mktemp -d "${TMPDIR:-/tmp}/reportnoop.XXXXXX")
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

rel="$work/release"
mkdir -p "$rel/bin" "$rel/data"
printf '#!/bin/sh\nexit 0\n' >"$rel/bin/app"
chmod +x "$rel/bin/app"
for ((f = 0; f < 50; f++)); do printf 'data file %d\n' "$f" >"$rel/data/f$f.txt"; done
find "$rel" -type f -print0 | xargs -0 touch -d '2024-01-02 03:04:05'
"$launcher" -q publish --source "$rel" --repo "$work/repo" --product bench --version 1.0.0 --executable bin/app

"$launcher" serve --repo "$work/repo" --listen 127.0.0.1:0 --reports "$work/reports.db" \
  >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
url=
for _ in $(seq 1 200); do
  url=$(grep -o 'http://[^ ]*' "$work/serve.out" 2>/dev/null || true)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "error: launcher serve printed no URL" >&2; cat "$work/serve.err" >&2; exit 1; }
url=${url%/}

for name in plain reporting; do
  {
    echo "[Update]"
    echo "Server = $url/"
    echo "Product = bench"
    [ "$name" = reporting ] && echo "ReportUrl = $url/reports"
    echo "[App]"
    echo "Dir = app-$name"
  } >"$work/$name.ini"
  "$launcher" --config "$work/$name.ini" -q
  "$launcher" --config "$work/$name.ini" -q
done

# The install's reports (install + the day's start) are sent by the detached sender; wait for them.
for _ in $(seq 1 200); do
  n=$(sqlite3 "$work/reports.db" 'SELECT COUNT(*) FROM reports')
  [ "$n" -ge 2 ] && [ -z "$(ls "$work/app-reporting/.launcher/reports/"*.json 2>/dev/null)" ] && break
  sleep 0.05
done
before=$(sqlite3 "$work/reports.db" 'SELECT COUNT(*) FROM reports')
echo "reports stored after installing: $before" >&2

hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
  --export-markdown "$work/results.md" --export-json "$work/results.json" \
  -n "no ReportUrl, nothing to update" "$launcher --config $work/plain.ini -q" \
  -n "ReportUrl set, nothing to update" "$launcher --config $work/reporting.ini -q"

after=$(sqlite3 "$work/reports.db" 'SELECT COUNT(*) FROM reports')
echo "reports stored after timing: $after (the timed launches sent $((after - before)))" >&2
echo >&2
cat "$work/results.md"
if command -v python3 >/dev/null; then
  python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("median %7.2f ms  %s" % (r["median"] * 1000, r["command"]))' "$work/results.json"
fi
