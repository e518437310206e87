// Attention over a KV cache: grouped-query heads, causal mask, F32/F16/Q8_0 caches,
// against a naive double-precision reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/kernels_dispatch.h"
#include "tensor/thread_pool.h"
#include "tests/tensor/tensor_test_util.h"

namespace baton {
namespace {

using detail::KernelTable;
using testing::expected_error_bound;
using testing::random_floats;

struct Cache {
  DType dtype;
  int64_t row_elems;
  int64_t row_bytes;
  std::vector<uint8_t> k, v;
  KVLayerView view() { return KVLayerView{dtype, k.data(), v.data(), row_bytes}; }
  // What the cache holds, decoded (the reference attends over these exact values).
  std::vector<float> decoded(const std::vector<uint8_t>& plane, int64_t positions) const {
    std::vector<float> out(positions * row_elems);
    for (int64_t p = 0; p < positions; ++p) dequantize_row(dtype, plane.data() + p * row_bytes, out.data() + p * row_elems, row_elems);
    return out;
  }
};

Cache make_cache(DType t, const AttentionShape& s, int64_t capacity) {
  Cache c;
  c.dtype = t;
  c.row_elems = static_cast<int64_t>(s.n_kv_heads) * s.head_dim;
  c.row_bytes = static_cast<int64_t>(row_bytes(t, c.row_elems));
  c.k.resize(c.row_bytes * capacity);
  c.v.resize(c.row_bytes * capacity);
  return c;
}

std::vector<const KernelTable*> tables() {
  std::vector<const KernelTable*> t = {&detail::scalar_kernels()};
  if (detail::avx2_kernels() != nullptr) t.push_back(detail::avx2_kernels());
  if (detail::neon_kernels() != nullptr) t.push_back(detail::neon_kernels());
  if (detail::neon_dotprod_kernels() != nullptr) t.push_back(detail::neon_dotprod_kernels());
  return t;
}

// out[t][h] = sum_p softmax_p(q.k_p / sqrt(d)) v_p over p <= pos0 + t, kv head h / group.
std::vector<double> reference_attention(const std::vector<float>& q, int64_t n_tokens, int64_t pos0,
                                        const std::vector<float>& K, const std::vector<float>& V,
                                        const AttentionShape& s) {
  const int group = s.n_heads / s.n_kv_heads;
  const int64_t kv_row = static_cast<int64_t>(s.n_kv_heads) * s.head_dim;
  std::vector<double> out(n_tokens * s.n_heads * s.head_dim, 0.0);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int h = 0; h < s.n_heads; ++h) {
      const int kvh = h / group;
      const float* qh = q.data() + (t * s.n_heads + h) * s.head_dim;
      const int64_t n_ctx = pos0 + t + 1;
      // A sliding window hides positions more than window - 1 before the query's.
      const int64_t first = s.window > 0 ? std::max<int64_t>(0, n_ctx - s.window) : 0;
      const double scale = s.scale > 0 ? s.scale : 1.0 / std::sqrt(static_cast<double>(s.head_dim));
      std::vector<double> score(n_ctx, 0.0);
      double max = -INFINITY;
      for (int64_t p = first; p < n_ctx; ++p) {
        double dot = 0;
        for (int d = 0; d < s.head_dim; ++d) dot += static_cast<double>(qh[d]) * K[p * kv_row + kvh * s.head_dim + d];
        score[p] = dot * scale;
        if (s.softcap > 0) score[p] = s.softcap * std::tanh(score[p] / s.softcap);
        max = std::max(max, score[p]);
      }
      double sum = 0;
      for (int64_t p = first; p < n_ctx; ++p) sum += (score[p] = std::exp(score[p] - max));
      double* o = out.data() + (t * s.n_heads + h) * s.head_dim;
      for (int64_t p = first; p < n_ctx; ++p) {
        for (int d = 0; d < s.head_dim; ++d) o[d] += score[p] / sum * V[p * kv_row + kvh * s.head_dim + d];
      }
    }
  }
  return out;
}

void run_case(DType kv_dtype, const AttentionShape& s, int64_t pos0, int64_t n_tokens, ThreadPool* pool,
              const KernelTable& k, uint32_t seed) {
  const int64_t capacity = pos0 + n_tokens + 3;
  Cache cache = make_cache(kv_dtype, s, capacity);
  const auto keys = random_floats(capacity * cache.row_elems, seed, 1.5f);
  const auto values = random_floats(capacity * cache.row_elems, seed + 1);
  for (int64_t p = 0; p < capacity; ++p) {
    kv_store(cache.view(), p, keys.data() + p * cache.row_elems, values.data() + p * cache.row_elems, cache.row_elems);
  }
  const auto q = random_floats(n_tokens * s.n_heads * s.head_dim, seed + 2, 1.5f);
  std::vector<float> out(q.size(), NAN);
  detail::attention_with(k, q.data(), n_tokens, pos0, cache.view(), s, out.data(), pool);
  // Positions past pos0 + t are in the cache (capacity has slack) but must be ignored.
  const auto ref = reference_attention(q, n_tokens, pos0, cache.decoded(cache.k, capacity),
                                       cache.decoded(cache.v, capacity), s);
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_NEAR(out[i], ref[i], 2e-5) << dtype_name(kv_dtype) << " " << k.name << " pos0 " << pos0 << " tokens "
                                      << n_tokens << " index " << i << (pool ? " pooled" : "");
  }
}

TEST(Attention, GroupedQueryCausalMatchesReference) {
  ThreadPool pool3(3);
  uint32_t seed = 1;
  for (DType kv : {DType::F32, DType::F16, DType::Q8_0}) {
    // head_dim 40 is awkward for SIMD tails; Q8_0 needs a multiple of 32.
    const AttentionShape shape{8, 2, kv == DType::Q8_0 ? 64 : 40};
    for (const KernelTable* k : tables()) {
      for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool3}) {
        for (int64_t pos0 : {0, 1, 5, 37}) {
          for (int64_t n_tokens : {1, 3, 8}) run_case(kv, shape, pos0, n_tokens, pool, *k, seed += 3);
        }
      }
    }
  }
}

TEST(Attention, OtherGroupSizesAndHeadDims) {
  // Group sizes 1 (plain multi-head), 5, 6 (single KV head) and awkward head_dims.
  ThreadPool pool2(2);
  for (const AttentionShape& s :
       {AttentionShape{4, 4, 32}, AttentionShape{6, 1, 16}, AttentionShape{3, 3, 7}, AttentionShape{10, 2, 24}}) {
    for (DType kv : {DType::F32, DType::F16}) {
      for (const KernelTable* k : tables()) {
        run_case(kv, s, 9, 4, nullptr, *k, 77);
        run_case(kv, s, 0, 5, &pool2, *k, 78);
      }
    }
  }
  for (const KernelTable* k : tables()) run_case(DType::Q8_0, AttentionShape{10, 2, 32}, 3, 2, nullptr, *k, 79);
}

// Gemma's variants: a sliding window (shorter than, equal to and longer than the context),
// soft-capped scores and an explicit scale, alone and together.
TEST(Attention, SlidingWindowSoftcapAndScaleMatchReference) {
  ThreadPool pool2(2);
  uint32_t seed = 300;
  for (int window : {1, 4, 9, 100}) {
    for (float softcap : {0.0f, 2.0f}) {
      AttentionShape s{8, 2, 32};
      s.window = window;
      s.softcap = softcap;
      s.scale = softcap > 0 ? 0.3f : 0.0f;
      for (DType kv : {DType::F32, DType::F16, DType::Q8_0}) {
        for (const KernelTable* k : tables()) {
          run_case(kv, s, 0, 12, nullptr, *k, seed += 3);  // a prefill longer than the window
          run_case(kv, s, 15, 1, &pool2, *k, seed += 3);   // a decode step far past it
          run_case(kv, s, 6, 5, &pool2, *k, seed += 3);
        }
      }
    }
  }
}

// A sliding layer's view holds only its latest positions (row 0 is position
// first_position): attention over it equals, bit for bit, attention over a full cache with
// the same window, on every kernel table; positions the queries see but the view lacks,
// and writes outside its rows, are refused.
TEST(Attention, ViewStartingAfterPositionZeroEqualsTheFullCache) {
  AttentionShape s{8, 2, 32};
  s.window = 6;
  for (DType kv : {DType::F32, DType::F16, DType::Q8_0}) {
    const int64_t total = 40, first = 25, rows = total - first;
    Cache full = make_cache(kv, s, total);
    Cache tail = make_cache(kv, s, rows);
    KVLayerView tail_view = tail.view();
    tail_view.first_position = first;
    tail_view.rows = rows;
    const auto keys = random_floats(total * full.row_elems, 31, 1.5f);
    const auto values = random_floats(total * full.row_elems, 32);
    for (int64_t p = 0; p < total; ++p) {
      const float* kp = keys.data() + p * full.row_elems;
      const float* vp = values.data() + p * full.row_elems;
      kv_store(full.view(), p, kp, vp, full.row_elems);
      if (p >= first) kv_store(tail_view, p, kp, vp, full.row_elems);
    }
    const int64_t pos0 = first + s.window - 1, n = total - pos0;  // the first query sees exactly from `first`
    const auto q = random_floats(n * s.n_heads * s.head_dim, 33, 1.5f);
    for (const KernelTable* k : tables()) {
      std::vector<float> want(q.size()), got(q.size());
      detail::attention_with(*k, q.data(), n, pos0, full.view(), s, want.data(), nullptr);
      detail::attention_with(*k, q.data(), n, pos0, tail_view, s, got.data(), nullptr);
      EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float))) << dtype_name(kv) << " " << k->name;
      // One position earlier, the first query would need position first - 1.
      EXPECT_THROW(detail::attention_with(*k, q.data(), 1, pos0 - 1, tail_view, s, got.data(), nullptr), std::out_of_range);
    }
    EXPECT_THROW(kv_store(tail_view, first - 1, keys.data(), values.data(), full.row_elems), std::out_of_range);
    EXPECT_THROW(kv_store(tail_view, total, keys.data(), values.data(), full.row_elems), std::out_of_range);
  }
}

TEST(Attention, RejectsNegativeWindowSoftcapOrScale) {
  AttentionShape s{4, 2, 16};
  Cache cache = make_cache(DType::F32, s, 4);
  const std::vector<float> q(static_cast<size_t>(s.n_heads * s.head_dim), 0.5f);
  std::vector<float> out(q.size());
  for (int i = 0; i < 3; ++i) {
    AttentionShape bad = s;
    if (i == 0) bad.window = -1;
    if (i == 1) bad.softcap = -1.0f;
    if (i == 2) bad.scale = NAN;
    EXPECT_THROW(attention(q.data(), 1, 0, cache.view(), bad, out.data(), nullptr), std::invalid_argument);
  }
}

TEST(Attention, ResultsDoNotDependOnThreadCount) {
  const AttentionShape s{8, 2, 64};
  for (DType kv : {DType::F32, DType::F16, DType::Q8_0}) {
    Cache cache = make_cache(kv, s, 40);
    const auto keys = random_floats(40 * cache.row_elems, 21);
    const auto values = random_floats(40 * cache.row_elems, 22);
    for (int64_t p = 0; p < 40; ++p) {
      kv_store(cache.view(), p, keys.data() + p * cache.row_elems, values.data() + p * cache.row_elems, cache.row_elems);
    }
    const auto q = random_floats(5 * s.n_heads * s.head_dim, 23);
    std::vector<float> a(q.size()), b(q.size()), c(q.size());
    ThreadPool pool2(2), pool3(3);
    attention(q.data(), 5, 35, cache.view(), s, a.data(), nullptr);
    attention(q.data(), 5, 35, cache.view(), s, b.data(), &pool2);
    attention(q.data(), 5, 35, cache.view(), s, c.data(), &pool3);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << dtype_name(kv);
    EXPECT_EQ(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(float))) << dtype_name(kv);
  }
}

TEST(Attention, FirstPositionReturnsItsOwnValue) {
  // With a single visible position the softmax weight is 1: out == v exactly (F32 cache).
  const AttentionShape s{4, 2, 16};
  Cache cache = make_cache(DType::F32, s, 2);
  const auto kv = random_floats(cache.row_elems, 3);
  const auto vv = random_floats(cache.row_elems, 4);
  kv_store(cache.view(), 0, kv.data(), vv.data(), cache.row_elems);
  const auto q = random_floats(s.n_heads * s.head_dim, 5);
  std::vector<float> out(q.size());
  attention(q.data(), 1, 0, cache.view(), s, out.data(), nullptr);
  for (int h = 0; h < s.n_heads; ++h) {
    for (int d = 0; d < s.head_dim; ++d) EXPECT_EQ(out[h * s.head_dim + d], vv[(h / 2) * s.head_dim + d]);
  }
}

TEST(Attention, ScalarAndAvx2Agree) {
  const KernelTable* avx2 = detail::avx2_kernels();
  if (avx2 == nullptr) GTEST_SKIP() << "CPU lacks AVX2/FMA/F16C (or BATON_FORCE_SCALAR is set)";
  const AttentionShape s{8, 2, 64};
  for (DType kv : {DType::F32, DType::F16, DType::Q8_0}) {
    Cache cache = make_cache(kv, s, 100);
    const auto keys = random_floats(100 * cache.row_elems, 8, 2.0f);
    const auto values = random_floats(100 * cache.row_elems, 9);
    for (int64_t p = 0; p < 100; ++p) {
      kv_store(cache.view(), p, keys.data() + p * cache.row_elems, values.data() + p * cache.row_elems, cache.row_elems);
    }
    const auto q = random_floats(4 * s.n_heads * s.head_dim, 10, 2.0f);
    std::vector<float> a(q.size()), b(q.size());
    detail::attention_with(detail::scalar_kernels(), q.data(), 4, 96, cache.view(), s, a.data(), nullptr);
    detail::attention_with(*avx2, q.data(), 4, 96, cache.view(), s, b.data(), nullptr);
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << dtype_name(kv) << " " << i;
  }
}

TEST(Attention, ScalarAndNeonAgree) {
  if (detail::neon_kernels() == nullptr) GTEST_SKIP() << "not an aarch64 build (or BATON_FORCE_SCALAR is set)";
  const AttentionShape s{12, 4, 72};  // head_dim 72: a 32+32+8 column split for the float caches
  for (const KernelTable* k : {detail::neon_kernels(), detail::neon_dotprod_kernels()}) {
    if (k == nullptr) continue;
    for (DType kv : {DType::F32, DType::F16, DType::Q8_0}) {
      const AttentionShape shape = kv == DType::Q8_0 ? AttentionShape{12, 4, 64} : s;
      Cache cache = make_cache(kv, shape, 100);
      const auto keys = random_floats(100 * cache.row_elems, 18, 2.0f);
      const auto values = random_floats(100 * cache.row_elems, 19);
      for (int64_t p = 0; p < 100; ++p) {
        kv_store(cache.view(), p, keys.data() + p * cache.row_elems, values.data() + p * cache.row_elems,
                 cache.row_elems);
      }
      const auto q = random_floats(4 * shape.n_heads * shape.head_dim, 20, 2.0f);
      std::vector<float> a(q.size()), b(q.size()), c(q.size());
      ThreadPool pool3(3);
      detail::attention_with(detail::scalar_kernels(), q.data(), 4, 93, cache.view(), shape, a.data(), nullptr);
      detail::attention_with(*k, q.data(), 4, 93, cache.view(), shape, b.data(), nullptr);
      detail::attention_with(*k, q.data(), 4, 93, cache.view(), shape, c.data(), &pool3);
      for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << dtype_name(kv) << " " << k->name << " " << i;
      EXPECT_EQ(0, std::memcmp(b.data(), c.data(), b.size() * sizeof(float))) << dtype_name(kv) << " " << k->name;
    }
  }
}

TEST(Attention, KvStoreKeepsValuesWithinTheDtypeBound) {
  const AttentionShape s{4, 2, 64};
  for (DType kv : {DType::F32, DType::F16, DType::Q8_0}) {
    Cache cache = make_cache(kv, s, 3);
    const auto keys = random_floats(cache.row_elems, 11);
    const auto values = random_floats(cache.row_elems, 12);
    kv_store(cache.view(), 2, keys.data(), values.data(), cache.row_elems);
    const auto k_back = cache.decoded(cache.k, 3);
    const auto v_back = cache.decoded(cache.v, 3);
    double amax = 0;
    for (float x : keys) amax = std::max(amax, std::fabs(static_cast<double>(x)));
    for (float x : values) amax = std::max(amax, std::fabs(static_cast<double>(x)));
    for (int64_t i = 0; i < cache.row_elems; ++i) {
      EXPECT_NEAR(k_back[2 * cache.row_elems + i], keys[i], expected_error_bound(kv) * amax + 1e-7);
      EXPECT_NEAR(v_back[2 * cache.row_elems + i], values[i], expected_error_bound(kv) * amax + 1e-7);
    }
    // Other positions untouched (still zero bytes).
    EXPECT_EQ(k_back[0], 0.0f);
  }
}

TEST(Attention, RejectsInvalidShapes) {
  const AttentionShape bad_q8{8, 2, 48};  // 48 % 32 != 0
  Cache cache = make_cache(DType::F32, AttentionShape{8, 2, 48}, 4);
  KVLayerView view = cache.view();
  view.dtype = DType::Q8_0;
  std::vector<float> q(8 * 48), out(8 * 48);
  EXPECT_THROW(attention(q.data(), 1, 0, view, bad_q8, out.data(), nullptr), std::invalid_argument);
  std::vector<float> row(96);
  EXPECT_THROW(kv_store(view, 0, row.data(), row.data(), 96 + 16), std::invalid_argument);
  // GQA needs n_heads % n_kv_heads == 0.
  Cache ok = make_cache(DType::F32, AttentionShape{6, 4, 8}, 4);
  EXPECT_THROW(attention(q.data(), 1, 0, ok.view(), AttentionShape{6, 4, 8}, out.data(), nullptr), std::invalid_argument);
  EXPECT_THROW(attention(q.data(), 1, 0, ok.view(), AttentionShape{0, 0, 8}, out.data(), nullptr), std::invalid_argument);
  // A KV dtype the cache cannot hold.
  KVLayerView q4 = ok.view();
  q4.dtype = DType::Q4_0;
  EXPECT_THROW(attention(q.data(), 1, 0, q4, AttentionShape{4, 4, 32}, out.data(), nullptr), std::invalid_argument);
  // A row_bytes too small for n_kv_heads*head_dim.
  KVLayerView small = ok.view();
  small.row_bytes = 8;
  EXPECT_THROW(attention(q.data(), 1, 0, small, AttentionShape{4, 4, 8}, out.data(), nullptr), std::invalid_argument);
  EXPECT_THROW(kv_store(small, 0, row.data(), row.data(), 32), std::invalid_argument);
}

}  // namespace
}  // namespace baton
