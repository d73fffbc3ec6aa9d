#!/usr/bin/env bash
# CI: the observer page in a real browser. Starts examples/observer.rs (a supervision tree
# under load with the observer on), renders its page in headless Chromium and checks that the
# process table, the scheduler charts, a process view and the supervision tree show live data;
# saves a screenshot to target/observer.png. Skips (exit 0) where Chromium cannot be installed.
# OBSERVER_URL=http://HOST:PORT/ checks an observer already running instead of the example.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
fail() {
  echo "FAIL: $*" >&2
  if [[ -s "${LOG:-}" ]]; then
    echo "--- last lines of the example's output ($LOG):" >&2
    tail -n 20 "$LOG" >&2
  fi
  exit 1
}

step "chromium"
CHROMIUM=${CHROMIUM:-}
if [[ -z "$CHROMIUM" ]]; then
  CHROMIUM=$(command -v chromium || true)
fi
if [[ -z "$CHROMIUM" ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "SKIPPED: chromium cannot be installed here: not root and no password-less sudo"
    exit 0
  fi
  if ! command -v apt-get >/dev/null; then
    echo "SKIPPED: chromium cannot be installed here: no apt-get"
    exit 0
  fi
  echo "installing Debian's chromium (apt-get install -y chromium)"
  APT_LOG=$(mktemp)
  if ! { "${SUDO[@]}" apt-get update && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y chromium; } >"$APT_LOG" 2>&1; then
    echo "SKIPPED: chromium cannot be installed here: apt-get failed: $(tail -n 1 "$APT_LOG")"
    exit 0
  fi
  CHROMIUM=$(command -v chromium || true)
  [[ -n "$CHROMIUM" ]] || { echo "SKIPPED: chromium cannot be installed here: no chromium after apt-get"; exit 0; }
fi
"$CHROMIUM" --version 2>/dev/null || true

mkdir -p target
LOG="$ROOT/target/observer-example.log"
EXAMPLE_PID=""
cleanup() {
  if [[ -n "$EXAMPLE_PID" ]] && kill -0 "$EXAMPLE_PID" 2>/dev/null; then
    # Its own process group (setsid): cargo and the example both go.
    kill -TERM -- "-$EXAMPLE_PID" 2>/dev/null || kill -TERM "$EXAMPLE_PID" 2>/dev/null || true
    sleep 0.5
    kill -KILL -- "-$EXAMPLE_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
if [[ -n "${OBSERVER_URL:-}" ]]; then
  ADDR=${OBSERVER_URL#http://}
  ADDR=${ADDR%%/*}
else
  step "cargo build --release -p spam --example observer"
  cargo build --release -p spam --example observer

  step "start the example"
  : >"$LOG"
  setsid cargo run --release -q -p spam --example observer -- 127.0.0.1:0 --seconds 120 >"$LOG" 2>&1 &
  EXAMPLE_PID=$!

  ADDR=""
  for _ in $(seq 1 300); do
    ADDR=$(sed -n 's|.*observer at http://\([^/ ]*\)/.*|\1|p' "$LOG" | head -n 1)
    [[ -n "$ADDR" ]] && break
    kill -0 "$EXAMPLE_PID" 2>/dev/null || fail "the example exited before printing its observer address"
    sleep 0.2
  done
  [[ -n "$ADDR" ]] || fail "no 'observer at http://ADDR/' line from the example within 60 s"
fi
URL="http://$ADDR/"
echo "observer at $URL"

# GET a path of the observer; prints the body. curl where there is one, else bash's /dev/tcp.
http_get() {
  if command -v curl >/dev/null; then
    curl -fsS --max-time 5 "$URL${1#/}"
  else
    local host=${ADDR%:*} port=${ADDR##*:} response
    exec 3<>"/dev/tcp/$host/$port" || return 1
    printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$1" "$ADDR" >&3
    response=$(timeout 5 cat <&3) || true
    exec 3<&- 3>&-
    [[ "$response" == "HTTP/1."?" 200"* ]] || return 1
    printf '%s\n' "${response#*$'\r\n\r\n'}"
  fi
}

SYSTEM=""
for _ in $(seq 1 100); do
  SYSTEM=$(http_get /api/system 2>/dev/null) && [[ "$SYSTEM" == *'"schedulers"'* ]] && break
  SYSTEM=""
  sleep 0.1
done
[[ -n "$SYSTEM" ]] || fail "GET /api/system did not answer within 10 s"
echo "api/system: $SYSTEM"
sleep 4 # samples accumulate (one a second)

# Renders URL$1 and prints its DOM once the page's scripts have run (virtual time; the event
# stream is read in a worker, which does not hold the virtual clock back). A request that is
# never answered stops the virtual clock, and chromium with it: that is a server bug (it was one:
# tiny_http's pool could queue a new connection behind a kept-alive one, fixed by answering with
# `Connection: close`), so a run killed after 30 s fails the test.
CHROMIUM_FLAGS=(--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars
  --no-first-run --disable-sync --disable-background-networking --disable-component-update
  --window-size=1280,1000 --virtual-time-budget=6000)
dump() {
  local t0=$SECONDS rc=0
  timeout 30 "$CHROMIUM" "${CHROMIUM_FLAGS[@]}" --dump-dom "$URL$1" 2>/dev/null || rc=$?
  echo "rendered $URL$1 in $((SECONDS - t0)) s (exit $rc)" >&2
  [[ $rc -ne 124 ]] || fail "chromium hung on $URL$1: a request of the page got no answer"
  return "$rc"
}
# The example must still run (it stops after --seconds; a slow machine may outlast it).
alive() {
  [[ -z "$EXAMPLE_PID" ]] || kill -0 "$EXAMPLE_PID" 2>/dev/null ||
    fail "the example is no longer running (it stops after --seconds 120, or it crashed)"
}

step "the overview: process table and charts"
alive
DOM=$(dump "") || fail "chromium --dump-dom failed (exit $?)"
[[ -n "$DOM" ]] || fail "chromium dumped an empty DOM"
grep -q '<body[^>]*data-ready="1"' <<<"$DOM" ||
  fail "body has no data-ready=\"1\": the table and the charts never rendered real data"
ROWS=$(grep -o '<tr data-pid="' <<<"$DOM" | wc -l || true)
echo "process table rows: $ROWS"
((ROWS >= 5)) || fail "expected at least 5 rows with data-pid in the process table, got $ROWS"
SAMPLES=$(grep -o 'data-samples="[0-9]*"' <<<"$DOM" | grep -o '[0-9][0-9]*' | sort -n | tail -n 1 || true)
echo "most points in a chart: ${SAMPLES:-none}"
((${SAMPLES:-0} >= 2)) || fail "expected a chart with data-samples >= 2, got ${SAMPLES:-no chart}"
CHARTS=$(grep -o 'data-samples="' <<<"$DOM" | wc -l || true)
echo "charts: $CHARTS"

step "a process view and the supervision tree"
TOP=$(http_get /api/supervision | grep -o '<0\.[0-9]*\.[0-9]*>' | head -n 1 || true)
[[ -n "$TOP" ]] || fail "GET /api/supervision names no process"
TOP_PATH=${TOP//[<>]/}
alive
DOM=$(dump "#/process/$TOP_PATH") || fail "chromium --dump-dom of the process view failed"
grep -q '<dt>reductions</dt>' <<<"$DOM" || fail "the process view of $TOP shows no process info"
grep -q 'class="node' <<<"$DOM" || fail "the process view of $TOP draws no graph node"
echo "process view of $TOP: info and graph rendered"
alive
DOM=$(dump "#/supervision") || fail "chromium --dump-dom of the supervision view failed"
grep -q 'id="tree"><ul><li' <<<"$DOM" || fail "the supervision view shows no tree"
echo "supervision view: tree rendered"

step "screenshot"
alive
SHOT="$ROOT/target/observer.png"
rm -f "$SHOT"
for try in 1 2; do
  rc=0
  timeout 30 "$CHROMIUM" "${CHROMIUM_FLAGS[@]}" --screenshot="$SHOT" "$URL" >/dev/null 2>&1 || rc=$?
  [[ $rc -eq 124 ]] || break
  echo "WARNING: chromium hung taking the screenshot: a request of the page got no answer; trying again" >&2
done
[[ $rc -eq 0 ]] || fail "chromium --screenshot failed (exit $rc)"
[[ -s "$SHOT" ]] || fail "no screenshot was written"
echo "screenshot: $SHOT"
alive
echo "observer browser test: OK"
