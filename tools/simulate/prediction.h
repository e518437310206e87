// What the planner predicts for a simulated cluster, and how fast each simulated device's
// node must be paced so that its stages take the time the planner charges them. Pure:
// figures in, figures out.
#pragma once

#include <vector>

#include "model/cost_profile.h"
#include "partition/frame_timing.h"
#include "partition/plan.h"
#include "tools/simulate/cluster_file.h"

namespace baton::sim {

// The request the coordinator makes for this cluster (the profiles' figures; KV for
// `sessions` sessions of `context` tokens on every stage; the wire's bytes per element),
// with the coordinator on this machine: its own hops cost nothing but the devices' links.
PlanRequest plan_request(const ClusterSpec& spec, const ModelCostProfile& model, int64_t context, int sessions,
                         double wire_bytes_per_element);

// Arithmetic and bytes read for one decoded token through the whole model at `position`
// (the planner's cost model, asked through evaluate_split).
struct TokenWork {
  double flops = 0;
  double bytes = 0;
};
TokenWork token_work(const ModelCostProfile& model, double position);
// The same for a prompt of `rows` tokens sent as one frame from position 0.
TokenWork frame_flops(const ModelCostProfile& model, int rows);

// A device's speed on this model: the planner charges a stage max(flops / GFLOP/s,
// bytes / GB/s), i.e. the device computes at min(GFLOP/s, GB/s * flops/byte).
double effective_gflops(const DeviceProfile& device, const TokenWork& work);

// How the simulation runs this cluster on this machine: each device's speed on this
// model, and how many times slower than real time the whole run goes so that even the
// fastest device can be paced (a stage is only ever slowed down, never sped up), on
// decoded tokens and on prompts alike (a prompt frame is compute-bound where a decoded
// token is memory-bound).
struct Pacing {
  double host_gflops = 0;               // this machine, one thread, on this model: decoding
  double host_prompt_gflops = 0;        // and on a prompt frame
  double scale = 1;                     // >= 1
  std::vector<double> effective_gflops; // per device (spec order), unscaled: decoding
};
// `requested_scale` > 0 is taken as given; 0 picks the smallest scale with 15% headroom
// for both a decoded token (`token`) and a prompt frame (`prompt`).
Pacing pace_cluster(const ClusterSpec& spec, const TokenWork& token, const TokenWork& prompt, double host_gflops,
                    double host_prompt_gflops, double requested_scale);

// The planner's times for `split` (from the coordinator's actual plan) at decode
// `position` rather than at the middle of the context: what this workload should see.
// Layer ranges index `request.devices`.
Plan predict_split(const PlanRequest& request, const std::vector<StageRange>& split, Strategy strategy, double position);

// Time to first token of a request whose prompt has `prompt_tokens` tokens, the first
// `cached_tokens` of them already held by the stages (at least the last one is sent),
// sent in chunks of `chunk` rows (the coordinator's --prefill-chunk).
double predict_ttft_ms(const PlanRequest& request, const std::vector<StageRange>& split, int prompt_tokens,
                       int cached_tokens, int chunk);

// Decode tokens/s of a request after its first token, from what its decode consisted of:
// `tokens` tokens, `verify_steps` speculative verifications that sent `drafted` drafts
// and got `accepted` of them back, every other token a one-row step costing
// `ms_per_token` (the plan's). A verification of k drafts is one frame of k + 1 rows,
// each with logits, and yields its accepted drafts plus one token. A draft model on the
// coordinator adds its own time (`draft`; prompt lookup costs nothing that counts): one
// forward per drafted token, and once per request the prompt, which its first proposal
// reads.
struct DecodeSteps {
  int tokens = 0;
  int verify_steps = 0;
  int drafted = 0;
  int accepted = 0;
};
struct DraftCost {
  double ms_per_draft = 0;  // one forward of the draft model
  double prompt_ms = 0;     // the draft model reading the request's prompt
};
double predict_decode_tokens_per_s(const PlanRequest& request, const std::vector<StageRange>& split,
                                   double ms_per_token, double position, const DecodeSteps& steps,
                                   const DraftCost& draft = {});

}  // namespace baton::sim
