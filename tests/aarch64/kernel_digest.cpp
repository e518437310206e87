// Prints a digest of what the active kernel table computes on fixed seeded data: matvec
// and matmul for every weight dtype (tile edges included), attention over each KV dtype,
// softmax, SiLU, Gemma's GELU, soft-cap and windowed attention, and the activation
// quantisers. Built for x86 and aarch64; ctest compares
// the x86 (AVX2) output with the aarch64 one under qemu (NEON with and without dotprod):
// equal lines mean bit-identical results across the architectures.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tensor/cpu_features.h"
#include "tensor/dtype.h"
#include "tensor/kernels.h"
#include "tensor/thread_pool.h"

namespace {

using baton::DType;

// Deterministic on every platform: mt19937 is fully specified, and the mapping to floats
// here is plain arithmetic (std:: distributions are implementation-defined).
std::vector<float> seeded(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = scale * (static_cast<float>(rng() >> 8) / 16777216.0f * 2.0f - 1.0f);
  return v;
}

uint64_t fnv1a(const void* data, size_t bytes) {
  uint64_t h = 1469598103934665603ull;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

template <typename T>
void print(const std::string& what, const std::vector<T>& v) {
  std::printf("%-28s %016" PRIx64 "\n", what.c_str(), fnv1a(v.data(), v.size() * sizeof(T)));
}

std::vector<uint8_t> quantised(DType t, const std::vector<float>& w, int64_t rows, int64_t cols) {
  const size_t rb = baton::row_bytes(t, static_cast<uint64_t>(cols));
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) baton::quantize_row(t, w.data() + r * cols, out.data() + r * rb, cols);
  return out;
}

// Attention of 3 queries at the end of `positions` cached positions, with seeded keys,
// values and queries.
std::vector<float> attention_of(DType kv, const baton::AttentionShape& shape, int64_t positions, uint32_t seed_keys,
                                uint32_t seed_values, uint32_t seed_queries, baton::ThreadPool& pool) {
  const int64_t row_elems = static_cast<int64_t>(shape.n_kv_heads) * shape.head_dim;
  const int64_t rb = static_cast<int64_t>(baton::row_bytes(kv, static_cast<uint64_t>(row_elems)));
  std::vector<uint8_t> k(rb * positions), v(rb * positions);
  const baton::KVLayerView cache{kv, k.data(), v.data(), rb};
  const auto keys = seeded(row_elems * positions, seed_keys, 2.0f);
  const auto values = seeded(row_elems * positions, seed_values, 1.0f);
  for (int64_t p = 0; p < positions; ++p) {
    baton::kv_store(cache, p, keys.data() + p * row_elems, values.data() + p * row_elems, row_elems);
  }
  const auto q = seeded(3 * shape.n_heads * shape.head_dim, seed_queries, 2.0f);
  std::vector<float> out(q.size());
  baton::attention(q.data(), 3, positions - 3, cache, shape, out.data(), &pool);
  return out;
}

}  // namespace

int main() {
  baton::ThreadPool pool(3);
  std::printf("# kernels: %s\n", baton::kernel_table_name());
  const DType types[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0,   DType::Q4_0, DType::Q4_K,
                         DType::Q6_K, DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::Q5_K};
  for (DType t : types) {
    const int64_t block = baton::dtype_info(t).block_elems;
    const int64_t cols = block == 1 ? 1003 : (block == 32 ? 1056 : 1280);  // f32 tails included
    const int64_t rows = 67, tokens = 5;
    const auto w = quantised(t, seeded(rows * cols, 11 + static_cast<uint32_t>(t), 0.5f), rows, cols);
    const auto x = seeded(cols * tokens, 23 + static_cast<uint32_t>(t), 2.0f);
    const baton::WeightView view{t, w.data(), rows, cols};
    std::vector<float> y(rows), ym(rows * tokens);
    baton::matvec(view, x.data(), y.data(), &pool);
    baton::matmul(view, x.data(), tokens, ym.data(), &pool);
    print(std::string(baton::dtype_name(t)) + " matvec", y);
    print(std::string(baton::dtype_name(t)) + " matmul", ym);
  }
  for (DType kv : {DType::F32, DType::F16, DType::Q8_0}) {
    const baton::AttentionShape shape{12, 4, kv == DType::Q8_0 ? 64 : 72};
    const auto out = attention_of(kv, shape, 45, 31, 37, 41, pool);
    print(std::string("attention kv ") + std::string(baton::dtype_name(kv)), out);
  }
  auto s = seeded(1001, 43, 30.0f);
  baton::softmax_inplace(s.data(), static_cast<int64_t>(s.size()));
  print("softmax", s);
  const auto g = seeded(1001, 47, 6.0f), u = seeded(1001, 53, 1.0f);
  std::vector<float> silu(g.size());
  baton::silu_mul(g.data(), u.data(), silu.data(), static_cast<int64_t>(g.size()));
  print("silu_mul", silu);
  // Gemma's pieces: GELU and the soft-cap go through libm's tanhf, whose bits x86 and
  // aarch64 glibc must agree on for a split Gemma run to equal a single node; the per-head
  // RMSNorm (Qwen3, Gemma 3); attention with a window, a score cap and its own scale.
  std::vector<float> gelu(g.size());
  baton::gelu_mul(g.data(), u.data(), gelu.data(), static_cast<int64_t>(g.size()));
  print("gelu_mul", gelu);
  auto capped = seeded(1001, 61, 120.0f);
  baton::softcap_inplace(capped.data(), static_cast<int64_t>(capped.size()), 50.0f);
  print("softcap", capped);
  auto heads = seeded(8 * 72, 67, 4.0f);
  const auto head_weight = seeded(72, 71, 1.5f);
  baton::rmsnorm_heads(heads.data(), head_weight.data(), 8, 72, 1e-6f);
  print("rmsnorm_heads", heads);
  {
    baton::AttentionShape shape{8, 4, 64};
    shape.window = 7;
    shape.softcap = 50.0f;
    shape.scale = 0.0625f;
    const auto out = attention_of(DType::F16, shape, 29, 73, 79, 83, pool);
    print("attention window+softcap", out);
  }
  const auto a = seeded(1024, 59, 3.0f);
  std::vector<uint8_t> q8(baton::row_bytes(DType::Q8_0, 1024)), q8k(baton::row_bytes(DType::Q8_K, 1024));
  baton::quantize_row(DType::Q8_0, a.data(), q8.data(), 1024);
  baton::quantize_row(DType::Q8_K, a.data(), q8k.data(), 1024);
  print("quantize q8_0", q8);
  print("quantize q8_K", q8k);
  return 0;
}
