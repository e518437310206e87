#!/usr/bin/env python3
"""Self-check of model.py against a deliberately naive float64 re-implementation
(per head, per position loops, explicit pair rotation). Run: python3 check_model.py"""
import math

import torch

from model import Llama, LlamaConfig


def naive_forward(model: Llama, tokens: list[int]) -> torch.Tensor:
    cfg = model.cfg
    sd = {k: v.detach().to(torch.float64) for k, v in model.state_dict().items()}
    hd, rep = cfg.head_dim, cfg.n_heads // cfg.n_kv_heads

    def rms(x, w):
        return x / math.sqrt(float((x * x).mean()) + cfg.norm_eps) * w

    def rope(vec, pos):
        out = vec.clone()
        for i in range(0, hd, 2):
            theta = pos * cfg.rope_base ** (-i / hd)
            c, s = math.cos(theta), math.sin(theta)
            out[i] = vec[i] * c - vec[i + 1] * s
            out[i + 1] = vec[i] * s + vec[i + 1] * c
        return out

    xs = [sd["tok_embeddings.weight"][t].clone() for t in tokens]
    for layer in range(cfg.n_layers):
        p = f"layers.{layer}."
        ks, vs, new_xs = [], [], []
        for pos, x in enumerate(xs):
            h = rms(x, sd[p + "attn_norm.weight"])
            q = sd[p + "attn.wq.weight"] @ h
            k = sd[p + "attn.wk.weight"] @ h
            v = sd[p + "attn.wv.weight"] @ h
            ks.append(torch.cat([rope(k[j * hd:(j + 1) * hd], pos) for j in range(cfg.n_kv_heads)]))
            vs.append(v)
            heads = []
            for head in range(cfg.n_heads):
                kv = head // rep
                qh = rope(q[head * hd:(head + 1) * hd], pos)
                scores = torch.tensor([float(qh @ ks[t][kv * hd:(kv + 1) * hd]) / math.sqrt(hd)
                                       for t in range(pos + 1)], dtype=torch.float64)
                w = torch.softmax(scores, 0)
                heads.append(sum(w[t] * vs[t][kv * hd:(kv + 1) * hd] for t in range(pos + 1)))
            x = x + sd[p + "attn.wo.weight"] @ torch.cat(heads)
            h = rms(x, sd[p + "ffn_norm.weight"])
            gate = sd[p + "ffn.w_gate.weight"] @ h
            up = sd[p + "ffn.w_up.weight"] @ h
            x = x + sd[p + "ffn.w_down.weight"] @ (torch.nn.functional.silu(gate) * up)
            new_xs.append(x)
        xs = new_xs
    return torch.stack([sd["output.weight"] @ rms(x, sd["norm.weight"]) for x in xs])


def main():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=48)
    model = Llama(cfg)
    with torch.no_grad():  # make norms and all weights non-trivial
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    tokens = [5, 17, 3, 96, 42, 0, 7]
    fast = model.double()(torch.tensor([tokens]))[0]
    slow = naive_forward(model, tokens)
    err = (fast - slow).abs().max().item()
    print(f"max |fast - naive| = {err:.3e}")
    assert err < 1e-9, "model.py disagrees with the naive reference"
    print("ok")


if __name__ == "__main__":
    main()
