#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts `quell run` on the
# embedded default (an in-process Kafka mock cluster, memory store), pours a
# deterministic alert storm into it the way a monitoring source would, then
# stops quell with SIGTERM and shows what it did: alerts in, incidents out,
# suppressed by reason, throughput. The storm and the rules are the
# launch-day scenario's (bench/scenarios/launch-day.yaml): a new service
# floods on-call on top of steady traffic, with an exclusion and noise rules.
#   ALERTS=500000 FORMAT=proto scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ALERTS=${ALERTS:-200000}
FORMAT=${FORMAT:-json}
SCENARIO=bench/scenarios/launch-day.yaml

scripts/deps.sh
echo "building..."
QUELL_BUILD_DIR=build scripts/build.sh

work=$(mktemp -d)
quell_pid=""
cleanup() {
  [[ -n $quell_pid ]] && kill "$quell_pid" 2>/dev/null && wait "$quell_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The scenario's `config: |` block is quell's config for it.
sed -n '/^config: |/,$p' "$SCENARIO" | sed '1d; s/^  //' >"$work/quell.yaml"
echo "config (from $SCENARIO):"
sed 's/^/  /' "$work/quell.yaml"
build/quell run -c "$work/quell.yaml" >"$work/summary.txt" 2>"$work/quell.log" &
quell_pid=$!
for _ in $(seq 1 100); do
  brokers=$(sed -n 's/^embedded kafka: //p' "$work/quell.log")
  [[ -n $brokers ]] && break
  kill -0 "$quell_pid" 2>/dev/null || { cat "$work/quell.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n $brokers ]] || { echo "quell did not start" >&2; cat "$work/quell.log" >&2; exit 1; }
echo "quell run: embedded Kafka at $brokers (produce to topic 'alerts', e.g. kcat -b $brokers -t alerts -P)"

echo "storm: $ALERTS $FORMAT alerts of the launch-day scenario (an hour of event time)"
build/quell load --brokers "$brokers" --scenario "$SCENARIO" --alerts "$ALERTS" --format "$FORMAT"

echo "first incidents on topic 'incidents':"
if command -v kcat >/dev/null; then
  kcat -b "$brokers" -t incidents -C -o beginning -c 2 -e -q 2>/dev/null | cut -c1-300 || true
fi

kill -TERM "$quell_pid"
wait "$quell_pid" || { echo "quell exited with an error:" >&2; cat "$work/quell.log" >&2; exit 1; }
quell_pid=""
echo
cat "$work/summary.txt"
