// Seeded fault trials: a fresh local cluster per trial streams a greedy completion while
// one stage, chosen by the seed, is killed (SIGKILL) or frozen (SIGSTOP) after a seeded
// number of tokens. Each stream must complete with the text of an unfaulted run of the
// same cluster (issue 14: every wire, int8 included).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/soak/soak_cluster.h"

namespace baton::soak {

struct FaultTrialOptions {
  int trials = 50;
  uint64_t seed = 1;
  int max_tokens = 48;
  std::string prompt = "And God said";
};

struct FaultTrial {
  int index = 0;
  std::string fault;      // "SIGKILL" or "SIGSTOP"
  int stage = 0;          // which node
  int after_tokens = 0;
  bool completed = false;
  bool identical = false;
  std::string error;
  double total_ms = 0;
};

// `cluster` describes every trial's cluster (nodes, wire); each trial starts its own.
std::vector<FaultTrial> run_fault_trials(const SoakClusterOptions& cluster, const FaultTrialOptions& options,
                                         const std::string& reference_text);
// The text an unfaulted run of that cluster streams.
std::string unfaulted_text(const SoakClusterOptions& cluster, const FaultTrialOptions& options);

std::string render(const std::vector<FaultTrial>& trials);

}  // namespace baton::soak
