#!/bin/sh
# Trains the SentencePiece tokenizer of the shipped models on work/spm_input.txt (written by
# prepare_data.py) into work/tokenizer.model. Deterministic: the same corpus gives the
# same pieces, which is what lets a draft model share the default model's vocabulary.
set -eu
cd "$(dirname "$0")"
spm_train --input=work/spm_input.txt --model_prefix=work/tokenizer --model_type=bpe \
  --vocab_size=4096 --character_coverage=1.0 --byte_fallback=true --split_digits=true \
  --normalization_rule_name=identity --remove_extra_whitespaces=false --add_dummy_prefix=false \
  --user_defined_symbols='<|im_start|>,<|im_end|>' --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --num_threads=2 --input_sentence_size=0 --shuffle_input_sentence=false > work/spm_train.log 2>&1
