#!/usr/bin/env bash
# Memory store vs Redis store: alerts/s through `quell run` (embedded mock
# cluster, 16 partitions) and Redis round trips per alert, for two storms:
#   dup90  ~90% of alerts are duplicates (Zipf storm, ALERTS over FP90 label sets)
#   dup10  ~10% duplicates (90% of occurrences from one-off fingerprints that
#          fire once and resolve: each needs Redis)
# Starts its own redis-server (free loopback port, temp dir, no persistence)
# and stops it on exit. After the Redis runs it reports what Redis holds:
# keys, used_memory growth per key and MEMORY USAGE of one key.
# store.timeout is 500ms here, not 50ms: on a 2-core machine shared with
# other jobs a round trip can stall past 50 ms, and the degraded (fail-open)
# decisions that follow would be measured instead of the store; the
# `degraded` column shows any that remain.
#   bench/store.sh [ALERTS]         (default 1000000; RUNS=1 runs per cell)
set -euo pipefail
cd "$(dirname "$0")/.."
ALERTS=${1:-1000000}
FP90=${FP90:-30000}
RUNS=${RUNS:-1}
BIN=${QUELL_BIN:-build/quell}

work=$(mktemp -d)
pid=""
rpid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null
  [[ -n $rpid ]] && kill "$rpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --loglevel warning >/dev/null &
rpid=$!
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
rcli() { redis-cli -p "$port" "$@"; }

one_run() { # store storm -> "alerts_per_s incidents decided round_trips lost degraded"
  local store=$1 storm=$2 url=memory
  [[ $store == redis ]] && url="redis://127.0.0.1:$port/0"
  printf 'kafka:\n  embedded_partitions: 16\n  commit_interval: 100ms\nhttp:\n  listen: ""\nstore:\n  url: "%s"\n  prefix: "bench-%s:"\n  timeout: 500ms\n' \
    "$url" "$storm" >"$work/quell.yaml"
  rcli flushall >/dev/null
  "$BIN" run -c "$work/quell.yaml" >"$work/summary" 2>"$work/log" &
  pid=$!
  local brokers=""
  for _ in $(seq 1 100); do
    brokers=$(sed -n 's/^embedded kafka: //p' "$work/log")
    [[ -n $brokers ]] && break
    sleep 0.1
  done
  local storm_opts
  if [[ $storm == dup90 ]]; then
    storm_opts=(--fingerprints "$FP90" --spacing-ms 1)
  else
    storm_opts=(--fingerprints 1000 --transient-share 0.9 --spacing-ms 1)
  fi
  "$BIN" load --brokers "$brokers" --alerts "$ALERTS" "${storm_opts[@]}" --max-ahead 200000 >/dev/null
  kill -TERM $pid
  wait $pid
  pid=""
  local rate incidents decided rt lost
  rate=$(sed -n 's/^  throughput *\([0-9]*\) alerts.*/\1/p' "$work/summary")
  incidents=$(sed -n 's/^  incidents out *\([0-9]*\).*/\1/p' "$work/summary")
  decided=$(sed -n 's/^  alerts decided *\([0-9]*\).*/\1/p' "$work/summary")
  rt=$(sed -n 's/^  store round trips *\([0-9]*\).*/\1/p' "$work/summary")
  lost=$(sed -n 's/^  LOST (offset gaps) *\([0-9]*\).*/\1/p' "$work/summary")
  degraded=$(sed -n 's/^  store degraded *\([0-9]*\).*/\1/p' "$work/summary")
  echo "$rate $incidents $decided ${rt:-0} ${lost:-0} ${degraded:-0}"
}

echo "quell $("$BIN" version | cut -d' ' -f2-) on $(nproc) cores, $(redis-server --version | cut -d' ' -f3); $ALERTS alerts; $RUNS run(s) per cell"
printf '%-6s %-7s %10s %10s %8s %12s %10s %5s %9s\n' storm store alerts/s incidents dup% rt/alert vs_memory lost degraded
for storm in dup90 dup10; do
  mem_rate=""
  for store in memory redis; do
    results=()
    for _ in $(seq 1 "$RUNS"); do results+=("$(one_run $store $storm)"); done
    median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    read -r rate incidents decided rt lost degraded <<<"$median"
    [[ $store == memory ]] && mem_rate=$rate
    dup=$(awk -v i="$incidents" -v d="$decided" 'BEGIN {printf "%.1f", d ? 100 * (d - i) / d : 0}')
    rtpa=$(awk -v r="$rt" -v d="$decided" 'BEGIN {printf "%.4f", d ? r / d : 0}')
    rel=$(awk -v r="$rate" -v m="$mem_rate" 'BEGIN {printf "%.0f%%", m ? 100 * r / m : 0}')
    printf '%-6s %-7s %10s %10s %8s %12s %10s %5s %9s\n' $storm $store "$rate" "$incidents" "$dup" "$rtpa" "$rel" "$lost" "$degraded"
    if [[ $store == redis ]]; then
      keys=$(rcli dbsize)
      used=$(rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
      base=$(rcli info memory | sed -n 's/^used_memory_startup:\([0-9]*\).*/\1/p')
      key=$(rcli --scan --pattern "bench-$storm:*" 2>/dev/null | head -1 || true)
      usage=$(rcli memory usage "$key")
      ttl=$(rcli pttl "$key")
      echo "       redis holds $keys keys, used_memory $((used - base)) bytes above startup ($(((used - base) / (keys > 0 ? keys : 1))) per key); MEMORY USAGE of one key: $usage bytes; its TTL ${ttl} ms"
    fi
  done
done
