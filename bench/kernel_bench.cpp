// baton_kernel_bench: matvec throughput per weight dtype against this machine's measured
// memory read bandwidth (the decode roofline), plus matmul (prefill) GFLOP/s.
// Prints only; nothing here is asserted anywhere.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/kernels.h"
#include "tensor/kernels_dispatch.h"
#include "tensor/thread_pool.h"

namespace {

using Clock = std::chrono::steady_clock;
using baton::DType;

// Many short windows, best one kept: on a shared machine the best window is the one where
// this process had the cores to itself, which is the figure that characterises the code.
struct Options {
  double min_seconds = 0.05;  // per window
  int repeats = 15;           // windows; the best is reported
  unsigned max_threads = 2;
  bool matmul = true;
  std::vector<DType> types = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0,   DType::Q4_0, DType::Q4_K,
                              DType::Q6_K, DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::Q5_K};
};

void print_help() {
  std::printf(
      "baton_kernel_bench: matvec GB/s per weight dtype vs measured memory bandwidth\n\n"
      "usage: baton_kernel_bench [--quick] [--threads N] [--no-matmul] [--types q5_0,q5_K,...] [--help]\n\n"
      "  --quick       shorter measurements (noisier)\n"
      "  --types LIST  only these weight types (default: every one)\n"
      "  --threads N   largest thread count to try (default 2); runs 1..N\n"
      "  --no-matmul   skip the prefill (matmul) table\n"
      "  --help        this text\n\n"
      "'cold' streams a set of copies larger than the last-level cache (what decode sees);\n"
      "'hot' repeats one matrix (cache-resident: kernel compute speed).\n"
      "Set BATON_FORCE_SCALAR=1 to measure the portable kernels.\n");
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      print_help();
      std::exit(0);
    } else if (a == "--quick") {
      o.min_seconds = 0.03;
      o.repeats = 5;
    } else if (a == "--no-matmul") {
      o.matmul = false;
    } else if (a == "--types" && i + 1 < argc) {
      o.types.clear();
      std::string_view list = argv[++i];
      while (!list.empty()) {
        const size_t comma = list.find(',');
        const std::string_view name = list.substr(0, comma);
        const auto t = baton::parse_dtype(name);
        if (!t || *t == DType::Q8_K) {
          std::fprintf(stderr, "error: --types: '%.*s' is not a weight type\n", static_cast<int>(name.size()), name.data());
          return false;
        }
        o.types.push_back(*t);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      }
    } else if (a == "--threads" && i + 1 < argc) {
      const int n = std::atoi(argv[++i]);
      if (n < 1 || n > 256) {
        std::fprintf(stderr, "error: --threads needs a number from 1 to 256, got '%s'\n", argv[i]);
        return false;
      }
      o.max_threads = static_cast<unsigned>(n);
    } else {
      std::fprintf(stderr, "error: unknown argument '%s' (see --help)\n", argv[i]);
      return false;
    }
  }
  return true;
}

// Runs `body` repeatedly for at least min_seconds, `repeats` times; returns the best
// seconds per call.
template <typename Body>
double best_seconds_per_call(const Options& o, Body body) {
  double best = 1e30;
  body();  // warm-up: page faults, pool wake-up
  for (int r = 0; r < o.repeats; ++r) {
    long calls = 0;
    const auto t0 = Clock::now();
    double elapsed = 0;
    do {
      body();
      ++calls;
      elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (elapsed < o.min_seconds);
    best = std::min(best, elapsed / static_cast<double>(calls));
  }
  return best;
}

// Read bandwidth: sum a buffer far larger than the caches, split across the pool; the best
// of a plain sum and a sum that also prefetches 4 KiB ahead into L2 (the way the matvec
// kernels stream weights), so the roofline denominator is not an underestimate.
double measure_read_bandwidth(baton::ThreadPool& pool, const Options& o) {
  const size_t bytes = size_t{512} << 20;
  const size_t n = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[n]);
  pool.parallel_for(n, 1 << 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) buf[i] = i * 0x9E3779B97F4A7C15ull;  // real pages, not the zero page
  });
  std::atomic<uint64_t> sink{0};
  double best = 0.0;
  for (const bool prefetch : {false, true}) {
    const double secs = best_seconds_per_call(o, [&] {
      pool.parallel_for(n, 1 << 16, [&](size_t b, size_t e) {
        uint64_t s[8] = {};
        size_t i = b;
        for (; i + 8 <= e; i += 8) {
          if (prefetch) __builtin_prefetch(buf.get() + i + 512, 0, 2);
          for (int k = 0; k < 8; ++k) s[k] += buf[i + k];
        }
        for (; i < e; ++i) s[0] += buf[i];
        uint64_t t = 0;
        for (uint64_t v : s) t += v;
        sink.fetch_add(t, std::memory_order_relaxed);
      });
    });
    best = std::max(best, static_cast<double>(bytes) / secs);
  }
  return best;
}

struct Matrix {
  DType dtype;
  int64_t rows, cols;
  size_t bytes;
  std::vector<std::unique_ptr<uint8_t[]>> copies;  // enough copies to overflow the caches
};

Matrix make_matrix(DType t, int64_t rows, int64_t cols, size_t cold_bytes) {
  Matrix m{t, rows, cols, baton::row_bytes(t, static_cast<uint64_t>(cols)) * static_cast<size_t>(rows), {}};
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> row(static_cast<size_t>(cols));
  auto first = std::unique_ptr<uint8_t[]>(new uint8_t[m.bytes]);
  const size_t rb = baton::row_bytes(t, static_cast<uint64_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = dist(rng);
    baton::quantize_row(t, row.data(), first.get() + r * rb, cols);
  }
  const size_t n_copies = std::max<size_t>(2, (cold_bytes + m.bytes - 1) / m.bytes);
  m.copies.push_back(std::move(first));
  for (size_t c = 1; c < n_copies; ++c) {
    m.copies.emplace_back(new uint8_t[m.bytes]);
    std::memcpy(m.copies.back().get(), m.copies.front().get(), m.bytes);
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, opt)) return 2;

  const auto& kernels = baton::detail::active_kernels();
  std::printf("kernels: %s\n", kernels.name);

  std::vector<std::unique_ptr<baton::ThreadPool>> pools;
  std::vector<double> bandwidth;  // bytes/s per thread count
  for (unsigned t = 1; t <= opt.max_threads; ++t) {
    pools.push_back(std::make_unique<baton::ThreadPool>(t));
    bandwidth.push_back(measure_read_bandwidth(*pools.back(), opt));
    std::printf("memory read bandwidth, %u thread%s: %.2f GB/s\n", t, t > 1 ? "s" : "", bandwidth.back() / 1e9);
  }
  double machine_bw = *std::max_element(bandwidth.begin(), bandwidth.end());

  const std::vector<DType>& types = opt.types;
  const std::pair<int64_t, int64_t> shapes[] = {{768, 3072}, {3072, 768}};
  // 4x a 32 MiB last-level cache: each call then reads its weights from DRAM.
  const size_t cold_bytes = size_t{128} << 20;

  struct Row {
    DType dtype;
    int64_t rows, cols;
    unsigned threads;
    double cold_gbs, hot_gbs;
  };
  std::vector<Row> table;
  for (DType t : types) {
    for (const auto& [rows, cols] : shapes) {
      Matrix m = make_matrix(t, rows, cols, cold_bytes);
      std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
      std::mt19937 rng(7);
      std::normal_distribution<float> dist(0.0f, 1.0f);
      for (auto& v : x) v = dist(rng);
      for (unsigned th = 1; th <= opt.max_threads; ++th) {
        baton::ThreadPool* pool = th == 1 ? nullptr : pools[th - 1].get();
        size_t next = 0;
        const double cold = best_seconds_per_call(opt, [&] {
          baton::matvec(baton::WeightView{t, m.copies[next].get(), rows, cols}, x.data(), y.data(), pool);
          next = (next + 1) % m.copies.size();
        });
        const double hot = best_seconds_per_call(opt, [&] {
          baton::matvec(baton::WeightView{t, m.copies[0].get(), rows, cols}, x.data(), y.data(), pool);
        });
        table.push_back({t, rows, cols, th, static_cast<double>(m.bytes) / cold, static_cast<double>(m.bytes) / hot});
      }
    }
  }
  // Bandwidth again after the table: on a shared machine a single measurement can land in
  // a busy moment, and the roofline denominator should be the best this machine showed.
  for (unsigned t = 1; t <= opt.max_threads; ++t) {
    const double again = measure_read_bandwidth(*pools[t - 1], opt);
    std::printf("memory read bandwidth, %u thread%s (re-measured): %.2f GB/s\n", t, t > 1 ? "s" : "", again / 1e9);
    bandwidth[t - 1] = std::max(bandwidth[t - 1], again);
  }
  machine_bw = *std::max_element(bandwidth.begin(), bandwidth.end());

  std::printf("\nmatvec (GB/s of weight bytes; %% = of the best bandwidth measured with the same threads / of the machine best)\n");
  std::printf("%-6s %-10s %3s  %10s %14s  %10s\n", "dtype", "rows x cols", "thr", "cold GB/s", "cold % (same/best)", "hot GB/s");
  for (const Row& r : table) {
    std::printf("%-6s %4lldx%-5lld %3u  %10.2f %7.0f%% /%4.0f%%  %10.2f\n", std::string(baton::dtype_name(r.dtype)).c_str(),
                static_cast<long long>(r.rows), static_cast<long long>(r.cols), r.threads, r.cold_gbs / 1e9,
                100.0 * r.cold_gbs / bandwidth[r.threads - 1], 100.0 * r.cold_gbs / machine_bw, r.hot_gbs / 1e9);
  }

  if (opt.matmul) {
    constexpr int64_t kTokens = 64;
    std::printf("\nmatmul / prefill (%lld tokens, GFLOP/s; weights 768 x 3072)\n", static_cast<long long>(kTokens));
    std::printf("%-6s %3s  %10s\n", "dtype", "thr", "GFLOP/s");
    for (DType t : types) {
      Matrix m = make_matrix(t, 768, 3072, 0);
      std::vector<float> x(static_cast<size_t>(3072 * kTokens), 0.5f), y(static_cast<size_t>(768 * kTokens));
      for (unsigned th = 1; th <= opt.max_threads; ++th) {
        baton::ThreadPool* pool = th == 1 ? nullptr : pools[th - 1].get();
        const double secs = best_seconds_per_call(opt, [&] {
          baton::matmul(baton::WeightView{t, m.copies[0].get(), 768, 3072}, x.data(), kTokens, y.data(), pool);
        });
        std::printf("%-6s %3u  %10.2f\n", std::string(baton::dtype_name(t)).c_str(), th,
                    2.0 * 768 * 3072 * kTokens / secs / 1e9);
      }
    }
  }
  {
    // One decode step of attention (1 query token) at several context lengths.
    const baton::AttentionShape shape{12, 4, 64};
    std::printf("\nattention, 1 query token (12 heads, 4 KV heads, head_dim 64; microseconds per call)\n");
    std::printf("%-6s %6s %3s  %10s\n", "kv", "ctx", "thr", "us");
    for (DType kv : {DType::F16, DType::Q8_0, DType::F32}) {
      for (int64_t ctx : {256, 2048}) {
        const int64_t row_elems = int64_t{shape.n_kv_heads} * shape.head_dim;
        const int64_t rb = static_cast<int64_t>(baton::row_bytes(kv, static_cast<uint64_t>(row_elems)));
        std::vector<uint8_t> k(static_cast<size_t>(rb * ctx)), v(k.size());
        const baton::KVLayerView view{kv, k.data(), v.data(), rb};
        std::vector<float> row(static_cast<size_t>(row_elems), 0.25f);
        for (int64_t p = 0; p < ctx; ++p) baton::kv_store(view, p, row.data(), row.data(), row_elems);
        std::vector<float> q(static_cast<size_t>(shape.n_heads * shape.head_dim), 0.1f), out(q.size());
        for (unsigned th = 1; th <= opt.max_threads; ++th) {
          baton::ThreadPool* pool = th == 1 ? nullptr : pools[th - 1].get();
          const double secs = best_seconds_per_call(opt, [&] {
            baton::attention(q.data(), 1, ctx - 1, view, shape, out.data(), pool);
          });
          std::printf("%-6s %6lld %3u  %10.1f\n", std::string(baton::dtype_name(kv)).c_str(), static_cast<long long>(ctx), th,
                      secs * 1e6);
        }
      }
    }
  }
  return 0;
}
