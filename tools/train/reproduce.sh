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
./tokenizer.sh
$py check_model.py
nice -n 10 $py train.py --layers 4 --batch 12 --warmup 30 --steps "${STEPS:-1200}" \
  --time-budget-min "${BUDGET_MIN:-55}" 2>&1 | tee work/train.log
$py export_gguf.py --checkpoint work/final.pt --out ../../models --name "$name"
$py make_reference.py --models ../../models --name "$name"
$py plot_loss.py --log work/train_log.jsonl --out "../../models/$name.loss.svg"
$py sample.py --checkpoint work/final.pt | tee work/samples.txt
