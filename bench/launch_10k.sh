#!/usr/bin/env bash
# What a launch costs when nothing changed, on an app of 10,000 files (bench/README.md has the numbers).
#
# Builds the release binary, writes a release of 100 folders x 100 small files plus `bin/app` (a shell
# script that exits 0), publishes it, installs it twice (once from the repository as a folder, once
# through `launcher serve` on loopback), then times with hyperfine:
#   - the app started directly (the floor),
#   - `launcher -- --version-only` with nothing to update: folder source, and HTTP (a 304),
#   - `launcher check`: folder source, and HTTP.
# Everything lives in a temp folder that is removed at the end (KEEP=1 keeps it).
# Environment: RUNS (default 20), WARMUP (default 3), FILES_PER_DIR / DIRS (default 100 / 100).
set -euo pipefail

RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
DIRS=${DIRS:-100}
FILES_PER_DIR=${FILES_PER_DIR:-100}

root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v hyperfine >/dev/null; then
  echo "error: hyperfine is not installed (apt-get install -y hyperfine, or cargo install hyperfine)" >&2
  exit 1
fi

(cd "$root" && cargo build --release --quiet)
launcher="$root/target/release/launcher"

work=$(mktemp -d "${TMPDIR:-/tmp}/launch10k.XXXXXX")
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== writing a release of $((DIRS * FILES_PER_DIR)) files + bin/app in $work/release" >&2
rel="$work/release"
mkdir -p "$rel/bin"
printf '#!/bin/sh\nexit 0\n' >"$rel/bin/app"
chmod +x "$rel/bin/app"
for ((d = 0; d < DIRS; d++)); do
  dir=$(printf '%s/data/d%03d' "$rel" "$d")
  mkdir -p "$dir"
  for ((f = 0; f < FILES_PER_DIR; f++)); do
    printf 'folder %d, file %d: a small file of the benchmark app\n' "$d" "$f" >"$dir/f$f.txt"
  done
done
# Releases are built before they are published: date the files in the past, as a real release is.
find "$rel" -type f -print0 | xargs -0 touch -d '2024-01-02 03:04:05'

echo "== publishing" >&2
"$launcher" -q publish --source "$rel" --repo "$work/repo" --product bench --version 1.0.0 --executable bin/app

cat >"$work/folder.ini" <<EOF
[Update]
Server = $work/repo
Product = bench
[App]
Dir = app-folder
EOF

"$launcher" -v serve --repo "$work/repo" --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
url=
for _ in $(seq 1 200); do
  url=$(grep -o 'http://[^ ]*' "$work/serve.out" 2>/dev/null || true)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "error: launcher serve printed no URL" >&2; cat "$work/serve.err" >&2; exit 1; }

cat >"$work/http.ini" <<EOF
[Update]
Server = $url
Product = bench
[App]
Dir = app-http
EOF

echo "== installing (folder source, then HTTP from $url)" >&2
for ini in folder http; do
  "$launcher" --config "$work/$ini.ini" -q -- --version-only
  # A second launch settles the stat cache (a file hashed in the second it was written is re-hashed
  # once, the racy-git rule), so the timed launches are the steady state of a normal day.
  "$launcher" --config "$work/$ini.ini" -q -- --version-only
  "$launcher" --config "$work/$ini.ini" check >/dev/null 2>&1 || {
    echo "error: $ini install is not up to date after installing" >&2
    exit 1
  }
done
echo "installed files: $(find "$work/app-folder" -path '*/.launcher' -prune -o -type f -print | wc -l)," \
  "state.json: $(stat -c %s "$work/app-folder/.launcher/state.json") bytes," \
  "channel manifest: $(stat -c %s "$work/app-folder/.launcher/channel.json") bytes" >&2

blobs_before=$(grep -c '/blobs/' "$work/serve.err" || true)
echo "== timing (hyperfine --warmup $WARMUP --runs $RUNS)" >&2
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
  --export-markdown "$work/results.md" --export-json "$work/results.json" \
  -n "app started directly" "$work/app-folder/bin/app --version-only" \
  -n "launcher, folder source, nothing to update" "$launcher --config $work/folder.ini -q -- --version-only" \
  -n "launcher, HTTP (304), nothing to update" "$launcher --config $work/http.ini -q -- --version-only" \
  -n "launcher check, folder source" "$launcher --config $work/folder.ini -q check" \
  -n "launcher check, HTTP (304)" "$launcher --config $work/http.ini -q check"

# Show that the HTTP launches were revalidations: `launcher serve -v` logs one line per request.
echo "channel manifest requests answered by launcher serve:" \
  "$(grep -c 'channels/.* 304 ' "$work/serve.err" || true) x 304," \
  "$(grep -c 'channels/.* 200 ' "$work/serve.err" || true) x 200;" \
  "blob requests while timing: $(($(grep -c '/blobs/' "$work/serve.err" || true) - blobs_before))" >&2
echo >&2
cat "$work/results.md"
if command -v python3 >/dev/null; then
  # Medians too: on a shared machine the mean and sigma carry other programs' noise.
  python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("median %7.1f ms  %s" % (r["median"] * 1000, r["command"]))' "$work/results.json"
fi
