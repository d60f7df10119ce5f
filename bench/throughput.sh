#!/usr/bin/env bash
# Measures alerts/s through `quell run` on the embedded broker: starts quell
# (embedded mock cluster, memory store), pours a deterministic storm into it
# with `quell load` as fast as the producer goes, stops quell and reads its
# own figure (first message consumed to last decision). Repeats RUNS times
# per format and prints the median.
#   bench/throughput.sh [ALERTS] [FINGERPRINTS]     (defaults 1000000 10000)
# The mock cluster keeps only ~5 MiB per partition, and keyed storms put the
# hottest fingerprints on one partition, so the loader keeps at most 200,000
# alerts uncommitted and quell commits every 100 ms; quell's summary would
# show any loss as "LOST (offset gaps)".
set -euo pipefail
cd "$(dirname "$0")/.."
ALERTS=${1:-1000000}
FINGERPRINTS=${2:-10000}
RUNS=${RUNS:-3}
BIN=${QUELL_BIN:-build/quell}

work=$(mktemp -d)
pid=""
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
printf 'kafka:\n  embedded_partitions: 16\n  commit_interval: 100ms\nhttp:\n  listen: "127.0.0.1:0"\n' >"$work/quell.yaml"

one_run() { # format -> prints "alerts_per_s incidents rss_kb lost"
  local format=$1
  "$BIN" run -c "$work/quell.yaml" >"$work/summary" 2>"$work/log" &
  pid=$!
  local brokers=""
  for _ in $(seq 1 100); do
    brokers=$(sed -n 's/^embedded kafka: //p' "$work/log")
    [[ -n $brokers ]] && break
    sleep 0.1
  done
  "$BIN" load --brokers "$brokers" --alerts "$ALERTS" --fingerprints "$FINGERPRINTS" \
    --format "$format" --max-ahead 200000 >/dev/null
  local rss
  rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill -TERM $pid
  wait $pid
  pid=""
  local rate incidents lost
  rate=$(sed -n 's/^  throughput *\([0-9]*\) alerts.*/\1/p' "$work/summary")
  incidents=$(sed -n 's/^  incidents out *\([0-9]*\).*/\1/p' "$work/summary")
  lost=$(sed -n 's/^  LOST (offset gaps) *\([0-9]*\).*/\1/p' "$work/summary")
  echo "$rate $incidents $rss ${lost:-0}"
}

echo "quell $("$BIN" version | cut -d' ' -f2-) on $(nproc) cores; $ALERTS alerts, $FINGERPRINTS fingerprints, $RUNS runs per format"
printf '%-6s %12s %10s %12s %6s\n' format alerts/s incidents peak_rss_MiB lost
for format in json proto; do
  results=()
  for _ in $(seq 1 "$RUNS"); do results+=("$(one_run "$format")"); done
  median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  read -r rate incidents rss lost <<<"$median"
  printf '%-6s %12s %10s %12s %6s\n' "$format" "$rate" "$incidents" "$((rss / 1024))" "$lost"
done
