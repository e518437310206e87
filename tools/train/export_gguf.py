#!/usr/bin/env python3
"""Write a trained checkpoint (train.py) as GGUF v3 files for the llama architecture:
F32, Q8_0 and Q4_0, with the SentencePiece tokenizer and a ChatML chat template.

Quantised files: every 2-D weight is quantised (Q8_0 file: all Q8_0; Q4_0 file: Q4_0 except
output.weight, which stays Q8_0 as llama.cpp keeps the output head at higher precision). The
1-D norm weights stay F32 in every file.

Usage: python3 export_gguf.py --checkpoint work/final.pt --out ../../models --name baton-kjv-6m
"""
import argparse
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch

from gguf_format import (GGML_F32, GGML_Q4_0, GGML_Q8_0, T_ARRAY, T_BOOL, T_FLOAT32, T_INT32,
                         T_STRING, T_UINT32, TensorToWrite, TYPE_NAMES, GgufReader, write_gguf)
from model import LlamaConfig, gguf_tensor_names
from spm_model import BPE, load_spm_model

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# general.file_type (llama_ftype): 0 = all F32, 7 = mostly Q8_0, 2 = mostly Q4_0
VARIANTS = {"f32": (GGML_F32, GGML_F32, 0), "q8_0": (GGML_Q8_0, GGML_Q8_0, 7),
            "q4_0": (GGML_Q4_0, GGML_Q8_0, 2)}
# SentencePiece piece types map 1:1 onto GGUF token types (1 normal, 2 unknown, 3 control,
# 4 user-defined, 5 unused, 6 byte). User-defined pieces (<|im_start|>, <|im_end|>) are
# matched verbatim in any text by SentencePiece, as llama.cpp does for type 4.
SPM_TYPE_TO_GGUF = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6}


def tokenizer_metadata(model_path: Path) -> list:
    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    parsed = load_spm_model(model_path)
    if parsed.model_type != BPE:
        raise ValueError("expected a BPE SentencePiece model")
    if parsed.normalizer_name != "identity" or parsed.remove_extra_whitespaces:
        # The llama tokenizer in GGUF readers does no normalisation at all.
        raise ValueError("expected normalization_rule_name=identity, remove_extra_whitespaces=false")
    tokens, scores = parsed.pieces, parsed.scores
    types = [SPM_TYPE_TO_GGUF[t] for t in parsed.types]
    im_end = sp.piece_to_id("<|im_end|>")
    if sp.id_to_piece(im_end) != "<|im_end|>":
        raise ValueError("tokenizer has no <|im_end|> piece")
    return [
        ("tokenizer.ggml.model", T_STRING, "llama"),
        ("tokenizer.ggml.tokens", T_ARRAY, (T_STRING, tokens)),
        ("tokenizer.ggml.scores", T_ARRAY, (T_FLOAT32, scores)),
        ("tokenizer.ggml.token_type", T_ARRAY, (T_INT32, types)),
        ("tokenizer.ggml.bos_token_id", T_UINT32, sp.bos_id()),
        ("tokenizer.ggml.eos_token_id", T_UINT32, sp.eos_id()),
        ("tokenizer.ggml.unknown_token_id", T_UINT32, sp.unk_id()),
        # <|im_end|> closes an assistant turn: generation should stop there too.
        ("tokenizer.ggml.eot_token_id", T_UINT32, im_end),
        ("tokenizer.ggml.add_bos_token", T_BOOL, True),
        ("tokenizer.ggml.add_eos_token", T_BOOL, False),
        # Trained with add_dummy_prefix=false: no "▁" is put in front of the text.
        ("tokenizer.ggml.add_space_prefix", T_BOOL, parsed.add_dummy_prefix),
        ("tokenizer.chat_template", T_STRING, CHATML_TEMPLATE),
    ]


def model_metadata(cfg: LlamaConfig, name: str, file_type: int) -> list:
    meta = [
        ("general.architecture", T_STRING, "llama"),
        ("general.name", T_STRING, name),
        ("general.alignment", T_UINT32, 32),
        ("general.file_type", T_UINT32, file_type),
        ("llama.block_count", T_UINT32, cfg.n_layers),
        ("llama.context_length", T_UINT32, cfg.context_length),
        ("llama.embedding_length", T_UINT32, cfg.dim),
        ("llama.feed_forward_length", T_UINT32, cfg.ffn_dim),
        ("llama.attention.head_count", T_UINT32, cfg.n_heads),
        ("llama.attention.head_count_kv", T_UINT32, cfg.n_kv_heads),
        ("llama.rope.freq_base", T_FLOAT32, cfg.rope_base),
        ("llama.attention.layer_norm_rms_epsilon", T_FLOAT32, cfg.norm_eps),
        ("llama.rope.dimension_count", T_UINT32, cfg.head_dim),
        ("llama.vocab_size", T_UINT32, cfg.vocab_size),
    ]
    if file_type != 0:
        meta.append(("general.quantization_version", T_UINT32, 2))
    return meta


def gguf_tensors(state: dict, cfg: LlamaConfig, weight_type: int, output_type: int) -> list:
    names = gguf_tensor_names(cfg)
    if set(names) != set(state):
        raise ValueError(f"checkpoint keys do not match the model: {sorted(set(names) ^ set(state))}")
    order = ["token_embd.weight"] + [n for n in sorted(names.values(), key=_layer_order)
                                     if n.startswith("blk.")] + ["output_norm.weight", "output.weight"]
    by_name = {names[k]: v.detach().to(torch.float32).numpy() for k, v in state.items()}
    tensors = []
    for name in order:
        data = by_name[name]
        # torch Linear weight [out, in] is row-major with rows of length `in` = ggml ne0;
        # the embedding [vocab, dim] likewise has ne0 = dim. Stored as-is.
        ggml_type = GGML_F32 if data.ndim == 1 else (output_type if name == "output.weight" else weight_type)
        tensors.append(TensorToWrite(name, data, ggml_type))
    return tensors


def _layer_order(name: str):
    parts = name.split(".")
    within = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate",
              "ffn_up", "ffn_down"]
    return (int(parts[1]), within.index(parts[2])) if parts[0] == "blk" else (-1, 0)


def export(checkpoint: Path, tokenizer: Path, out_dir: Path, name: str, variants: list[str]) -> list[Path]:
    ck = torch.load(checkpoint)
    cfg = LlamaConfig(**ck["config"])
    state = ck["model"]
    tok_meta = tokenizer_metadata(tokenizer)
    n_vocab = len(tok_meta[1][2][1])
    if n_vocab != cfg.vocab_size:
        raise ValueError(f"tokenizer has {n_vocab} tokens, model {cfg.vocab_size}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for variant in variants:
        weight_type, output_type, file_type = VARIANTS[variant]
        path = out_dir / f"{name}.{variant}.gguf"
        tensors = gguf_tensors(state, cfg, weight_type, output_type)
        write_gguf(path, model_metadata(cfg, name, file_type) + tok_meta, tensors)
        check_round_trip(path, tensors)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, "
              f"{', '.join(sorted({TYPE_NAMES[t.ggml_type] for t in tensors}))})")
        written.append(path)
    return written


def check_round_trip(path: Path, tensors: list) -> None:
    """Read the file back; every tensor must decode to within its format's error bound."""
    reader = GgufReader(path)
    for t in tensors:
        info = reader.tensors[t.name]
        if info.dims != list(reversed(t.data.shape)) or info.ggml_type != t.ggml_type:
            raise AssertionError(f"{path}: {t.name} read back with dims {info.dims} type {info.ggml_type}")
        back = reader.tensor(t.name)
        # Relative to the block's largest magnitude: Q8_0 rounds to d/2 = amax/254 (+ f16 scale
        # error); Q4_0 can lose a whole step d = amax/8 where q=16 is clamped to 15.
        bound = {GGML_F32: 0.0, GGML_Q8_0: 1 / 127 * 0.51 + 1e-3, GGML_Q4_0: 1 / 8 * 1.01 + 1e-3}[t.ggml_type]
        blocks = np.abs(t.data.reshape(-1, 32) if t.data.size % 32 == 0 else t.data.reshape(1, -1))
        scale = blocks.max(axis=1, keepdims=True)
        err = np.abs(back.reshape(blocks.shape) - t.data.reshape(blocks.shape))
        if np.any(err > bound * scale + 1e-12):
            raise AssertionError(f"{path}: {t.name} round-trip error {float((err / (scale + 1e-30)).max())}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = Path(__file__).parent
    p.add_argument("--checkpoint", type=Path, default=here / "work" / "final.pt")
    p.add_argument("--tokenizer", type=Path, default=here / "work" / "tokenizer.model")
    p.add_argument("--out", type=Path, default=here.parent.parent / "models")
    p.add_argument("--name", default="baton-kjv-6m")
    p.add_argument("--variants", default="f32,q8_0,q4_0")
    args = p.parse_args()
    export(args.checkpoint, args.tokenizer, args.out, args.name, args.variants.split(","))


if __name__ == "__main__":
    main()
