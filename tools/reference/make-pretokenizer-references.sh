#!/usr/bin/env bash
# Writes tests/model/data/pretokenizer-reference.json: how llama.cpp splits each text of
# tools/reference/pretokenizer-cases.json before BPE, for every tokenizer.ggml.pre name of
# a byte-level BPE vocabulary that llama.cpp knows, for tests/model/pretokenizer_reference_test.cpp.
#
# llama.cpp (the npm package node-llama-cpp, prebuilt linux-x64 CPU build, installed on
# first use into build/llama-ref/ as tools/bench/against-llama-cpp.sh does) loads a
# vocabulary-only GGUF built so that every piece comes out as one token (see
# llama_cpp_pretokenize.mjs); the test compares baton's pieces with those for every name
# baton accepts. Names llama.cpp refuses are listed under "refused".
#
# Names left out: gemma4, sarvam-moe, granite-embed-multi-311m and whitespace encode raw
# UTF-8 rather than GPT-2's byte characters, so a byte-level vocabulary cannot show their
# pieces (and baton refuses them).
#
# usage: tools/reference/make-pretokenizer-references.sh [--out FILE]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/tests/model/data/pretokenizer-reference.json"
ref_dir="$root/build/llama-ref"
work="$root/build/pretokenizer-reference"
node_llama_cpp_version=3.22.1

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

source "$here/../bench/llama-ref.sh"
ensure_llama_ref "$ref_dir" "$node_llama_cpp_version"

# Every name of llama.cpp's table (src/llama-vocab.cpp, llama_vocab::impl::load) for a
# byte-level BPE vocabulary, and "gpt2" and "gpt-neox", which baton also accepts.
names=(
  default gpt2 gpt-neox gpt-2 phi-2 mpt olmo jais trillion granite-docling exaone4 gigachat a.x-4.0 mellum
  jina-es jina-de jina-v2-es jina-v2-de modern-bert jina-v1-en jina-v2-code roberta-bpe
  llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2 jina-v5-nano
  dbrx smaug-bpe glm4 chatglm-bpe jais-2 minicpm5
  qwen2 deepseek-r1-qwen kormo f2llmv2 megrez stablelm2 hunyuan solar-open qwen35
  bailingmoe bailingmoe2 llada-moe grok-2 ufakzeka seed-coder laguna
  starcoder refact smollm command-r codeshell exaone minerva-7b mellum2
  falcon deepseek-llm deepseek-coder
  deepseek-v3 hunyuan-dense hy_v4 joyai-llm spark2_5 afmoe
  gpt-4o llama4 kanana2 talkie minimax-m2 tekken youtu tiny_aya cohere2moe granite-embed-multi-97m
  kimi-k2 superbpe poro-chat bloom gpt3-finnish viking exaone-moe chameleon
)

LLAMA_REF_DIR="$ref_dir" node "$here/llama_cpp_pretokenize.mjs" "$here/pretokenizer-cases.json" "$out" "$work" "${names[@]}"
echo "wrote $out" >&2
