#!/usr/bin/env bash
# Runs one aarch64 GoogleTest suite under qemu-user with the given CPU model and checks
# that the kernels the CPU model calls for are the ones in use.
#   run_suite.sh SUITE_BINARY CPU EXPECTED_KERNELS
# Exits 77 (ctest: skipped) with the reason when the cross build or qemu is missing.
set -uo pipefail
suite="$1" cpu="$2" kernels="$3"
qemu="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
if [ -z "$qemu" ]; then
  echo "SKIPPED: qemu-aarch64 not installed (./setup.sh --aarch64 installs it)"
  exit 77
fi
if [ ! -x "$suite" ]; then
  echo "SKIPPED: no aarch64 build of $(basename "$suite") at $suite (run tools/cross/build-aarch64.sh)"
  exit 77
fi
# BATON_EXPECT_KERNELS makes Dispatch.ActiveTableIsTheExpectedOne check the table in use.
exec env BATON_EXPECT_KERNELS="$kernels" "$qemu" -cpu "$cpu" "$suite" --gtest_brief=1
