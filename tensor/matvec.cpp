// matvec / matmul drivers: validate shapes, convert the activations once, then split the
// weight rows across the pool in tiles of the kernel table's tile_rows rows (x tile_tokens tokens).
#include <algorithm>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include "tensor/fp16.h"
#include "tensor/kernels_dispatch.h"
#include "tensor/thread_pool.h"

namespace baton {

namespace detail {

namespace {

// Below this many weight elements a matvec finishes in about a microsecond, less than
// waking the pool costs.
constexpr int64_t kMinParallelElems = 32 * 1024;
// Tokens processed per pass over a tile in matmul: their activations (at most
// ~kTokenBlock * cols * 4 bytes) stay in L2 while each weight row is reused for all of them.
constexpr int64_t kTokenBlock = 32;

void check_weights(const WeightView& w, const char* fn) {
  if (!is_matvec_weight_type(w.dtype)) {
    throw std::invalid_argument(std::string(fn) + ": weight dtype " + std::string(dtype_name(w.dtype)) +
                                " is not supported");
  }
  if (w.rows < 0 || w.cols < 0) throw std::invalid_argument(std::string(fn) + ": negative weight shape");
  if (!row_fits_blocks(w.dtype, static_cast<uint64_t>(w.cols))) {
    throw std::invalid_argument(std::string(fn) + ": " + std::to_string(w.cols) + " columns is not a multiple of the " +
                                std::string(dtype_name(w.dtype)) + " block size");
  }
  if (w.rows > 0 && w.cols > 0 && w.data == nullptr) throw std::invalid_argument(std::string(fn) + ": null weights");
}

bool uses_wide_q8(const KernelTable& k, DType weight) {
  return k.q8_wide_rows > 0 && (weight == DType::Q8_0 || weight == DType::Q4_0 || weight == DType::IQ4_NL ||
                                 weight == DType::Q5_0 || weight == DType::Q5_1);
}

// Decode and short verification frames keep dot_f16 / dot_bf16 in tiles of tile_rows: a
// call through the prefill kernel cost one-token matvecs of 768 x 768 7-12 %.
bool uses_prefill_kernel(const KernelTable& k, DType weight, int64_t n_tokens) {
  return k.prefill_tile_tokens > 0 && n_tokens >= k.prefill_min_tokens &&
         (weight == DType::F16 || weight == DType::BF16);
}

// Appends each block's scale (as f32) and code sum after a token's Q8_0 blocks.
void append_block_sums(uint8_t* row, int64_t cols) {
  const int64_t nb = cols / kQK;
  const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
  auto* sums = reinterpret_cast<Q8BlockSums*>(row + q8_0_sums_offset(cols));
  for (int64_t b = 0; b < nb; ++b) {
    int32_t sum = 0;
    for (int j = 0; j < kQK; ++j) sum += blocks[b].qs[j];
    sums[b] = Q8BlockSums{fp16_to_f32(blocks[b].d), sum};
  }
}

}  // namespace

size_t q8_0_sums_offset(int64_t cols) {
  const size_t blocks = row_bytes(DType::Q8_0, static_cast<uint64_t>(cols));
  return (blocks + alignof(Q8BlockSums) - 1) / alignof(Q8BlockSums) * alignof(Q8BlockSums);
}

size_t q8_0_with_sums_row_bytes(int64_t cols) {
  return q8_0_sums_offset(cols) + static_cast<size_t>(cols / kQK) * sizeof(Q8BlockSums);
}

PreparedActivations prepare_activations(const KernelTable& k, DType weight, const float* x, int64_t n_tokens,
                                        int64_t cols) {
  PreparedActivations p;
  const DType act = activation_dtype(weight);
  if (act == DType::F32) {
    p.data = reinterpret_cast<const uint8_t*>(x);
    p.stride = row_bytes(act, static_cast<uint64_t>(cols));
    return p;
  }
  const bool sums = uses_wide_q8(k, weight);
  p.stride = sums ? q8_0_with_sums_row_bytes(cols) : row_bytes(act, static_cast<uint64_t>(cols));
  // Q8_0 rows need 32-multiples and Q8_K rows 256-multiples: guaranteed because the weight
  // dtype has the same block size as its activation dtype.
  p.owned.reset(new uint8_t[p.stride * static_cast<size_t>(n_tokens)]);
  const QuantizeRowFn quantize = act == DType::Q8_0 ? k.quantize_q8_0 : k.quantize_q8_K;
  for (int64_t t = 0; t < n_tokens; ++t) {
    uint8_t* row = p.owned.get() + t * p.stride;
    quantize(x + t * cols, row, cols);
    if (sums) append_block_sums(row, cols);
  }
  p.data = p.owned.get();
  return p;
}

TileShape tile_shape_for(const KernelTable& k, DType weight, int64_t n_tokens) {
  if (uses_wide_q8(k, weight)) return TileShape{k.q8_wide_rows, std::numeric_limits<int64_t>::max()};
  if (k.k_wide_rows > 0 && (weight == DType::Q4_K || weight == DType::Q6_K)) {
    return TileShape{k.k_wide_rows, std::numeric_limits<int64_t>::max()};
  }
  if (uses_prefill_kernel(k, weight, n_tokens)) return TileShape{k.prefill_tile_rows, k.prefill_tile_tokens};
  return TileShape{k.tile_rows, k.tile_tokens};
}

DotTileFn dot_rows_for(const KernelTable& k, DType weight, int64_t n_tokens) {
  if (uses_prefill_kernel(k, weight, n_tokens)) return weight == DType::F16 ? k.dot_f16_prefill : k.dot_bf16_prefill;
  return dot_rows_for(k, weight);
}

void matvec_with(const KernelTable& k, const WeightView& w, const float* x, float* y, ThreadPool* pool) {
  check_weights(w, "matvec");
  if (w.rows == 0) return;
  if (w.cols == 0) {
    std::fill(y, y + w.rows, 0.0f);
    return;
  }
  const DotTileFn dot = dot_rows_for(k, w.dtype);
  const PreparedActivations act = prepare_activations(k, w.dtype, x, 1, w.cols);
  const size_t stride = row_bytes(w.dtype, static_cast<uint64_t>(w.cols));
  const auto* base = static_cast<const uint8_t*>(w.data);
  const size_t tile_rows = static_cast<size_t>(tile_shape_for(k, w.dtype, 1).rows);
  auto rows = [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r += tile_rows) {
      const int nrows = static_cast<int>(std::min<size_t>(tile_rows, r1 - r));
      dot(w.cols, base + r * stride, stride, nrows, act.data, act.stride, 1, y + r, 0);
    }
  };
  if (pool != nullptr && pool->size() > 1 && w.rows * w.cols >= kMinParallelElems) {
    pool->parallel_for(static_cast<size_t>(w.rows), tile_rows, rows);
  } else {
    rows(0, static_cast<size_t>(w.rows));
  }
}

void matmul_with(const KernelTable& k, const WeightView& w, const float* x, int64_t n_tokens, float* y,
                 ThreadPool* pool) {
  check_weights(w, "matmul");
  if (n_tokens < 0) throw std::invalid_argument("matmul: negative token count");
  if (w.rows == 0 || n_tokens == 0) return;
  if (w.cols == 0) {
    std::fill(y, y + w.rows * n_tokens, 0.0f);
    return;
  }
  const DotTileFn dot = dot_rows_for(k, w.dtype, n_tokens);
  const PreparedActivations act = prepare_activations(k, w.dtype, x, n_tokens, w.cols);
  const size_t stride = row_bytes(w.dtype, static_cast<uint64_t>(w.cols));
  const auto* base = static_cast<const uint8_t*>(w.data);
  const TileShape tile = tile_shape_for(k, w.dtype, n_tokens);
  const size_t tile_rows = static_cast<size_t>(tile.rows);
  const size_t rows_total = static_cast<size_t>(w.rows);
  // Kernels that take every token in one call (rows across lanes) gather a tile's weights
  // once for all of them; the others get token blocks small enough to stay in cache.
  const int64_t token_block = tile.tokens > kTokenBlock ? n_tokens : kTokenBlock;
  auto rows = [&](size_t r0, size_t r1) {
    // Token blocks outermost so their activations stay cached; each tile of weight rows
    // is then reused for every token of the block while it sits in L1.
    for (int64_t t0 = 0; t0 < n_tokens; t0 += token_block) {
      const int64_t t1 = std::min(n_tokens, t0 + token_block);
      for (size_t r = r0; r < r1; r += tile_rows) {
        const int nrows = static_cast<int>(std::min<size_t>(tile_rows, r1 - r));
        for (int64_t t = t0; t < t1; t += tile.tokens) {
          const int ntok = static_cast<int>(std::min<int64_t>(tile.tokens, t1 - t));
          dot(w.cols, base + r * stride, stride, nrows, act.data + t * act.stride, act.stride, ntok,
              y + t * w.rows + static_cast<int64_t>(r), rows_total);
        }
      }
    }
  };
  if (pool != nullptr && pool->size() > 1 && w.rows * w.cols * n_tokens >= kMinParallelElems) {
    pool->parallel_for(static_cast<size_t>(w.rows), tile_rows, rows);
  } else {
    rows(0, static_cast<size_t>(w.rows));
  }
}

}  // namespace detail

void matvec(const WeightView& w, const float* x, float* y, ThreadPool* pool) {
  detail::matvec_with(detail::active_kernels(), w, x, y, pool);
}

void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool) {
  detail::matmul_with(detail::active_kernels(), w, x, n_tokens, y, pool);
}

}  // namespace baton
