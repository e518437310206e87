#include "node/stage/host_calibration.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <filesystem>
#include <fstream>
#include <functional>
#include <vector>

#include "model/local_backend.h"
#include "model/model.h"
#include "model/synth.h"
#include "tensor/kernels.h"
#include "tensor/thread_pool.h"

namespace baton {

namespace {

using Clock = std::chrono::steady_clock;

// A Q8_0 matrix of deterministic values and an input vector.
struct Q8Matrix {
  std::vector<uint8_t> q;
  std::vector<float> x, y;
  WeightView view;
  Q8Matrix(int64_t rows, int64_t cols) : x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows)) {
    std::vector<float> w(static_cast<size_t>(cols));
    const uint64_t rb = row_bytes(DType::Q8_0, static_cast<uint64_t>(cols));
    q.resize(static_cast<size_t>(rb * rows));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        w[static_cast<size_t>(c)] =
            static_cast<float>(static_cast<int>((r * cols + c) * 2654435761u % 2001) - 1000) / 1000.0f;
      }
      quantize_row(DType::Q8_0, w.data(), q.data() + r * rb, cols);
    }
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) / 17.0f;
    view = WeightView{DType::Q8_0, q.data(), rows, cols};
  }
};

double best_gflops(Q8Matrix& m, ThreadPool* pool, double budget_ms, int reps) {
  const auto deadline = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(budget_ms * 1000));
  double best = 0;
  do {
    const auto t0 = Clock::now();
    for (int i = 0; i < reps; ++i) matvec(m.view, m.x.data(), m.y.data(), pool);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0) best = std::max(best, 2.0 * static_cast<double>(m.view.rows * m.view.cols) * reps / s / 1e9);
  } while (Clock::now() < deadline);
  return best > 0 ? best : 1.0;
}

// Removes a scratch file however the measurement ends.
struct ScratchFile {
  std::filesystem::path path;
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

// What makes a measurement reusable: this binary (path, size, mtime), this CPU, threads.
std::string calibration_key(unsigned threads) {
  std::string cpu = "unknown cpu";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0 || line.rfind("Hardware", 0) == 0 || line.rfind("CPU part", 0) == 0) {
      cpu = line.substr(std::min(line.size(), line.find(':') + 2));
      break;
    }
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  struct stat st {};
  const bool stat_ok = !ec && stat(exe.c_str(), &st) == 0;
  // "decode-v2": what is measured (whole decode steps); figures of the older kernel-only
  // calibration are not reused.
  const std::string identity = fmt::format("decode-v2|{}|{}|{}|{}|{}|{}", exe.string(), stat_ok ? st.st_size : 0,
                                           stat_ok ? st.st_mtime : 0, cpu, threads, sysconf(_SC_NPROCESSORS_ONLN));
  return fmt::format("{:016x}", std::hash<std::string>{}(identity));
}

constexpr int64_t kStaleAfterSeconds = 7 * 24 * 3600;

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace

double measure_host_gflops(double budget_ms) {
  // The shape of a small model's feed-forward matrix: weights stay in L2 as they do for
  // the simulated models, so this measures arithmetic rather than DRAM.
  Q8Matrix m(704, 256);
  return best_gflops(m, nullptr, budget_ms, 50);
}

double measure_gflops(ThreadPool& pool, double budget_ms) {
  Q8Matrix m(2048, 1024);  // ~2.1 MiB: rows enough for every thread, still in cache
  matvec(m.view, m.x.data(), m.y.data(), &pool);  // wake the workers
  return best_gflops(m, &pool, budget_ms, 8);
}

double measure_decode_gflops(ThreadPool& pool, const std::string& scratch_dir, double budget_ms) {
  SynthOptions opt;
  opt.size = "calibration";
  opt.shape = SynthShape{4, 256, 704, 8, 2, 4096, 256};  // the shipped model's shape
  opt.dtype = DType::Q8_0;
  std::filesystem::create_directories(scratch_dir);
  const ScratchFile scratch{std::filesystem::path(scratch_dir) / fmt::format(".calibration-{}.gguf", getpid())};
  synth_model(opt).write(scratch.path.string());
  const auto model = Model::open(scratch.path.string());
  const double flops_per_token = 2.0 * static_cast<double>(decode_weight_elements(model->weights()));
  constexpr int kPrompt = 16, kDecode = 48;
  std::vector<int32_t> prompt(kPrompt);
  for (int i = 0; i < kPrompt; ++i) prompt[static_cast<size_t>(i)] = (i * 7919 + 13) % 4096;
  const auto deadline = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(budget_ms * 1000));
  double best = 0;
  do {
    LocalBackend backend(model->transformer(), DType::F16, kPrompt + kDecode + 1, &pool);
    std::vector<float> logits = backend.forward(prompt, 0);
    const auto t0 = Clock::now();
    for (int i = 0; i < kDecode; ++i) {
      const int32_t next[1] = {static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin())};
      logits = backend.forward(next, kPrompt + i);
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0) best = std::max(best, flops_per_token * kDecode / s / 1e9);
  } while (Clock::now() < deadline);
  return best > 0 ? best : 1.0;
}

double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int repeats) {
  const size_t n = bytes / sizeof(uint64_t);
  // 2 MiB-aligned and offered transparent huge pages: first touching 64 MiB in 4 KiB pages
  // costs more than the passes measured (16k page faults, slow in a VM).
  constexpr size_t kHugePage = 2u << 20;
  const size_t alloc_bytes = (n * sizeof(uint64_t) + kHugePage - 1) / kHugePage * kHugePage;
  std::unique_ptr<uint64_t, decltype(&std::free)> memory(static_cast<uint64_t*>(std::aligned_alloc(kHugePage, alloc_bytes)),
                                                        &std::free);
  if (!memory) throw std::bad_alloc();
  madvise(memory.get(), alloc_bytes, MADV_HUGEPAGE);  // a hint: without THP it is only slower
  uint64_t* buf = memory.get();
  pool.parallel_for(n, 1 << 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) buf[i] = i * 2654435761u;  // touch: real pages, not the zero page
  });
  double best = 0;
  std::atomic<uint64_t> sink{0};
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    pool.parallel_for(n, 1 << 16, [&](size_t b, size_t e) {
      // Four independent sums let the compiler vectorise and hide latency.
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      size_t i = b;
      for (; i + 4 <= e; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      for (; i < e; ++i) s0 += buf[i];
      sink.fetch_add(s0 + s1 + s2 + s3, std::memory_order_relaxed);
    });
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (secs > 0) best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / secs);
  }
  return best;
}

DeviceSpeed calibrate_device(unsigned threads, const std::string& cache_dir) {
  const std::string key = calibration_key(threads);
  const std::filesystem::path file = std::filesystem::path(cache_dir) / "device-calibration.json";
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  nlohmann::json cache = nlohmann::json::object();
  try {
    std::ifstream in(file);
    if (in) cache = nlohmann::json::parse(in);
    if (!cache.is_object()) cache = nlohmann::json::object();
    if (cache.contains(key)) {
      const auto& e = cache[key];
      if (now_s - e.at("measured_at").get<int64_t>() < kStaleAfterSeconds && e.at("gflops").get<double>() > 0 &&
          e.at("bandwidth_gbs").get<double>() > 0) {
        DeviceSpeed cached;
        cached.gflops = e["gflops"].get<double>();
        cached.bandwidth_gbs = e["bandwidth_gbs"].get<double>();
        cached.from_cache = true;
        return cached;
      }
    }
  } catch (const std::exception& e) {
    spdlog::debug("ignoring the calibration cache {}: {}", file.string(), e.what());
    cache = nlohmann::json::object();
  }
  const auto t0 = Clock::now();
  const double cpu0 = process_cpu_ms();
  DeviceSpeed out;
  {
    ThreadPool pool(threads);
    const auto g0 = Clock::now();
    try {
      out.gflops = measure_decode_gflops(pool, cache_dir, 100);
    } catch (const std::exception& e) {
      // An unwritable cache folder: the scratch model goes to the temporary folder.
      spdlog::debug("calibrating in {} failed ({}); using the temporary folder", cache_dir, e.what());
      out.gflops = measure_decode_gflops(pool, std::filesystem::temp_directory_path().string(), 100);
    }
    // 64 MiB: far above the caches of phones and PCs alike, small enough to be quick.
    const auto g1 = Clock::now();
    out.bandwidth_gbs = measure_read_bandwidth(pool, 64ull << 20, 3) / 1e9;
    spdlog::debug("calibration: decode steps {:.0f} ms, read bandwidth {:.0f} ms",
                  std::chrono::duration<double, std::milli>(g1 - g0).count(),
                  std::chrono::duration<double, std::milli>(Clock::now() - g1).count());
  }
  out.measured_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  out.cpu_ms = process_cpu_ms() - cpu0;
  try {
    cache[key] = {{"gflops", out.gflops}, {"bandwidth_gbs", out.bandwidth_gbs}, {"measured_at", now_s},
                  {"threads", threads}};
    std::filesystem::create_directories(cache_dir);
    const std::filesystem::path tmp = file.string() + fmt::format(".{}", getpid());
    std::ofstream(tmp) << cache.dump(2) << "\n";
    std::filesystem::rename(tmp, file);
  } catch (const std::exception& e) {
    spdlog::debug("cannot cache the calibration in {}: {}", file.string(), e.what());
  }
  return out;
}

}  // namespace baton
