#!/usr/bin/env bash
# Installs the Debian packages quell needs to build and test, only those
# missing; silent when nothing is. Idempotent.
set -euo pipefail

# prometheus-alertmanager brings amtool, which test_amtool drives against
# quell's Alertmanager API (its daemon is not used).
packages=(
  build-essential cmake pkg-config
  librdkafka-dev libxxhash-dev libjemalloc-dev libhiredis-dev
  libprotobuf-c-dev protobuf-c-compiler libyaml-dev libcjson-dev libsimdjson-dev
  libpcre2-dev libcurl4-openssl-dev libmicrohttpd-dev zlib1g-dev liblzma-dev libzstd-dev
  redis-server kcat prometheus wrk prometheus-alertmanager
)
# redis-server also runs as Redis Sentinel (`redis-server FILE --sentinel`,
# what test_sentinel starts); Debian's redis-sentinel package only adds a
# service unit for it, so it is not needed here.

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

# apt's own output goes to a log; one line says what is installed, and the
# log's tail is shown only when apt fails. Another apt (a desktop's
# updater, a second checkout's deps.sh) is waited for, up to 10 minutes,
# instead of failing on its lock.
log=${TMPDIR:-/tmp}/quell-deps.log
echo "deps: installing ${missing[*]} (apt's output: $log)" >&2
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! { $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq && $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  echo "deps: apt-get failed; the end of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
