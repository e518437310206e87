#!/usr/bin/env python3
"""Reference data for baton's engine and tokenizer tests, computed independently of baton:

  * logits of a fixed prompt, from a float64 PyTorch forward pass of the weights exactly as
    stored in each GGUF file (read back and dequantised by gguf_format.py, so the Q8_0 and
    Q4_0 references include their quantisation error and the engine can be held to a tight
    tolerance for every file);
  * a greedy continuation with the top-32 logits of each step (exercises the KV cache);
  * SentencePiece (the library) encodings of varied sentences;
  * a rendered ChatML conversation and its token ids.

Writes <out>/<name>.ref.json. See models/MODEL.md for the format.
"""
import argparse
import copy
import json
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch

from gguf_format import TYPE_NAMES, GgufReader
from model import Llama, LlamaConfig, gguf_tensor_names

PROMPT = "And God said, Let there be light"
GREEDY_STEPS = 16
TOP_K = 32

TOKENIZER_SENTENCES = [
    "In the beginning God created the heaven and the earth.",
    "And the LORD spake unto Moses, saying,",
    "Hello world",
    " Hello world",
    "  two leading spaces",
    "trailing space ",
    "Hello\nworld",
    "line one\n\nline three\n",
    "\n",
    "tab\tseparated\tvalues",
    "Numbers: 0 1 12 123 1234 3.14159 -42 1,000,000 2026-11-24",
    "Call 555-0199 before 10:30pm.",
    "Punctuation!? (parentheses) [brackets] {braces} \"quotes\" 'single' -- dash; colon: semi;",
    "It's a dog's life, isn't it?",
    "e-mail: someone@example.org, URL: https://example.org/path?q=1&r=2",
    "UPPER CASE AND lower case And Mixed",
    "naïve café résumé façade",
    "Grüße aus München, Straße",
    "Ελληνικά και русский текст",
    "日本語のテキスト、中文文本",
    "emoji: 🚀🎉 ❤️ 👍🏽",
    "math: ∑ x² ≤ ∞ → ∀ε>0",
    "a",
    "",
    "   ",
    "Thou shalt not kill.",
    "He that hath ears to hear, let him hear.",
    "The quick brown fox jumps over the lazy dog.",
    "A day without sunshine is like, you know, night.",
    "C++ code: for (int i = 0; i < n; ++i) { x += a[i]; }",
    "<|im_start|>user\nTell me a fortune.<|im_end|>\n<|im_start|>assistant\n",
    "text with <|im_end|> inside",
    "<s> and </s> are control tokens, written here as plain text",
]
CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Tell me a fortune."},
]


def load_model_from_gguf(path: Path) -> tuple[Llama, dict]:
    reader = GgufReader(path)
    md = reader.metadata
    if md["general.architecture"] != "llama":
        raise ValueError(f"{path}: not a llama model")
    cfg = LlamaConfig(vocab_size=md["llama.vocab_size"], dim=md["llama.embedding_length"],
                      n_layers=md["llama.block_count"], n_heads=md["llama.attention.head_count"],
                      n_kv_heads=md["llama.attention.head_count_kv"],
                      ffn_dim=md["llama.feed_forward_length"],
                      context_length=md["llama.context_length"], rope_base=md["llama.rope.freq_base"],
                      norm_eps=md["llama.attention.layer_norm_rms_epsilon"])
    model = Llama(cfg).double()
    state = {ours: torch.from_numpy(reader.tensor(theirs).astype(np.float64))
             for ours, theirs in gguf_tensor_names(cfg).items()}
    model.load_state_dict(state)
    model.eval()
    types = sorted({TYPE_NAMES[t.ggml_type] for t in reader.tensors.values()})
    return model, {"types": types, "metadata": md}


def top_k(logits: torch.Tensor, k: int) -> list:
    values, ids = logits.topk(k)
    return [[int(i), round(float(v), 6)] for i, v in zip(ids, values)]


@torch.no_grad()
def reference_for(model: Llama, prompt_ids: list[int], full_prompt_logits: bool) -> dict:
    logits = model(torch.tensor([prompt_ids]))[0]
    out = {}
    if full_prompt_logits:
        # 4 decimals (error <= 5e-5) keeps the file small; far below any sane f32 tolerance.
        out["prompt_logits"] = [[round(float(v), 4) for v in row] for row in logits]
    out["prompt_top"] = [top_k(row, TOP_K) for row in logits]
    ids = list(prompt_ids)
    steps = []
    last = logits[-1]
    for _ in range(GREEDY_STEPS):
        top2 = last.topk(2).values
        token = int(last.argmax())
        steps.append({"token": token, "margin": round(float(top2[0] - top2[1]), 6)})
        ids.append(token)
        last = model(torch.tensor([ids]))[0][-1]
        steps[-1]["next_top"] = top_k(last, TOP_K)
    out["greedy"] = {"tokens": [s["token"] for s in steps], "steps": steps}
    return out


def q8_0_round_trip(x: torch.Tensor) -> torch.Tensor:
    """Activations as ggml's Q8_0 dot products see them: blocks of 32, f16 scale amax/127."""
    blocks = x.reshape(-1, 32)
    d = (blocks.abs().amax(dim=1, keepdim=True) / 127).to(torch.float16).to(x.dtype)
    inv = torch.where(d > 0, 1 / d, torch.zeros_like(d))
    q = torch.round(blocks * inv).clamp(-127, 127)  # ties differ from roundf only at exact .5
    return (q * d).reshape(x.shape)


@torch.no_grad()
def observed_deviations(model: Llama, prompt_ids: list[int], reference: torch.Tensor) -> dict:
    """How far two plausible engine behaviours land from the float64 reference, to help
    choose test tolerances: a float32 forward, and a forward whose matrix products see
    activations quantised to Q8_0 (as llama.cpp does for quantised weights)."""
    tokens = torch.tensor([prompt_ids])
    f32 = copy.deepcopy(model).float()(tokens)[0].double()
    quantised = copy.deepcopy(model)
    for module in quantised.modules():
        if isinstance(module, torch.nn.Linear):
            module.forward = (lambda m: lambda x: torch.nn.functional.linear(q8_0_round_trip(x), m.weight))(module)
    q8act = quantised(tokens)[0]
    return {"float32_forward_max_abs": float(f"{float((f32 - reference).abs().max()):.3g}"),
            "q8_0_activations_max_abs": float(f"{float((q8act - reference).abs().max()):.3g}"),
            "logit_range": [round(float(reference.min()), 3), round(float(reference.max()), 3)]}


def render_chatml(messages: list[dict], add_generation_prompt: bool) -> str:
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = Path(__file__).parent
    p.add_argument("--models", type=Path, default=here.parent.parent / "models")
    p.add_argument("--name", default="baton-kjv-6m")
    p.add_argument("--tokenizer", type=Path, default=here / "work" / "tokenizer.model")
    p.add_argument("--checkpoint", type=Path, default=here / "work" / "final.pt",
                   help="the trained weights, to check that the F32 file reproduces them")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    sp = spm.SentencePieceProcessor(model_file=str(args.tokenizer))
    prompt_ids = [sp.bos_id()] + sp.encode(PROMPT)
    ref = {
        "format": 1,
        "generated_by": "tools/train/make_reference.py",
        "notes": ("Logits come from a float64 PyTorch forward of the weights exactly as stored in "
                  "each file (quantised weights dequantised first). Positions start at 0 with BOS. "
                  "prompt_logits (full vocabulary, one row per prompt position) are rounded to 4 "
                  "decimals, top-k lists to 6. 'margin' is top1 - top2 logit before "
                  "choosing a greedy token; 'next_top' are the top-32 [id, logit] after feeding it."),
        "prompt": {"text": PROMPT, "add_bos": True, "ids": prompt_ids,
                   "pieces": [sp.id_to_piece(i) for i in prompt_ids]},
        "variants": {},
    }
    for variant, full in (("f32", True), ("q8_0", True), ("q4_0", False)):
        path = args.models / f"{args.name}.{variant}.gguf"
        model, info = load_model_from_gguf(path)
        if variant == "f32" and args.checkpoint.exists():
            check_against_checkpoint(model, args.checkpoint, prompt_ids)
        entry = {"file": path.name, "tensor_types": info["types"]}
        entry.update(reference_for(model, prompt_ids, full))
        with torch.no_grad():
            reference = model(torch.tensor([prompt_ids]))[0]
        entry["observed_deviation"] = observed_deviations(model, prompt_ids, reference)
        print(f"{variant}: {entry['observed_deviation']}")
        ref["variants"][variant] = entry
        print(f"{variant}: greedy -> {sp.decode(entry['greedy']['tokens'])!r}")

    user_defined = ["<|im_start|>", "<|im_end|>"]
    ref["tokenizer"] = {
        "library": f"sentencepiece {spm.__version__}",
        "add_bos": False,
        "notes": ("ids are SentencePiece encode(text), no BOS. SentencePiece always matches the "
                  "user-defined pieces <|im_start|> and <|im_end|> (GGUF token type 4) inside text, "
                  "and never the control pieces <s> and </s> (type 3). 'parse_special' says how to "
                  "call an engine that matches both kinds only on request: true where the text "
                  "holds a user-defined piece, false otherwise (the case that writes '<s>' as plain "
                  "text must then come out as ordinary pieces)."),
        "cases": [{"text": t, "parse_special": any(u in t for u in user_defined), "ids": sp.encode(t),
                   "pieces": sp.encode(t, out_type=str)} for t in TOKENIZER_SENTENCES],
    }
    for case in ref["tokenizer"]["cases"]:
        if sp.decode(case["ids"]) != case["text"]:
            case["decodes_to"] = sp.decode(case["ids"])
    rendered = render_chatml(CHAT, add_generation_prompt=True)
    ref["chat"] = {"template": "chatml", "messages": CHAT, "add_generation_prompt": True,
                   "rendered": rendered, "ids_with_bos": [sp.bos_id()] + sp.encode(rendered)}
    out = args.models / f"{args.name}.ref.json"
    out.write_text(json.dumps(ref, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")


def check_against_checkpoint(model: Llama, checkpoint: Path, prompt_ids: list[int]) -> None:
    """The F32 file, read back by our reader, must reproduce the trained torch model."""
    ck = torch.load(checkpoint)
    trained = Llama(LlamaConfig(**ck["config"])).double()
    trained.load_state_dict({k: v.double() for k, v in ck["model"].items()})
    with torch.no_grad():
        a = model(torch.tensor([prompt_ids]))
        b = trained(torch.tensor([prompt_ids]))
    err = float((a - b).abs().max())
    if err > 1e-9:
        raise AssertionError(f"F32 GGUF does not reproduce the checkpoint (max diff {err})")
    print(f"f32 file reproduces the checkpoint (max |diff| {err:.1e})")


if __name__ == "__main__":
    main()
