#!/usr/bin/env python3
"""Train the baton demo model (model.py) on the corpus from prepare_data.py.

Documents are encoded with the SentencePiece model, wrapped as <s> doc </s> and concatenated
into one token stream; each step samples random windows of context_length+1 tokens.
AdamW with linear warm-up and a cosine decay. The schedule runs on progress =
max(step / --steps, elapsed / --time-budget-min), so a busy machine shortens the run instead of
overrunning the time budget; the step count reached is logged so a run can be repeated with
--steps N --time-budget-min 0.

Caches tokens_{train,val}.npy next to the data. Writes into --work: ckpt.pt (every --ckpt-every steps and at
the end; --resume continues from it), train_log.jsonl (one JSON object per logged step) and
final.pt (weights + config + summary).
"""
import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

from model import Llama, LlamaConfig

WORK = Path(__file__).parent / "work"


def encode_split(sp: spm.SentencePieceProcessor, path: Path, cache: Path) -> np.ndarray:
    if cache.exists() and cache.stat().st_mtime > path.stat().st_mtime:
        return np.load(cache)
    stream = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            stream += [sp.bos_id()] + sp.encode(json.loads(line)["text"]) + [sp.eos_id()]
    tokens = np.asarray(stream, dtype=np.int16 if sp.get_piece_size() < 32768 else np.int32)
    np.save(cache, tokens)
    return tokens


def val_windows(tokens: np.ndarray, ctx: int) -> torch.Tensor:
    """Non-overlapping windows of ctx+1 tokens covering the held-out stream."""
    n = (len(tokens) - 1) // ctx
    return torch.stack([torch.from_numpy(tokens[i * ctx:i * ctx + ctx + 1].astype(np.int64))
                        for i in range(n)])


@torch.no_grad()
def evaluate(model: Llama, windows: torch.Tensor, batch: int = 16) -> float:
    """Mean negative log-likelihood per token (nats)."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        w = windows[i:i + batch]
        logits = model(w[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1),
                                 reduction="sum").item()
        count += w[:, 1:].numel()
    model.train()
    return total / count


def lr_at(progress: float, step: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * min(progress, 1.0)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=WORK, help="folder with train/val.jsonl")
    p.add_argument("--work", type=Path, default=WORK, help="folder for checkpoints and logs")
    p.add_argument("--tokenizer", type=Path, default=WORK / "tokenizer.model")
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--ffn", type=int, default=704)
    p.add_argument("--ctx", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=800, help="schedule length in steps")
    p.add_argument("--time-budget-min", type=float, default=55.0,
                   help="stop (with the schedule finished) after this many minutes; 0 = no limit")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr", type=float, default=2e-4)
    p.add_argument("--warmup", type=int, default=40)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--eval-windows", type=int, default=48, help="held-out windows for periodic evals")
    p.add_argument("--ckpt-every", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1611)
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    sp = spm.SentencePieceProcessor(model_file=str(args.tokenizer))
    train_tokens = encode_split(sp, args.data / "train.jsonl", args.data / "tokens_train.npy")
    val_tokens = encode_split(sp, args.data / "val.jsonl", args.data / "tokens_val.npy")
    windows = val_windows(val_tokens, args.ctx)
    print(f"train tokens {len(train_tokens)}, held-out tokens {len(val_tokens)} "
          f"({len(windows)} windows)", flush=True)

    cfg = LlamaConfig(vocab_size=sp.get_piece_size(), dim=args.dim, n_layers=args.layers,
                      n_heads=args.heads, n_kv_heads=args.kv_heads, ffn_dim=args.ffn,
                      context_length=args.ctx)
    model = Llama(cfg)
    decay = [p_ for n, p_ in model.named_parameters() if p_.dim() >= 2]
    no_decay = [p_ for n, p_ in model.named_parameters() if p_.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    rng = np.random.default_rng(args.seed)
    step, elapsed_before = 0, 0.0
    ckpt_path, log_path = args.work / "ckpt.pt", args.work / "train_log.jsonl"
    if args.resume and ckpt_path.exists():
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed_before = ck["step"], ck["elapsed"]
        rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed at step {step}", flush=True)
    elif log_path.exists():
        log_path.unlink()
    print(f"config {cfg.to_dict()} parameters {model.num_parameters()}", flush=True)

    def save_checkpoint():
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "elapsed": elapsed, "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(), "config": cfg.to_dict()}, tmp)
        tmp.replace(ckpt_path)  # never leave a half-written checkpoint behind

    start = time.time()
    budget_s = args.time_budget_min * 60
    log = open(log_path, "a")
    elapsed = elapsed_before
    while True:
        elapsed = elapsed_before + time.time() - start
        progress = max(step / args.steps, elapsed / budget_s if budget_s > 0 else 0.0)
        if progress >= 1.0:
            break
        lr = lr_at(progress, step, args)
        for group in opt.param_groups:
            group["lr"] = lr
        starts = rng.integers(0, len(train_tokens) - args.ctx - 1, size=args.batch)
        batch = torch.from_numpy(np.stack([train_tokens[s:s + args.ctx + 1] for s in starts]).astype(np.int64))
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()
        opt.step()
        step += 1
        record = {"step": step, "loss": round(loss.item(), 4), "lr": lr, "grad_norm": round(grad_norm, 3),
                  "elapsed_s": round(elapsed_before + time.time() - start, 1),
                  "tokens": step * args.batch * args.ctx}
        if step % args.eval_every == 0:
            record["val_loss"] = round(evaluate(model, windows[:args.eval_windows]), 4)
        log.write(json.dumps(record) + "\n")
        log.flush()
        if step % 10 == 0 or "val_loss" in record:
            print(json.dumps(record), flush=True)
        if step % args.ckpt_every == 0:
            save_checkpoint()

    elapsed = elapsed_before + time.time() - start
    save_checkpoint()
    val_nll = evaluate(model, windows)
    summary = {"steps": step, "tokens_seen": step * args.batch * args.ctx, "train_seconds": round(elapsed, 1),
               "heldout_nll": val_nll, "heldout_perplexity": math.exp(val_nll),
               "heldout_tokens": int(windows[:, 1:].numel()), "parameters": model.num_parameters(),
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "summary": summary}, args.work / "final.pt")
    (args.work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
