#!/usr/bin/env bash
# simfleet benchmark suite: one entry point. Builds release binaries, generates the datasets,
# and runs, on SQLite and PostgreSQL:
#   1. sustained mixed load: 60 s, 100 connections, wrk + bench/mixed.lua (70 % single SIM,
#      15 % list, 5 % search, 10 % label update) on a 100,000-SIM database at LOAD_RATE
#      requests/s offered; targets: zero errors, p99 < 50 ms, server peak RSS < 150 MB. Then
#      the same mix as fast as the server answers (capacity, reported without a target)
#   2. usage ingestion: USAGE_SIMS × USAGE_DAYS daily rows through the sync's batch path
#   3. sync against onence-sim: `simfleet sync --job sims`, then `--job usage`, SYNC_SIMS SIMs
#   4. import/export (bench/import_export.sh) and list/search at 1M SIMs (bench/api.sh)
# and writes bench/results/latest.md (machine description + tables).
#
#   bench/run.sh                      everything (~30 min on 2 cores)
#   SKIP=api,import_export bench/run.sh   leave out the 1M-SIM sub-benchmarks
# Sizes: LOAD_SIMS (100000) LOAD_DURATION (60s) LOAD_CONNECTIONS (100) LOAD_RATE (1000) USAGE_SIMS (100000)
#        USAGE_DAYS (180) SYNC_SIMS (10000) IO_SIMS (1000000) API_SIMS (1000000)
# Needs PostgreSQL on 127.0.0.1:5432 with trust auth (BENCH_PG_URL to change); installs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
LOAD_SIMS=${LOAD_SIMS:-100000}
LOAD_DURATION=${LOAD_DURATION:-60s}
LOAD_CONNECTIONS=${LOAD_CONNECTIONS:-100}
LOAD_RATE=${LOAD_RATE:-1000}
USAGE_SIMS=${USAGE_SIMS:-100000}
USAGE_DAYS=${USAGE_DAYS:-180}
SYNC_SIMS=${SYNC_SIMS:-10000}
IO_SIMS=${IO_SIMS:-1000000}
API_SIMS=${API_SIMS:-1000000}
SKIP=${SKIP:-}
PG_BASE=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release
OUT=bench/results/latest.md
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p bench/results
export SIMFLEET_SECRET_KEY="benchmark key, not a secret" SIMFLEET_LOG=warn
skipped() { [[ ",$SKIP," == *",$1,"* ]]; }

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== building release binaries"
cargo build --release -q -p simfleet -p simfleet-bench -p onence-sim

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
fresh_pg() { # name → URL of a new, empty database
  psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  echo "$PG_BASE/$1"
}
wait_ready() { for _ in $(seq 1 300); do curl -sf "http://$1/health/ready" >/dev/null && return 0; sleep 0.2; done; return 1; }
# The ICCIDs `simfleet-bench seed` creates (numbers 0..N-1 on an empty database).
iccids() {
  python3 - "$1" <<'PY'
import sys
def luhn(p):
    s = 0
    for i, c in enumerate(reversed(p)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        s += d
    return str((10 - s % 10) % 10)
for n in range(int(sys.argv[1])):
    p = "8988%014d" % (10_000_000 + n)
    print(p + luhn(p))
PY
}

# 1. Sustained mixed load.
load_test() { # backend url
  local name=$1 url=$2 port key pid
  echo "== $name: seeding $LOAD_SIMS SIMs"
  SIMFLEET_DATABASE_URL=$url $BIN/simfleet-bench seed --sims "$LOAD_SIMS" | tee -a "$WORK/notes"
  key=$(SIMFLEET_DATABASE_URL=$url $BIN/simfleet-bench api-key)
  iccids "$LOAD_SIMS" >"$WORK/iccids.txt"
  port=$(free_port)
  SIMFLEET_DATABASE_URL=$url SIMFLEET_DATA_DIR=$WORK SIMFLEET_LISTEN=127.0.0.1:$port \
    SIMFLEET_DB_MAX_CONNECTIONS=${LOAD_DB_CONNECTIONS:-16} $BIN/simfleet serve 2>"$WORK/serve-$name.log" &
  pid=$!; PIDS+=("$pid")
  wait_ready "127.0.0.1:$port"
  # First at a steady offered load (the target), then as fast as the server answers (capacity).
  local pace_ms=$((LOAD_CONNECTIONS * 1000 / LOAD_RATE))
  wrk_mixed "$name" "$port" "$key" "$pace_ms" "$LOAD_RATE req/s offered"
  wrk_mixed "$name" "$port" "$key" "" "as fast as answered"
  local rss_kb; rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local rss_mb=$((rss_kb / 1024)) verdict
  verdict=$(python3 - "$(cat "$WORK/paced-p99")" "$(cat "$WORK/paced-errors")" "$rss_mb" <<'PY'
import sys
p99, errors, rss = sys.argv[1], sys.argv[2], int(sys.argv[3])
unit = {"us": 0.001, "ms": 1, "s": 1000}
num = p99.rstrip("mus"); ms = float(num) * unit[p99[len(num):]]
missed = [m for m, bad in [("errors", errors != "0"), ("p99", ms >= 50), ("RSS", rss >= 150)] if bad]
print("met" if not missed else "missed: " + ", ".join(missed))
PY
)
  sed -i "s/| RSS-$name |/| $rss_mb |/; s/| VERDICT-$name |/| $verdict |/" "$WORK/load.md"
}

wrk_mixed() { # backend port key pace_ms(empty: none) label
  local name=$1 port=$2 key=$3 pace=$4 label=$5 out="$WORK/wrk-$1-${4:-max}.txt"
  echo "== $name: wrk $LOAD_DURATION, $LOAD_CONNECTIONS connections, mixed reads and writes, $label"
  PACE_MS=$pace API_KEY=$key ICCID_FILE=$WORK/iccids.txt wrk -t2 -c"$LOAD_CONNECTIONS" -d"$LOAD_DURATION" \
    --timeout 10s --latency -s bench/mixed.lua "http://127.0.0.1:$port" >"$out"
  cat "$out"
  local total rps p50 p99 non2xx sock errors
  total=$(awk '/requests in/ {print $1}' "$out")
  rps=$(awk '/Requests\/sec/ {print $2}' "$out")
  p50=$(awk '$1=="50%" {print $2}' "$out")
  p99=$(awk '$1=="99%" {print $2}' "$out")
  non2xx=$(awk -F': ' '/Non-2xx/ {print $2}' "$out"); non2xx=${non2xx:-0}
  sock=$(awk -F'errors: ' '/Socket errors/ {print $2}' "$out" | tr -d ' ')
  errors=$non2xx${sock:+ (socket: $sock)}
  if [[ -n $pace ]]; then
    echo "$p99" >"$WORK/paced-p99"; echo "$errors" >"$WORK/paced-errors"
    echo "| $name | $label | $LOAD_SIMS | $total | $rps | $p50 | $p99 | $errors | RSS-$name | VERDICT-$name |" >>"$WORK/load.md"
  else
    echo "| $name | $label | $LOAD_SIMS | $total | $rps | $p50 | $p99 | $errors | | capacity, no target |" >>"$WORK/load.md"
  fi
}

# 2. Usage ingestion.
ingest_test() {
  local name=$1 url=$2
  echo "== $name: usage ingestion $USAGE_SIMS SIMs × $USAGE_DAYS days"
  local line; line=$($BIN/usage-ingest --database-url "$url" --sims "$USAGE_SIMS" --days "$USAGE_DAYS" | tr '\n' ' ')
  echo "$line"
  echo "| $name | $USAGE_SIMS × $USAGE_DAYS | $line |" >>"$WORK/ingest.md"
}

# 3. Sync against the simulator.
sync_test() {
  local name=$1 url=$2 port sim
  port=$(free_port)
  $BIN/onence-sim --listen 127.0.0.1:"$port" --sims "$SYNC_SIMS" --seed 42 >/dev/null 2>&1 &
  sim=$!; PIDS+=("$sim")
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  SIMFLEET_DATABASE_URL=$url $BIN/simfleet migrate >/dev/null
  for job in sims usage; do
    local t0 t1 line
    t0=$(date +%s.%N)
    line=$(SIMFLEET_DATABASE_URL=$url SIMFLEET_DATA_DIR=$WORK ONENCE_API_URL=http://127.0.0.1:$port \
      ONENCE_CLIENT_ID=sim-client ONENCE_CLIENT_SECRET=sim-secret $BIN/simfleet sync --job "$job")
    t1=$(date +%s.%N)
    echo "$line"
    echo "| $name | $job | $SYNC_SIMS | $(python3 -c "print(f'{$t1-$t0:.1f}')") | $line |" >>"$WORK/sync.md"
  done
  kill "$sim"; wait "$sim" 2>/dev/null || true
}

: >"$WORK/load.md"; : >"$WORK/ingest.md"; : >"$WORK/sync.md"; : >"$WORK/notes"
for backend in sqlite postgres; do
  if [[ $backend == sqlite ]]; then
    url_load="sqlite://$WORK/load.db"; url_ingest="sqlite://$WORK/ingest.db"; url_sync="sqlite://$WORK/sync.db"
  else
    url_load=$(fresh_pg simfleet_bench_load); url_ingest=$(fresh_pg simfleet_bench_ingest); url_sync=$(fresh_pg simfleet_bench_sync)
  fi
  skipped load || load_test $backend "$url_load"
  skipped ingest || ingest_test $backend "$url_ingest"
  skipped sync || sync_test $backend "$url_sync"
done
skipped import_export || SKIP_BUILD=1 bash bench/import_export.sh "$IO_SIMS"
skipped api || SKIP_BUILD=1 bash bench/api.sh "$API_SIMS"

{
  echo "# Benchmark results"
  echo
  echo "Generated by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo
  echo "Machine: $(nproc) cores ($(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')),"
  echo "$(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr), PostgreSQL $(psql "$PG_BASE/postgres" -Atc 'SHOW server_version' 2>/dev/null || echo '?'),"
  echo "SQLite bundled with sqlx. Load generator, server and database share the machine."
  echo "Load average (1/5/15 min) at the start: $LOADAVG_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "(anything above 0 is other work competing for the same cores)."
  echo
  echo "Sizes: LOAD_SIMS=$LOAD_SIMS LOAD_DURATION=$LOAD_DURATION LOAD_CONNECTIONS=$LOAD_CONNECTIONS LOAD_RATE=$LOAD_RATE"
  echo "USAGE_SIMS=$USAGE_SIMS USAGE_DAYS=$USAGE_DAYS SYNC_SIMS=$SYNC_SIMS SKIP=${SKIP:-none}."
  echo
  echo "## Sustained mixed load"
  echo
  echo "wrk, 2 threads, $LOAD_CONNECTIONS connections, $LOAD_DURATION, \`bench/mixed.lua\`: 70 % \`GET /sims/{iccid}\`,"
  echo "15 % \`GET /sims?status=ACTIVE&limit=20\`, 5 % prefix search, 10 % \`PATCH /sims/{iccid}\` (label; writes the"
  echo "SIM, an event and an audit row). Every request authenticated with an API key. Targets: zero errors,"
  echo "p99 < 50 ms, server peak RSS (VmHWM) < 150 MB, at a steady offered load of $LOAD_RATE requests/s (each"
  echo "connection pauses a random, exponentially distributed time between requests; \`PACE_MS\` in the script)."
  echo "The second row of each backend drives the same mix as fast as the server answers: its capacity."
  echo "At capacity 100 connections queue by construction (latency ≈ 100 / throughput), so it has no latency target."
  echo
  echo "| backend | load | SIMs | requests | requests/s | p50 | p99 | errors (non-2xx) | peak RSS MB | targets |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  cat "$WORK/load.md"
  echo
  echo "## Usage ingestion (the usage sync's batch upsert path)"
  echo
  echo "| backend | SIMs × days | result |"
  echo "|---|---|---|"
  cat "$WORK/ingest.md"
  echo
  echo "## Sync against onence-sim (loopback, no injected faults)"
  echo
  echo "| backend | job | provider SIMs | seconds | outcome |"
  echo "|---|---|---|---|---|"
  cat "$WORK/sync.md"
  echo
  echo "## Seeding"
  echo
  sed 's/^/- /' "$WORK/notes"
  echo
  echo "## Import/export and list/search at 1M SIMs"
  echo
  if skipped import_export; then echo "- import/export: skipped in this run; last results: [import_export.md](import_export.md)"; else echo "- [import_export.md](import_export.md) (this run)"; fi
  if skipped api; then echo "- list/search: skipped in this run; last results: [api.md](api.md)"; else echo "- [api.md](api.md) (this run)"; fi
} >"$OUT"
cat "$OUT"
