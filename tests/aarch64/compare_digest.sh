#!/usr/bin/env bash
# Compares the kernel digest of this (x86) build with the aarch64 build's under qemu.
#   compare_digest.sh HOST_DIGEST AARCH64_DIGEST CPU
# Exits 77 (ctest: skipped) with the reason when there is nothing to compare against.
set -uo pipefail
host="$1" arm="$2" cpu="$3"
qemu="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
[ -n "$qemu" ] || { echo "SKIPPED: qemu-aarch64 not installed (./setup.sh --aarch64 installs it)"; exit 77; }
[ -x "$arm" ] || { echo "SKIPPED: no aarch64 build of the digest at $arm (run tools/cross/build-aarch64.sh)"; exit 77; }
# The NEON kernels mirror the AVX2 ones (not the AVX-512 ones, which tile differently).
expected="$(BATON_NO_AVX512=1 "$host")" || { echo "host digest failed"; exit 1; }
case "$expected" in
  "# kernels: avx2"*) ;;
  *) echo "SKIPPED: this CPU runs the ${expected#\# kernels: } kernels here; the NEON ones mirror AVX2"; exit 77 ;;
esac
actual="$("$qemu" -cpu "$cpu" "$arm")" || { echo "aarch64 digest failed under qemu -cpu $cpu"; exit 1; }
# The first line names the table; every other line must match.
if diff <(echo "$expected" | tail -n +2) <(echo "$actual" | tail -n +2); then
  echo "x86 ($(echo "$expected" | head -1 | cut -c3-)) and aarch64 -cpu $cpu ($(echo "$actual" | head -1 | cut -c3-)): identical"
  exit 0
fi
echo "results differ between x86 and aarch64 -cpu $cpu (lines above: < x86, > aarch64)"
exit 1
