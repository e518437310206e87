#!/usr/bin/env bash
# Writes tests/model/data/arch-reference/*.json: llama.cpp's logits on small synthesised
# models of every architecture baton runs (llama with and without Llama 3's rope_freqs,
# mistral, qwen2, qwen3, phi3 with and without LongRoPE, gemma2 and gemma3 in f32 and
# quantised, YaRN on llama, qwen2, qwen3 and phi3), for tests/model/arch_reference_test.cpp.
#
# Each case is a `baton model synth` file (tiny: 2 layers, width 256, 8 query / 4 KV heads,
# vocabulary 1024; tiny6: the same with 6 layers, so Gemma 3 has a global layer). The Gemma
# files have a sliding window of 6 positions, which the 24-token sequence reaches past.
# llama.cpp (the npm package node-llama-cpp, prebuilt linux-x64 CPU build,
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
# A case may ask for a larger context (--context N below): llama.cpp's context is at least
# 256 (it rounds up to a multiple of 256), and LongRoPE uses its long factors only when
# that context exceeds the file's original context. Every reference records the context
# llama.cpp ran with, and the test gives baton's KV cache the same size.
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

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; }
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
# mix, see `baton model synth --help`), the size when it is not tiny (or when further synth
# options follow), then those options. tiny-odd's feed-forward width (544) is not a multiple
# of 256, so the K-quant mixes carry Q5_0 / Q5_1 and Q8_0 tensors as well, as downloaded
# Q4_K_M / Q5_K_M files of such models do.
# Gemma ties its head to token_embd, so the quantised Gemma files carry a quantised
# embedding (Q6_K in the Q4_K_M mix, as llama.cpp's quantiser picks for a tied embedding),
# looked up, scaled by sqrt(width) and used as the soft-capped head. tiny6 gives Gemma 3 its
# global layer, the one with the file's linear RoPE scaling (factor 8).
# The llama3 cases carry Llama 3.2's rope_freqs (factor 32) and tied head; their original
# context is 64 instead of 8192, so that the 24 positions compared reach the scaled and
# blended frequencies (with 8192 only angles below 0.03 rad would change).
# The phi3 LongRoPE file has an original context of 256 (context_length 512): llama.cpp's
# smallest context, 256, takes the short factors, a context of 512 the long ones. The YaRN
# files' original context of 64 puts the blended pairs among those that turn noticeably
# within 24 positions (with 4096 only the magnitude factor would show).
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
  "gemma2-tiny-q8_0 gemma2 gemma2 q8_0"
  "gemma2-tiny-q4_K gemma2 gemma2 q4_K"
  "gemma2-tiny-q4_K_M gemma2 gemma2 q4_K_M"
  "gemma3-tiny6-q8_0 gemma3 gemma3 q8_0 tiny6"
  "gemma3-tiny6-q4_K gemma3 gemma3 q4_K tiny6"
  "gemma3-tiny6-q4_K_M gemma3 gemma3 q4_K_M tiny6"
  "llama3-tiny-f32 llama llama f32 tiny --rope-scaling llama3 --rope-factor 32 --rope-original-context 64 --tied-output"
  "llama3-tiny-q8_0 llama llama q8_0 tiny --rope-scaling llama3 --rope-factor 32 --rope-original-context 64 --tied-output"
  "qwen3-tiny-f32 qwen3 qwen3 f32"
  "qwen3-tiny-q8_0 qwen3 qwen3 q8_0"
  "phi3-tiny-f32 phi3 phi3 f32"
  "phi3-tiny-q4_K phi3 phi3 q4_K"
  "phi3-longrope-short-f32 phi3 phi3 f32 tiny --rope-scaling longrope --rope-original-context 256"
  "phi3-longrope-long-f32 phi3 phi3 f32 tiny --rope-scaling longrope --rope-original-context 256 --context 512"
  "phi3-longrope-long-q4_K phi3 phi3 q4_K tiny --rope-scaling longrope --rope-original-context 256 --context 512"
  "qwen3-yarn-f32 qwen3 qwen3 f32 tiny --rope-scaling yarn --rope-factor 4 --rope-original-context 64"
  "llama-yarn-f32 llama llama f32 tiny --rope-scaling yarn --rope-factor 4 --rope-original-context 64"
  "qwen2-yarn-f32 qwen2 qwen2 f32 tiny --rope-scaling yarn --rope-factor 4 --rope-original-context 64"
  "phi3-yarn-f32 phi3 phi3 f32 tiny --rope-scaling yarn --rope-factor 4 --rope-original-context 64"
  "phi3-yarn-q4_K phi3 phi3 q4_K tiny --rope-scaling yarn --rope-factor 4 --rope-original-context 64"
)

# The further synth options as fields of the reference's "synth" object, which the test
# turns back into the same options.
extra_json() {
  local json="" a
  set -- $1
  while [[ $# -gt 0 ]]; do
    a="$1"; shift
    case "$a" in
      --rope-scaling) json="$json,\"rope_scaling\":\"$1\""; shift ;;
      --rope-factor) json="$json,\"rope_factor\":$1"; shift ;;
      --rope-original-context) json="$json,\"rope_original_context\":$1"; shift ;;
      --tied-output) json="$json,\"tied_output\":true" ;;
      *) echo "make-arch-references.sh: no JSON field for synth option '$a'" >&2; exit 1 ;;
    esac
  done
  printf '%s' "$json"
}

for c in "${cases[@]}"; do
  read -r name arch ref_arch dtype case_size options <<< "$c"
  size="${case_size:-tiny}"
  [[ -z "$cases_wanted" || "$cases_wanted" == *",$name,"* ]] || continue
  # --context is for llama.cpp; the rest are synth options.
  context=""
  extra=""
  set -- $options
  while [[ $# -gt 0 ]]; do
    if [[ "$1" == "--context" ]]; then context="$2"; shift 2; else extra="$extra $1"; shift; fi
  done
  file="$work/$name.gguf"
  # shellcheck disable=SC2086  # extra is a list of options
  "$baton" model synth --arch "$arch" --size "$size" --dtype "$dtype" --seed "$seed" $extra -o "$file" > /dev/null 2>&1
  ref_file="$file"
  if [[ "$ref_arch" != "$arch" ]]; then
    ref_file="$work/$name.as-$ref_arch.gguf"
    # shellcheck disable=SC2086
    "$baton" model synth --arch "$ref_arch" --size "$size" --dtype "$dtype" --seed "$seed" $extra -o "$ref_file" > /dev/null 2>&1
  fi
  sha="$(sha256sum "$file" | cut -d' ' -f1)"
  fields="$(extra_json "$extra")"
  meta="$(printf '{"format":1,"generated_by":"tools/reference/make-arch-references.sh","synth":{"arch":"%s","size":"%s","dtype":"%s","tokenizer":"llama","seed":%d%s},"file_sha256":"%s","llama_cpp_read_architecture":"%s"}' \
    "$arch" "$size" "$dtype" "$seed" "$fields" "$sha" "$ref_arch")"
  echo "$name: llama.cpp on $(basename "$ref_file")" >&2
  LLAMA_REF_DIR="$ref_dir" node "$here/llama_cpp_logits.mjs" "$ref_file" "$prompt" 12 "$stride" "$top" "$meta" $context \
      > "$out_dir/$name.json"
done
ls -l "$out_dir" >&2
