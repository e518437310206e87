#!/bin/sh
# Rebuilds the shipped demo model from scratch: corpus, tokenizer, training, GGUF export,
# reference logits, loss curve, samples. Run from anywhere after setup-train.sh.
# Training takes about an hour on 2 CPU cores; it runs niced so the machine stays usable.
# Environment: STEPS (default 1200) and BUDGET_MIN (default 55) bound the training run;
# to repeat a finished run step for step, set STEPS to its step count and BUDGET_MIN=0.
set -eu
cd "$(dirname "$0")"
py=/usr/bin/python3
name=${NAME:-baton-kjv-5m}
mkdir -p work

$py prepare_data.py --out work
spm_train --input=work/spm_input.txt --model_prefix=work/tokenizer --model_type=bpe \
  --vocab_size=4096 --character_coverage=1.0 --byte_fallback=true --split_digits=true \
  --normalization_rule_name=identity --remove_extra_whitespaces=false --add_dummy_prefix=false \
  --user_defined_symbols='<|im_start|>,<|im_end|>' --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --num_threads=2 --input_sentence_size=0 --shuffle_input_sentence=false > work/spm_train.log 2>&1
$py check_model.py
nice -n 10 $py train.py --layers 4 --batch 12 --warmup 30 --steps "${STEPS:-1200}" \
  --time-budget-min "${BUDGET_MIN:-55}" 2>&1 | tee work/train.log
$py export_gguf.py --checkpoint work/final.pt --out ../../models --name "$name"
$py make_reference.py --models ../../models --name "$name"
$py plot_loss.py --log work/train_log.jsonl --out "../../models/$name.loss.svg"
$py sample.py --checkpoint work/final.pt | tee work/samples.txt
