#include "tools/soak/fault_trials.h"

#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <random>
#include <stdexcept>

#include "tools/completion_stream.h"

namespace baton::soak {

namespace {

cli::StreamedCompletion stream(SoakCluster& cluster, const FaultTrialOptions& o,
                               const std::function<void(const std::string&)>& on_text) {
  httplib::Client client("127.0.0.1", cluster.http_port());
  client.set_read_timeout(120, 0);  // a frozen stage is found by heartbeats, well within this
  client.set_connection_timeout(10, 0);
  return cli::stream_completion(client, "/v1/completions",
                                {{"prompt", o.prompt}, {"max_tokens", o.max_tokens}, {"temperature", 0}}, on_text);
}

SoakClusterOptions for_trial(const SoakClusterOptions& c, int index) {
  SoakClusterOptions o = c;
  o.work_dir = (std::filesystem::path(c.work_dir) / fmt::format("trial-{}", index)).string();
  return o;
}

}  // namespace

std::string unfaulted_text(const SoakClusterOptions& c, const FaultTrialOptions& o) {
  SoakCluster cluster(for_trial(c, 0));
  const cli::StreamedCompletion s = stream(cluster, o, {});
  if (!s.complete()) throw std::runtime_error(fmt::format("the unfaulted run failed: {}", s.failure()));
  return s.text;
}

std::vector<FaultTrial> run_fault_trials(const SoakClusterOptions& c, const FaultTrialOptions& o,
                                         const std::string& reference) {
  std::vector<FaultTrial> out;
  for (int i = 1; i <= o.trials; ++i) {
    std::mt19937_64 rng(o.seed * 1000003u + static_cast<uint64_t>(i));
    FaultTrial t;
    t.index = i;
    t.fault = rng() % 2 ? "SIGSTOP" : "SIGKILL";
    t.stage = static_cast<int>(rng() % static_cast<uint64_t>(c.nodes));
    t.after_tokens = 1 + static_cast<int>(rng() % static_cast<uint64_t>(std::max(1, o.max_tokens / 2)));
    try {
      SoakCluster cluster(for_trial(c, i));
      int seen = 0;
      bool struck = false;
      const int sig = t.fault == "SIGSTOP" ? SIGSTOP : SIGKILL;
      const cli::StreamedCompletion s = stream(cluster, o, [&](const std::string&) {
        if (++seen == t.after_tokens && !struck) {
          cluster.node(static_cast<size_t>(t.stage)).signal(sig);
          struck = true;
        }
      });
      if (sig == SIGSTOP) cluster.node(static_cast<size_t>(t.stage)).signal(SIGCONT);  // so it can be stopped
      t.completed = s.complete();
      t.identical = t.completed && s.text == reference;
      t.total_ms = s.total_ms;
      if (!t.completed) t.error = s.failure();
      if (!struck) t.error = fmt::format("the stream ended after {} token(s), before the fault", seen);
    } catch (const std::exception& e) {
      t.error = e.what();
    }
    fmt::print(stderr, "trial {}/{}: {} stage {} after {} token(s): {}\n", i, o.trials, t.fault, t.stage,
               t.after_tokens, t.identical ? "identical text" : (t.completed ? "DIFFERENT text" : "FAILED: " + t.error));
    out.push_back(std::move(t));
  }
  return out;
}

std::string render(const std::vector<FaultTrial>& trials) {
  int completed = 0, identical = 0, kills = 0, stops = 0;
  double slowest = 0;
  for (const FaultTrial& t : trials) {
    completed += t.completed;
    identical += t.identical;
    (t.fault == "SIGKILL" ? kills : stops) += 1;
    slowest = std::max(slowest, t.total_ms);
  }
  return fmt::format("{} trials ({} SIGKILL, {} SIGSTOP): {} streams completed, {} with the unfaulted text; slowest "
                     "stream {:.0f} ms\n",
                     trials.size(), kills, stops, completed, identical, slowest);
}

}  // namespace baton::soak
