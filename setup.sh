#!/usr/bin/env bash
# Installs baton's build dependencies (Debian packages only) and builds it in Release.
# Idempotent: re-running skips packages that are present and rebuilds incrementally.
#
#   ./setup.sh             the x86 (host) build in build/
#   ./setup.sh --aarch64   also Debian's aarch64 cross toolchain, the arm64 libraries and
#                          qemu-user, then the static aarch64 build in build-aarch64/
#                          (tools/cross/build-aarch64.sh), whose suites ctest runs under
#                          qemu. CI uses this; the first run takes a while longer.
#   ./setup.sh --sanitize  also the unit suites and fuzz replays with AddressSanitizer and
#                          UndefinedBehaviorSanitizer in build-asan/, which the same ctest
#                          then runs (tests/sanitized/). CI uses this too. For everything,
#                          integration suites included, build build-asan/ in full and run
#                          ctest --test-dir build-asan --output-on-failure
set -euo pipefail
cd "$(dirname "$0")"

AARCH64=0
SANITIZE=0
for arg in "$@"; do
  case "$arg" in
    --aarch64) AARCH64=1 ;;
    --sanitize) SANITIZE=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

PACKAGES=(
  build-essential cmake pkg-config git
  libasio-dev
  capnproto libcapnp-dev
  libzmq3-dev cppzmq-dev
  libzstd-dev
  libgtest-dev libgmock-dev
  libcpp-httplib-dev nlohmann-json3-dev
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
  libssl-dev libedit-dev
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
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

AARCH64_FAILED=0
if ((AARCH64)); then
  # The x86 build does not depend on this part, so it is still made if this fails; but
  # setup then ends with an error: --aarch64 asked for the static aarch64 baton.
  if ! { ./tools/cross/setup-aarch64.sh && ./tools/cross/build-aarch64.sh build-aarch64; }; then
    AARCH64_FAILED=1
  fi
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
if ((SANITIZE)); then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBATON_SANITIZE=ON
  cmake --build build-asan -j2 --target baton_sanitized_suites
  echo "setup: sanitizer build of the unit suites and fuzz replays in build-asan/ (ctest runs them as sanitized.*)"
fi
if ((AARCH64_FAILED)); then
  echo "setup: ERROR: the aarch64 cross build failed (its output is above); the x86 build in build/ is done" >&2
  exit 1
fi
echo "setup: done. Run the tests with: ctest --test-dir build --output-on-failure"
