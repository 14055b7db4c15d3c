#!/usr/bin/env bash
# Installs the Debian packages tillstream builds and tests with, only when one
# is missing. `install-deps.sh fuzz` adds clang and libFuzzer for `make fuzz`.
set -euo pipefail
packages=(cmake g++ make pkg-config librdkafka-dev librocksdb-dev libabsl-dev
  libsimdjson-dev libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev)
[ "${1:-}" = fuzz ] && packages+=(clang-14 libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing missing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
