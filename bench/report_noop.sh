#!/usr/bin/env bash
# What fleet reporting costs a launch with nothing to update (bench/README.md has the numbers).
#
# Builds the release binary, publishes a small app (bin/app, a shell script that exits 0, and 50 data
# files), starts `launcher serve --reports` (SQLite) on loopback, installs the app three times from it:
# one launcher.ini without ReportUrl, one with ReportUrl pointing at the same server (the default
# `ReportStarts = daily`), one with `ReportStarts = every`. Then times with hyperfine a launch with nothing
# to update for each (a 304 for the channel manifest, then exec of the app), and counts through the
# database what the timed launches sent: nothing with `daily` (the day's start report was made and sent
# while installing, so a normal launch spawns nothing), one report per launch with `every`.
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

for name in plain reporting every; do
  {
    echo "[Update]"
    echo "Server = $url/"
    echo "Product = bench"
    [ "$name" != plain ] && echo "ReportUrl = $url/reports"
    [ "$name" = every ] && echo "ReportStarts = every"
    echo "[App]"
    echo "Dir = app-$name"
  } >"$work/$name.ini"
  "$launcher" --config "$work/$name.ini" -q
  "$launcher" --config "$work/$name.ini" -q
done

# The installs' reports are sent by the detached sender; wait for them (install + the day's start for
# `daily`, install + two starts for `every`).
for _ in $(seq 1 200); do
  n=$(sqlite3 "$work/reports.db" 'SELECT COUNT(*) FROM reports')
  [ "$n" -ge 5 ] && [ -z "$(ls "$work"/app-*/.launcher/reports/*.json 2>/dev/null)" ] && break
  sleep 0.05
done
count() { sqlite3 "$work/reports.db" "SELECT COUNT(*) FROM reports WHERE install_id = '$(cat "$work/app-$1/.launcher/install-id")'"; }
daily_before=$(count reporting)
every_before=$(count every)
echo "reports stored after installing: $daily_before (daily), $every_before (every)" >&2

hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
  --export-markdown "$work/results.md" --export-json "$work/results.json" \
  -n "no ReportUrl, nothing to update" "$launcher --config $work/plain.ini -q" \
  -n "ReportUrl set, nothing to update" "$launcher --config $work/reporting.ini -q" \
  -n "ReportUrl set, ReportStarts = every" "$launcher --config $work/every.ini -q"

# The `every` launches' senders may still be delivering; wait until its spool is empty.
for _ in $(seq 1 400); do
  [ -z "$(ls "$work"/app-every/.launcher/reports/*.json 2>/dev/null)" ] && break
  sleep 0.05
done
echo "the timed launches sent $(($(count reporting) - daily_before)) reports with ReportStarts = daily," \
  "$(($(count every) - every_before)) with ReportStarts = every ($((RUNS + WARMUP)) launches each)" >&2
echo >&2
cat "$work/results.md"
if command -v python3 >/dev/null; then
  python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("median %7.2f ms  %s" % (r["median"] * 1000, r["command"]))' "$work/results.json"
fi
