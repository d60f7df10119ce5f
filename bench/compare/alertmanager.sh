#!/usr/bin/env bash
# The same storm through Prometheus Alertmanager and through quell, on this
# machine, one after the other; prints both side by side. A bench, not a
# test: nothing here is asserted.
#
#   bench/compare/alertmanager.sh [SCENARIO] [ALERTS]
#       (defaults: bench/scenarios/launch-day.yaml 200000)
#   env: BATCH=1000 alerts per POST, CLIENTS=4 parallel posters,
#        QUELL_BATCH=1 alerts per Kafka message for quell (`quell bench
#        --batch`: JSON arrays, as Alertmanager gets them),
#        QUELL_BIN=build/quell, AM_BIN=/usr/bin/prometheus-alertmanager
#
# The storm is `quell gen --scenario SCENARIO --alerts ALERTS` with event
# times starting now and spread over 2 minutes, so Alertmanager sees
# current, firing alerts (generated alerts end 4 minutes after their event
# time). Alertmanager gets it as JSON arrays on POST /api/v2/alerts from
# CLIENTS keep-alive clients; quell gets the same bytes (gen is
# deterministic) through Kafka, memory store, via `quell bench --runs 1`,
# twice: draining the storm preloaded into a mock cluster (quell's own
# rate), and live, produced into its embedded broker while it consumes
# (the producer then shares the two cores).
#
# Equivalent settings: quell folds repeats of one label set (all labels)
# into one incident for dedup.window (5m) and re-sends after 4h;
# Alertmanager gets group_by ['...'] (one group per label set),
# group_wait 1s, group_interval 5m, repeat_interval 4h, send_resolved, and
# Watchdog/InfoInhibitor routed to a null receiver (the scenario's
# exclusion rule). Notifications are counted by a loopback webhook receiver
# once they stop arriving for 5 s.
#
# Caveats printed with the figures: quell's alerts/s runs to the last
# offset committed (Kafka in the path) from its group's assignment
# (backlog) or the first produce (live); Alertmanager's from the first
# POST to the last response. Live, quell's CPU and RSS include the
# in-process broker.
set -euo pipefail
cd "$(dirname "$0")/../.."
SCENARIO=${1:-bench/scenarios/launch-day.yaml}
ALERTS=${2:-200000}
BATCH=${BATCH:-1000}
QUELL_BATCH=${QUELL_BATCH:-1}
CLIENTS=${CLIENTS:-4}
QUELL=${QUELL_BIN:-build/quell}
AM=${AM_BIN:-/usr/bin/prometheus-alertmanager}
TOOLS=bench/compare/am_tools.py

work=$(mktemp -d)
rpid="" ampid=""
cleanup() {
  [[ -n $ampid ]] && kill "$ampid" 2>/dev/null && { wait "$ampid" 2>/dev/null || true; }
  [[ -n $rpid ]] && kill "$rpid" 2>/dev/null && { wait "$rpid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_seconds() { awk -v t="$(getconf CLK_TCK)" '{sub(/.*\) /,""); split($0,f," "); printf "%.2f", (f[12]+f[13])/t}' "/proc/$1/stat"; }
peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

start_ms=$(($(date +%s) * 1000))
gen_args=(--scenario "$SCENARIO" --alerts "$ALERTS" --start "$start_ms" --duration 2m)
"$QUELL" gen "${gen_args[@]}" >"$work/storm.jsonl"

python3 "$TOOLS" receiver "$work/port" &
rpid=$!
for _ in $(seq 1 100); do [[ -s $work/port ]] && break; sleep 0.1; done
rport=$(cat "$work/port")

amport=$(free_port)
cat >"$work/am.yml" <<YAML
route:
  receiver: count
  group_by: ['...']
  group_wait: 1s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - receiver: blackhole
      matchers: ['alertname=~"Watchdog|InfoInhibitor"']
receivers:
  - name: count
    webhook_configs:
      - url: http://127.0.0.1:$rport/
        send_resolved: true
  - name: blackhole
YAML
"$AM" --config.file="$work/am.yml" --storage.path="$work/am-data" \
  --web.listen-address="127.0.0.1:$amport" --cluster.listen-address= --log.level=warn \
  2>"$work/am.log" &
ampid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$amport/-/ready" >/dev/null && break
  sleep 0.1
done

echo "storm: $(basename "$SCENARIO" .yaml), $ALERTS alerts; quell: $QUELL_BATCH per Kafka message; Alertmanager $("$AM" --version 2>&1 | head -1 | awk '{print $3}'): $CLIENTS clients x $BATCH alerts per POST" >&2
read -r am_alerts am_secs < <(python3 "$TOOLS" post "http://127.0.0.1:$amport/api/v2/alerts" \
  "$work/storm.jsonl" "$BATCH" "$CLIENTS")
am_cpu_post=$(cpu_seconds "$ampid")
# Notifications: wait until the count has not moved for 5 s (at most 120 s).
last="" stable=0
for _ in $(seq 1 240); do
  now=$(curl -sf "http://127.0.0.1:$rport/count")
  if [[ $now == "$last" ]]; then stable=$((stable + 1)); else stable=0; fi
  last=$now
  ((stable >= 10)) && break
  sleep 0.5
done
read -r am_notifications am_notified_alerts <<<"$last"
am_cpu=$(cpu_seconds "$ampid")
am_rss=$(peak_rss_mib "$ampid")
kill "$ampid"
wait "$ampid" 2>/dev/null || true
ampid=""

"$QUELL" bench "${gen_args[@]}" --format json --batch "$QUELL_BATCH" --runs 1 --latency-rate 0 \
  --json >"$work/quell.json"
"$QUELL" bench "${gen_args[@]}" --format json --batch "$QUELL_BATCH" --runs 1 --latency-rate 0 --live --json \
  >"$work/quell-live.json"
python3 - "$work/quell.json" "$work/quell-live.json" "$ALERTS" "$am_alerts" "$am_secs" "$am_notifications" \
  "$am_notified_alerts" "$am_cpu_post" "$am_cpu" "$am_rss" <<'PY'
import json, sys
q = json.load(open(sys.argv[1]))
live = json.load(open(sys.argv[2]))
argv = sys.argv[1:]
n, am_alerts, am_secs = int(argv[2]), int(argv[3]), float(argv[4])
am_notif, am_notif_alerts = int(argv[5]), int(argv[6])
am_cpu_post, am_cpu, am_rss = float(argv[7]), float(argv[8]), float(argv[9])
am_rate = am_alerts / am_secs if am_secs else 0
rows = [
    ("alerts in", "%d" % q["alerts_in"], "%d" % am_alerts),
    ("alerts/s", "%.0f" % q["alerts_per_second"], "%.0f" % am_rate),
    ("alerts/s, producer alongside", "%.0f" % live["alerts_per_second"], "-"),
    ("notifications / incidents out", "%d" % q["incidents_out"], "%d" % am_notif),
    ("  of which new (firing)", "%d" % q["incidents_new"], "-"),
    ("  of which resolved", "%d" % q["incidents_resolved"], "(after group_interval)"),
    ("alerts per notification", "%.1f" % (q["alerts_in"] / max(q["incidents_out"], 1)),
     "%.1f" % (am_alerts / max(am_notif, 1))),
    ("CPU seconds", "%.2f" % q["cpu_seconds"], "%.2f (%.2f while posting)" % (am_cpu, am_cpu_post)),
    ("peak RSS MiB", "%.1f" % (q["peak_rss_bytes"] / 1048576), "%.1f" % am_rss),
]
print("%-32s %16s %26s" % ("", "quell", "Alertmanager"))
for r in rows:
    print("%-32s %16s %26s" % r)
print("quell/Alertmanager alerts/s ratio: %.1fx (producer alongside: %.1fx)" %
      ((q["alerts_per_second"] / am_rate if am_rate else 0),
       (live["alerts_per_second"] / am_rate if am_rate else 0)))
print("(quell: via Kafka, a backlog drained from a mock cluster outside its process; live, the"
      " embedded broker inside it counts in its CPU and RSS; Alertmanager: HTTP, %d alerts"
      " notified in %d notifications)" % (am_notif_alerts, am_notif))
PY
