#!/usr/bin/env bash
# Counts the aarch64 instructions one matvec / matmul call executes, per weight type, with
# each NEON kernel table and with the portable (scalar) one, under qemu-user. qemu runs one
# guest instruction per translation block (-singlestep) and logs every block it executes
# (-d exec,nochain), so the log has one line per executed instruction; two runs of
# baton_kernel_calls with different call counts cancel start-up and data set-up.
#
#   tools/cross/count-insns.sh [BUILD_DIR] [TYPES]
#     BUILD_DIR  the cross build (default build-aarch64/, from tools/cross/build-aarch64.sh)
#     TYPES      comma-separated weight types (default q4_0,q5_0,q5_1,iq4_nl,q4_K,q5_K)
#
# These are instruction counts, not times: a phone's core retires NEON and scalar
# instructions at different rates, stalls on memory, and decode is bandwidth-bound. They say
# how much work each kernel asks of the core, which is what emulation can tell.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD_DIR="$(realpath -m "${1:-$ROOT/build-aarch64}")"
TYPES="${2:-q4_0,q5_0,q5_1,iq4_nl,q4_K,q5_K}"
prog="$BUILD_DIR/bench/baton_kernel_calls"
qemu="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
[ -n "$qemu" ] || { echo "count-insns: qemu-aarch64 not installed (./setup.sh --aarch64 installs it)" >&2; exit 1; }
[ -x "$prog" ] || { echo "count-insns: no $prog; run tools/cross/build-aarch64.sh" >&2; exit 1; }

# Instructions executed by a whole run: CPU TYPE OP CALLS [VAR=VALUE ...]
run_insns() {
  local cpu="$1" type="$2" op="$3" calls="$4"; shift 4
  env "$@" "$qemu" -cpu "$cpu" -singlestep -d exec,nochain -D /dev/fd/3 "$prog" "$type" "$op" "$calls" \
    3>&1 >/dev/null | grep -c '^Trace'
}

# Instructions of one call: the difference of 3 calls and 1 call, halved.
#   CPU TYPE OP [VAR=VALUE ...]
per_call() {
  local a b
  a="$(run_insns "$1" "$2" "$3" 1 "${@:4}")"
  b="$(run_insns "$1" "$2" "$3" 3 "${@:4}")"
  echo $(((b - a) / 2))
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

echo "aarch64 instructions per call (shapes: baton_kernel_calls --help)"
printf '%-7s %-7s %12s %12s %8s %12s %8s\n' type op scalar neon "x fewer" neon-dotprod "x fewer"
for type in ${TYPES//,/ }; do
  for op in matvec matmul; do
    # The portable kernels are built for base ARMv8-A: the same code on either CPU model.
    scalar="$(per_call max "$type" "$op" BATON_FORCE_SCALAR=1)"
    neon="$(per_call cortex-a53 "$type" "$op")"
    dot="$(per_call max "$type" "$op")"
    printf '%-7s %-7s %12d %12d %8s %12d %8s\n' "$type" "$op" "$scalar" "$neon" "$(ratio "$scalar" "$neon")" "$dot" \
      "$(ratio "$scalar" "$dot")"
  done
done
