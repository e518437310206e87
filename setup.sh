#!/usr/bin/env bash
# Installs baton's build dependencies (Debian packages only) and builds it in Release.
# Idempotent: re-running skips packages that are present and rebuilds incrementally.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential cmake pkg-config git
  libasio-dev
  capnproto libcapnp-dev
  libzmq3-dev cppzmq-dev
  libzstd-dev
  xtensor-dev libxsimd-dev
  libgtest-dev libgmock-dev
  libcpp-httplib-dev nlohmann-json3-dev
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
  libssl-dev
  # test-time tools: dig for mDNS interop; avahi + dbus + iproute2 so the avahi-browse
  # interop test can run in its own network namespace instead of skipping
  bind9-dnsutils avahi-daemon avahi-utils dbus iproute2 util-linux
  # the LAN suite asks a coordinator inside its network namespace for /v1/cluster and
  # /metrics; README's walkthrough uses it too
  curl
  # headless browser for the web page test (tests/integration/web_test.cpp)
  chromium
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
echo "setup: done. Run the tests with: ctest --test-dir build --output-on-failure"
