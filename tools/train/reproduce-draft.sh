#!/bin/sh
# Trains the draft model shipped for baton-kjv-5m (speculative decoding, `--draft`): the
# same corpus and the same tokenizer (the vocabulary must be identical, and is checked
# against the shipped model's before and after training), a much smaller Llama.
# Run from anywhere after setup-train.sh; about 25 minutes on 2 busy CPU cores, niced.
# Environment: STEPS (default 3000) and BUDGET_MIN (default 25) bound the training run;
# to repeat a finished run step for step, set STEPS to its step count and BUDGET_MIN=0.
set -eu
cd "$(dirname "$0")"
py=/usr/bin/python3
name=${NAME:-baton-kjv-draft-1m}
target=../../models/baton-kjv-5m.q8_0.gguf
mkdir -p work/draft

[ -f work/train.jsonl ] && [ -f work/spm_input.txt ] || $py prepare_data.py --out work
[ -f work/tokenizer.model ] || ./tokenizer.sh
$py same_vocab.py work/tokenizer.model "$target"
nice -n 10 $py train.py --work work/draft --layers 2 --dim 128 --heads 4 --kv-heads 2 --ffn 384 \
  --batch 16 --warmup 30 --steps "${STEPS:-3000}" --time-budget-min "${BUDGET_MIN:-25}" 2>&1 | tee work/draft/train.log
$py export_gguf.py --checkpoint work/draft/final.pt --out ../../models --name "$name" --variants q8_0
$py same_vocab.py "../../models/$name.q8_0.gguf" "$target"
$py plot_loss.py --log work/draft/train_log.jsonl --out "../../models/$name.loss.svg"
$py sample.py --checkpoint work/draft/final.pt | tee work/draft/samples.txt
