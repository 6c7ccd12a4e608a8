#!/usr/bin/env bash
# The exporter's benchmarks, with their numbers printed at the end: encoding
# time, requests per replayed company day, the same families rendered by
# Python's prometheus_client, scrape latency and peak memory under load,
# requests and time per cycle against the minimum the rate limit allows, and
# peak memory against a hostile Gong and hostile clients.
#   bench/run.sh           full run (~5 minutes): 1,000 and 10,000 users
#   bench/run.sh --smoke   seconds: small sizes, run by CI so the benchmarks cannot rot;
#                          built in the dev profile the tests already built (its
#                          numbers mean nothing, and CI saves a release build)
# Needs wrk (apt-get install wrk), python3 with venv, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
[ "${1:-}" = "--smoke" ] && smoke=1
if [ $smoke = 1 ]; then
  users=200; encode_users=200; load_seconds=3; api_users=100; api_rate=50; peer_runs=1; criterion=(--test)
  profile=dev; bin=./target/debug/gong-exporter
else
  users=10000; encode_users=1000,10000; load_seconds=30; api_users=1000; api_rate=20; peer_runs=5; criterion=()
  profile=release; bin=./target/release/gong-exporter
fi
export GONG_EXPORTER_BIN=$bin
out=target/bench
mkdir -p "$out"
for tool in wrk python3 curl; do
  command -v $tool >/dev/null || { echo "bench/run.sh needs $tool (apt-get install $tool)" >&2; exit 1; }
done
cargo build --profile "$profile" --locked --bin gong-exporter >/dev/null

port=$((20000 + RANDOM % 20000))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# The regular cycle only: the once-a-day coaching collector (its cost is in
# the README) would blur requests per cycle and cycle time.
start_exporter() { # users rate port -> sets $pid and $ready (seconds until /-/ready)
  # The simulator runs as its own process so the exporter's memory is its own.
  "$bin" simulate --listen "127.0.0.1:$(($3 + 1))" --users "$1" --rate-limit "$2" \
    >"$out/simulator-$3.log" 2>&1 &
  pids+=("$!")
  until curl -s -o /dev/null "127.0.0.1:$(($3 + 1))/v2/users"; do sleep 0.05; done
  local started
  started=$(date +%s.%N)
  GONG_ACCESS_KEY=demo GONG_ACCESS_KEY_SECRET=demo "$bin" \
    --gong.base-url "http://127.0.0.1:$(($3 + 1))" --gong.rate-limit "$2" --gong.timezone US/Pacific \
    --web.listen-address "127.0.0.1:$3" --log.level warn --collector.coaching=false --poll.schedule=fixed >"$out/exporter-$3.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$3/-/ready")" = 200 ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$out/exporter-$3.log" >&2; exit 1; }
    sleep 0.05
  done
  ready=$(python3 -c "import time; print(round(time.time() - $started, 2))")
}

echo "== 1. encode (criterion): snapshot -> bytes"
# A failed build or bench must fail the script, not vanish in a pipe.
if ! GONG_BENCH_USERS=$encode_users cargo bench --profile "$profile" --locked --bench encode -- "${criterion[@]}" >"$out/criterion.txt" 2>&1; then
  tail -30 "$out/criterion.txt" >&2
  echo "bench/run.sh: the encode benchmark failed" >&2
  exit 1
fi
grep -E "series,|time:|thrpt:|Success" "$out/criterion.txt" || true

echo "== replay of company days (requests per day, freshness; see benches/replay.rs)"
if [ $smoke = 1 ]; then replay=(--smoke); else replay=(); fi
if ! cargo bench --profile "$profile" --locked --bench replay -- "${replay[@]}" >"$out/replay.txt" 2>&1; then
  tail -30 "$out/replay.txt" >&2
  echo "bench/run.sh: the replay benchmark failed" >&2
  exit 1
fi
grep -E "^(##|\|)" "$out/replay.txt" || true

echo "== exporter with $users users"
start_exporter "$users" 1000000 "$port"
exporter=$pid
# Scrapes ask for OpenMetrics, as Prometheus does.
openmetrics=(-H "Accept: application/openmetrics-text; version=1.0.0")
curl -s "${openmetrics[@]}" "127.0.0.1:$port/metrics" > "$out/metrics.txt"
plain_bytes=$(wc -c < "$out/metrics.txt")
gzip_bytes=$(curl -s "${openmetrics[@]}" -H 'Accept-Encoding: gzip' "127.0.0.1:$port/metrics" | wc -c)
series=$(grep -v '^#' "$out/metrics.txt" | grep -vcE '^(gong_exporter_|process_)')
echo "ready after ${ready}s: $series series, $plain_bytes bytes, $gzip_bytes gzipped"

echo "== 2. peer: Python prometheus_client with the same families"
if [ ! -x "$out/venv/bin/python" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install --quiet "prometheus_client==0.23.1"
fi
peer=$("$out/venv/bin/python" bench/python_peer.py "$out/metrics.txt" "$peer_runs")
echo "$peer"
peer_seconds=$(echo "$peer" | sed -E 's/.*median_seconds=([0-9.]+).*/\1/')
estimate="target/criterion/${users}_users/encode/new/estimates.json"
if [ -f "$estimate" ] && [ $smoke = 0 ]; then
  ours=$(python3 -c "import json; print(json.load(open('$estimate'))['mean']['point_estimate'] / 1e9)")
  echo "ours: ${ours}s to encode the same snapshot; Python/ours = $(python3 -c "print(round($peer_seconds / $ours, 1))")x"
fi

echo "== 3. scrape load: wrk, 10 connections, ${load_seconds}s"
for mode in plain gzip; do
  header=("${openmetrics[@]}")
  [ $mode = gzip ] && header+=(-H "Accept-Encoding: gzip")
  wrk -t2 -c10 -d"${load_seconds}s" --latency --timeout 10s "${header[@]}" "http://127.0.0.1:$port/metrics" > "$out/wrk-$mode.txt"
  p50=$(awk '$1=="50%"{print $2}' "$out/wrk-$mode.txt")
  p99=$(awk '$1=="99%"{print $2}' "$out/wrk-$mode.txt")
  requests=$(awk '/requests in/{print $1}' "$out/wrk-$mode.txt")
  errors=$(grep -E "Socket errors|Non-2xx" "$out/wrk-$mode.txt" || echo "none")
  echo "$mode: $requests requests, p50 $p50, p99 $p99, errors: $errors"
done
peak_kb=$(awk '/VmHWM/{print $2}' "/proc/$exporter/status")
echo "exporter peak RSS: $((peak_kb / 1024)) MiB = $(python3 -c "print(round($peak_kb * 1024 / $plain_bytes, 2))")x the exposition"
kill "$exporter"
cleanup

echo "== 4. API efficiency: $api_users users at $api_rate requests/s"
api_port=$((port + 2))
start_exporter "$api_users" "$api_rate" "$api_port"
cycle=$ready
curl -s "${openmetrics[@]}" "127.0.0.1:$api_port/metrics" > "$out/metrics-api.txt"
kill "$pid"
python3 - "$out/metrics-api.txt" "$cycle" "$api_rate" <<'PY'
import math, re, sys
text = open(sys.argv[1]).read()
cycle, rate = float(sys.argv[2]), float(sys.argv[3])
def samples(name):
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            yield labels, float(line.rsplit(" ", 1)[1])
sent = sum(v for _, v in samples("gong_exporter_api_requests_total"))
records = {(l["endpoint"], l["window"]): v for l, v in samples("gong_exporter_records")}
windows = sorted({w for (e, w) in records if e == "activity_aggregate"}, key=lambda w: int(w[:-1]))
minimum = 0
for endpoint in ("activity_aggregate", "interaction"):
    minimum += sum(max(1, math.ceil(records.get((endpoint, w), 0) / 100)) for w in windows)
minimum += max(1, math.ceil(records[("scorecards", windows[-1])] / 100))
minimum += max(1, math.ceil(records[("users", "")] / 100))
bound = sent / rate
print(f"requests per cycle: {sent:.0f}, minimum ceil(records/100) per query: {minimum}")
print(f"cycle time: {cycle:.2f}s, rate-limit bound requests/rate: {bound:.2f}s, ratio {cycle / bound:.3f}")
PY

# Peak memory (VmHWM) while a hostile Gong sends 500 MB and endless bodies,
# and while 1,050 slowloris connections stall: memory stays bounded.
python3 bench/hostile.py $([ $smoke = 1 ] && echo --smoke)

echo "== 8. memory: peak RSS under concurrent mixed scrapes (bench/memory.sh)"
if [ $smoke = 1 ]; then
  CONCURRENCY=4 SECONDS_OF_LOAD=2 bench/memory.sh exporter 200
else
  for windows in 7d 1d,7d,28d; do
    bench/memory.sh exporter "$users" --stats.windows "$windows"
  done
fi
