#!/usr/bin/env bash
# Installs the Debian packages tillstream builds and tests with, only when one
# is missing. `install-deps.sh test` adds what the tests use beyond the build
# (Python's Prometheus parser, and Chromium for the dashboard test, which is
# skipped with a message where Chromium cannot be installed);
# `install-deps.sh bench` adds pandas (the baseline of `make bench`);
# `install-deps.sh fuzz` adds clang and libFuzzer for `make fuzz`.
set -euo pipefail
packages=(cmake g++ make pkg-config librdkafka-dev librocksdb-dev libabsl-dev
  libsimdjson-dev libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev)
optional=()
[ "${1:-}" = fuzz ] && packages+=(clang-14 libclang-rt-14-dev)
[ "${1:-}" = test ] && packages+=(python3 python3-prometheus-client) && optional+=(chromium)
[ "${1:-}" = bench ] && packages+=(python3 python3-pandas)
missing() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
mapfile -t need < <(missing "${packages[@]}")
mapfile -t want < <(missing "${optional[@]+"${optional[@]}"}")
[ ${#need[@]} -eq 0 ] && [ ${#want[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
if [ ${#need[@]} -gt 0 ]; then
  echo "installing missing Debian packages: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if [ ${#want[@]} -gt 0 ]; then
  echo "installing optional Debian packages: ${want[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${want[@]}" ||
    echo "could not install ${want[*]}: the tests that need it will be skipped"
fi
