// What one frame of consecutive rows costs a stage: the FLOPs it does and the bytes it
// reads. The planner predicts a decoded token (one row) with it, the simulator predicts
// prompt frames and speculative verifications (many rows) with it, and a simulated node
// paces its compute to it, so prediction and simulation share one formula. Pure.
#pragma once

#include "model/hparams.h"
#include "model/weights.h"
#include "tensor/dtype.h"

namespace baton {

// A stage's per-frame costs, independent of the frame.
struct StageWork {
  int layers = 0;
  double layer_flops = 0;    // per row: 2 per weight element of the layers' matrices
  double layer_bytes = 0;    // the layers' weights, streamed once per frame
  double head_flops = 0;     // per row that gets logits (0 without the head)
  double head_bytes = 0;     // the head's weights, streamed once when any row gets logits
  double embed_row_bytes = 0;              // per row on the first stage: one embedding row
  double attention_flops_per_position = 0; // per layer, per row, per position attended to
  double kv_bytes_per_position = 0;        // per layer: K and V of one cached position
  // Of `layers`, those attending through a sliding window of `window` positions (their
  // own included): they visit at most window - 1 earlier positions per row.
  int sliding_layers = 0;
  int window = 0;
};

struct FrameShape {
  int rows = 1;
  int logits_rows = 1;  // rows the head runs for: the last row of a prompt, every row of a verification
  double position = 0;  // of the first row: the number of positions it attends to before itself
};

struct FrameWork {
  double flops = 0;
  double bytes = 0;
  // The roofline: milliseconds on a device computing at `gflops` and reading at `gbs`.
  double ms(double gflops, double gbs) const;
};

// Row i attends to position + i earlier positions (at most window - 1 in a sliding layer);
// K/V are read once for the frame, from the first row's earliest position to the last
// row's. The head is read once when any row needs logits.
FrameWork frame_work(const StageWork& stage, const FrameShape& frame);

// The work of a loaded stage, from its bound weights (the matrices as stored) and the
// model's shape; its KV cache holds `kv_dtype`.
StageWork stage_work(const StageWeights& weights, const HyperParams& hp, DType kv_dtype);

}  // namespace baton
