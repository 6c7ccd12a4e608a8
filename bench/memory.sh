#!/usr/bin/env bash
# Memory the exporter costs, its own and the Prometheus scraping it.
#   bench/memory.sh exporter USERS [exporter flags...]
#     Peak RSS of the exporter against the size of what it serves, under a
#     mix of scrapes (OpenMetrics and the text format, with and without
#     gzip), CONCURRENCY at once for SECONDS_OF_LOAD. Prints users, the
#     uncompressed and gzip body, peak RSS (VmHWM) before the scrapes and
#     after them, and the peak over the body.
#   bench/memory.sh prometheus USERS [exporter flags...]
#     A real Prometheus scraping the exporter every 15 s for PROM_MINUTES;
#     prints its head series and its Go heap in use, then and with an idle
#     Prometheus (no target) measured the same way.
#   GONG_EXPORTER_BIN=path  another build (default: target/release, built here)
#   CONCURRENCY=50 SECONDS_OF_LOAD=60 PROM_MINUTES=5
# The simulator runs as its own process so the numbers are the exporter's.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
users=${2:-}
case "$mode" in exporter | prometheus) ;; *) mode= ;; esac
if [ -z "$mode" ] || [ -z "$users" ]; then
  echo "usage: bench/memory.sh exporter|prometheus USERS [exporter flags...]" >&2
  exit 2
fi
shift 2
concurrency=${CONCURRENCY:-50}
seconds=${SECONDS_OF_LOAD:-60}
bin=${GONG_EXPORTER_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked --bin gong-exporter >/dev/null
  bin=./target/release/gong-exporter
fi
tools="python3 curl"
[ "$mode" = prometheus ] && tools="$tools prometheus"
for tool in $tools; do
  command -v $tool >/dev/null || { echo "bench/memory.sh needs $tool" >&2; exit 1; }
done
out=target/bench
mkdir -p "$out"
port=$((20000 + RANDOM % 20000))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$bin" simulate --listen "127.0.0.1:$((port + 1))" --users "$users" --rate-limit 1000 >"$out/memory-simulator.log" 2>&1 &
pids+=("$!")
until curl -s -o /dev/null "127.0.0.1:$((port + 1))/v2/users"; do sleep 0.1; done
GONG_ACCESS_KEY=demo GONG_ACCESS_KEY_SECRET=demo "$bin" --gong.base-url "http://127.0.0.1:$((port + 1))" \
  --gong.rate-limit 1000 --gong.timezone US/Pacific --web.listen-address "127.0.0.1:$port" "$@" \
  >"$out/memory-exporter.log" 2>&1 &
pid=$!
pids+=("$pid")
until [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/-/ready")" = 200 ]; do
  kill -0 "$pid" 2>/dev/null || { cat "$out/memory-exporter.log" >&2; exit 1; }
  sleep 0.2
done
# Settle: the first cycle's publish is done once ready; give the coaching
# collector (if on) and the allocator a moment.
sleep 5
if [ "$mode" = prometheus ]; then
  # Go's heap in use after a scrape history of PROM_MINUTES: the head's
  # series and their chunks. An idle Prometheus, run the same way, is the
  # base to subtract.
  prometheus_heap() { # target -> "head_series heap_bytes"
    local dir
    dir=$(mktemp -d)
    local prom_port=$((port + 2))
    {
      echo "global: {scrape_interval: 15s, scrape_timeout: 14s}"
      echo "scrape_configs:"
      if [ -n "$1" ]; then
        echo "  - {job_name: gong-exporter, static_configs: [{targets: ['$1']}]}"
      fi
    } >"$dir/prometheus.yml"
    prometheus --config.file "$dir/prometheus.yml" --storage.tsdb.path "$dir/data" \
      --web.listen-address "127.0.0.1:$prom_port" >"$out/memory-prometheus.log" 2>&1 &
    local prom=$!
    pids+=("$prom")
    sleep $((${PROM_MINUTES:-5} * 60))
    curl -s "127.0.0.1:$prom_port/metrics" |
      awk '/^prometheus_tsdb_head_series / {s=$2} /^go_memstats_heap_inuse_bytes / {h=$2} END {printf "%d %d\n", s, h}'
    kill "$prom"
    wait "$prom" 2>/dev/null || true
    rm -rf "$dir"
  }
  read -r series heap < <(prometheus_heap "127.0.0.1:$port")
  read -r idle_series idle_heap < <(prometheus_heap "")
  python3 -c "
users, series, heap, idle = $users, $series, $heap, $idle_heap
per_series = (heap - idle) / max(series - $idle_series, 1)
print(f'users={users} head_series={series} heap={heap/2**20:.0f}MiB idle_heap={idle/2**20:.0f}MiB '
      f'per_series={per_series:.0f}B per_1000_users={(heap - idle) * 1000 / users / 2**20:.1f}MiB')
"
  exit 0
fi

hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
before=$(hwm)
plain=$(curl -s -H 'Accept: application/openmetrics-text; version=1.0.0' "127.0.0.1:$port/metrics" | wc -c)
gzip=$(curl -s -H 'Accept: application/openmetrics-text; version=1.0.0' -H 'Accept-Encoding: gzip' \
  "127.0.0.1:$port/metrics" | wc -c)

python3 - "$port" "$concurrency" "$seconds" <<'PY'
import sys, threading, time, urllib.request
port, concurrency, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
OM = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
mix = [(OM, "gzip"), (OM, None), ("text/plain;version=0.0.4", "gzip"), ("text/plain;version=0.0.4", None)]
end = time.time() + seconds
errors = []
def scrape(i):
    n = i
    while time.time() < end:
        accept, encoding = mix[n % len(mix)]
        headers = {"Accept": accept}
        if encoding:
            headers["Accept-Encoding"] = encoding
        try:
            with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers), timeout=120) as r:
                while r.read(1 << 20):
                    pass
        except Exception as e:
            errors.append(repr(e))
        n += 1
threads = [threading.Thread(target=scrape, args=(i,)) for i in range(concurrency)]
for t in threads: t.start()
for t in threads: t.join()
if errors:
    print(f"{len(errors)} scrapes failed, e.g. {errors[0]}", file=sys.stderr)
    sys.exit(1)
PY
after=$(hwm)
python3 -c "
users, plain, gz, before, after = $users, $plain, $gzip, $before, $after
print(f'users={users} body={plain/1e6:.1f}MB gzip={gz/1e6:.1f}MB peak_before_scrapes={before/1024:.0f}MiB peak_after={after/1024:.0f}MiB peak/body={after*1024/plain:.2f}x')
"
