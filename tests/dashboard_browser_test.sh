#!/usr/bin/env bash
# The dashboard in headless Chromium while traffic flows: a broker, the
# engine (tests/data/dashboard.yaml, HTTP on a free port) and the generator
# run as separate processes; once an alert is firing, Chromium loads the
# dashboard, which must render a revenue chart and the alert; a screenshot
# goes to OUT_DIR/dashboard.png.
# usage: dashboard_browser_test.sh TILLSTREAM PIPELINE.yaml OUT_DIR
set -euo pipefail
bin=$1 pipeline=$2 out=$3
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
  echo "SKIPPED: Chromium is not installed here (scripts/install-deps.sh test could not install it)"
  exit 77
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Polls `test_cmd` every 0.2 s for up to $1 seconds: a bounded wait for a
# condition, not a sleep that hopes.
wait_for() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

"$bin" broker --partitions 4 \
  --topics pos.orders,pos.kpis,pos.rolling,pos.alerts,pos.deadletter,pos.late \
  >"$work/broker.out" 2>"$work/broker.err" &
pids+=($!)
wait_for 20 grep -q bootstrap= "$work/broker.out" || { cat "$work/broker.err"; exit 1; }
bootstrap=$(sed -n 's/^bootstrap=//p' "$work/broker.out")

"$bin" run "$pipeline" --brokers "$bootstrap" --http-port 0 2>"$work/engine.err" &
pids+=($!)
wait_for 20 grep -q 'http=' "$work/engine.err" || { cat "$work/engine.err"; exit 1; }
url="http://$(sed -n 's/.*http=\([0-9.:]*\).*/\1/p' "$work/engine.err" | head -1)"
echo "engine at $url"

# Eight days of history with store s-000 down on its last two, then a
# trickle of later orders that keeps flowing while the browser looks.
"$bin" gen --brokers "$bootstrap" --orders 6000 --days 8 --stores 5 --seed 3 \
  --drop s-000:6:0.95,s-000:7:0.95 2>"$work/gen.err"
"$bin" gen --brokers "$bootstrap" --orders 1000000 --days 30 --stores 5 --seed 4 \
  --start 2024-01-09T00:00:00Z --rate 50 2>"$work/trickle.err" &
pids+=($!)

firing() { curl -sf "$url/alerts?state=firing" | grep -q '"state":"firing"'; }
wait_for 60 firing || { echo "no alert fired"; cat "$work/engine.err"; exit 1; }
echo "an alert is firing"

browse() {
  "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --virtual-time-budget=10000 "$@" "$url/" 2>>"$work/chromium.err"
}
browse --dump-dom >"$work/dom.html"
grep -q '<polyline class="series"' "$work/dom.html" ||
  { echo "the revenue chart did not render"; cat "$work/dom.html"; exit 1; }
grep -q '<li class="alert' "$work/dom.html" ||
  { echo "the alert did not render"; cat "$work/dom.html"; exit 1; }
echo "chart and alert rendered: $(grep -o '<polyline class="series"' "$work/dom.html" | wc -l) series, $(grep -o '<li class="alert' "$work/dom.html" | wc -l) alert(s)"

mkdir -p "$out"
rm -f "$out/dashboard.png"
browse --window-size=1280,900 --screenshot="$out/dashboard.png" >/dev/null
[ -s "$out/dashboard.png" ] || { echo "no screenshot"; cat "$work/chromium.err"; exit 1; }
echo "screenshot: $out/dashboard.png ($(stat -c %s "$out/dashboard.png") bytes)"
