"""A small Llama-architecture transformer in plain PyTorch, laid out the way GGUF / llama.cpp
expect for general.architecture = "llama":

  * RMSNorm with a learned weight, eps 1e-5, applied before attention and before the FFN;
  * rotary position embedding in the "normal" (GPT-J, interleaved) convention: dimensions
    (2i, 2i+1) of each head are rotated together by pos * base^(-2i/head_dim). llama.cpp uses
    this mode for LLM_ARCH_LLAMA; Hugging Face checkpoints use the half-split (NeoX) layout and
    their converter permutes q/k rows to compensate. Trained from scratch here, so q/k weights
    are exported as they are;
  * grouped-query attention: query head h reads key/value head h // (n_head / n_head_kv);
  * SwiGLU feed-forward: down(silu(gate(x)) * up(x));
  * no biases anywhere, untied token embedding and output head.
"""
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LlamaConfig:
    vocab_size: int = 4096
    dim: int = 256
    n_layers: int = 6
    n_heads: int = 8
    n_kv_heads: int = 4
    ffn_dim: int = 704
    context_length: int = 256
    rope_base: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(head_dim: int, positions: torch.Tensor, base: float, dtype: torch.dtype):
    """cos/sin of shape [T, head_dim/2]; angles computed in float64 for accuracy."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [B, T, H, D]. Rotates the interleaved pairs (x[2i], x[2i+1]) by the angle of pair i.

    An interleaved pair is exactly the memory layout of a complex number, so the rotation
    is one complex multiplication (much cheaper on CPU than slicing and stacking)."""
    rotation = torch.complex(cos, sin)[None, :, None, :]
    pairs = torch.view_as_complex(x.unflatten(-1, (-1, 2)).contiguous())
    return torch.view_as_real(pairs * rotation).flatten(-2)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * hd, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.n_kv_heads * hd, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.n_kv_heads * hd, bias=False)
        self.wo = nn.Linear(cfg.n_heads * hd, cfg.dim, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        cfg, hd = self.cfg, self.cfg.head_dim
        q = apply_rope(self.wq(x).view(B, T, cfg.n_heads, hd), cos, sin)
        k = apply_rope(self.wk(x).view(B, T, cfg.n_kv_heads, hd), cos, sin)
        v = self.wv(x).view(B, T, cfg.n_kv_heads, hd)
        rep = cfg.n_heads // cfg.n_kv_heads
        # Query head h reads kv head h // rep (llama.cpp order). Instead of copying k/v rep
        # times, fold the rep query heads of one kv head into the row dimension.
        q = q.transpose(1, 2).reshape(B, cfg.n_kv_heads, rep * T, hd) * (hd ** -0.5)
        k, v = k.transpose(1, 2), v.transpose(1, 2)  # [B, Hkv, T, D]
        scores = (q @ k.transpose(-2, -1)).view(B, cfg.n_kv_heads, rep, T, T) + mask
        probs = F.softmax(scores, dim=-1).view(B, cfg.n_kv_heads, rep * T, T)
        out = (probs @ v).view(B, cfg.n_heads, T, hd)
        return self.wo(out.transpose(1, 2).reshape(B, T, cfg.n_heads * hd))


class FeedForward(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.w_gate = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w_up = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w_down = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)

    def forward(self, x):
        return self.w_down(F.silu(self.w_gate(x)) * self.w_up(x))


class Block(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn = FeedForward(cfg)

    def forward(self, x, cos, sin, mask):
        x = x + self.attn(self.attn_norm(x), cos, sin, mask)
        return x + self.ffn(self.ffn_norm(x))


class Llama(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.apply(self._init_weights)
        # Residual-branch outputs start small so the residual stream stays well scaled.
        for name, p in self.named_parameters():
            if name.endswith("wo.weight") or name.endswith("w_down.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / (2 * cfg.n_layers) ** 0.5)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, tokens: torch.Tensor, start_pos: int = 0) -> torch.Tensor:
        """tokens [B, T] -> logits [B, T, vocab]; positions start_pos .. start_pos+T-1."""
        B, T = tokens.shape
        dtype = self.output.weight.dtype
        x = self.tok_embeddings(tokens)
        positions = torch.arange(start_pos, start_pos + T)
        cos, sin = rope_cos_sin(self.cfg.head_dim, positions, self.cfg.rope_base, dtype)
        mask = torch.full((T, T), float("-inf"), dtype=dtype).triu(1)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.output(self.norm(x))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def gguf_tensor_names(cfg: LlamaConfig) -> dict[str, str]:
    """state_dict key -> llama.cpp tensor name."""
    names = {"tok_embeddings.weight": "token_embd.weight", "norm.weight": "output_norm.weight",
             "output.weight": "output.weight"}
    per_layer = {"attn_norm.weight": "attn_norm.weight", "attn.wq.weight": "attn_q.weight",
                 "attn.wk.weight": "attn_k.weight", "attn.wv.weight": "attn_v.weight",
                 "attn.wo.weight": "attn_output.weight", "ffn_norm.weight": "ffn_norm.weight",
                 "ffn.w_gate.weight": "ffn_gate.weight", "ffn.w_up.weight": "ffn_up.weight",
                 "ffn.w_down.weight": "ffn_down.weight"}
    for i in range(cfg.n_layers):
        for ours, theirs in per_layer.items():
            names[f"layers.{i}.{ours}"] = f"blk.{i}.{theirs}"
    return names
