// This machine's speed, measured on the kernels a stage runs: arithmetic (GFLOP/s of a
// model-shaped decode step) and memory read bandwidth (GB/s). A node advertises both to the
// planner; the simulator paces slower devices with the single-thread figure
// (`baton node --host-gflops`). A node's figures are cached per binary, CPU and thread
// count so that a restart costs nothing, and measured again when a week old.
#pragma once

#include <string>

namespace baton {

class ThreadPool;

// GFLOP/s (2 per weight) of a single-thread Q8_0 matvec over a few hundred KiB of weights,
// best of short runs over about `budget_ms` in total.
double measure_host_gflops(double budget_ms = 150);

// The same kernel on `pool`'s threads over a matrix of about 2 MiB (in cache, as a small
// model's layers are), best of runs over about `budget_ms`.
double measure_gflops(ThreadPool& pool, double budget_ms);

// GFLOP/s of whole decode steps (2 FLOPs per weight multiplied, as `baton bench` counts)
// of a synthesised Q8_0 model of the shipped model's shape (4 layers, 256 wide), on
// `pool`'s threads: the matrices, and also the attention, norms, activations and thread
// hand-offs around them that a stage pays per token. The model is written to a scratch
// file in `scratch_dir` and removed. Best of runs over about `budget_ms`.
double measure_decode_gflops(ThreadPool& pool, const std::string& scratch_dir, double budget_ms);

// Best of `repeats` passes summing a buffer of `bytes` (well above cache size) split across
// the pool, in bytes/s.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes = 512ull << 20, int repeats = 5);

struct DeviceSpeed {
  double gflops = 0;
  double bandwidth_gbs = 0;
  double measured_ms = 0;  // wall time the measurement took (0 when read from the cache)
  double cpu_ms = 0;       // CPU time it used: on a busy machine far less than the wall time
  bool from_cache = false;
};

// The node's figures for `threads` kernel threads (0: all cores): from `cache_dir` when
// measured by this binary on this CPU within a week, else measured now (well under a
// second) and cached. An unwritable cache only costs a re-measurement next time.
DeviceSpeed calibrate_device(unsigned threads, const std::string& cache_dir);

}  // namespace baton
