#include "tools/cluster_bench.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <regex>
#include <thread>

#include "model/local_backend.h"
#include "model/sampler.h"
#include "node/coordinator/cluster.h"
#include "node/model_identity.h"
#include "tensor/thread_pool.h"
#include "tools/child_process.h"
#include "transport/auth.h"

namespace baton::cli {

namespace {

using clock = std::chrono::steady_clock;

struct Row {
  std::string setup;
  double ttft_ms = 0, decode_tps = 0;
  double raw_bytes_per_hop = 0, wire_bytes_per_hop = 0;  // per decoded token, between stages
  double back_bytes = 0;                                 // per decoded token, last stage -> coordinator
  double hop_overhead_us = 0;
};

std::vector<int32_t> bench_prompt(int n, int vocab) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) p[static_cast<size_t>(i)] = (i * 7919 + 13) % vocab;
  return p;
}

Row bench_local(const std::string& path, const ClusterBenchArgs& a) {
  ModelOpenOptions opt;
  opt.with_tokenizer = false;
  auto model = Model::open(path, opt);
  ThreadPool pool(a.threads);
  LocalBackend backend(model->transformer(), DType::F16, a.prompt_tokens + a.gen_tokens + 8, &pool);
  const auto prompt = bench_prompt(a.prompt_tokens, model->hparams().vocab_size);
  const auto t0 = clock::now();
  int32_t next = argmax(backend.forward(prompt, 0));
  const auto t1 = clock::now();
  for (int i = 0; i < a.gen_tokens; ++i) {
    const int32_t one[1] = {next};
    next = argmax(backend.forward(one, a.prompt_tokens + i));
  }
  const auto t2 = clock::now();
  Row r;
  r.setup = fmt::format("single process, {} threads", a.threads);
  r.ttft_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  r.decode_tps = a.gen_tokens / std::chrono::duration<double>(t2 - t1).count();
  return r;
}

// Starts `n_nodes` node processes on loopback; their addresses go to cfg.peers.
std::vector<std::unique_ptr<ChildProcess>> start_nodes(const std::string& path, int n_nodes, const ClusterBenchArgs& a,
                                                       const std::string& secret, ClusterConfig& cfg) {
  std::vector<std::unique_ptr<ChildProcess>> nodes;
  for (int i = 0; i < n_nodes; ++i) {
    std::vector<std::string> argv{"/proc/self/exe", "node", "--listen", "127.0.0.1:0", "--model", path, "--threads",
                                  std::to_string(a.threads), "--name", fmt::format("bench{}", i), "--no-mdns",
                                  "--log-level", "warn"};
    if (a.pin) {
      argv.push_back("--cpus");
      argv.push_back(std::to_string(static_cast<unsigned>(i) % std::max(1u, std::thread::hardware_concurrency())));
    }
    nodes.push_back(std::make_unique<ChildProcess>(argv, std::vector<std::string>{"BATON_SECRET=" + secret}));
    auto m = nodes.back()->wait_for_line(std::regex(R"(\(port (\d+)\))"), std::chrono::seconds(30));
    if (!m) throw std::runtime_error("bench node did not start: " + nodes.back()->err());
    cfg.peers.push_back("127.0.0.1:" + std::string((*m)[1]));
  }
  cfg.secret = secret;
  // Equal figures for every node: the planner splits by memory, i.e. evenly.
  cfg.default_gflops = 100;
  return nodes;
}

Row bench_cluster(kj::AsyncIoContext& io, const Model& model, const std::string& path, const std::string& hash,
                  int n_nodes, const std::string& wire, const ClusterBenchArgs& a) {
  const std::string secret = to_hex(random_nonce());
  ClusterConfig cfg;
  auto nodes = start_nodes(path, n_nodes, a, secret, cfg);
  cfg.wire = parse_wire_format(wire);
  cfg.context = a.prompt_tokens + a.gen_tokens + 8;
  cfg.max_sessions = 1;
  cfg.prefill_chunk = static_cast<uint32_t>(std::max(a.prompt_tokens, 1));
  Cluster cluster(io, model, hash, cfg);
  cluster.assemble().wait(io.waitScope);

  const auto prompt = bench_prompt(a.prompt_tokens, model.hparams().vocab_size);
  // What an API request asks by default: temperature 1, every token a candidate.
  SamplingRequest sampling;
  sampling.sampler = SamplerParams{1.0f, 0, 1.0f, 0.0f, 1.0f, 64, 0.0f, 0.0f, {}, 1};
  std::vector<int32_t> history = prompt;
  // One decode step: sampled on the last stage, or from the full logits here.
  auto next_token = [&](const StepResult& r) {
    SampleResult s;
    if (a.full_logits) {
      std::vector<float> logits = r.logits;
      s = sample_next(logits, history, sampling);
    } else {
      s = {r.sampled.at(0), r.rng_draws};
    }
    sampling.rng_draws = s.rng_draws;
    history.push_back(s.token.id);
    return s.token.id;
  };
  auto ask = [&](uint64_t step, int64_t pos0, std::vector<int32_t> tokens) {
    return a.full_logits ? cluster.step(1, step, pos0, std::move(tokens), 0)
                         : cluster.step(1, step, pos0, std::move(tokens), 0, 0, sampling);
  };
  const auto t0 = clock::now();
  StepResult r = ask(1, 0, prompt).wait(io.waitScope);
  int32_t next = next_token(r);
  const auto t1 = clock::now();
  double compute_us = 0, raw = 0, wire_bytes = 0, back = 0;
  for (int i = 0; i < a.gen_tokens; ++i) {
    r = ask(static_cast<uint64_t>(i + 2), a.prompt_tokens + i, {next}).wait(io.waitScope);
    next = next_token(r);
    for (size_t s = 0; s < r.timings.size(); ++s) {
      compute_us += static_cast<double>(r.timings[s].compute_us + r.timings[s].decode_us);
      if (s + 1 < r.timings.size()) {  // hops between stages (the last sends the result back)
        raw += static_cast<double>(r.timings[s].raw_bytes);
        wire_bytes += static_cast<double>(r.timings[s].wire_bytes);
      } else {
        back += static_cast<double>(r.timings[s].wire_bytes);
      }
    }
  }
  const auto t2 = clock::now();
  cluster.drop_session(1).wait(io.waitScope);
  Row row;
  row.setup = fmt::format("{} node(s), wire {}{}", n_nodes, wire, a.full_logits ? ", logits" : "");
  row.ttft_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  row.decode_tps = a.gen_tokens / decode_s;
  row.back_bytes = back / a.gen_tokens;
  const int inner_hops = n_nodes - 1;
  if (inner_hops > 0) {
    row.raw_bytes_per_hop = raw / a.gen_tokens / inner_hops;
    row.wire_bytes_per_hop = wire_bytes / a.gen_tokens / inner_hops;
  }
  // Everything that is not compute, spread over the hops of the ring (coordinator ->
  // stage 0 -> ... -> last stage -> coordinator).
  row.hop_overhead_us = (decode_s * 1e6 - compute_us) / a.gen_tokens / (n_nodes + 1);
  return row;
}

// One session's greedy decode as a promise chain on the event loop, so that several
// sessions are in flight at once and the stages work on different ones concurrently.
// Sums over the decode steps of all sessions: where a step's time went.
struct StepTotals {
  uint64_t steps = 0;
  double round_trip_us = 0, compute_us = 0;
};

kj::Promise<void> decode_chain(Cluster& cluster, StepTotals& totals, uint64_t session, uint32_t group, int left,
                               uint64_t step, int64_t pos, int32_t next) {
  if (left == 0) return kj::READY_NOW;
  const auto sent = clock::now();
  return cluster.step(session, step, pos, {next}, 1, group)
      .then([&cluster, &totals, session, group, left, step, pos, sent](StepResult r) {
        ++totals.steps;
        totals.round_trip_us += std::chrono::duration<double, std::micro>(clock::now() - sent).count();
        for (const auto& t : r.timings) totals.compute_us += static_cast<double>(t.compute_us + t.decode_us);
        return decode_chain(cluster, totals, session, group, left - 1, step + 1, pos + 1, argmax(r.logits));
      });
}

struct SessionsRow {
  int nodes = 0, sessions = 0;
  double aggregate_tps = 0, per_session_tps = 0;
  double round_trip_ms = 0, compute_ms = 0;  // per step, mean; compute summed over stages
};

// Aggregate decode throughput of `sessions` concurrent sessions: all prefill first, then
// all decode together; tokens/s = sessions * gen_tokens / decode wall time.
SessionsRow bench_sessions(kj::AsyncIoContext& io, Cluster& cluster, int n_nodes, int sessions, uint64_t first_id,
                           const ClusterBenchArgs& a, int vocab) {
  const auto prompt = bench_prompt(a.prompt_tokens, vocab);
  std::vector<int32_t> first_tokens;
  for (int s = 0; s < sessions; ++s) {
    first_tokens.push_back(argmax(cluster.step(first_id + s, 1, 0, prompt, 1).wait(io.waitScope).logits));
  }
  kj::Vector<kj::Promise<void>> chains;
  StepTotals totals;
  const auto t0 = clock::now();
  for (int s = 0; s < sessions; ++s) {
    // As the coordinator does: sessions spread over one batch group per stage.
    const auto group = a.lockstep ? 0u : static_cast<uint32_t>(s % n_nodes);
    chains.add(decode_chain(cluster, totals, first_id + s, group, a.gen_tokens, 2, a.prompt_tokens,
                            first_tokens[static_cast<size_t>(s)]));
  }
  kj::joinPromises(chains.releaseAsArray()).wait(io.waitScope);
  const double secs = std::chrono::duration<double>(clock::now() - t0).count();
  for (int s = 0; s < sessions; ++s) cluster.drop_session(first_id + s).wait(io.waitScope);
  SessionsRow row;
  row.nodes = n_nodes;
  row.sessions = sessions;
  row.aggregate_tps = sessions * a.gen_tokens / secs;
  row.per_session_tps = a.gen_tokens / secs;
  row.round_trip_ms = totals.round_trip_us / static_cast<double>(totals.steps) / 1000.0;
  row.compute_ms = totals.compute_us / static_cast<double>(totals.steps) / 1000.0;
  return row;
}

int run_sessions_bench(kj::AsyncIoContext& io, const Model& model, const std::string& hash, const ClusterBenchArgs& a) {
  std::vector<SessionsRow> rows;
  const int most = *std::max_element(a.sessions.begin(), a.sessions.end());
  for (int n : a.nodes) {
    const std::string secret = to_hex(random_nonce());
    ClusterConfig cfg;
    auto nodes = start_nodes(a.model, n, a, secret, cfg);
    cfg.wire = parse_wire_format("int8+zstd");
    cfg.context = a.prompt_tokens + a.gen_tokens + 8;
    cfg.max_sessions = static_cast<uint32_t>(most);
    cfg.prefill_chunk = static_cast<uint32_t>(std::max(a.prompt_tokens, 1));
    Cluster cluster(io, model, hash, cfg);
    cluster.assemble().wait(io.waitScope);
    bench_sessions(io, cluster, n, 1, 1000, a, model.hparams().vocab_size);  // warm-up
    uint64_t id = 1;
    for (int s : a.sessions) {
      rows.push_back(bench_sessions(io, cluster, n, s, id, a, model.hparams().vocab_size));
      id += static_cast<uint64_t>(s);
      fmt::print("  {} node(s), {} session(s): {:.1f} tokens/s\n", n, s, rows.back().aggregate_tps);
      std::fflush(stdout);
    }
  }
  if (a.pin) fmt::print("\nnode i pinned to CPU i mod {}\n", std::max(1u, std::thread::hardware_concurrency()));
  fmt::print("\n{:<8} {:>9} {:>16} {:>18} {:>14} {:>15} {:>15}\n", "nodes", "sessions", "aggregate t/s",
             "per session t/s", "vs 1 session", "round trip ms", "in stages ms");
  for (const SessionsRow& r : rows) {
    double one = 0;
    for (const SessionsRow& o : rows) {
      if (o.nodes == r.nodes && o.sessions == 1) one = o.aggregate_tps;
    }
    fmt::print("{:<8} {:>9} {:>16.1f} {:>18.1f} {:>14} {:>15.3f} {:>15.3f}\n", r.nodes, r.sessions, r.aggregate_tps,
               r.per_session_tps, one > 0 ? fmt::format("{:.2f}x", r.aggregate_tps / one) : "-", r.round_trip_ms,
               r.compute_ms);
  }
  return 0;
}

}  // namespace

int run_cluster_bench(const ClusterBenchArgs& a) {
  const ModelOpenOptions opt = ModelOpenOptions::without_layers();
  auto model = Model::open(a.model, opt);
  const std::string hash = model_file_hash(a.model);
  fmt::print("model {} (dim {}, {} layers); prompt {} tokens, decode {} tokens, {} thread(s) per process\n\n", a.model,
             model->hparams().dim, model->hparams().n_layers, a.prompt_tokens, a.gen_tokens, a.threads);
  auto io = kj::setupAsyncIo();
  if (!a.sessions.empty()) return run_sessions_bench(io, *model, hash, a);
  std::vector<Row> rows;
  rows.push_back(bench_local(a.model, a));
  for (int n : a.nodes) {
    for (const auto& w : a.wires) rows.push_back(bench_cluster(io, *model, a.model, hash, n, w, a));
  }
  const double base = rows.front().decode_tps;
  fmt::print("{:<38} {:>10} {:>12} {:>9} {:>14} {:>14} {:>10} {:>12} {:>10}\n", "setup", "TTFT ms", "decode t/s",
             "vs local", "raw B/tok/hop", "wire B/tok/hop", "wire/dim", "back B/tok", "hop us");
  for (const Row& r : rows) {
    const bool hops = r.raw_bytes_per_hop > 0;
    const bool single = r.setup.rfind("single", 0) == 0;
    fmt::print("{:<38} {:>10.1f} {:>12.2f} {:>8.0f}% {:>14} {:>14} {:>10} {:>12} {:>10}\n", r.setup, r.ttft_ms,
               r.decode_tps, 100.0 * r.decode_tps / base, hops ? fmt::format("{:.0f}", r.raw_bytes_per_hop) : "-",
               hops ? fmt::format("{:.0f}", r.wire_bytes_per_hop) : "-",
               hops ? fmt::format("{:.3f}", r.wire_bytes_per_hop / model->hparams().dim) : "-",
               single ? "-" : fmt::format("{:.0f}", r.back_bytes), single ? "-" : fmt::format("{:.0f}", r.hop_overhead_us));
  }
  return 0;
}

}  // namespace baton::cli
