#!/bin/sh
# Gives the demo stack's Prometheus five weeks of history before it first
# starts, so every panel has data on first open: team totals over the time
# range (increase() of the counters), the "vs usual" lines and the baseline
# GongCoachingActivityDrop compares with (three earlier weeks).
#
#   backfill.sh PROMETHEUS_DATA_DIR RULES_DIR
#
# 1. runs the same simulated company as `gong-exporter --demo`, on loopback;
# 2. `gong-exporter backfill` writes its past days as OpenMetrics;
# 3. `promtool tsdb create-blocks-from openmetrics` turns them into blocks;
# 4. `promtool tsdb create-blocks-from rules` records the rules of
#    RULES_DIR/gong-recording.yml over the same days, one pass per level of
#    rules that read other rules (a pass sees only blocks already loaded).
#
# docker-compose.yml runs it in the `history` service; tests/it/compose_history.rs
# runs it with Debian's prometheus package. Runs once per data directory.
# Tools come from PATH unless GONG_EXPORTER, PROMTOOL or PROMETHEUS name them.
set -eu

data=${1:?usage: backfill.sh PROMETHEUS_DATA_DIR RULES_DIR}
rules=${2:?usage: backfill.sh PROMETHEUS_DATA_DIR RULES_DIR}
exporter=${GONG_EXPORTER:-gong-exporter}
promtool=${PROMTOOL:-promtool}
prometheus=${PROMETHEUS:-prometheus}
days=${DAYS:-28}
users=${USERS:-40}
sim_port=${SIM_PORT:-19864}
prom_port=${PROM_PORT:-19090}
# Backfilled gauges are one sample a day (at each company midnight) and rules
# one every 2 hours (promtool's block length; a longer step writes nothing);
# the stack's Prometheus uses the same lookback, so a query at any time of
# day sees the day's sample.
lookback=${LOOKBACK:-25h}
# gong-recording.yml by level: a rule is recorded in the pass after every
# rule it reads (a pass sees only blocks written before Prometheus started).
# Every rule of the file must be in one level: checked below.
levels="gong:manager_info gong:user_coaching_activity:7d gong:manager_coaching:7d gong:user_call_activity:7d
gong:user_info:with_manager gong:manager_coaching:7d:baseline gong:manager_coaching:7d:baseline_weeks gong:user_call_activity:7d:baseline gong:user_call_activity:7d:baseline_min gong:user_call_activity:7d:baseline_weeks
gong:team_activity:sum gong:team_members:count
gong:team_coaching_activity:7d
gong:team_coaching_activity:7d:baseline gong:team_coaching_activity:7d:baseline_weeks
gong:team_coaching:7d gong:team_coaching:7d:baseline"
# The labels Prometheus gives the live exporter's scrape in the stack, so the
# history joins the live series (and the dashboards' job/instance variables).
job=${JOB:-gong-exporter}
instance=${INSTANCE:-gong-exporter:9863}

done_marker="$data/.gong-demo-history"
if [ -e "$done_marker" ]; then
  echo "backfill: $data already holds the demo history"
  exit 0
fi
mkdir -p "$data"
data=$(cd "$data" && pwd)
work=$(mktemp -d)
pids=""
cleanup() {
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# A signal stops the script too, not only its helpers.
trap 'exit 130' INT TERM

# Waits until the file $1 contains $2 (at most 60 s).
wait_for_line() {
  i=0
  until grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 120 ]; then
      echo "backfill: gave up waiting for '$2'; log:" >&2
      cat "$1" >&2
      exit 1
    fi
    sleep 0.5
  done
}

now=$(date -u +%s)
from=$(date -u -d "@$((now - days * 86400))" +%Y-%m-%d)
# Yesterday in UTC is never after the simulated company's today.
to=$(date -u -d "@$((now - 86400))" +%Y-%m-%d)

"$exporter" simulate --listen "127.0.0.1:$sim_port" --users "$users" --rate-limit 1000 >"$work/simulator.log" 2>&1 &
pids="$pids $!"
wait_for_line "$work/simulator.log" "Gong simulator listening"

GONG_ACCESS_KEY=demo GONG_ACCESS_KEY_SECRET=demo "$exporter" backfill \
  --gong.base-url "http://127.0.0.1:$sim_port" --gong.rate-limit 1000 \
  --from "$from" --to "$to" --label "job=$job" --label "instance=$instance" --output "$work/demo.om"
"$promtool" tsdb create-blocks-from openmetrics "$work/demo.om" "$data" >/dev/null

# The rules of one level as a rule file of their own.
rules_of() {
  awk -v names=" $1 " '
    BEGIN { print "groups:"; print "  - name: gong-teams"; print "    rules:" }
    /^      - record: / { keep = index(names, " " $3 " ") > 0 }
    keep && !/^ *#/ { print }
  ' "$rules/gong-recording.yml"
}
# The same names, not only as many: a renamed rule would be skipped.
listed=$(printf '%s\n' "$levels" | tr ' ' '\n' | grep . | sort)
recorded=$(awk '/^      - record: / { print $3 }' "$rules/gong-recording.yml" | sort)
if [ "$listed" != "$recorded" ]; then
  echo "backfill: the recording rules of $rules/gong-recording.yml and the levels in $0 differ: update the levels" >&2
  printf '%s\n' "$recorded" >"$work/recorded"
  printf '%s\n' "$listed" >"$work/listed"
  diff "$work/recorded" "$work/listed" >&2 || true
  exit 1
fi

# On promtool's 2-hour block boundaries: unaligned, it may write nothing.
rules_from=$(((now - days * 86400) / 7200 * 7200))
rules_to=$((now / 7200 * 7200))
printf 'global:\n  evaluation_interval: 2h\n' >"$work/prometheus.yml"
pass=1
printf '%s\n' "$levels" >"$work/levels"
while IFS= read -r level; do
  rules_of "$level" >"$work/level-$pass.yml"
  "$prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$data" \
    --storage.tsdb.retention.time=100y --query.lookback-delta="$lookback" \
    --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus-$pass.log" 2>&1 &
  prom=$!
  pids="$pids $prom"
  wait_for_line "$work/prometheus-$pass.log" "Server is ready to receive web requests"
  # From inside the directory: promtool (2.42) silently writes no blocks
  # when the rule file is named with a directory.
  (cd "$work" && "$promtool" tsdb create-blocks-from rules --quiet --url "http://127.0.0.1:$prom_port" \
    --start "$rules_from" --end "$rules_to" --eval-interval 2h \
    --output-dir "$data" "level-$pass.yml")
  kill "$prom"
  wait "$prom" 2>/dev/null || true
  pass=$((pass + 1))
done <"$work/levels"

touch "$done_marker"
echo "backfill: $days days of demo history in $data ($from to $to)"
