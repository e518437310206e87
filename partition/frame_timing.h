// Times of the frames other than one decoded token, through a given split, by the same
// cost model as the plan: a prompt (sent in chunks) and a speculative verification (one
// frame of several rows, each with logits).
// What `baton simulate` predicts time to first token and speculative decoding with.
#pragma once

#include <vector>

#include "model/frame_cost.h"
#include "partition/plan.h"

namespace baton {

struct FrameTiming {
  std::vector<double> stage_ms;   // per stage of the split: max(compute, memory)
  std::vector<double> hop_in_ms;  // per stage: the hop that brings it the frame
  double return_ms = 0;           // last stage -> coordinator
  double total_ms() const;
};

// One frame through every stage of `split` (ranges index request.devices). The request
// must be valid and the split well formed (as evaluate_split reports).
FrameTiming time_frame(const PlanRequest& request, const std::vector<StageRange>& split, const FrameShape& frame);

// From sending a prompt of `rows` tokens (its first at `position`: what a cached prefix
// spares) in frames of at most `chunk` rows, to the first token's arrival at the
// coordinator. The coordinator sends a chunk when the previous one has come back (the
// pipeline's answer to each is its last row's best token), as PipelineBackend does.
double prompt_ms(const PlanRequest& request, const std::vector<StageRange>& split, int rows, double position, int chunk);

}  // namespace baton
