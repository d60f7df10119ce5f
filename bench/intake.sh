#!/usr/bin/env bash
# Measures the HTTP side of `quell run` on the embedded broker with wrk:
# POST /api/v2/alerts (1 and 100 alerts per request; each answered only
# after Kafka acknowledged every alert) and GET /metrics. Prints requests/s,
# alerts/s and latency. Usage: bench/intake.sh [build/quell] [seconds]
set -euo pipefail
BIN=${1:-build/quell}
SECS=${2:-10}
command -v wrk >/dev/null || { echo "intake.sh: wrk is not installed (scripts/deps.sh)" >&2; exit 1; }
work=$(mktemp -d)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && { wait "$pid" 2>/dev/null || true; }; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'kafka:\n  embedded_partitions: 8\nhttp:\n  listen: "127.0.0.1:%s"\n' "$port" >"$work/quell.yaml"
"$BIN" run -c "$work/quell.yaml" >"$work/summary" 2>"$work/log" &
pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break
  sleep 0.2
done

body() { # n -> a JSON array of n alerts, 10 fingerprints
  python3 -c "import json,sys; n=int(sys.argv[1]); print(json.dumps([{'labels':{'alertname':'Bench','instance':'i%d'%(i%10)},'annotations':{'summary':'x'*100}} for i in range(n)]))" "$1"
}
for n in 1 100; do
  body "$n" >"$work/body$n.json"
  cat >"$work/post$n.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/body$n.json"); wrk.body = f:read("*a"); f:close()
LUA
  out=$(wrk -t2 -c16 -d"${SECS}s" --latency -s "$work/post$n.lua" "http://127.0.0.1:$port/api/v2/alerts")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf 'POST /api/v2/alerts, %3d alerts/request: %8.0f requests/s  %9.0f alerts/s  p50 %s  p99 %s  non-2xx %s\n' \
    "$n" "$rps" "$(echo "$rps * $n" | bc)" "$p50" "$p99" "${non2xx:-0}"
done
bytes=$(curl -s "http://127.0.0.1:$port/metrics" | wc -c)
out=$(wrk -t1 -c1 -d"${SECS}s" --latency "http://127.0.0.1:$port/metrics")
printf 'GET /metrics (%s bytes): %s scrapes/s, p50 %s, p99 %s (one connection)\n' "$bytes" \
  "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" \
  "$(awk '$1=="99%" {print $2}' <<<"$out")"
