// Internal: the table of hot kernels, one scalar implementation (always available), one
// AVX2/FMA/F16C implementation (x86 with those features) and two NEON ones (aarch64, with
// and without the dot-product extension). The public functions in
// kernels.h use active_kernels(); tests call scalar_kernels()/avx2_kernels() directly to
// check each path against references and against each other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/dtype.h"
#include "tensor/kernels.h"

namespace baton::detail {

// out[t * out_stride + r] = dot(weight row r, activation t) for r < nrows <= the table's
// tile_rows and t < ntok <= its tile_tokens. Weight rows are row_stride bytes apart, activations
// act_stride bytes apart, in the format activation_dtype() gives for the weight dtype.
// Contract: each (row, token) result is bit-identical whatever nrows and ntok are, so
// results do not depend on tiling, threads, or matvec vs matmul.
using DotTileFn = void (*)(int64_t n, const void* w, size_t row_stride, int nrows, const void* act, size_t act_stride,
                           int ntok, float* out, size_t out_stride);
// Quantises an f32 activation row into the block format (same codes as quantize_row).
using QuantizeRowFn = void (*)(const float* x, void* y, int64_t n);

// Bounds on every table's tile_rows and tile_tokens (the prefill_* and wide kernels below
// have their own).
inline constexpr int kMaxTileRows = 4;
inline constexpr int kMaxTileTokens = 4;

struct KernelTable {
  const char* name;
  DotTileFn dot_f32;
  DotTileFn dot_f16;
  DotTileFn dot_bf16;
  DotTileFn dot_q8_0;  // activation: Q8_0
  DotTileFn dot_q4_0;  // activation: Q8_0
  DotTileFn dot_q4_K;  // activation: Q8_K
  DotTileFn dot_q6_K;  // activation: Q8_K
  QuantizeRowFn quantize_q8_0;
  QuantizeRowFn quantize_q8_K;
  // Attention for n_q query heads that share one KV head (grouped-query attention), over
  // that head's slice of n_pos consecutive KV rows (row_stride bytes apart; F32, F16, or
  // Q8_0 with head_dim % 32 == 0). Query g is at q + g*head_dim. Each K/V row is read
  // once for the whole group.
  // scores[g * score_stride + p] = scale * dot(q_g, k_p)
  void (*kv_scores)(DType t, const void* rows, size_t row_stride, int64_t n_pos, const float* q, int n_q,
                    int64_t head_dim, float scale, float* scores, size_t score_stride);
  // out[g * head_dim + d] = sum_p w[g * w_stride + p] * v_p[d]
  void (*kv_mix)(DType t, const void* rows, size_t row_stride, int64_t n_pos, const float* w, size_t w_stride, int n_q,
                 int64_t head_dim, float* out);
  void (*softmax)(float* x, int64_t n);
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n);
  // The largest tile the dot functions take (see DotTileFn); matvec/matmul tile by these.
  int tile_rows = 4;
  int tile_tokens = 2;
  // Nonzero when dot_q8_0, dot_q4_0, dot_iq4_nl, dot_q5_0 and dot_q5_1 put weight rows across vector lanes: they then take
  // up to this many rows and any number of tokens per call, and read their Q8_0
  // activations with the per-block sums appended (q8_0_with_sums_row_bytes below).
  int q8_wide_rows = 0;
  // Nonzero when dot_q4_K and dot_q6_K take up to this many rows and any number of tokens
  // per call (and give the scalar reference's bits).
  int k_wide_rows = 0;
  // Types added later; every table gives the scalar reference's bits for these (exact
  // integer block sums, then the reference's float steps in its order).
  DotTileFn dot_q5_0 = nullptr;    // activation: Q8_0
  DotTileFn dot_q5_1 = nullptr;    // activation: Q8_0
  DotTileFn dot_iq4_nl = nullptr;  // activation: Q8_0
  DotTileFn dot_q5_K = nullptr;    // activation: Q8_K
  // When set, matmuls of F16 / BF16 weights over at least prefill_min_tokens tokens use
  // these instead of dot_f16 / dot_bf16, in tiles of up to prefill_tile_rows rows x
  // prefill_tile_tokens tokens, with the same bits; decode keeps dot_f16 / dot_bf16.
  DotTileFn dot_f16_prefill = nullptr;
  DotTileFn dot_bf16_prefill = nullptr;
  int prefill_tile_rows = 0;
  int prefill_tile_tokens = 0;
  int prefill_min_tokens = 0;
};

// Q8_0 activations for tables with q8_wide_rows: each token's row is its row_bytes(Q8_0)
// of blocks, padded to 4 bytes, then one Q8BlockSums per block. Rows-in-lanes kernels need
// a block's scale as f32 and the sum of its codes once per (token, block); computing them
// once per matmul saves recomputing them for every tile of rows.
struct Q8BlockSums {
  float d;      // the block's scale
  int32_t sum;  // sum of its 32 codes
};
size_t q8_0_sums_offset(int64_t cols);
size_t q8_0_with_sums_row_bytes(int64_t cols);

// The activation rows in the format a table's kernel for `weight` reads. For float weights
// this is the caller's buffer itself; otherwise an owned, quantised copy.
struct PreparedActivations {
  std::unique_ptr<uint8_t[]> owned;
  const uint8_t* data = nullptr;
  size_t stride = 0;  // bytes per token
};
PreparedActivations prepare_activations(const KernelTable& k, DType weight, const float* x, int64_t n_tokens,
                                        int64_t cols);

// The tile shape matvec/matmul use for a weight type and a call over n_tokens tokens
// (tokens: the most per call).
struct TileShape {
  int rows;
  int64_t tokens;
};
TileShape tile_shape_for(const KernelTable& k, DType weight, int64_t n_tokens);

const KernelTable& scalar_kernels();
// nullptr unless built for x86 and the CPU has AVX2, FMA and F16C (and BATON_FORCE_SCALAR is unset).
const KernelTable* avx2_kernels();
// nullptr unless built for x86 and the CPU also has AVX-512 F/BW/VL/DQ and VNNI.
const KernelTable* avx512_kernels();
// nullptr unless built for aarch64 (and BATON_FORCE_SCALAR is unset): base NEON, which
// every aarch64 CPU has.
const KernelTable* neon_kernels();
// nullptr unless built for aarch64 and the CPU also has the dot-product instructions.
// Gives the same bits as neon_kernels() (and as avx2_kernels() on x86).
const KernelTable* neon_dotprod_kernels();
// The table the public API uses: AVX-512 VNNI, else AVX2, else NEON with dotprod, else
// NEON, else scalar.
const KernelTable& active_kernels();

// Weight dtypes matvec accepts, and the format their activations are converted to
// (F32 means the f32 activation is used as is).
bool is_matvec_weight_type(DType t);
DType activation_dtype(DType weight);
DotTileFn dot_rows_for(const KernelTable& k, DType weight);
// The kernel a matmul over n_tokens tokens uses (dot_rows_for, or a prefill kernel).
DotTileFn dot_rows_for(const KernelTable& k, DType weight, int64_t n_tokens);

// The public kernels with an explicit table.
void matvec_with(const KernelTable& k, const WeightView& w, const float* x, float* y, ThreadPool* pool);
void matmul_with(const KernelTable& k, const WeightView& w, const float* x, int64_t n_tokens, float* y,
                 ThreadPool* pool);
void attention_with(const KernelTable& k, const float* q, int64_t n_tokens, int64_t pos0, const KVLayerView& kv,
                    const AttentionShape& shape, float* out, ThreadPool* pool);

}  // namespace baton::detail
