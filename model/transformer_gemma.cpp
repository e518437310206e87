// Gemma 2 / 3's transformer block. Differs from the Llama block in: RMS norms after the
// attention and after the feed-forward (before each residual add), GELU (tanh) instead
// of SiLU in the gated feed-forward, sliding-window attention with its own RoPE on some
// layers, soft-capped attention scores (Gemma 2) and RMS norms of each query and key head
// before RoPE (Gemma 3). The scaled embedding and capped logits are in Transformer::embed
// and head.
#include <algorithm>

#include "model/transformer.h"
#include "model/transformer_buffers.h"
#include "tensor/kernels.h"

namespace baton {

void Transformer::gemma_block(const LayerWeights& L, int layer, float* hidden, int64_t n,
                              std::span<const Sequence> batch, BlockBuffers& buf, ThreadPool* pool) const {
  const GemmaParams& g = hp_.gemma;
  const int64_t dim = hp_.dim, q_dim = hp_.q_dim(), kv_dim = hp_.kv_dim(), ffn = hp_.ffn_dim;
  const int64_t head_dim = hp_.head_dim;
  const bool sliding = g.is_sliding(layer);
  AttentionShape shape{hp_.n_heads, hp_.n_kv_heads, hp_.head_dim};
  shape.window = sliding ? g.sliding_window : 0;
  shape.softcap = g.attn_softcap;
  shape.scale = g.attn_scale;
  float* x = buf.x.data();
  float* q = buf.q.data();
  float* k = buf.k.data();
  float* v = buf.v.data();
  float* attn = buf.attn.data();
  float* out = buf.out.data();

  // Attention sub-block.
  for (int64_t t = 0; t < n; ++t) rmsnorm(hidden + t * dim, L.attn_norm, x + t * dim, dim, hp_.rms_eps);
  linear(L.attn_q, x, n, q, pool);
  linear(L.attn_k, x, n, k, pool);
  linear(L.attn_v, x, n, v, pool);
  int64_t row = 0;
  for (const Sequence& s : batch) {
    const RopeTable& rope = rope_for(layer, s.kv->capacity());
    // A sliding layer's cache holds its window and a little more: a long chunk goes
    // through in pieces, each written and then attended to (a query's result depends only
    // on the keys it sees, so the pieces change nothing).
    const int64_t piece = s.kv->max_write(layer);
    for (int64_t t0 = 0; t0 < s.n_tokens; t0 += piece) {
      const int64_t n_piece = std::min(piece, s.n_tokens - t0);
      const KVLayerView cache = s.kv->layer_for_write(layer, s.pos0 + t0, n_piece);
      for (int64_t t = t0; t < t0 + n_piece; ++t) {
        float* qt = q + (row + t) * q_dim;
        float* kt = k + (row + t) * kv_dim;
        float* vt = v + (row + t) * kv_dim;
        if (L.attn_q_norm) {
          rmsnorm_heads(qt, L.attn_q_norm, hp_.n_heads, head_dim, hp_.rms_eps);
          rmsnorm_heads(kt, L.attn_k_norm, hp_.n_kv_heads, head_dim, hp_.rms_eps);
        }
        const int position = static_cast<int>(s.pos0 + t);
        rope_inplace(qt, hp_.n_heads, position, rope);
        rope_inplace(kt, hp_.n_kv_heads, position, rope);
        kv_store(cache, s.pos0 + t, kt, vt, kv_dim);
      }
      attention(q + (row + t0) * q_dim, n_piece, s.pos0 + t0, cache, shape, attn + (row + t0) * q_dim, pool);
    }
    row += s.n_tokens;
  }
  linear(L.attn_output, attn, n, out, pool);
  for (int64_t t = 0; t < n; ++t) rmsnorm(out + t * dim, L.post_attn_norm, out + t * dim, dim, hp_.rms_eps);
  add_inplace(hidden, out, n * dim);

  // Feed-forward sub-block (GELU-gated).
  for (int64_t t = 0; t < n; ++t) rmsnorm(hidden + t * dim, L.ffn_norm, x + t * dim, dim, hp_.rms_eps);
  float* gate = buf.gate.data();
  float* up = buf.up.data();
  linear(L.ffn_gate, x, n, gate, pool);
  linear(L.ffn_up, x, n, up, pool);
  gelu_mul(gate, up, gate, n * ffn);
  linear(L.ffn_down, gate, n, out, pool);
  for (int64_t t = 0; t < n; ++t) rmsnorm(out + t * dim, L.post_ffn_norm, out + t * dim, dim, hp_.rms_eps);
  add_inplace(hidden, out, n * dim);
}

}  // namespace baton
