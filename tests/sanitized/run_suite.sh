#!/usr/bin/env bash
# Runs one test binary of the sanitizer build (build-asan/): a GoogleTest suite, or a fuzz
# replay given its corpus folder. Any AddressSanitizer or UBSan report fails it (leaks
# included). Exits 77 (ctest: skipped) with the reason when the sanitizer build is absent.
#   run_suite.sh BINARY [ARGS...]
set -uo pipefail
binary="$1"
shift
if [ ! -x "$binary" ]; then
  echo "SKIPPED: no sanitizer build of $(basename "$binary") at $binary (./setup.sh --sanitize builds it)"
  exit 77
fi
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
case "$(basename "$binary")" in
  fuzz_replay_*) exec "$binary" "$@" ;;
  *) exec "$binary" --gtest_brief=1 "$@" ;;
esac
