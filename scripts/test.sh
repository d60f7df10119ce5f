#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test
# (unit, fuzz smoke, integration against the embedded mock cluster and a
# real Apache Kafka broker) and prints ctest's summary.
# QUELL_SANITIZE=1 builds with ASan+UBSan into build-sanitize/ instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if [[ ${QUELL_SANITIZE:-0} == 1 ]]; then
  export QUELL_BUILD_DIR=build-sanitize
  scripts/build.sh -DQUELL_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
else
  export QUELL_BUILD_DIR=build
  scripts/build.sh
fi
# Fetch the real broker's jars before the clock of any test starts.
scripts/kafka-local.sh fetch || echo "test: real Kafka unavailable; its tests will be skipped" >&2
cd "$QUELL_BUILD_DIR"
rc=0
# Three at a time: most integration tests wait on timers, group joins and
# killed processes (test_crash: 200 s of wall time, 10 s of CPU), so on two
# cores the suite takes about a third of its serial time. QUELL_TEST_JOBS=1
# runs one at a time.
ctest --output-on-failure --timeout 900 -j "${QUELL_TEST_JOBS:-3}" "$@" || rc=$?
# Checks that could not run here (no ../shared/data, no redis-server, no
# Java for the real broker) print one "SKIP" line each; say how many and why.
log=Testing/Temporary/LastTest.log
if [[ -f $log ]] && grep -qE '^SKIP[ :]' "$log"; then
  echo "test: $(grep -cE '^SKIP[ :]' "$log") checks skipped:"
  grep -E '^SKIP[ :]' "$log" | sed -E 's/^SKIP:? */  /'
else
  echo "test: no check skipped"
fi
exit "$rc"
