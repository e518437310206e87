#!/usr/bin/env bash
# The static aarch64 `baton run` under qemu-user prints exactly what this (x86) build's
# prints: greedy, the same prompt and model. Both outputs are produced here, at test time.
#   cli_smoke.sh HOST_BATON AARCH64_BATON MODEL CPU EXPECTED_KERNELS
# Exits 77 (ctest: skipped) with the reason when the cross build or qemu is missing.
set -uo pipefail
host="$1" arm="$2" model="$3" cpu="$4" kernels="$5"
qemu="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
[ -n "$qemu" ] || { echo "SKIPPED: qemu-aarch64 not installed (./setup.sh --aarch64 installs it)"; exit 77; }
[ -x "$arm" ] || { echo "SKIPPED: no aarch64 baton at $arm (run tools/cross/build-aarch64.sh)"; exit 77; }

# One file that needs no library: with arm64 multiarch packages installed, qemu would also
# find a dynamic program's libraries on this machine, so running it proves nothing alone.
if command -v file >/dev/null; then
  kind="$(file -b "$arm")"
  case "$kind" in
    *"statically linked"*) ;;
    *) echo "$arm is not statically linked: $kind"; exit 1 ;;
  esac
fi

# The CPU model decides the kernel table (HWCAP under qemu): check it is the expected one.
version="$(timeout 120 "$qemu" -cpu "$cpu" "$arm" --version)" || { echo "baton --version failed under qemu -cpu $cpu"; exit 1; }
table="$(echo "$version" | sed -n 's/^kernels  *\([^ ]*\).*/\1/p')"
if [ "$table" != "$kernels" ]; then
  echo "qemu -cpu $cpu: expected the $kernels kernels, baton --version says:"
  echo "$version"
  exit 1
fi

args=(run --model "$model" --prompt "And God said" --temp 0 --repeat-penalty 1)
expected="$(timeout 300 "$host" "${args[@]}" 2>/dev/null)" || { echo "x86 baton run failed: $host ${args[*]}"; exit 1; }
[ -n "$expected" ] || { echo "x86 baton run printed nothing"; exit 1; }
err="$(mktemp)"
trap 'rm -f "$err"' EXIT
actual="$(timeout 600 "$qemu" -cpu "$cpu" "$arm" "${args[@]}" 2>"$err")" || {
  echo "aarch64 baton run failed under qemu -cpu $cpu:"
  cat "$err"
  exit 1
}
if [ "$expected" == "$actual" ]; then
  echo "aarch64 ($kernels kernels, qemu -cpu $cpu) printed what x86 printed (${#expected} bytes)"
  exit 0
fi
echo "aarch64 under qemu -cpu $cpu printed something else than x86 (< x86, > aarch64):"
diff <(echo "$expected") <(echo "$actual")
exit 1
