#!/usr/bin/env bash
# The demo behind `make demo`: an embedded Kafka broker, live POS traffic into
# it, examples/pos-analytics.yaml running on it, and its KPI snapshots read
# back from the output topics as they arrive, with an alert that opens and
# resolves; then the engine is stopped and resumed from its checkpoint to
# close the last day's windows. Ends by itself in under two minutes.
set -euo pipefail
bin=${1:-build/tillstream}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting the embedded Kafka broker (librdkafka's mock cluster)"
"$bin" broker --partitions 8 >"$work/broker.out" 2>"$work/broker.err" &
pids+=($!)
for _ in $(seq 100); do
  grep -q '^bootstrap=' "$work/broker.out" 2>/dev/null && break
  sleep 0.1
done
bootstrap=$(sed -n 's/^bootstrap=//p' "$work/broker.out")
[ -n "$bootstrap" ] || { echo "the broker did not start"; cat "$work/broker.err"; exit 1; }
echo "bootstrap=$bootstrap"

say "running examples/pos-analytics.yaml against it"
"$bin" run examples/pos-analytics.yaml --brokers "$bootstrap" --state-dir "$work/state" \
  2>"$work/engine.err" &
engine=$!
pids+=($engine)

say "streaming 5 weeks of POS traffic (8 stores, 1 in 500 records malformed) at 1,200 orders/s;"
say "store s-000 loses 90% of its sales on day 31 (a till outage, say)"
"$bin" gen --brokers "$bootstrap" --topic pos.orders --orders 60000 --days 35 --stores 8 \
  --rate 1200 --bad-rate 0.002 --drop s-000:31:0.9 --seed 7 2>"$work/gen.err" &
gen=$!
pids+=($gen)

say "daily store KPIs, alerts and dead letters, read back from pos.kpis, pos.alerts, pos.deadletter"
"$bin" tail --brokers "$bootstrap" --topics pos.kpis,pos.alerts,pos.deadletter --kpis store_day \
  --idle-exit-ms 4000 2>"$work/tail.err" &
tail_pid=$!
pids+=($tail_pid)

wait "$gen"
# Let the engine take in the last records, then stop it as an operator would.
sleep 3
kill -TERM "$engine"
wait "$engine" || true
wait "$tail_pid" || true

say "summary"
cat "$work/gen.err"
cat "$work/tail.err"
grep -v 'embedded broker' "$work/engine.err" || true

say "the last day's windows are still open: the engine resumes from its checkpoint, --bounded, and closes them"
"$bin" run examples/pos-analytics.yaml --brokers "$bootstrap" --state-dir "$work/state" --bounded \
  2>"$work/resume.err"
grep -E 'resuming|pipeline pos-analytics' "$work/resume.err" || cat "$work/resume.err"
"$bin" tail --brokers "$bootstrap" --topics pos.kpis --kpis store_day --idle-exit-ms 2000 \
  2>/dev/null | sort -s -k3,3 | tail -n 8  # the latest day's windows
