#include "model/transformer.h"

#include <fmt/format.h>

#include <stdexcept>

#include "model/transformer_buffers.h"
#include "tensor/kernels.h"

namespace baton {

void linear(const WeightView& w, const float* x, int64_t n, float* y, ThreadPool* pool) {
  if (n == 1) {
    matvec(w, x, y, pool);
  } else {
    matmul(w, x, n, y, pool);
  }
}

namespace {
RopeParams with_factors(RopeParams p, const float* factors) {
  p.freq_factors = factors;
  return p;
}
}  // namespace

Transformer::Transformer(const HyperParams& hp, const StageWeights& weights)
    : hp_(hp),
      w_(weights),
      rope_(with_factors(hp.rope, weights.rope_freqs ? weights.rope_freqs : weights.rope_factors_short)) {
  if (weights.rope_factors_long) rope_long_.emplace(with_factors(hp.rope, weights.rope_factors_long));
  if (hp.gemma.enabled) rope_sliding_.emplace(hp.gemma.rope_sliding);
}

const RopeTable& Transformer::rope_for(int layer, int64_t context) const {
  if (rope_sliding_ && hp_.gemma.is_sliding(layer)) return *rope_sliding_;
  if (rope_long_ && context > hp_.rope.original_context) return *rope_long_;
  return rope_;
}

void Transformer::embed(std::span<const int32_t> tokens, float* hidden) const {
  if (!w_.has_embedding) throw std::logic_error("this stage does not hold the token embedding");
  const WeightView& e = w_.token_embedding;
  const uint64_t stride = row_bytes(e.dtype, static_cast<uint64_t>(e.cols));
  for (size_t t = 0; t < tokens.size(); ++t) {
    const int32_t id = tokens[t];
    if (id < 0 || id >= e.rows) {
      throw std::out_of_range(fmt::format("token id {} is outside the vocabulary [0, {})", id, e.rows));
    }
    const auto* row = static_cast<const uint8_t*>(e.data) + stride * static_cast<uint64_t>(id);
    dequantize_row(e.dtype, row, hidden + t * static_cast<size_t>(hp_.dim), e.cols);
  }
  if (hp_.gemma.enabled) {
    const float scale = hp_.gemma.embed_scale;
    for (size_t i = 0; i < tokens.size() * static_cast<size_t>(hp_.dim); ++i) hidden[i] *= scale;
  }
}

void Transformer::forward_layers(int first, int last, float* hidden, int64_t n_tokens, int64_t pos0,
                                 KVCache& kv, ThreadPool* pool) const {
  const Sequence one{hidden, n_tokens, pos0, &kv};
  forward_layers_batch(first, last, std::span<const Sequence>(&one, 1), pool);
}

void Transformer::forward_layers_batch(int first, int last, std::span<const Sequence> batch, ThreadPool* pool) const {
  if (first < w_.range.first || last > w_.range.last || first > last) {
    throw std::out_of_range(fmt::format("layers [{}, {}) are not inside this stage's range [{}, {})",
                                        first, last, w_.range.first, w_.range.last));
  }
  if (batch.empty()) throw std::invalid_argument("forward needs at least one sequence");
  int64_t total = 0;
  for (const Sequence& s : batch) {
    if (s.n_tokens <= 0) throw std::invalid_argument("forward needs at least one token per sequence");
    if (s.pos0 != s.kv->size()) {
      throw std::out_of_range(fmt::format("forward at position {} but the KV cache holds {} positions", s.pos0, s.kv->size()));
    }
    if (s.pos0 + s.n_tokens > s.kv->capacity()) {
      throw std::out_of_range(fmt::format("context overflow: {} + {} tokens exceed the context of {}", s.pos0,
                                          s.n_tokens, s.kv->capacity()));
    }
    total += s.n_tokens;
  }
  // Rows of all sequences side by side, so each weight matrix is read once per layer.
  const int64_t dim = hp_.dim;
  std::vector<float> packed;
  float* hidden = batch[0].hidden;
  if (batch.size() > 1) {
    packed.resize(static_cast<size_t>(total * dim));
    int64_t row = 0;
    for (const Sequence& s : batch) {
      std::copy(s.hidden, s.hidden + s.n_tokens * dim, packed.data() + row * dim);
      row += s.n_tokens;
    }
    hidden = packed.data();
  }
  BlockBuffers buf(hp_, total);
  for (int il = first; il < last; ++il) block(w_.layer(il), il, hidden, total, batch, buf, pool);
  if (batch.size() > 1) {
    int64_t row = 0;
    for (const Sequence& s : batch) {
      std::copy(packed.data() + row * dim, packed.data() + (row + s.n_tokens) * dim, s.hidden);
      row += s.n_tokens;
    }
  }
  // A cache's fill level moves once its last layer has the new positions, so a range
  // may be run in several calls ([0,k) then [k,n)) over one cache.
  for (const Sequence& s : batch) {
    if (last == s.kv->range().last) s.kv->set_size(s.pos0 + s.n_tokens);
  }
}

void Transformer::block(const LayerWeights& L, int layer, float* hidden, int64_t n, std::span<const Sequence> batch,
                        BlockBuffers& buf, ThreadPool* pool) const {
  if (hp_.gemma.enabled) {
    gemma_block(L, layer, hidden, n, batch, buf, pool);
    return;
  }
  const int64_t dim = hp_.dim, q_dim = hp_.q_dim(), kv_dim = hp_.kv_dim(), ffn = hp_.ffn_dim;
  std::vector<float>& x = buf.x;
  std::vector<float>& q = buf.q;
  std::vector<float>& k = buf.k;
  std::vector<float>& v = buf.v;
  std::vector<float>& attn = buf.attn;

  // Attention sub-block.
  for (int64_t t = 0; t < n; ++t) rmsnorm(hidden + t * dim, L.attn_norm, x.data() + t * dim, dim, hp_.rms_eps);
  linear(L.attn_q, x.data(), n, q.data(), pool);
  linear(L.attn_k, x.data(), n, k.data(), pool);
  linear(L.attn_v, x.data(), n, v.data(), pool);
  const AttentionShape shape{hp_.n_heads, hp_.n_kv_heads, hp_.head_dim};
  int64_t row = 0;
  for (const Sequence& s : batch) {
    KVLayerView cache = s.kv->layer(layer);
    const RopeTable& rope = rope_for(layer, s.kv->capacity());
    for (int64_t t = 0; t < s.n_tokens; ++t) {
      float* qt = q.data() + (row + t) * q_dim;
      float* kt = k.data() + (row + t) * kv_dim;
      float* vt = v.data() + (row + t) * kv_dim;
      if (L.bias_q) {
        add_inplace(qt, L.bias_q, q_dim);
        add_inplace(kt, L.bias_k, kv_dim);
        add_inplace(vt, L.bias_v, kv_dim);
      }
      if (L.attn_q_norm) {
        rmsnorm_heads(qt, L.attn_q_norm, hp_.n_heads, hp_.head_dim, hp_.rms_eps);
        rmsnorm_heads(kt, L.attn_k_norm, hp_.n_kv_heads, hp_.head_dim, hp_.rms_eps);
      }
      const int position = static_cast<int>(s.pos0 + t);
      rope_inplace(qt, hp_.n_heads, position, rope);
      rope_inplace(kt, hp_.n_kv_heads, position, rope);
      kv_store(cache, s.pos0 + t, kt, vt, kv_dim);
    }
    attention(q.data() + row * q_dim, s.n_tokens, s.pos0, cache, shape, attn.data() + row * q_dim, pool);
    row += s.n_tokens;
  }
  std::vector<float>& out = buf.out;
  linear(L.attn_output, attn.data(), n, out.data(), pool);
  add_inplace(hidden, out.data(), n * dim);

  // Feed-forward sub-block (SwiGLU).
  for (int64_t t = 0; t < n; ++t) rmsnorm(hidden + t * dim, L.ffn_norm, x.data() + t * dim, dim, hp_.rms_eps);
  std::vector<float>& gate = buf.gate;
  std::vector<float>& up = buf.up;
  linear(L.ffn_gate, x.data(), n, gate.data(), pool);
  linear(L.ffn_up, x.data(), n, up.data(), pool);
  silu_mul(gate.data(), up.data(), gate.data(), n * ffn);
  linear(L.ffn_down, gate.data(), n, out.data(), pool);
  add_inplace(hidden, out.data(), n * dim);
}

void Transformer::head(const float* hidden, int64_t n, float* logits, ThreadPool* pool) const {
  if (!w_.has_head) throw std::logic_error("this stage does not hold the output head");
  const int64_t dim = hp_.dim;
  std::vector<float> x(static_cast<size_t>(n * dim));
  for (int64_t t = 0; t < n; ++t) rmsnorm(hidden + t * dim, w_.output_norm, x.data() + t * dim, dim, hp_.rms_eps);
  linear(w_.output, x.data(), n, logits, pool);
  if (hp_.gemma.final_softcap > 0.0f) softcap_inplace(logits, n * hp_.vocab_size, hp_.gemma.final_softcap);
}

void Transformer::add_final_norms(const float* hidden, int64_t n, float* sum) const {
  if (!w_.has_head) throw std::logic_error("this stage does not hold the final norm");
  const int64_t dim = hp_.dim;
  std::vector<float> x(static_cast<size_t>(dim));
  for (int64_t t = 0; t < n; ++t) {
    rmsnorm(hidden + t * dim, w_.output_norm, x.data(), dim, hp_.rms_eps);
    for (int64_t d = 0; d < dim; ++d) sum[d] += x[static_cast<size_t>(d)];
  }
}

}  // namespace baton
