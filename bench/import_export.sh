#!/usr/bin/env bash
# Import/export benchmark (issue 7). For each backend:
#   1. import of a 100,000-row CSV through `simfleet import` (parse + validate + seal PINs +
#      preview + commit in one transaction)                              target < 3 s
#   2. seed up to SIMS SIMs, then `simfleet export --format csv` of all of them to a file,
#      measured with /usr/bin/time -v (wall clock and peak RSS)         target < 10 s, < 200 MB
# Writes bench/results/import_export.md. Usage: bench/import_export.sh [SIMS] (default 1000000)
# Needs: PostgreSQL on 127.0.0.1:5432 (trust auth); /usr/bin/time (GNU time).
set -euo pipefail
cd "$(dirname "$0")/.."
SIMS="${1:-1000000}"
ROWS="${ROWS:-100000}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/simfleet_bench_io}"
TARGET="${CARGO_TARGET_DIR:-target}"
WORK="$(mktemp -d)"
OUT=bench/results/import_export.md
mkdir -p bench/results

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p simfleet -p simfleet-bench
BIN="$TARGET/release"
export SIMFLEET_SECRET_KEY="benchmark key, not secret" SIMFLEET_LOG=warn

measure() { # label, command… → "wall_s rss_mb"
  local log="$WORK/time.log"
  /usr/bin/time -v "$@" >"$WORK/cmd.out" 2>"$log" || { cat "$log"; return 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
  echo "$wall $rss"
}

run_backend() {
  local name="$1" url="$2"
  export SIMFLEET_DATABASE_URL="$url" SIMFLEET_DATA_DIR="$WORK/$name"
  mkdir -p "$WORK/$name"
  $BIN/simfleet migrate >/dev/null
  $BIN/simfleet-bench gen-import --rows "$ROWS" --out "$WORK/import.csv" >/dev/null
  local imp
  imp=$(measure $BIN/simfleet import "$WORK/import.csv")
  echo "== $name import $ROWS rows: $imp (s, MB)"; cat "$WORK/cmd.out"
  $BIN/simfleet-bench gen-import --rows "$ROWS" --label Updated --out "$WORK/update.csv" >/dev/null
  local upd
  upd=$(measure $BIN/simfleet import "$WORK/update.csv")
  echo "== $name re-import $ROWS rows (all updates): $upd (s, MB)"; cat "$WORK/cmd.out"
  local have=$ROWS
  if [ "$SIMS" -gt "$have" ]; then $BIN/simfleet-bench seed --sims $((SIMS - have)); fi
  local exp
  exp=$(measure $BIN/simfleet export --format csv --out "$WORK/export.csv")
  local lines; lines=$(($(wc -l <"$WORK/export.csv") - 1))
  echo "== $name export $lines SIMs: $exp (s, MB)"
  echo "| $name | $ROWS | ${imp%% *} | ${upd%% *} | $lines | ${exp%% *} | ${exp##* } |" >>"$WORK/table"
}

: >"$WORK/table"
run_backend sqlite "sqlite://$WORK/bench.db"
if psql "${PG_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS ${PG_URL##*/}" -c "CREATE DATABASE ${PG_URL##*/}" >/dev/null 2>&1; then
  run_backend postgres "$PG_URL"
else
  echo "PostgreSQL not reachable at $PG_URL: skipped"
fi
{
  echo "# Import/export benchmark"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) CPU ($(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')), release build. \`bench/import_export.sh $SIMS\`"
  echo
  echo "| engine | import rows | import (create) s, target < 3 | re-import (update) s | exported SIMs | export s, target < 10 | export peak RSS MB, target < 200 |"
  echo "|---|---|---|---|---|---|---|"
  sort -u "$WORK/table"
} >"$OUT"
cat "$OUT"
rm -rf "$WORK"
