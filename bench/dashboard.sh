#!/usr/bin/env bash
# Dashboard page speed (issue 6). For each backend: seeds SIMS SIMs with DAYS days of daily
# usage (once; the database is kept between runs), starts `simfleet serve`, signs in and times
# each page REPEAT times server-side as curl sees it on loopback. Prints a Markdown table.
#   target: /overview < 150 ms and < 500 KB (assets are cached and not counted)
# Usage: bench/dashboard.sh [SIMS] [DAYS]   (default 100000 30)
# Env: SKIP_BUILD=1, BENCH_DIR (default /tmp/simfleet-dashboard-bench), BENCH_PG_URL,
#      BACKENDS ("sqlite postgres"), REPEAT (10).
set -euo pipefail
cd "$(dirname "$0")/.."
SIMS="${1:-100000}"
DAYS="${2:-30}"
REPEAT="${REPEAT:-10}"
DIR="${BENCH_DIR:-/tmp/simfleet-dashboard-bench}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/simfleet_bench_dash}"
BIN="${CARGO_TARGET_DIR:-target}/release"
PORT=18181
PAGES=(/overview "/sims" /analytics /reports /alerts)
mkdir -p "$DIR"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p simfleet -p simfleet-bench
export SIMFLEET_SECRET_KEY="benchmark key, not secret" SIMFLEET_LOG=warn
PASSWORD="correct horse battery"

prepare() { # url: seeds once
  export SIMFLEET_DATABASE_URL="$1"
  "$BIN/simfleet" migrate >/dev/null
  if [ ! -e "$DIR/seeded-$2" ]; then
    "$BIN/simfleet-bench" --database-url "$1" seed --sims "$SIMS"
    "$BIN/usage-ingest" --database-url "$1" --sims "$SIMS" --days "$DAYS"
    echo "$PASSWORD" | "$BIN/simfleet" user create --username bench --role admin --password-stdin >/dev/null
    touch "$DIR/seeded-$2"
  fi
}

time_pages() { # backend name
  SIMFLEET_LISTEN="127.0.0.1:$PORT" SIMFLEET_DATA_DIR="$DIR/$1-data" "$BIN/simfleet" serve >"$DIR/$1-serve.log" 2>&1 &
  local pid=$!
  trap 'kill $pid 2>/dev/null || true' RETURN
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.2; done
  local jar="$DIR/jar"
  rm -f "$jar"
  local token
  token=$(curl -s -c "$jar" -b "$jar" "127.0.0.1:$PORT/login" | grep -o 'name="_csrf" value="[^"]*"' | sed 's/.*value="//;s/"//')
  curl -s -c "$jar" -b "$jar" -o /dev/null -X POST "127.0.0.1:$PORT/login" \
    --data-urlencode "_csrf=$token" --data-urlencode "username=bench" --data-urlencode "password=$PASSWORD"
  for page in "${PAGES[@]}"; do
    local times=() size=0 code
    for _ in $(seq 1 "$REPEAT"); do
      read -r code t size < <(curl -s -b "$jar" -o /dev/null -w '%{http_code} %{time_total} %{size_download}\n' "127.0.0.1:$PORT$page")
      [ "$code" = 200 ] || { echo "$page answered $code" >&2; return 1; }
      times+=("$t")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v b="$1" -v p="$page" -v s="$size" -v n="$REPEAT" \
      '{ t[NR] = $1 * 1000 } END { printf "| %s | `%s` | %.0f | %.0f | %.0f | %.1f KB |\n", b, p, t[1], t[int((n + 1) / 2)], t[n], s / 1024 }'
  done
}

echo "| engine | page | min ms | median ms | max ms | size |"
echo "|---|---|---|---|---|---|"
for backend in ${BACKENDS:-sqlite postgres}; do
  case "$backend" in
    sqlite) url="sqlite://$DIR/dashboard.db" ;;
    postgres)
      psql "${PG_URL%/*}/postgres" -qtc "SELECT 1 FROM pg_database WHERE datname = '${PG_URL##*/}'" | grep -q 1 ||
        { psql "${PG_URL%/*}/postgres" -qc "CREATE DATABASE ${PG_URL##*/}" >/dev/null; rm -f "$DIR/seeded-postgres"; }
      url="$PG_URL" ;;
  esac
  prepare "$url" "$backend" >&2
  time_pages "$backend"
done
