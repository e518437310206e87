// matvec / matmul for every weight dtype, both kernel tables, 1 and 3 threads, against a
// double-precision reference computed from the dequantised weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/fp16.h"
#include "tensor/kernels.h"
#include "tensor/kernels_dispatch.h"
#include "tensor/thread_pool.h"
#include "tests/tensor/tensor_test_util.h"

namespace baton {
namespace {

using detail::KernelTable;
using testing::dequantize_matrix;
using testing::quantize_matrix;
using testing::expected_error_bound;
using testing::random_floats;

struct Shape {
  int64_t rows, cols;
};

std::vector<Shape> shapes_for(DType t) {
  switch (dtype_info(t).block_elems) {
    case 1: return {{1, 1}, {5, 7}, {13, 33}, {3, 100}, {67, 1000}, {9, 16}, {130, 257}};
    case 32: return {{1, 32}, {5, 96}, {13, 288}, {131, 288}, {7, 1056}, {67, 1024}};
    default: return {{1, 256}, {5, 512}, {13, 1280}, {131, 512}, {67, 768}};
  }
}

const DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16,   DType::Q8_0, DType::Q4_0, DType::Q4_K,
                              DType::Q6_K, DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::Q5_K};
// Types every table computes bit for bit as the scalar reference does.
const DType kExactTypes[] = {DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::Q5_K};

std::vector<const KernelTable*> tables() {
  std::vector<const KernelTable*> t = {&detail::scalar_kernels()};
  if (detail::avx2_kernels() != nullptr) t.push_back(detail::avx2_kernels());
  if (detail::avx512_kernels() != nullptr) t.push_back(detail::avx512_kernels());
  if (detail::neon_kernels() != nullptr) t.push_back(detail::neon_kernels());
  if (detail::neon_dotprod_kernels() != nullptr) t.push_back(detail::neon_dotprod_kernels());
  return t;
}

// The activation exactly as the kernels see it: float weights use x itself, quantised
// weights use x after the matching activation quantiser (tested separately).
std::vector<double> effective_activation(DType weight, const float* x, int64_t cols) {
  const DType act = detail::activation_dtype(weight);
  std::vector<float> back(x, x + cols);
  if (act != DType::F32) {
    std::vector<uint8_t> q(row_bytes(act, static_cast<uint64_t>(cols)));
    quantize_row(act, x, q.data(), cols);
    dequantize_row(act, q.data(), back.data(), cols);
  }
  return {back.begin(), back.end()};
}

struct Reference {
  std::vector<double> value;  // sum_c W[r][c] * x'[c]
  std::vector<double> tol;    // float-rounding allowance: 2e-6 * sum_c |W x'| per row
};

Reference reference_matvec(DType t, const std::vector<float>& wdeq, const std::vector<double>& x, int64_t rows,
                           int64_t cols) {
  Reference ref{std::vector<double>(rows), std::vector<double>(rows)};
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0, a = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const double term = static_cast<double>(wdeq[r * cols + c]) * x[c];
      s += term;
      a += std::fabs(term);
    }
    ref.value[r] = s;
    ref.tol[r] = 2e-6 * a + 1e-30;
  }
  return ref;
}

TEST(Matvec, EveryDtypeMatchesDoubleReference) {
  ThreadPool pool3(3);
  uint32_t seed = 1;
  for (DType t : kWeightTypes) {
    for (const Shape& s : shapes_for(t)) {
      const auto wf = random_floats(static_cast<size_t>(s.rows * s.cols), seed++);
      const auto x = random_floats(static_cast<size_t>(s.cols), seed++);
      const auto wq = quantize_matrix(t, wf, s.rows, s.cols);
      const auto wdeq = dequantize_matrix(t, wq.data(), s.rows, s.cols);
      const auto ref = reference_matvec(t, wdeq, effective_activation(t, x.data(), s.cols), s.rows, s.cols);
      const WeightView w{t, wq.data(), s.rows, s.cols};
      for (const KernelTable* k : tables()) {
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool3}) {
          std::vector<float> y(static_cast<size_t>(s.rows), NAN);
          detail::matvec_with(*k, w, x.data(), y.data(), pool);
          for (int64_t r = 0; r < s.rows; ++r) {
            ASSERT_NEAR(y[r], ref.value[r], ref.tol[r])
                << dtype_name(t) << " " << k->name << " " << s.rows << "x" << s.cols << " row " << r
                << (pool ? " 3 threads" : " 1 thread");
          }
        }
      }
    }
  }
}

TEST(Matvec, QuantisedActivationErrorStaysWithinItsBound) {
  // Against the exact f32 activation the only extra error is the activation quantisation:
  // |y - W x| <= sum_c |W[r][c]| * bound * blockmax(x) (+ float rounding).
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::Q5_0, DType::Q5_1, DType::IQ4_NL,
                  DType::Q5_K}) {
    const int64_t rows = 9, cols = 1024;
    const auto wf = random_floats(rows * cols, 300 + static_cast<uint32_t>(t));
    const auto x = random_floats(cols, 400 + static_cast<uint32_t>(t));
    const auto wq = quantize_matrix(t, wf, rows, cols);
    const auto wdeq = dequantize_matrix(t, wq.data(), rows, cols);
    const DType act = detail::activation_dtype(t);
    const int64_t block = dtype_info(act).block_elems;
    std::vector<double> err_bound(cols);
    for (int64_t b0 = 0; b0 < cols; b0 += block) {
      double amax = 0;
      for (int64_t c = b0; c < b0 + block; ++c) amax = std::max(amax, std::fabs(static_cast<double>(x[c])));
      for (int64_t c = b0; c < b0 + block; ++c) err_bound[c] = amax * expected_error_bound(act);
    }
    std::vector<float> y(rows);
    matvec(WeightView{t, wq.data(), rows, cols}, x.data(), y.data(), nullptr);
    for (int64_t r = 0; r < rows; ++r) {
      double exact = 0, allowance = 0;
      for (int64_t c = 0; c < cols; ++c) {
        exact += static_cast<double>(wdeq[r * cols + c]) * x[c];
        allowance += std::fabs(wdeq[r * cols + c]) * err_bound[c];
      }
      EXPECT_NEAR(y[r], exact, allowance + 1e-4) << dtype_name(t) << " row " << r;
    }
  }
}

TEST(Matvec, ResultsDoNotDependOnThreadCountOrTiling) {
  // Bit-identical: each row's sum is computed the same way whichever tile or thread runs it.
  ThreadPool pool2(2), pool3(3);
  for (DType t : kWeightTypes) {
    const Shape s = shapes_for(t).back();
    const auto wf = random_floats(s.rows * s.cols, 500 + static_cast<uint32_t>(t));
    const auto x = random_floats(s.cols, 600);
    const auto wq = quantize_matrix(t, wf, s.rows, s.cols);
    const WeightView w{t, wq.data(), s.rows, s.cols};
    for (const KernelTable* k : tables()) {
      std::vector<float> y1(s.rows), y2(s.rows), y3(s.rows);
      detail::matvec_with(*k, w, x.data(), y1.data(), nullptr);
      detail::matvec_with(*k, w, x.data(), y2.data(), &pool2);
      detail::matvec_with(*k, w, x.data(), y3.data(), &pool3);
      EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float))) << dtype_name(t) << " " << k->name;
      EXPECT_EQ(0, std::memcmp(y1.data(), y3.data(), y1.size() * sizeof(float))) << dtype_name(t) << " " << k->name;
      // Every row on its own (the nrows = 1 path) gives the same bits as inside a tile.
      const detail::PreparedActivations act = detail::prepare_activations(*k, t, x.data(), 1, s.cols);
      const size_t stride = row_bytes(t, s.cols);
      for (int64_t r = 0; r < s.rows; ++r) {
        float single = NAN;
        detail::dot_rows_for(*k, t)(s.cols, wq.data() + r * stride, stride, 1, act.data, act.stride, 1, &single, 1);
        ASSERT_EQ(single, y1[r]) << dtype_name(t) << " " << k->name << " row " << r;
      }
    }
  }
}

TEST(Matvec, ScalarAndSimdAgree) {
  const auto all = tables();
  if (all.size() == 1) GTEST_SKIP() << "CPU lacks AVX2/FMA/F16C (or BATON_FORCE_SCALAR is set)";
  for (size_t i = 1; i < all.size(); ++i) {
  const KernelTable* simd = all[i];
  uint32_t seed = 900;
  for (DType t : kWeightTypes) {
    for (const Shape& s : shapes_for(t)) {
      const auto wf = random_floats(s.rows * s.cols, seed++, 0.5f);
      const auto x = random_floats(s.cols, seed++, 2.0f);
      const auto wq = quantize_matrix(t, wf, s.rows, s.cols);
      const auto wdeq = dequantize_matrix(t, wq.data(), s.rows, s.cols);
      const auto ref = reference_matvec(t, wdeq, effective_activation(t, x.data(), s.cols), s.rows, s.cols);
      std::vector<float> ys(s.rows), ya(s.rows);
      const WeightView w{t, wq.data(), s.rows, s.cols};
      detail::matvec_with(detail::scalar_kernels(), w, x.data(), ys.data(), nullptr);
      detail::matvec_with(*simd, w, x.data(), ya.data(), nullptr);
      for (int64_t r = 0; r < s.rows; ++r) {
        ASSERT_NEAR(ys[r], ya[r], 2 * ref.tol[r])
            << simd->name << " " << dtype_name(t) << " " << s.rows << "x" << s.cols << " row " << r;
      }
    }
  }
  }
}

// The same for matmul (prefill), whose tiles differ from matvec's on some tables (the
// AVX-512 F32 tiles of 4 tokens, its F16/BF16 tiles of 8): 9 tokens are one full tile of
// 8 and one token left over.
TEST(Matmul, ScalarAndSimdAgree) {
  const auto all = tables();
  if (all.size() == 1) GTEST_SKIP() << "no SIMD kernel table on this CPU (or BATON_FORCE_SCALAR is set)";
  constexpr int64_t kTokens = 9;
  for (size_t i = 1; i < all.size(); ++i) {
    const KernelTable* simd = all[i];
    uint32_t seed = 1900;
    for (DType t : kWeightTypes) {
      for (const Shape& s : shapes_for(t)) {
        const auto wq = quantize_matrix(t, random_floats(s.rows * s.cols, seed++, 0.5f), s.rows, s.cols);
        const auto wdeq = dequantize_matrix(t, wq.data(), s.rows, s.cols);
        const auto x = random_floats(s.cols * kTokens, seed++, 2.0f);
        const WeightView w{t, wq.data(), s.rows, s.cols};
        std::vector<float> ys(s.rows * kTokens), ya(s.rows * kTokens);
        detail::matmul_with(detail::scalar_kernels(), w, x.data(), kTokens, ys.data(), nullptr);
        detail::matmul_with(*simd, w, x.data(), kTokens, ya.data(), nullptr);
        for (int64_t tok = 0; tok < kTokens; ++tok) {
          const float* xt = x.data() + tok * s.cols;
          const auto ref = reference_matvec(t, wdeq, effective_activation(t, xt, s.cols), s.rows, s.cols);
          for (int64_t r = 0; r < s.rows; ++r) {
            ASSERT_NEAR(ys[tok * s.rows + r], ya[tok * s.rows + r], 2 * ref.tol[r])
                << simd->name << " " << dtype_name(t) << " " << s.rows << "x" << s.cols << " token " << tok << " row "
                << r;
          }
        }
      }
    }
  }
}

// Each NEON table against the scalar reference, as ScalarAndAvx2Agree does for AVX2.
TEST(Matvec, ScalarAndNeonAgree) {
  const KernelTable* neon = detail::neon_kernels();
  if (neon == nullptr) GTEST_SKIP() << "not an aarch64 build (or BATON_FORCE_SCALAR is set)";
  uint32_t seed = 950;
  for (const KernelTable* k : {neon, detail::neon_dotprod_kernels()}) {
    if (k == nullptr) continue;
    for (DType t : kWeightTypes) {
      for (const Shape& s : shapes_for(t)) {
        const auto wf = random_floats(s.rows * s.cols, seed++, 0.5f);
        const auto x = random_floats(s.cols, seed++, 2.0f);
        const auto wq = quantize_matrix(t, wf, s.rows, s.cols);
        const auto wdeq = dequantize_matrix(t, wq.data(), s.rows, s.cols);
        const auto ref = reference_matvec(t, wdeq, effective_activation(t, x.data(), s.cols), s.rows, s.cols);
        std::vector<float> ys(s.rows), yn(s.rows);
        const WeightView w{t, wq.data(), s.rows, s.cols};
        detail::matvec_with(detail::scalar_kernels(), w, x.data(), ys.data(), nullptr);
        detail::matvec_with(*k, w, x.data(), yn.data(), nullptr);
        for (int64_t r = 0; r < s.rows; ++r) {
          ASSERT_NEAR(ys[r], yn[r], 2 * ref.tol[r])
              << dtype_name(t) << " " << k->name << " " << s.rows << "x" << s.cols << " row " << r;
        }
      }
    }
  }
}

// SDOT and the base-NEON widening multiplies compute the same exact integers, and the
// float steps are shared, so the two NEON tables give the same bits for every row.
TEST(Matmul, NeonWithAndWithoutDotprodGiveTheSameBits) {
  const KernelTable* base = detail::neon_kernels();
  const KernelTable* dot = detail::neon_dotprod_kernels();
  if (base == nullptr) GTEST_SKIP() << "not an aarch64 build (or BATON_FORCE_SCALAR is set)";
  if (dot == nullptr) GTEST_SKIP() << "this CPU lacks the dot-product extension (qemu -cpu cortex-a53 runs this path)";
  ThreadPool pool2(2);
  for (DType t : kWeightTypes) {
    for (const Shape& s : shapes_for(t)) {
      const int64_t n_tokens = 5;
      const auto wf = random_floats(s.rows * s.cols, 1000 + static_cast<uint32_t>(s.rows), 0.5f);
      const auto x = random_floats(s.cols * n_tokens, 1100 + static_cast<uint32_t>(s.cols), 2.0f);
      const auto wq = quantize_matrix(t, wf, s.rows, s.cols);
      const WeightView w{t, wq.data(), s.rows, s.cols};
      std::vector<float> yb(s.rows * n_tokens), yd(yb.size());
      detail::matmul_with(*base, w, x.data(), n_tokens, yb.data(), nullptr);
      detail::matmul_with(*dot, w, x.data(), n_tokens, yd.data(), &pool2);
      ASSERT_EQ(0, std::memcmp(yb.data(), yd.data(), yb.size() * sizeof(float)))
          << dtype_name(t) << " " << s.rows << "x" << s.cols;
    }
  }
}

TEST(Matmul, EqualsMatvecPerTokenBitForBit) {
  ThreadPool pool3(3);
  for (DType t : kWeightTypes) {
    for (const Shape& s : {shapes_for(t)[1], shapes_for(t).back()}) {
      for (int64_t n_tokens : {1, 2, 5, 33, 70}) {
        const auto wf = random_floats(s.rows * s.cols, 700 + static_cast<uint32_t>(n_tokens));
        const auto x = random_floats(s.cols * n_tokens, 800 + static_cast<uint32_t>(n_tokens));
        const auto wq = quantize_matrix(t, wf, s.rows, s.cols);
        const WeightView w{t, wq.data(), s.rows, s.cols};
        for (const KernelTable* k : tables()) {
          for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool3}) {
            std::vector<float> y(s.rows * n_tokens, NAN);
            detail::matmul_with(*k, w, x.data(), n_tokens, y.data(), pool);
            std::vector<float> yt(s.rows);
            for (int64_t tok = 0; tok < n_tokens; ++tok) {
              detail::matvec_with(*k, w, x.data() + tok * s.cols, yt.data(), nullptr);
              ASSERT_EQ(0, std::memcmp(yt.data(), y.data() + tok * s.rows, s.rows * sizeof(float)))
                  << dtype_name(t) << " " << k->name << " " << s.rows << "x" << s.cols << " token " << tok << " of "
                  << n_tokens;
            }
          }
        }
      }
    }
  }
}

// Tables whose Q8_0/Q4_0 (q8_wide_rows) or Q4_K/Q6_K (k_wide_rows) kernels put rows across
// lanes do per row exactly what the scalar reference does, so every row is bit-identical to it: on row counts that
// leave a partial tile of lanes, token counts of every size, and any thread count. So does every table for
// Q5_0, Q5_1, IQ4_NL and Q5_K ((row, token) pairs across lanes).
TEST(Matmul, RowsAcrossLanesEqualScalarBitForBit) {
  ThreadPool pool2(2), pool3(3);
  bool ran = false;
  for (const KernelTable* k : tables()) {
    std::vector<DType> exact;
    if (k->q8_wide_rows > 0) exact.insert(exact.end(), {DType::Q8_0, DType::Q4_0, DType::IQ4_NL, DType::Q5_0, DType::Q5_1});
    if (k->k_wide_rows > 0) exact.insert(exact.end(), {DType::Q4_K, DType::Q6_K});
    if (k != &detail::scalar_kernels()) exact.insert(exact.end(), std::begin(kExactTypes), std::end(kExactTypes));
    ran = ran || !exact.empty();
    for (DType t : exact) {
      const int64_t blk = dtype_info(t).block_elems;
      for (const Shape s : {Shape{1, blk}, Shape{15, 2 * blk}, Shape{16, 3 * blk}, Shape{17, 9 * blk},
                            Shape{33, 5 * blk}, Shape{50, (blk == 32 ? 33 : 3) * blk}}) {
        for (int64_t n_tokens : {1, 2, 3, 4, 5, 16, 37}) {
          const uint32_t seed = 2000 + static_cast<uint32_t>(s.rows * 97 + s.cols + n_tokens);
          const auto wf = random_floats(s.rows * s.cols, seed, 0.5f);
          const auto x = random_floats(s.cols * n_tokens, seed + 1, 2.0f);
          const auto wq = quantize_matrix(t, wf, s.rows, s.cols);
          const WeightView w{t, wq.data(), s.rows, s.cols};
          std::vector<float> want(s.rows * n_tokens);
          detail::matmul_with(detail::scalar_kernels(), w, x.data(), n_tokens, want.data(), nullptr);
          for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2, &pool3}) {
            std::vector<float> got(want.size(), NAN);
            detail::matmul_with(*k, w, x.data(), n_tokens, got.data(), pool);
            ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
                << k->name << " " << dtype_name(t) << " " << s.rows << "x" << s.cols << ", " << n_tokens << " tokens";
          }
          std::vector<float> one(s.rows, NAN);
          detail::matvec_with(*k, w, x.data(), one.data(), &pool2);
          ASSERT_EQ(0, std::memcmp(want.data(), one.data(), one.size() * sizeof(float)))
              << k->name << " " << dtype_name(t) << " " << s.rows << "x" << s.cols << " matvec";
        }
      }
    }
  }
  if (!ran) GTEST_SKIP() << "no kernel table with rows across lanes on this CPU";
}

// The byte comparisons above can fail: on this data, the reference's float step fused into
// one multiply-add (what implicit contraction would make of `sum += sumi * (dx * dy)`)
// gives other bits for some rows, while the same step unfused gives the scalar table's.
TEST(Matmul, FusedFloatStepMissesTheExactComparison) {
  const int64_t rows = 16, cols = 33 * kQK;
  const auto wq = quantize_matrix(DType::Q5_0, random_floats(rows * cols, 3001, 0.5f), rows, cols);
  const auto x = random_floats(cols, 3002, 2.0f);
  std::vector<float> want(rows);
  detail::matvec_with(detail::scalar_kernels(), WeightView{DType::Q5_0, wq.data(), rows, cols}, x.data(), want.data(),
                      nullptr);
  std::vector<uint8_t> act(row_bytes(DType::Q8_0, cols));
  quantize_row(DType::Q8_0, x.data(), act.data(), cols);
  const auto* y = reinterpret_cast<const BlockQ8_0*>(act.data());
  int fused_differs = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const auto* b = reinterpret_cast<const BlockQ5_0*>(wq.data() + r * row_bytes(DType::Q5_0, cols));
    float unfused = 0.0f, fused = 0.0f;
    for (int64_t i = 0; i < cols / kQK; ++i) {
      uint32_t qh;
      std::memcpy(&qh, b[i].qh, sizeof qh);
      int sumi = 0;
      for (int j = 0; j < kQK / 2; ++j) {
        sumi += ((b[i].qs[j] & 0xF) + 16 * static_cast<int>((qh >> j) & 1) - 16) * y[i].qs[j];
        sumi += ((b[i].qs[j] >> 4) + 16 * static_cast<int>((qh >> (j + kQK / 2)) & 1) - 16) * y[i].qs[j + kQK / 2];
      }
      const float dxy = fp16_to_f32(b[i].d) * fp16_to_f32(y[i].d);
      unfused += static_cast<float>(sumi) * dxy;  // no contraction: -ffp-contract=off or no FMA in the target
      fused = std::fma(static_cast<float>(sumi), dxy, fused);
    }
    ASSERT_EQ(unfused, want[r]) << "row " << r;
    fused_differs += fused != want[r];
  }
  EXPECT_GT(fused_differs, 0);
}

// The AVX-512 table's F16 and BF16 matmul (zmm tiles of 6 rows x 8 tokens,
// tensor/kernels_half_avx512.cpp) keeps the AVX2 kernel's order of additions for every
// (row, token) pair, so it gives the AVX2 table's bits; its matvec is the AVX2 kernel.
// Shapes cover partial tiles of rows (rows % 6) and tokens (fewer than 3 left over go to
// the AVX2 kernel), rows with no full 8-lane step (7 columns) and scalar tails.
TEST(Matmul, HalfFloatWeightsGiveTheAvx2BitsOnTheAvx512Table) {
  const KernelTable* avx2 = detail::avx2_kernels();
  const KernelTable* avx512 = detail::avx512_kernels();
  if (avx512 == nullptr) GTEST_SKIP() << "this CPU has no AVX-512 VNNI table (or BATON_FORCE_SCALAR is set)";
  ThreadPool pool2(2), pool3(3);
  for (DType t : {DType::F16, DType::BF16}) {
    for (const Shape s : {Shape{1, 7}, Shape{5, 8}, Shape{6, 16}, Shape{7, 257}, Shape{13, 1000}, Shape{130, 264}}) {
      for (int64_t n_tokens : {1, 2, 3, 7, 8, 9, 10, 11, 16, 17, 37}) {
        const uint32_t seed = 4000 + static_cast<uint32_t>(s.rows * 31 + s.cols + n_tokens);
        const auto wq = quantize_matrix(t, random_floats(s.rows * s.cols, seed, 0.5f), s.rows, s.cols);
        const auto x = random_floats(s.cols * n_tokens, seed + 1, 2.0f);
        const WeightView w{t, wq.data(), s.rows, s.cols};
        std::vector<float> want(s.rows * n_tokens, NAN);
        detail::matmul_with(*avx2, w, x.data(), n_tokens, want.data(), nullptr);
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2, &pool3}) {
          std::vector<float> got(want.size(), NAN);
          detail::matmul_with(*avx512, w, x.data(), n_tokens, got.data(), pool);
          ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
              << dtype_name(t) << " " << s.rows << "x" << s.cols << ", " << n_tokens << " tokens";
        }
      }
    }
  }
}

// What the byte comparisons of F16/BF16 results pin down: the AVX2 order (lane j of 8
// adds elements j, j+8, j+16, ... with FMA, then hsum's tree, then the scalar tail fused)
// reproduces the AVX2 table's BF16 results exactly, while the 16-lane order a plain
// AVX-512 kernel would use (one zmm per pair, halves added, then the same tree) gives other
// bits for some rows.
TEST(Matmul, SixteenLaneOrderMissesTheHalfFloatComparison) {
  const KernelTable* avx2 = detail::avx2_kernels();
  if (avx2 == nullptr) GTEST_SKIP() << "CPU lacks AVX2/FMA/F16C (or BATON_FORCE_SCALAR is set)";
  const int64_t rows = 64, cols = 1003;
  const auto wq = quantize_matrix(DType::BF16, random_floats(rows * cols, 4101, 0.5f), rows, cols);
  const auto wf = dequantize_matrix(DType::BF16, wq.data(), rows, cols);
  const auto x = random_floats(cols, 4102, 2.0f);
  std::vector<float> want(rows, NAN);
  detail::matvec_with(*avx2, WeightView{DType::BF16, wq.data(), rows, cols}, x.data(), want.data(), nullptr);
  // Lanes [0, width) with FMA, then 8 lanes (width 16: lane j + lane j+8), hsum's tree, the tail.
  auto in_order = [&](const float* w, int width) {
    std::vector<float> acc(width, 0.0f);
    int64_t i = 0;
    for (; i + width <= cols; i += width) {
      for (int j = 0; j < width; ++j) acc[j] = std::fma(w[i + j], x[i + j], acc[j]);
    }
    float a[8];
    for (int j = 0; j < 8; ++j) a[j] = width == 16 ? acc[j] + acc[j + 8] : acc[j];
    const float sum = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
    float tail = 0.0f;
    for (; i < cols; ++i) tail = std::fma(w[i], x[i], tail);
    return sum + tail;
  };
  int sixteen_differs = 0;
  for (int64_t r = 0; r < rows; ++r) {
    ASSERT_EQ(in_order(wf.data() + r * cols, 8), want[r]) << "row " << r;
    sixteen_differs += in_order(wf.data() + r * cols, 16) != want[r];
  }
  EXPECT_GT(sixteen_differs, 0);
}

TEST(Matvec, RejectsBadShapesAndTypes) {
  std::vector<uint8_t> buf(4096);
  float x[64] = {}, y[4];
  EXPECT_THROW(matvec(WeightView{DType::Q8_0, buf.data(), 2, 48}, x, y, nullptr), std::invalid_argument);
  EXPECT_THROW(matvec(WeightView{DType::Q4_K, buf.data(), 2, 64}, x, y, nullptr), std::invalid_argument);
  EXPECT_THROW(matvec(WeightView{DType::Q8_K, buf.data(), 1, 256}, x, y, nullptr), std::invalid_argument);
  EXPECT_THROW(matvec(WeightView{DType::F32, nullptr, 2, 4}, x, y, nullptr), std::invalid_argument);
  EXPECT_THROW(matmul(WeightView{DType::F32, buf.data(), 2, 4}, x, -1, y, nullptr), std::invalid_argument);
  // Empty shapes are fine and write zeros where there are outputs.
  y[0] = y[1] = 5.0f;
  matvec(WeightView{DType::F32, buf.data(), 2, 0}, x, y, nullptr);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_NO_THROW(matvec(WeightView{DType::F32, buf.data(), 0, 4}, x, y, nullptr));
}

}  // namespace
}  // namespace baton
