#!/usr/bin/env python3
"""Checks that two GGUF files have the same tokenizer: the same tokens, scores and token
types in the same order, and the same special ids. A draft model must, so that its token
ids mean what the target model's do. The first file may also be a SentencePiece .model:
then it is compared as export_gguf.py would write it (checked before training on it).

Usage: python3 same_vocab.py A.gguf|A.model B.gguf   (exit status 1 and the first difference if not)
"""
import sys
from pathlib import Path

from export_gguf import tokenizer_metadata
from gguf_format import T_ARRAY, GgufReader

KEYS = ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
        "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
        "tokenizer.ggml.eot_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
        "tokenizer.ggml.add_space_prefix", "tokenizer.chat_template"]


def metadata(path: Path) -> dict:
    if path.suffix != ".model":
        return GgufReader(path).metadata
    # As the export writes it; only the tokenizer.ggml.* keys it derives from the .model.
    return {k: (v[1] if t == T_ARRAY else v) for k, t, v in tokenizer_metadata(path)}


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    a = metadata(Path(sys.argv[1]))
    b = metadata(Path(sys.argv[2]))
    for key in KEYS:
        if key not in a and sys.argv[1].endswith(".model"):
            continue  # set by the export itself, not by the tokenizer
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        if isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
            i = next(i for i in range(len(va)) if va[i] != vb[i])
            print(f"{key} differs at index {i}: {va[i]!r} vs {vb[i]!r}", file=sys.stderr)
        else:
            print(f"{key} differs: {str(va)[:80]!r} vs {str(vb)[:80]!r}", file=sys.stderr)
        return 1
    print(f"same tokenizer: {len(a['tokenizer.ggml.tokens'])} tokens, scores, types and special ids")
    return 0


if __name__ == "__main__":
    sys.exit(main())
