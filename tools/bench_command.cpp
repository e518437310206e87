// `baton bench`: single-process engine speed. Prints prefill and decode tokens/s, time to
// first token, peak RSS and the decode roofline ratio (weight bytes read per second over
// measured memory bandwidth). Prints, never asserts.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "model/local_backend.h"
#include "model/model.h"
#include "model/sampler.h"
#include "tensor/thread_pool.h"
#include "tools/cluster_bench.h"
#include "tools/commands.h"
#include "tools/default_model.h"
#include "tools/memory_bandwidth.h"
#include "tools/run_options.h"

namespace baton::cli {

namespace {

struct BenchArgs {
  std::vector<std::string> models;
  std::vector<unsigned> threads{1, 2};
  int32_t prompt_tokens = 128;
  int32_t gen_tokens = 64;
  std::string kv_dtype = "f16";
  std::vector<int> nodes;  // non-empty: benchmark local clusters of this many nodes
  std::vector<std::string> wires{"f32", "int8+zstd"};
  std::vector<int> sessions;  // with --nodes: concurrent sessions to measure
  bool lockstep = false;
  bool pin = false;
  bool json = false;  // one JSON object per line, for scripts (tools/bench/against-llama-cpp.sh)
  bool full_logits = false;
};

struct BenchRow {
  double prefill_tps, decode_tps, ttft_ms;
};

BenchRow bench_once(const Model& model, unsigned threads, const BenchArgs& a) {
  using clock = std::chrono::steady_clock;
  ThreadPool pool(threads);
  const int64_t ctx = a.prompt_tokens + a.gen_tokens + 1;
  LocalBackend backend(model.transformer(), parse_kv_dtype(a.kv_dtype), ctx, &pool);
  // A fixed, deterministic prompt spread over the vocabulary.
  std::vector<int32_t> prompt(static_cast<size_t>(a.prompt_tokens));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(model.hparams().vocab_size));
  const auto t0 = clock::now();
  std::vector<float> logits = backend.forward(prompt, 0);
  int32_t next = argmax(logits);
  const auto t1 = clock::now();
  for (int32_t i = 0; i < a.gen_tokens; ++i) {
    const int32_t one[1] = {next};
    logits = backend.forward(one, a.prompt_tokens + i);
    next = argmax(logits);
  }
  const auto t2 = clock::now();
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  return {a.prompt_tokens / prefill_s, a.gen_tokens / decode_s, prefill_s * 1000.0};
}

// Machine-readable variant: no bandwidth probe, one line per (model, threads).
int bench_json(const BenchArgs& a) {
  for (const auto& path : a.models) {
    auto model = Model::open(path);
    for (unsigned t : a.threads) {
      BenchArgs warm = a;
      warm.prompt_tokens = 16;
      warm.gen_tokens = 4;
      bench_once(*model, t, warm);
      const BenchRow r = bench_once(*model, t, a);
      const nlohmann::json line = {{"engine", "baton"},         {"model", path},
                                   {"threads", t},              {"prefill_tps", r.prefill_tps},
                                   {"decode_tps", r.decode_tps}, {"ttft_ms", r.ttft_ms}};
      fmt::print("{}\n", line.dump());
      std::fflush(stdout);
    }
  }
  return 0;
}

int bench(BenchArgs a) {
  if (a.models.empty()) a.models.push_back(resolve_model(std::nullopt));
  if (!a.nodes.empty()) {
    ClusterBenchArgs c;
    c.model = a.models.front();
    c.nodes = a.nodes;
    c.wires = a.wires;
    c.sessions = a.sessions;
    c.lockstep = a.lockstep;
    c.pin = a.pin;
    c.full_logits = a.full_logits;
    c.prompt_tokens = a.prompt_tokens;
    c.gen_tokens = a.gen_tokens;
    c.threads = a.threads.empty() ? 2 : a.threads.back();
    return run_cluster_bench(c);
  }
  if (a.json) return bench_json(a);
  double bandwidth = 0;
  {
    ThreadPool pool(0);
    bandwidth = measure_read_bandwidth(pool);
  }
  fmt::print("memory read bandwidth (all cores): {:.2f} GB/s\n", bandwidth / 1e9);
  fmt::print("prompt {} tokens, generate {} tokens, KV {}\n\n", a.prompt_tokens, a.gen_tokens, a.kv_dtype);
  fmt::print("{:<34} {:>7} {:>9} {:>12} {:>12} {:>10} {:>12} {:>9} {:>14}\n", "model", "threads", "weights",
             "prefill t/s", "decode t/s", "TTFT ms", "GB/s (dec)", "roofline", "GFLOP/s (dec)");
  for (const auto& path : a.models) {
    auto model = open_model_with_progress(path);
    const uint64_t wbytes = decode_weight_bytes(model->weights());
    const uint64_t welements = decode_weight_elements(model->weights());
    for (unsigned t : a.threads) {
      BenchArgs warm = a;
      warm.prompt_tokens = 16;
      warm.gen_tokens = 4;
      bench_once(*model, t, warm);  // warm-up: page cache, pools
      const BenchRow r = bench_once(*model, t, a);
      const double gbs = static_cast<double>(wbytes) * r.decode_tps;
      const std::string name = std::filesystem::path(path).filename().string();
      // The figure `baton node` calibrates and advertises (its matvec kernel's GFLOP/s).
      const double gflops = 2.0 * static_cast<double>(welements) * r.decode_tps / 1e9;
      fmt::print("{:<34} {:>7} {:>7.0f}MB {:>12.1f} {:>12.2f} {:>10.1f} {:>12.2f} {:>8.0f}% {:>14.1f}\n", name, t,
                 static_cast<double>(wbytes) / 1e6, r.prefill_tps, r.decode_tps, r.ttft_ms, gbs / 1e9,
                 100.0 * gbs / bandwidth, gflops);
    }
  }
  fmt::print("\npeak RSS: {:.1f} MB\n", static_cast<double>(peak_rss_bytes()) / 1e6);
  return 0;
}

}  // namespace

void register_bench(CLI::App& app, CommandRunner& runner) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prefill/decode speed, time to first token and roofline ratio");
  cmd->add_option("-m,--model", args->models, "GGUF model file(s) (default: the shipped model)");
  cmd->add_option("-t,--threads", args->threads, "Thread counts to measure")->delimiter(',')->capture_default_str();
  cmd->add_option("--prompt-tokens", args->prompt_tokens, "Prompt length")->check(CLI::Range(1, 65536))->capture_default_str();
  cmd->add_option("--gen-tokens", args->gen_tokens, "Tokens to decode")->check(CLI::Range(1, 65536))->capture_default_str();
  cmd->add_option("--kv-dtype", args->kv_dtype, "KV cache type")->check(CLI::IsMember({"f16", "q8_0", "f32"}))->capture_default_str();
  cmd->add_option("--nodes", args->nodes, "Benchmark local clusters with these node counts (e.g. 1,2,3)")->delimiter(',');
  cmd->add_option("--wire", args->wires, "Wire formats for --nodes")->delimiter(',')->capture_default_str();
  cmd->add_option("--sessions", args->sessions,
                  "With --nodes: sessions in flight at once (e.g. 1,2,4); prints aggregate decode tokens/s")
      ->delimiter(',')->check(CLI::Range(1, 64));
  cmd->add_flag("--lockstep", args->lockstep,
                "With --sessions: put every session in one batch group (they then travel the ring together)");
  cmd->add_flag("--json", args->json, "Print one JSON line per model and thread count (no bandwidth probe)");
  cmd->add_flag("--pin", args->pin, "With --nodes: pin node i to CPU i (mod cores), as if each were its own device");
  cmd->add_flag("--full-logits", args->full_logits,
                "With --nodes: the last stage returns every logit and the coordinator samples (the old way), "
                "instead of sampling on the last stage");
  cmd->callback([args, &runner] { runner = [args] { return bench(*args); }; });
}

}  // namespace baton::cli
