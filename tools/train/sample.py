#!/usr/bin/env python3
"""Greedy continuations from a trained checkpoint (PyTorch, f32), for MODEL.md and for
eyeballing a run. Stops at </s> or <|im_end|>."""
import argparse
from pathlib import Path

import sentencepiece as spm
import torch

from model import Llama, LlamaConfig

PROMPTS = [
    "In the beginning",
    "And the LORD said unto Moses,",
    "Blessed are the",
    "The fear of the LORD is",
    "A fool and his money",
    "Computers are",
    "Q: What is the meaning of life?\nA:",
    "<|im_start|>user\nTell me a fortune.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nRead me a verse from Psalms.<|im_end|>\n<|im_start|>assistant\n",
]


@torch.no_grad()
def greedy(model: Llama, sp: spm.SentencePieceProcessor, prompt: str, max_new: int) -> str:
    ids = [sp.bos_id()] + sp.encode(prompt)
    stop = {sp.eos_id(), sp.piece_to_id("<|im_end|>")}
    new = []
    for _ in range(max_new):
        window = ids[-model.cfg.context_length:]
        token = int(model(torch.tensor([window]))[0, -1].argmax())
        if token in stop:
            break
        ids.append(token)
        new.append(token)
    return sp.decode(new)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    here = Path(__file__).parent
    p.add_argument("--checkpoint", type=Path, default=here / "work" / "final.pt")
    p.add_argument("--tokenizer", type=Path, default=here / "work" / "tokenizer.model")
    p.add_argument("--max-new", type=int, default=48)
    p.add_argument("--prompt", action="append", help="replaces the built-in prompts; repeatable")
    args = p.parse_args()
    torch.set_num_threads(2)
    ck = torch.load(args.checkpoint)
    model = Llama(LlamaConfig(**ck["config"]))
    model.load_state_dict(ck["model"])
    model.eval()
    sp = spm.SentencePieceProcessor(model_file=str(args.tokenizer))
    for prompt in args.prompt or PROMPTS:
        print(f"PROMPT: {prompt!r}\nOUTPUT: {greedy(model, sp, prompt, args.max_new)!r}\n")


if __name__ == "__main__":
    main()
