#!/usr/bin/env bash
# Installs what tools/cross/build-aarch64.sh needs, from Debian only: the aarch64 cross
# toolchain, qemu-user to run the result, Debian's arm64 -dev packages next to the amd64
# ones (multiarch), and deb-src entries so the libraries Debian ships for arm64 without a
# usable static archive can be built from Debian's source packages. Idempotent; called
# by ./setup.sh --aarch64.
set -euo pipefail

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=0
apt_update() { ((apt_updated)) || { $SUDO apt-get update -q; apt_updated=1; }; }

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup-aarch64: adding the arm64 architecture (multiarch)"
  $SUDO dpkg --add-architecture arm64
  apt_updated=0
fi

# deb-src entries mirroring the deb ones (deb822 sources or a one-line sources.list).
if ! apt-get source --print-uris -q fmtlib >/dev/null 2>&1; then
  echo "setup-aarch64: enabling Debian source packages (deb-src)"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      $SUDO tee /etc/apt/sources.list.d/baton-deb-src.sources >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
      $SUDO tee /etc/apt/sources.list.d/baton-deb-src.list >/dev/null
  else
    echo "setup-aarch64: no Debian sources list found to add deb-src entries to" >&2
    exit 1
  fi
  apt_updated=0
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# qemu-user-static where Debian has it, else qemu-user (either gives qemu-aarch64).
qemu=qemu-user-static
if installed qemu-user && ! installed qemu-user-static; then
  qemu=qemu-user
elif ! installed qemu-user-static; then
  apt_update
  apt-cache show qemu-user-static >/dev/null 2>&1 || qemu=qemu-user
fi
PACKAGES=(
  g++-aarch64-linux-gnu dpkg-dev file python3 "$qemu"  # python3: cpp-httplib splits its header
  # arm64 libraries with static archives that baton links as they are
  libcapnp-dev:arm64 libzstd-dev:arm64 libssl-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup-aarch64: installing ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup-aarch64: cross toolchain, qemu and arm64 libraries present"
fi
