#!/bin/sh
# Gives the demo stack's Prometheus four weeks of history before it first
# starts, so every panel has data on first open: team totals over the time
# range (increase() of the counters), the "vs usual" lines and the baseline
# GongCoachingActivityDrop compares with (three earlier weeks).
#
#   backfill.sh PROMETHEUS_DATA_DIR
#
# Runs the same simulated company as `gong-exporter --demo` on loopback and
# points scripts/backfill (BACKFILL) at it, with the job and instance labels
# the stack's Prometheus gives the live exporter, so history and live
# series are the same series. docker-compose.yml runs it in the `history`
# service; tests/it/compose_history.rs runs it with Debian's prometheus
# package. Runs once per data directory.
set -eu

data=${1:?usage: backfill.sh PROMETHEUS_DATA_DIR}
here=$(cd "$(dirname "$0")" && pwd)
backfill=${BACKFILL:-$here/../../scripts/backfill}
exporter=${GONG_EXPORTER:-gong-exporter}
days=${DAYS:-28}
users=${USERS:-40}
sim_port=${SIM_PORT:-19864}
job=${JOB:-gong-exporter}
instance=${INSTANCE:-gong-exporter:9863}

done_marker="$data/.gong-demo-history"
if [ -e "$done_marker" ]; then
  echo "backfill: $data already holds the demo history"
  exit 0
fi
mkdir -p "$data"
work=$(mktemp -d)
simulator=""
cleanup() {
  [ -z "$simulator" ] || kill "$simulator" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$exporter" simulate --listen "127.0.0.1:$sim_port" --users "$users" --rate-limit 1000 >"$work/simulator.log" 2>&1 &
simulator=$!
i=0
until grep -q "Gong simulator listening" "$work/simulator.log" 2>/dev/null; do
  i=$((i + 1))
  [ "$i" -le 120 ] || { echo "backfill: the simulator did not start:" >&2; cat "$work/simulator.log" >&2; exit 1; }
  sleep 0.5
done

now=$(date -u +%s)
from=$(date -u -d "@$((now - days * 86400))" +%Y-%m-%d)
# Yesterday in UTC is never after the simulated company's today.
to=$(date -u -d "@$((now - 86400))" +%Y-%m-%d)
GONG_EXPORTER=$exporter GONG_ACCESS_KEY=demo GONG_ACCESS_KEY_SECRET=demo "$backfill" \
  --gong.base-url "http://127.0.0.1:$sim_port" --gong.rate-limit 1000 \
  --from "$from" --to "$to" --tsdb "$data" --label "job=$job" --label "instance=$instance"

touch "$done_marker"
echo "backfill: $days days of demo history in $data ($from to $to)"
