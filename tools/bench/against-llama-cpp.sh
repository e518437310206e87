#!/usr/bin/env bash
# Side-by-side speed of baton and llama.cpp on the same GGUF files, measured in one run.
#
# llama.cpp comes from the npm package node-llama-cpp (its prebuilt linux-x64 CPU build,
# driven through its JS API), installed on first use into build/llama-ref/. The models are
# synthesised 110M llamas, one per weight type, written by `baton model synth` into
# build/bench-models/. Every (type, threads) pair is measured in each round, the two
# engines back to back in alternating order, each in a fresh process, so load from other
# work on the machine falls on both. Prints the ranges over the rounds and the ratios.
#
# usage: tools/bench/against-llama-cpp.sh [--rounds N] [--threads 1,2] [--dtypes f32,q8_0,q4_0,q4_K,q6_K]
#                                         [--size 110m] [--prompt-tokens 128] [--gen-tokens 64]
#                                         [--baton PATH] [--out results.jsonl] [--table-only results.jsonl]
#                                         [--before VAR=VALUE] [--before-baton PATH]
#
# --dtypes takes any type `baton model synth --dtype` writes (also q5_0, q5_1, iq4_nl, q5_K
# and the mixes q4_K_M, q5_K_M).
#
# --before VAR=VALUE also runs baton with that environment (e.g. BATON_NO_AVX512=1 for the
# AVX2 kernels) in the same rounds, shown as "baton-before". --before-baton PATH does the
# same with another baton binary (e.g. a build of main before a change).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=2
threads=1,2
dtypes=f32,q8_0,q4_0,q4_K,q6_K
size=110m
prompt_tokens=128
gen_tokens=64
baton="$root/build/baton"
out=""
before_env=""
before_baton=""
ref_dir="$root/build/llama-ref"
models_dir="$root/build/bench-models"
node_llama_cpp_version=3.22.1

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --dtypes) dtypes="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --prompt-tokens) prompt_tokens="$2"; shift 2 ;;
    --gen-tokens) gen_tokens="$2"; shift 2 ;;
    --baton) baton="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --before) before_env="$2"; shift 2 ;;
    --before-baton) before_baton="$2"; shift 2 ;;
    --table-only) exec node "$here/ratio_table.mjs" "$2" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

[[ -x "$baton" ]] || { echo "no baton binary at $baton: build it first (cmake --build build --target baton) or pass --baton" >&2; exit 1; }
[[ -z "$before_baton" || -x "$before_baton" ]] || { echo "--before-baton: no executable at $before_baton" >&2; exit 1; }
source "$here/llama-ref.sh"
ensure_llama_ref "$ref_dir" "$node_llama_cpp_version"

mkdir -p "$models_dir"
IFS=, read -r -a dtype_list <<< "$dtypes"
IFS=, read -r -a thread_list <<< "$threads"
for dt in "${dtype_list[@]}"; do
  f="$models_dir/synth-$size-$dt.gguf"
  [[ -f "$f" ]] || "$baton" model synth --size "$size" --dtype "$dt" -o "$f" >&2
done

[[ -n "$out" ]] || out="$(mktemp -t baton-vs-llama-XXXXXX.jsonl)"
: > "$out"
echo "results: $out" >&2

run_llama() {
  LLAMA_REF_DIR="$ref_dir" node "$here/llama_cpp_run.mjs" "$1" "$2" "$prompt_tokens" "$gen_tokens" >> "$out"
}
run_baton_now() {
  "$baton" bench --json -m "$1" -t "$2" --prompt-tokens "$prompt_tokens" --gen-tokens "$gen_tokens" >> "$out"
}
run_baton_before() {
  env ${before_env:+"$before_env"} "${before_baton:-$baton}" bench --json -m "$1" -t "$2" --prompt-tokens "$prompt_tokens" \
      --gen-tokens "$gen_tokens" | sed 's/"engine":"baton"/"engine":"baton-before"/' >> "$out"
}
# With a before column, the two batons also alternate who goes first (round is the loop's).
run_baton() {
  if [[ -z "$before_env" && -z "$before_baton" ]]; then
    run_baton_now "$1" "$2"
  elif (( round % 2 == 1 )); then
    run_baton_now "$1" "$2"; run_baton_before "$1" "$2"
  else
    run_baton_before "$1" "$2"; run_baton_now "$1" "$2"
  fi
}

for ((round = 1; round <= rounds; ++round)); do
  for dt in "${dtype_list[@]}"; do
    f="$models_dir/synth-$size-$dt.gguf"
    for t in "${thread_list[@]}"; do
      echo "round $round/$rounds: $dt, $t thread(s)" >&2
      # Alternate who goes first so neither always gets the warmer (or quieter) slot.
      if (( round % 2 == 1 )); then run_llama "$f" "$t"; run_baton "$f" "$t"; else run_baton "$f" "$t"; run_llama "$f" "$t"; fi
    done
  done
done

node "$here/ratio_table.mjs" "$out"
