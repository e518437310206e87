// Causal grouped-query attention over a KV cache, and writing one position into the cache.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/kernels_dispatch.h"
#include "tensor/thread_pool.h"

namespace baton {

namespace {

bool is_kv_dtype(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::Q8_0; }

void check_kv_dtype(DType t, int64_t elems, const char* fn, const char* what) {
  if (!is_kv_dtype(t)) {
    throw std::invalid_argument(std::string(fn) + ": KV cache dtype " + std::string(dtype_name(t)) +
                                " is not supported (use f32, f16 or q8_0)");
  }
  if (t == DType::Q8_0 && elems % kQK != 0) {
    throw std::invalid_argument(std::string(fn) + ": a q8_0 KV cache needs " + what + " to be a multiple of 32, got " +
                                std::to_string(elems));
  }
}

}  // namespace

namespace detail {

void attention_with(const KernelTable& k, const float* q, int64_t n_tokens, int64_t pos0, const KVLayerView& kv,
                    const AttentionShape& shape, float* out, ThreadPool* pool) {
  if (shape.n_heads <= 0 || shape.n_kv_heads <= 0 || shape.head_dim <= 0 || shape.n_heads % shape.n_kv_heads != 0) {
    throw std::invalid_argument("attention: need n_heads, n_kv_heads, head_dim > 0 and n_heads a multiple of n_kv_heads (got " +
                                std::to_string(shape.n_heads) + ", " + std::to_string(shape.n_kv_heads) + ", " +
                                std::to_string(shape.head_dim) + ")");
  }
  if (n_tokens < 0 || pos0 < 0) throw std::invalid_argument("attention: negative token count or position");
  if (shape.window < 0 || !(shape.softcap >= 0.0f) || !(shape.scale >= 0.0f)) {
    throw std::invalid_argument("attention: window, softcap and scale must not be negative (got " +
                                std::to_string(shape.window) + ", " + std::to_string(shape.softcap) + ", " +
                                std::to_string(shape.scale) + ")");
  }
  check_kv_dtype(kv.dtype, shape.head_dim, "attention", "head_dim");
  const int64_t kv_elems = static_cast<int64_t>(shape.n_kv_heads) * shape.head_dim;
  if (kv.row_bytes < static_cast<int64_t>(row_bytes(kv.dtype, kv_elems))) {
    throw std::invalid_argument("attention: KV row_bytes " + std::to_string(kv.row_bytes) + " is smaller than " +
                                std::to_string(row_bytes(kv.dtype, kv_elems)) + " bytes for n_kv_heads*head_dim values");
  }
  if (n_tokens == 0) return;
  // Every position a query sees must be in the view: a sliding layer's rows start later.
  const int64_t first_seen = shape.window > 0 ? std::max<int64_t>(0, pos0 - shape.window + 1) : 0;
  if (first_seen < kv.first_position || (kv.rows > 0 && pos0 + n_tokens - kv.first_position > kv.rows)) {
    throw std::out_of_range("attention: positions " + std::to_string(first_seen) + ".." +
                            std::to_string(pos0 + n_tokens - 1) + " are not all in the KV cache, which holds " +
                            std::to_string(kv.first_position) + ".." + std::to_string(kv.first_position + kv.rows - 1));
  }

  const int group = shape.n_heads / shape.n_kv_heads;
  const int64_t head_dim = shape.head_dim;
  const int64_t q_stride = static_cast<int64_t>(shape.n_heads) * head_dim;
  const size_t head_bytes = row_bytes(kv.dtype, static_cast<uint64_t>(head_dim));
  const float scale =
      shape.scale > 0.0f ? shape.scale : static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  const float softcap = shape.softcap;
  const int64_t window = shape.window;
  const auto* k_base = static_cast<const uint8_t*>(kv.k);
  const auto* v_base = static_cast<const uint8_t*>(kv.v);

  // Work items are (token, head) pairs; chunks hold whole groups of heads that share a KV
  // head (grain = group), so each K/V row is read once per group and the grouping, hence
  // the arithmetic, is the same whatever the thread count.
  auto pairs = [&](size_t p0, size_t p1) {
    // Scores of one query (the longest row is the last token's; a window bounds them all).
    const size_t max_ctx = static_cast<size_t>(window > 0 ? std::min<int64_t>(pos0 + n_tokens, window) : pos0 + n_tokens);
    std::vector<float> scores(static_cast<size_t>(group) * max_ctx);
    for (size_t first = p0; first < p1; first += static_cast<size_t>(group)) {
      const int64_t t = static_cast<int64_t>(first) / shape.n_heads;
      const int h = static_cast<int>(first % static_cast<size_t>(shape.n_heads));  // first head of the group
      const size_t kv_offset = static_cast<size_t>(h / group) * head_bytes;
      // Causal: positions first_pos .. pos0 + t, where a sliding window starts later than 0.
      const int64_t last_pos = pos0 + t;
      const int64_t first_pos = window > 0 && last_pos >= window ? last_pos - window + 1 : 0;
      const int64_t n_ctx = last_pos - first_pos + 1;
      const size_t skip = static_cast<size_t>(first_pos - kv.first_position) * static_cast<size_t>(kv.row_bytes);
      k.kv_scores(kv.dtype, k_base + skip + kv_offset, static_cast<size_t>(kv.row_bytes), n_ctx,
                  q + t * q_stride + h * head_dim, group, head_dim, scale, scores.data(), max_ctx);
      for (int g = 0; g < group; ++g) {
        if (softcap > 0.0f) softcap_inplace(scores.data() + g * max_ctx, n_ctx, softcap);
        k.softmax(scores.data() + g * max_ctx, n_ctx);
      }
      k.kv_mix(kv.dtype, v_base + skip + kv_offset, static_cast<size_t>(kv.row_bytes), n_ctx, scores.data(), max_ctx,
               group, head_dim, out + t * q_stride + h * head_dim);
    }
  };
  const size_t n_pairs = static_cast<size_t>(n_tokens) * static_cast<size_t>(shape.n_heads);
  if (pool != nullptr && pool->size() > 1) {
    pool->parallel_for(n_pairs, static_cast<size_t>(group), pairs);
  } else {
    pairs(0, n_pairs);
  }
}

}  // namespace detail

void attention(const float* q, int64_t n_tokens, int64_t pos0, const KVLayerView& kv, const AttentionShape& shape,
               float* out, ThreadPool* pool) {
  detail::attention_with(detail::active_kernels(), q, n_tokens, pos0, kv, shape, out, pool);
}

void kv_store(const KVLayerView& kv, int64_t position, const float* k, const float* v, int64_t row_elems) {
  check_kv_dtype(kv.dtype, row_elems, "kv_store", "n_kv_heads*head_dim");
  if (position < 0 || row_elems < 0) throw std::invalid_argument("kv_store: negative position or row size");
  if (static_cast<int64_t>(row_bytes(kv.dtype, static_cast<uint64_t>(row_elems))) > kv.row_bytes) {
    throw std::invalid_argument("kv_store: " + std::to_string(row_elems) + " values do not fit a KV row of " +
                                std::to_string(kv.row_bytes) + " bytes");
  }
  const int64_t row = position - kv.first_position;
  if (row < 0 || (kv.rows > 0 && row >= kv.rows)) {
    throw std::out_of_range("kv_store: position " + std::to_string(position) + " is outside the KV rows for positions " +
                            std::to_string(kv.first_position) + ".." + std::to_string(kv.first_position + kv.rows - 1));
  }
  auto* k_row = static_cast<uint8_t*>(kv.k) + row * kv.row_bytes;
  auto* v_row = static_cast<uint8_t*>(kv.v) + row * kv.row_bytes;
  if (kv.dtype == DType::Q8_0) {
    // Same codes as quantize_row; the table's quantiser is just faster.
    const auto& table = detail::active_kernels();
    table.quantize_q8_0(k, k_row, row_elems);
    table.quantize_q8_0(v, v_row, row_elems);
  } else {
    quantize_row(kv.dtype, k, k_row, row_elems);
    quantize_row(kv.dtype, v, v_row, row_elems);
  }
}

}  // namespace baton
