#!/usr/bin/env bash
# Throwaway single-node Apache Kafka 3.9.x (KRaft, loopback only) for integration tests.
#   kafka-local.sh fetch        resolve the broker jars from Maven Central into the cache
#   kafka-local.sh start DIR    start a fresh broker in DIR, print "127.0.0.1:PORT" on stdout
#   kafka-local.sh stop DIR     stop the broker started in DIR (idempotent)
# Not Kafka 4.x: it removed consumer-group protocol versions librdkafka 2.0.2 still needs.
# Jars come only via mvn from Maven Central (the only network we may rely on), no tarball.
set -euo pipefail

CACHE=${QUELL_KAFKA_CACHE:-$HOME/.cache/quell/kafka-3.9.x}
VERSIONS=${QUELL_KAFKA_VERSION:-"3.9.1 3.9.0"}   # first one that resolves wins
SLF4J_VERSION=1.7.36                             # the slf4j-api line Kafka 3.9 is built with
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1   # pinned for reproducibility
LIBS=$CACHE/libs
MARKER=$CACHE/.fetched

die() { echo "kafka-local: $*" >&2; exit 1; }
need_tools() {
  local t; for t in "$@"; do command -v "$t" >/dev/null 2>&1 || die "'$t' not found in PATH (needed for the local Kafka broker)"; done
}

fetch() {
  need_tools java
  [[ -f $MARKER ]] && return 0
  need_tools mvn flock
  mkdir -p "$CACHE"
  # Parallel test runners may fetch at once: serialise on a lock. Redirecting on the call
  # (not `exec 9>`) keeps the lock fd from leaking into the long-lived broker process.
  fetch_locked 9>"$CACHE/.lock"
}

fetch_locked() {
  flock 9
  [[ -f $MARKER ]] && return 0
  local v
  for v in $VERSIONS; do
    rm -rf "$LIBS"
    # kafka_2.13 logs via slf4j but brings no binding; without slf4j-reload4j we'd get no log.
    cat >"$CACHE/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>quell.local</groupId><artifactId>kafka-local</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$v</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>$SLF4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
    echo "kafka-local: fetching Kafka $v jars via Maven into $LIBS ..." >&2
    # mvn output goes to a log (shown only on failure): `start` reserves stdout for the
    # bootstrap line, and Maven 3.8 -q still emits stray ANSI resets.
    # -U: retry artifacts whose earlier "not found" Maven cached in ~/.m2.
    if mvn -q -B -U -f "$CACHE/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
         -DoutputDirectory="$LIBS" -Dmdep.includeScope=runtime >"$CACHE/mvn.log" 2>&1; then
      echo "$v" >"$MARKER"; return 0
    fi
    grep -a -m1 "ERROR\]" "$CACHE/mvn.log" | sed "s/\x1b\[[0-9;]*m//g" >&2 || true
    echo "kafka-local: Kafka $v did not resolve (full output: $CACHE/mvn.log)" >&2
  done
  die "could not fetch any of: $VERSIONS"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {  # random probing: no python/ss needed; collisions are unlikely in a 25k range
  local p i; for i in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 25000 ))
    [[ $p != "${1:-}" ]] && ! port_in_use "$p" && { echo "$p"; return 0; }
  done
  die "no free loopback port found"
}

# Trust a pid only while it is still our broker: pids get reused, and a zombie (empty
# cmdline) counts as dead, which `kill -0` would not tell us.
running_pid() {
  local pid; pid=$(cat "$1/kafka.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && grep -qa 'kafka\.Kafka' "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

# An exiting process loses its cmdline before it is gone, so wait on its state instead;
# a zombie counts as gone (PID 1 in a container may never reap it).
alive() { local st; st=$(cut -d" " -f3 "/proc/$1/stat" 2>/dev/null) && [[ $st != Z ]]; }

stop() {
  local dir=$1 pid i
  if pid=$(running_pid "$dir"); then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 125); do   # TERM gets 20 s, then KILL
      alive "$pid" || break
      (( i == 100 )) && kill -KILL "$pid" 2>/dev/null
      sleep 0.2
    done
    # Give PID 1 a moment to reap it, so callers checking `kill -0` right after see it gone.
    for i in $(seq 1 30); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
  fi
  rm -f "$dir/kafka.pid"
}

fail_start() {
  echo "kafka-local: broker failed to start: $*" >&2
  local f; for f in "$DIR/stdout.log" "$DIR/kafka.log"; do
    [[ -s $f ]] && { echo "---- tail $f ----"; tail -n 40 "$f"; } >&2
  done
  stop "$DIR"
  exit 1
}

start() {
  fetch
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  running_pid "$DIR" >/dev/null && die "a broker is already running from $DIR (pid $(cat "$DIR/kafka.pid"))"
  # Always a fresh broker: old data would carry a stale cluster id and old test topics.
  rm -rf "$DIR/data" "$DIR/kafka.log" "$DIR/stdout.log" "$DIR/bootstrap" "$DIR/kafka.pid"
  local port cport cid pid="" deadline cp="$LIBS/*"
  # QUELL_KAFKA_GC=zgc: the broker collects with ZGC (pauses under a millisecond,
  # some CPU more) instead of G1, whose 15-30 ms young pauses are the tail of
  # decision latency measured through this broker (docs/performance.md).
  local gc=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20) heap=(-Xmx512m -Xms256m)
  # ZGC in 512 MiB collected every 2-5 s during a 45,000 alerts/s latency run
  # and stalled request threads for lack of free heap (-Xlog:gc: "Allocation
  # Stall" of 5-36 ms, four in ten minutes of benches): it gets a fixed 2 GiB,
  # touched at start so no page fault lands on a request either.
  [[ ${QUELL_KAFKA_GC:-g1} == zgc ]] && gc=(-XX:+UseZGC) heap=(-Xmx2g -Xms2g -XX:+AlwaysPreTouch)
  local jvm=("${gc[@]}" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
             "-Dlog4j.configuration=file:$DIR/log4j.properties")
  port=$(free_port); cport=$(free_port "$port")

  # Internal topics get few partitions and the cleaner a tiny buffer (default 128 MiB)
  # so the broker fits in a small heap and comes up fast. No time retention: replayed
  # storms (quell load, quell bench's backlog runs) carry event times months old as
  # their Kafka timestamps, and the 7-day default deleted them within the first
  # retention check, before quell had read them.
  # Settings a production single broker on 2 cores would have, and why (read against
  # decision latency, docs/performance.md, "The broker's settings and its share of the
  # cores"; a 100 us scheduler slice for its threads, as quell's have, was measured
  # there and not kept):
  # - num.network.threads / num.io.threads 2 each (defaults 3 and 8): one of each per
  #   core; more only adds threads waiting for the same 2 cores.
  # - log.flush.* left unset: Kafka's default (no fsync per append; the kernel writes
  #   back) is what production runs, durability coming from replication. An fsync per
  #   message or interval would put the disk on every produce's ack.
  # - log.preallocate left false: it only matters when a segment rolls (1 GiB here,
  #   not reached in a bench run) and on filesystems that fragment.
  # - replica.fetch.* and num.replica.fetchers do not apply: one broker, no followers,
  #   so the high watermark moves with the append and a consumer's fetch is answered
  #   as soon as a produce to one of its partitions is appended.
  # - group.initial.rebalance.delay.ms 0: a test's or bench's single consumer is
  #   assigned at once instead of after 3 s.
  cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DIR/data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.cleaner.dedupe.buffer.size=8388608
log.retention.ms=-1
EOF
  # WARN overall, but the server lifecycle at INFO: we wait for its "started" line.
  cat >"$DIR/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$DIR/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
log4j.logger.kafka.server.ControllerServer=INFO
EOF

  cid=$(java -Xmx128m "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$DIR/stdout.log") \
    || fail_start "StorageTool random-uuid"
  java -Xmx128m "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$cid" -c "$DIR/server.properties" \
    >>"$DIR/stdout.log" 2>&1 || fail_start "StorageTool format"

  # setsid+nohup: the broker must outlive this script and the caller's session/signals.
  # The wrapper writes its own pid just before exec'ing java, so the pid file is exact
  # whether or not setsid had to fork.
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$DIR/kafka.pid" \
    java "${heap[@]}" "${jvm[@]}" -cp "$cp" kafka.Kafka "$DIR/server.properties" \
    </dev/null >>"$DIR/stdout.log" 2>&1 &
  disown  # no "Killed" job chatter from this shell if the broker dies early

  deadline=$((SECONDS + 90))
  while (( SECONDS < deadline )); do
    [[ -n $pid ]] || pid=$(cat "$DIR/kafka.pid" 2>/dev/null || true)
    [[ -n $pid ]] && ! running_pid "$DIR" >/dev/null && fail_start "broker process $pid exited"
    if grep -q 'Kafka Server started' "$DIR/kafka.log" 2>/dev/null && port_in_use "$port"; then
      echo "127.0.0.1:$port" | tee "$DIR/bootstrap"; return 0
    fi
    sleep 0.3
  done
  fail_start "not ready within 90 s"
}

case "${1:-}" in
  fetch) need_tools java mvn; fetch ;;
  start) [[ $# -eq 2 ]] || die "usage: $0 start DIR"; DIR=$2
         # Where Java or Maven is missing the real-broker tests are skipped, saying so:
         # no bootstrap file is written and the tests that need it report a skip.
         if ! command -v java >/dev/null 2>&1 || { [[ ! -f $MARKER ]] && ! command -v mvn >/dev/null 2>&1; }; then
           rm -f "$DIR/bootstrap"
           echo "kafka-local: SKIP: java or mvn not installed; real-Kafka tests will be skipped" >&2
           exit 0
         fi
         need_tools java setsid nohup
         # A free port can be taken by someone else between the probe and the
         # broker's bind ("Unable to start acceptor"): try fresh ports again.
         for attempt in 1 2 3; do
           (start) && exit 0
           echo "kafka-local: attempt $attempt failed; retrying on other ports" >&2
         done
         exit 1 ;;
  stop)  [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 {fetch | start DIR | stop DIR}" ;;
esac
