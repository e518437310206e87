#!/usr/bin/env bash
# Size and held-out perplexity of the shipped model in each weight type: quantises
# models/baton-kjv-5m.f32.gguf with `baton model quantize` into build/quant-table/ and
# scores every file with `baton model perplexity` on the held-out text the model was
# evaluated on in training (windows of 256, as MODEL.md's 57.9). Prints a Markdown table.
#
# usage: tools/bench/quantize-table.sh [TEXT]
#   TEXT defaults to tools/train/work/heldout.txt, written on first use from the Debian
#   packages bible-kjv and fortunes (tools/train/prepare_data.py, then heldout_text.py).
# Environment: BATON (the binary, default build/baton), THREADS (default 2),
#   LLAMA_REF_DIR: a folder with node-llama-cpp installed (tools/bench/llama-ref.sh); when
#   set, llama.cpp's forward pass is scored the same way on the f32 and q8_0 files too,
#   over the first LLAMA_WINDOWS windows (default 20; 0: all, slow through its JS API).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
baton=${BATON:-$root/build/baton}
threads=${THREADS:-2}
out=$root/build/quant-table
src=$root/models/baton-kjv-5m.f32.gguf
text=${1:-$root/tools/train/work/heldout.txt}
py=/usr/bin/python3

if [[ ! -f $text ]]; then
  work=$root/tools/train/work
  [[ -f $work/val.jsonl ]] || (cd "$root/tools/train" && $py prepare_data.py --out work >/dev/null)
  $py "$root/tools/train/heldout_text.py" --work "$work" >&2
  text=$work/heldout.txt
fi
mkdir -p "$out"

# file label type [--mixed]
variants=("f32.gguf|f32 (shipped)|" "f16.gguf|f16|f16" "q8_0.gguf|q8_0|q8_0" "q6_K.gguf|q6_K|q6_K" "q4_K.gguf|q4_K|q4_K"
          "q4_0.gguf|q4_0|q4_0" "q4_K-mixed.gguf|q4_K --mixed|q4_K --mixed" "q4_0-mixed.gguf|q4_0 --mixed|q4_0 --mixed"
          "shipped-q4_0|q4_0, head q8_0 (shipped, from PyTorch)|")
json() { $py -c "import json,sys; d=json.load(sys.stdin); print(d[sys.argv[1]])" "$1"; }

echo "| weights | file size | perplexity | mean NLL (nats/token) |"
echo "|---|---|---|---|"
for v in "${variants[@]}"; do
  IFS='|' read -r file label args <<<"$v"
  if [[ $file == shipped-q4_0 ]]; then
    path=$root/models/baton-kjv-5m.q4_0.gguf
  elif [[ -z $args ]]; then
    path=$src
  else
    path=$out/$file
    # shellcheck disable=SC2086  # args holds the type and maybe --mixed
    "$baton" model quantize "$src" "$path" --threads "$threads" --type $args >/dev/null
  fi
  r=$("$baton" model perplexity "$path" --text "$text" --special --context 256 --threads "$threads" --json 2>/dev/null)
  size=$(stat -c %s "$path")
  printf '| %s | %s MB | %.3f ± %.3f | %.4f |\n' "$label" "$(awk -v b="$size" 'BEGIN { printf "%.2f", b / 1e6 }')" \
    "$(echo "$r" | json perplexity)" "$(echo "$r" | json perplexity_stderr)" "$(echo "$r" | json mean_nll)"
done

if [[ -n ${LLAMA_REF_DIR:-} ]]; then
  windows=${LLAMA_WINDOWS:-20}
  echo
  echo "| weights (first $windows windows) | baton: perplexity, mean NLL | llama.cpp's forward, same scoring |"
  echo "|---|---|---|"
  for f in "$src" "$out/q8_0.gguf" "$out/q4_K.gguf"; do
    b=$("$baton" model perplexity "$f" --text "$text" --special --context 256 --threads "$threads" \
        --kv-dtype f32 --max-windows "$windows" --json 2>/dev/null)
    r=$(node "$root/tools/reference/llama_cpp_perplexity.mjs" "$f" "$text" 256 1 "$threads" "$windows" 2>/dev/null)
    printf '| %s | %.3f, %.5f | %.3f, %.5f |\n' "$(basename "$f")" "$(echo "$b" | json perplexity)" \
      "$(echo "$b" | json mean_nll)" "$(echo "$r" | json perplexity)" "$(echo "$r" | json mean_nll)"
  done
fi
