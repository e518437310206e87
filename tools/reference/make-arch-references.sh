#!/usr/bin/env bash
# Writes tests/model/data/arch-reference/*.json: llama.cpp's logits on small synthesised
# models of every architecture baton runs, for tests/model/arch_reference_test.cpp.
#
# Each case is a `baton model synth` file (tiny: 2 layers, width 256, 8 query / 4 KV heads,
# vocabulary 1024; tiny6: the same with 6 layers, so Gemma 3 has a global layer). The Gemma
# files have a sliding window of 6 positions, which the 24-token sequence reaches past. llama.cpp (the npm package node-llama-cpp, prebuilt linux-x64 CPU build,
# installed on first use into build/llama-ref/ as tools/bench/against-llama-cpp.sh does)
# evaluates a fixed 12-token prompt and continues greedily for 12 tokens; every row keeps
# its 16 largest logits and every 16th vocabulary id. The test synthesises the same file,
# checks its SHA-256 against the one recorded here and compares baton's logits.
#
# llama.cpp has no "mistral" architecture (Mistral models are converted as "llama"), so
# the Mistral case gives llama.cpp the same tensors written under "llama" and baton the
# file written under "mistral". (Llama itself is checked against PyTorch on the shipped
# trained model: models/baton-kjv-5m.ref.json.)
#
# Run it again whenever the synthesiser changes (the test says so when the hash differs).
#
# usage: tools/reference/make-arch-references.sh [--baton PATH] [--stride N] [--out DIR] [--cases NAME,...]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
baton="$root/build/baton"
out_dir="$root/tests/model/data/arch-reference"
stride=16
top=16
ref_dir="$root/build/llama-ref"
work="$root/build/arch-reference"
node_llama_cpp_version=3.22.1
seed=19

cases_wanted=""

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --baton) baton="$2"; shift 2 ;;
    --stride) stride="$2"; shift 2 ;;
    --out) out_dir="$2"; shift 2 ;;
    --cases) cases_wanted=",$2,"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

[[ -x "$baton" ]] || { echo "no baton binary at $baton: build it first (cmake --build build --target baton) or pass --baton" >&2; exit 1; }
source "$here/../bench/llama-ref.sh"
ensure_llama_ref "$ref_dir" "$node_llama_cpp_version"

mkdir -p "$work" "$out_dir"
# Token 1 (BOS) and then ids spread over the vocabulary, as `baton bench` picks them.
prompt="1"
for i in $(seq 1 11); do prompt="$prompt,$(( (i * 7919 + 13) % 1024 ))"; done

# case name, architecture baton reads, architecture llama.cpp reads, weight type (or a
# mix, see `baton model synth --help`), and the size when it is not tiny. tiny-odd's
# feed-forward width (544) is not a multiple of 256, so the K-quant mixes carry Q5_0 / Q5_1
# and Q8_0 tensors as well, as downloaded Q4_K_M / Q5_K_M files of such models do.
cases=(
  "qwen2-tiny-f32 qwen2 qwen2 f32"
  "qwen2-tiny-f16 qwen2 qwen2 f16"
  "qwen2-tiny-bf16 qwen2 qwen2 bf16"
  "qwen2-tiny-q8_0 qwen2 qwen2 q8_0"
  "qwen2-tiny-q6_K qwen2 qwen2 q6_K"
  "qwen2-tiny-q4_K qwen2 qwen2 q4_K"
  "qwen2-tiny-q4_0 qwen2 qwen2 q4_0"
  "mistral-tiny-f32 mistral llama f32"
  "llama-tiny-q5_0 llama llama q5_0"
  "llama-tiny-q5_1 llama llama q5_1"
  "llama-tiny-iq4_nl llama llama iq4_nl"
  "llama-tiny-q5_K llama llama q5_K"
  "llama-tiny-odd-q4_K_M llama llama q4_K_M tiny-odd"
  "llama-tiny-odd-q5_K_M llama llama q5_K_M tiny-odd"
  "gemma2-tiny-f32 gemma2 gemma2 f32"
  "gemma3-tiny6-f32 gemma3 gemma3 f32 tiny6"
)
for c in "${cases[@]}"; do
  read -r name arch ref_arch dtype case_size <<< "$c"
  size="${case_size:-tiny}"
  [[ -z "$cases_wanted" || "$cases_wanted" == *",$name,"* ]] || continue
  file="$work/$name.gguf"
  "$baton" model synth --arch "$arch" --size "$size" --dtype "$dtype" --seed "$seed" -o "$file" > /dev/null 2>&1
  ref_file="$file"
  if [[ "$ref_arch" != "$arch" ]]; then
    ref_file="$work/$name.as-$ref_arch.gguf"
    "$baton" model synth --arch "$ref_arch" --size "$size" --dtype "$dtype" --seed "$seed" -o "$ref_file" > /dev/null 2>&1
  fi
  sha="$(sha256sum "$file" | cut -d' ' -f1)"
  meta="$(printf '{"format":1,"generated_by":"tools/reference/make-arch-references.sh","synth":{"arch":"%s","size":"%s","dtype":"%s","tokenizer":"llama","seed":%d},"file_sha256":"%s","llama_cpp_read_architecture":"%s"}' \
    "$arch" "$size" "$dtype" "$seed" "$sha" "$ref_arch")"
  echo "$name: llama.cpp on $(basename "$ref_file")" >&2
  LLAMA_REF_DIR="$ref_dir" node "$here/llama_cpp_logits.mjs" "$ref_file" "$prompt" 12 "$stride" "$top" "$meta" > "$out_dir/$name.json"
done
ls -l "$out_dir" >&2
