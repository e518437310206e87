// The math the transformer needs, as pure functions over caller-owned buffers.
// Quantised weights stay in their ggml block layout; activations are f32 and are
// quantised on the fly (Q8_0 for the 32-value block types, Q8_K for K-quants) so dot products
// run in integer SIMD. AVX2/FMA/F16C variants are chosen at run time (cpu_features.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tensor/dtype.h"

namespace baton {

class ThreadPool;

// A 2-D weight matrix as stored in GGUF: `rows` rows of `cols` elements each, row-major,
// every row row_bytes(dtype, cols) long. In ggml's dims this is ne0 = cols, ne1 = rows.
struct WeightView {
  DType dtype;
  const void* data;
  int64_t rows;
  int64_t cols;
};

// ---- quantise / dequantise (one row of n elements; n a multiple of the block size) ----
void dequantize_row(DType t, const void* src, float* dst, int64_t n);
// Every DType is a target: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K,
// Q8_K (ggml's block layouts; the codes chosen are baton's own fits, not ggml's bit for bit).
void quantize_row(DType t, const float* src, void* dst, int64_t n);
// Documented worst-case error bound, relative to the block's max |x|, used by tests.
double quantization_error_bound(DType t);

// ---- linear algebra ----
// y[r] = sum_c W[r][c] * x[c], r in [0, rows). Splits rows across the pool (may be null).
void matvec(const WeightView& w, const float* x, float* y, ThreadPool* pool);
// Y[t][r] = sum_c W[r][c] * X[t][c] for t in [0, n_tokens): X is n_tokens x cols,
// Y is n_tokens x rows. Reads each weight row once for all tokens (prefill speed).
void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool);

// ---- elementwise / normalisation ----
// out = x / sqrt(mean(x^2) + eps) * weight ; out may alias x.
void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps);
// rmsnorm in place over each of n_heads consecutive head_dim slices of `row`, with the
// same head_dim weights for every head (Qwen3's and Gemma 3's query/key norms).
void rmsnorm_heads(float* row, const float* weight, int n_heads, int64_t head_dim, float eps);
void softmax_inplace(float* x, int64_t n);
// out[i] = silu(gate[i]) * up[i] ; out may alias gate.
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
// out[i] = gelu(gate[i]) * up[i] with GELU's tanh approximation (Gemma's feed-forward), at
// llama.cpp's f16 precision (input and GELU rounded to f16; x at or beyond +-10: x or 0);
// out may alias gate.
void gelu_mul(const float* gate, const float* up, float* out, int64_t n);
// x[i] = cap * tanh(x[i] / cap): Gemma 2's soft-capping of attention scores and logits.
void softcap_inplace(float* x, int64_t n, float cap);
void add_inplace(float* dst, const float* src, int64_t n);

// ---- rotary position embedding ----
enum class RopeLayout { Normal, NeoX };  // Normal: pairs (2i, 2i+1); NeoX: pairs (i, i + d/2)
struct RopeParams {
  int head_dim = 0;
  int rope_dims = 0;        // rotated dims (<= head_dim); usually == head_dim
  float theta = 10000.0f;   // base frequency
  float freq_scale = 1.0f;  // linear scaling: position * freq_scale (1 / rope.scaling.factor)
  RopeLayout layout = RopeLayout::Normal;
  // rope_dims/2 divisors of the rotation frequencies (Llama 3's rope_freqs, Phi-3's
  // LongRoPE rope_factors_long/short: frequency i becomes theta^(-2i/d) / freq_factors[i]);
  // null means all 1. Not owned.
  const float* freq_factors = nullptr;
  // YaRN, as ggml's rope_yarn computes it: pair i's frequency blends the interpolated one
  // (times freq_scale) and the original (extrapolated) one by ext_factor * ramp(i), where
  // the ramp falls from 1 to 0 between the "correction dims" at which a pair turns
  // beta_fast and beta_slow times in original_context positions; and cos/sin gain
  // 1 + 0.1 ln(1 / freq_scale). ext_factor 0 is plain (linear) RoPE.
  float ext_factor = 0.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int original_context = 0;  // rope.scaling.original_context_length (else the training context)
  // Multiplies cos and sin, so q.k by its square: rope.scaling.attn_factor (LongRoPE's
  // sqrt(1 + ln(scale) / ln(original_context))), 1 for most models.
  float attn_factor = 1.0f;
};

// The per-pair angular frequencies and the cos/sin magnitude of one RoPE, computed once
// (per model, not per token) from its parameters: pair i turns by position * freq(i)
// and is scaled by mscale(). Throws std::invalid_argument for inconsistent parameters
// (rope_dims odd or > head_dim, frequency factors or attn_factor not positive, YaRN
// without an original context).
class RopeTable {
 public:
  // Pair i's angle is ((position * scale) * base) / divisor, in double: the position
  // scale (freq_scale, or YaRN's blend of it with 1), theta^(-2i/d), the frequency factor.
  // Kept apart rather than multiplied out so that plain and linearly scaled RoPE round
  // exactly as they always have.
  struct Pair {
    double scale, base, divisor;
  };

  explicit RopeTable(const RopeParams& p);
  int head_dim() const { return head_dim_; }
  int rope_dims() const { return static_cast<int>(pairs_.size()) * 2; }
  RopeLayout layout() const { return layout_; }
  const Pair& pair(int i) const { return pairs_[static_cast<size_t>(i)]; }
  double freq(int i) const { return pair(i).scale * pair(i).base / pair(i).divisor; }
  float mscale() const { return mscale_; }

 private:
  int head_dim_;
  RopeLayout layout_;
  std::vector<Pair> pairs_;  // rope_dims / 2
  float mscale_;
};

// Rotates n_heads heads of head_dim values each (contiguous) for one position, in place.
void rope_inplace(float* x, int n_heads, int position, const RopeTable& table);
// The same with a table built for this call (tests and one-off uses; a model builds its
// tables once).
void rope_inplace(float* x, int n_heads, int position, const RopeParams& p);

// ---- attention over a KV cache ----
// One layer's cache: K and V rows, row i holding position first_position + i, each row
// n_kv_heads * head_dim values in `dtype` (F16 or Q8_0; F32 allowed for tests). A full
// cache starts at position 0; a sliding-window layer's keeps only its latest positions.
struct KVLayerView {
  DType dtype;
  void* k;
  void* v;
  int64_t row_bytes;            // bytes per position (row_bytes(dtype, n_kv_heads * head_dim))
  int64_t first_position = 0;   // the position in row 0
  int64_t rows = 0;             // rows allocated (0: not checked)
};
struct AttentionShape {
  int n_heads = 0;
  int n_kv_heads = 0;  // grouped-query: n_heads % n_kv_heads == 0
  int head_dim = 0;
  // Sliding-window layers (Gemma 2/3): > 0 lets a query at position p see only positions
  // p - window + 1 .. p, which the view must hold (it may start after position 0).
  int window = 0;
  float softcap = 0.0f;  // > 0: each score s becomes softcap * tanh(s / softcap) before the softmax (Gemma 2)
  float scale = 0.0f;    // > 0: the score scale instead of 1/sqrt(head_dim)
};
// Causal attention for n_tokens queries at positions pos0 .. pos0+n_tokens-1.
// q: n_tokens x (n_heads*head_dim) f32 (already roped); the cache already holds
// every position the queries see, up to pos0+n_tokens-1. out: n_tokens x (n_heads*head_dim).
// Throws std::out_of_range when a position the queries see is not in the view.
// Scale is 1/sqrt(head_dim) unless shape.scale says otherwise. Splits (token, head) pairs
// across the pool.
void attention(const float* q, int64_t n_tokens, int64_t pos0, const KVLayerView& kv,
               const AttentionShape& shape, float* out, ThreadPool* pool);
// Writes one position's K and V (f32, n_kv_heads*head_dim each) into the cache (its row
// position - first_position; std::out_of_range outside the view's rows).
void kv_store(const KVLayerView& kv, int64_t position, const float* k, const float* v,
              int64_t row_elems);

}  // namespace baton
