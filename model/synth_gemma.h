// The Gemma 2 / 3 parts of a synthesised model (model/synth.cpp writes the rest).
#pragma once

#include "model/gguf.h"
#include "model/hparams.h"

namespace baton {

bool is_gemma(Architecture arch);

// Gemma's metadata beyond the common keys. The sliding window is kept small
// (kSynthSlidingWindow positions) so that a prompt of a dozen tokens already reaches past
// it and a test exercises the windowed layers.
inline constexpr int kSynthSlidingWindow = 6;
void write_gemma_metadata(GgufWriter& w, Architecture arch, int head_dim);

}  // namespace baton
